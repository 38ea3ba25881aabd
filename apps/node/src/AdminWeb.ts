/**
 * The admin web UI (`apps/admin-web`, built by `pnpm --filter @livermore/admin-web build`) served at `/admin`:
 * its files from the build folder, `index.html` for every other path under `/admin` (the UI routes itself), and a
 * 503 that says how to build it when the folder holds no build. `/admin/rpc…` are the RPC's own routes.
 */
import { FileSystem, HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Config, Effect, Layer } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** `LIVERMORE_ADMIN_WEB_DIR`: the UI's build folder; default `apps/admin-web/dist` of this checkout. */
export const directoryConfig = Config.string("LIVERMORE_ADMIN_WEB_DIR").pipe(
  Config.withDefault(fileURLToPath(new URL("../../admin-web/dist", import.meta.url)))
)

const notBuilt = (directory: string) =>
  HttpServerResponse.text(
    `The admin web UI is not built (no ${path.join(directory, "index.html")}). ` +
      "Build it with: pnpm --filter @livermore/admin-web build",
    { status: 503 }
  )

/** The file under `directory` that `/admin/<rest>` names, or `index.html`; never a path outside it. */
const fileFor = (directory: string, rest: string): string => {
  const resolved = path.resolve(directory, `.${path.posix.normalize(`/${decodeURIComponent(rest)}`)}`)
  return resolved.startsWith(directory + path.sep) && path.extname(resolved) !== "" ? resolved : path.join(directory, "index.html")
}

const serve = (directory: string) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const fs = yield* FileSystem.FileSystem
    const pathname = new URL(request.url, "http://localhost").pathname
    const rest = pathname.replace(/^\/admin\/?/, "")
    const file = yield* Effect.try(() => fileFor(directory, rest)).pipe(Effect.orElseSucceed(() => path.join(directory, "index.html")))
    const found = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
    if (!found) {
      return path.extname(file) === ".html" || rest === ""
        ? notBuilt(directory)
        : HttpServerResponse.text("Not found", { status: 404 })
    }
    // Built assets carry a content hash in their names: cache them for good; index.html must always be fresh.
    const immutable = file.includes(`${path.sep}assets${path.sep}`)
    return yield* HttpServerResponse.file(file, {
      headers: { "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache" }
    })
  }).pipe(Effect.orDie)

export const route = Layer.unwrapEffect(
  Effect.map(directoryConfig, (directory) => {
    const root = path.resolve(directory)
    return Layer.mergeAll(
      // The router treats `/admin` and `/admin/` alike; the page's asset URLs are absolute (`/admin/assets/…`).
      HttpLayerRouter.add("GET", "/admin", serve(root)),
      HttpLayerRouter.add("GET", "/admin/*", serve(root))
    )
  })
)
