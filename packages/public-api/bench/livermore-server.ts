/**
 * Child process of the benches: Livermore's public API as a deployment runs it — `PublicRoutes.layer` with
 * `X-API-Key` authentication against the catalog in Redis and the per-key rate limit on Redis (300 a minute),
 * plus `PublicStream.layer` when the second argument is `stream` — over the cache services on Redis, under the
 * namespace given as the first argument. Tells its parent the port it listens on (IPC), and stops when told
 * `"stop"`.
 */
import { HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, Effect, Exit, Fiber, Layer } from "effect"
import { createServer } from "node:http"
import * as ApiKeys from "../src/ApiKeys.js"
import * as PublicApiConfig from "../src/PublicApiConfig.js"
import * as PublicRateLimit from "../src/PublicRateLimit.js"
import * as PublicRoutes from "../src/PublicRoutes.js"
import * as PublicStream from "../src/PublicStream.js"
import { cacheLayer, redisUrl } from "./common.js"

const prefix = process.argv[2]
if (prefix === undefined || process.send === undefined) {
  throw new Error("livermore-server.ts is started by a bench (a namespace argument and an IPC channel)")
}
const routes = process.argv[3] === "stream" ? Layer.mergeAll(PublicRoutes.layer, PublicStream.layer) : PublicRoutes.layer
const send = process.send.bind(process)

const server = HttpLayerRouter.serve(routes, { disableListenLog: true, disableLogger: true }).pipe(
  Layer.provide(ApiKeys.layer),
  Layer.provide(PublicRateLimit.layerRedis({ url: redisUrl, keyPrefix: prefix })),
  Layer.provide(PublicApiConfig.layer({ requestsPerMinute: 300 })),
  Layer.provideMerge(cacheLayer(prefix)),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

const main = Effect.gen(function* () {
  const { address } = yield* HttpServer.HttpServer
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("the server is not on TCP")
  send({ port: address.port })
  return yield* Effect.never
}).pipe(Effect.provide(server))

const fiber = Effect.runFork(main)
fiber.addObserver((exit) => {
  if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) {
    console.error("Livermore bench server failed:", Cause.pretty(exit.cause))
    process.exit(1)
  }
})
process.on("message", (message) => {
  if (message === "stop") {
    void Effect.runPromise(Fiber.interrupt(fiber)).finally(() => process.exit(0))
  }
})
