/** The node's HTTP server: where it listens (PORT, HOST) and the routes every mode serves. */
import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Config, Data, Effect, Layer, Predicate } from "effect"
import { createServer } from "node:http"
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

/** A Node HTTP server listening where `ListenConfig` says. */
export const layerNode = Layer.unwrapEffect(
  Effect.map(ListenConfig, ({ port, host }) =>
    NodeHttpServer.layer(createServer, { port, host }).pipe(
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
