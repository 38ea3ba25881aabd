/** The node's HTTP server: where it listens (PORT, HOST) and the routes every mode serves. */
import { HttpLayerRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Config, Data, Effect, Layer, Predicate } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { NodeStatus } from "./NodeStatus.js"

/** The server could not listen (port taken, no permission, bad host). */
export class ListenError extends Data.TaggedError("ListenError")<{ readonly port: number; readonly host: string; readonly cause: unknown }> {
  override get message(): string {
    const code = Predicate.hasProperty(this.cause, "code") ? ` (${String(this.cause.code)})` : ""
    const reason = Predicate.hasProperty(this.cause, "message") ? String(this.cause.message) : String(this.cause)
    return `PORT ${this.port}: cannot listen on ${this.host}:${this.port}${code}: ${reason}`
  }
}

/** Listening address: `PORT` (default 3000) and `HOST` (default 0.0.0.0, every interface). */
export const ListenConfig = Config.all({
  port: Config.port("PORT").pipe(Config.withDefault(3000)),
  host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0"))
})

const unwrapServeCause = (cause: unknown): unknown =>
  Predicate.hasProperty(cause, "_tag") && cause._tag === "ServeError" && Predicate.hasProperty(cause, "cause") ? cause.cause : cause

/**
 * A Node HTTP server on `options` that holds the requests it accepts until an app is attached, then hands them over.
 *
 * Why: `NodeHttpServer.make` listens as soon as it is built, but the app is attached only after every route's layer
 * is built (storage, the exchange, the public API). Node gives a request that arrives in between to its 'request'
 * listeners — there were none, so the request waited forever (a health probe during startup hung a test for a
 * minute). Held requests are answered 503 if the server closes before an app is attached.
 */
const makeHolding = (options: { readonly port: number; readonly host: string }) =>
  Effect.gen(function* () {
    const held: Array<readonly [IncomingMessage, ServerResponse]> = []
    const hold = (request: IncomingMessage, response: ServerResponse) => {
      held.push([request, response])
    }
    const server = createServer()
    server.on("request", hold)
    const inner = yield* NodeHttpServer.make(() => server, options)
    // Added after `make`'s own finalizer, so it runs first: `server.close` waits for connections with a request
    // in flight, and a held request would keep it waiting.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const [, response] of held.splice(0)) response.writeHead(503, { connection: "close" }).end()
      })
    )
    const release = Effect.sync(() => {
      server.off("request", hold)
      for (const [request, response] of held.splice(0)) server.emit("request", request, response)
    })
    return HttpServer.make({
      address: inner.address,
      serve: (app, middleware) =>
        Effect.zipRight(middleware === undefined ? inner.serve(app) : inner.serve(app, middleware), release)
    })
  })

/** The node's HTTP server, listening where `ListenConfig` says (see `makeHolding`). */
export const layerNode = Layer.unwrapEffect(
  Effect.map(ListenConfig, ({ port, host }) =>
    Layer.scoped(HttpServer.HttpServer, makeHolding({ port, host })).pipe(
      Layer.merge(NodeHttpServer.layerContext),
      Layer.mapError((error) => new ListenError({ port, host, cause: unwrapServeCause(error) }))
    )
  )
)

/** `GET /health`: 200 with the mode, the lifecycle state and the storage backends in use. */
export const HealthRoute = HttpLayerRouter.add(
  "GET",
  "/health",
  Effect.gen(function* () {
    const report = yield* (yield* NodeStatus).health
    return yield* HttpServerResponse.json(report, { status: report.status === "ok" ? 200 : 503 })
  })
)
