/** `/admin` serves the built UI: files, index.html for the UI's own paths, nothing outside the folder, 503 unbuilt. */
import { HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeContext, NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import * as path from "node:path"
import * as AdminWeb from "../src/AdminWeb.js"

const serving = (directory: string) =>
  HttpLayerRouter.serve(AdminWeb.route, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(NodeContext.layer),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromJson({ LIVERMORE_ADMIN_WEB_DIR: directory })))
  )

const get = (target: string) =>
  Effect.gen(function* () {
    const { address } = yield* HttpServer.HttpServer
    const port = address._tag === "TcpAddress" ? address.port : 0
    return yield* Effect.promise(async () => {
      const response = await fetch(`http://127.0.0.1:${port}${target}`, { signal: AbortSignal.timeout(10_000) })
      return { status: response.status, type: response.headers.get("content-type"), body: await response.text() }
    })
  })

const withFolder = <A, E, R>(files: Record<string, string>, f: (directory: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const directory = mkdtempSync(path.join(tmpdir(), "admin-web-"))
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(directory, name)), { recursive: true })
        writeFileSync(path.join(directory, name), text)
      }
      return directory
    }),
    f,
    (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
  )

describe("/admin", () => {
  it.scopedLive("serves the build's files and index.html for the UI's paths; nothing outside the folder", () =>
    withFolder({ "index.html": "<html>ui</html>", "assets/app-1.js": "console.log(1)" }, (directory) =>
      Effect.gen(function* () {
        for (const target of ["/admin", "/admin/", "/admin/keys"]) {
          const page = yield* get(target)
          assert.strictEqual(page.status, 200, target)
          assert.strictEqual(page.body, "<html>ui</html>", target)
        }
        const asset = yield* get("/admin/assets/app-1.js")
        assert.strictEqual(asset.status, 200)
        assert.match(asset.type ?? "", /javascript/)
        assert.strictEqual((yield* get("/admin/assets/missing.js")).status, 404)
        // A file beside the folder, named through `..`: never served.
        const outside = `${directory}-secret.txt`
        writeFileSync(outside, "secret")
        try {
          const escaped = yield* get(`/admin/..%2F${path.basename(outside)}`)
          assert.strictEqual(escaped.status, 404)
          assert.notInclude(escaped.body, "secret")
        } finally {
          rmSync(outside)
        }
      }).pipe(Effect.provide(serving(directory)))
    )
  )

  it.scopedLive("without a build: 503 naming the build command", () =>
    withFolder({}, (directory) =>
      Effect.gen(function* () {
        const page = yield* get("/admin")
        assert.strictEqual(page.status, 503)
        assert.include(page.body, "pnpm --filter @livermore/admin-web build")
      }).pipe(Effect.provide(serving(directory)))
    )
  )
})
