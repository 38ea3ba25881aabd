/**
 * The node's HTTP server answers requests that arrive while its routes are still being built, instead of leaving
 * them without a listener (they used to wait forever: a health probe during startup hung a test).
 */
import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { connect } from "node:net"
import * as NodeHttp from "../src/HttpServer.js"
import { freePort } from "./support.js"

const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/** Resolves once something accepts connections on `port`. */
const untilListening = (port: number) =>
  Effect.promise(() => listening(port)).pipe(
    Effect.repeat({ until: (open) => open, schedule: undefined }),
    Effect.timeout("20 seconds")
  )

/** A server whose only route waits for `gate` before its layer is built, as the node's routes wait for storage. */
const slowServer = (port: number, gate: Deferred.Deferred<void>) =>
  HttpLayerRouter.serve(HttpLayerRouter.add("GET", "/health", HttpServerResponse.text("ok")).pipe(
    Layer.provide(Layer.effectDiscard(Deferred.await(gate)))
  ), { disableListenLog: true, disableLogger: true }).pipe(
    Layer.provide(NodeHttp.layerNode),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromJson({ PORT: port, HOST: "127.0.0.1" })))
  )

/** Starts `slowServer` in the background and waits until it listens (its routes still waiting for the gate). */
const startSlowServer = Effect.gen(function* () {
  const port = yield* Effect.promise(freePort)
  const gate = yield* Deferred.make<void>()
  const scope = yield* Scope.make()
  const building = yield* Effect.forkDaemon(Layer.buildWithScope(slowServer(port, gate), scope))
  yield* untilListening(port)
  return { port, gate, scope, building }
})

/** GET /health in the background: its status and body, or a failure after 15 s without an answer. */
const requestHealth = (port: number) =>
  Effect.fork(
    Effect.promise(() =>
      fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(15_000) }).then(async (r) => ({
        status: r.status,
        body: await r.text()
      }))
    )
  )

describe("the node's HTTP server", () => {
  it.scopedLive("holds a request accepted before the routes are ready and answers it once they are", () =>
    Effect.gen(function* () {
      const { port, gate, scope, building } = yield* startSlowServer
      const request = yield* requestHealth(port)
      yield* Effect.sleep("300 millis")
      assert.isNull(request.unsafePoll(), "answered before the routes existed")

      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(building)
      assert.deepStrictEqual(yield* Fiber.join(request), { status: 200, body: "ok" })
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.scopedLive("answers 503 to a held request when it stops before the routes are ready", () =>
    Effect.gen(function* () {
      const { port, scope, building } = yield* startSlowServer
      const request = yield* requestHealth(port)
      yield* Effect.sleep("300 millis")
      yield* Fiber.interrupt(building)
      yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual((yield* Fiber.join(request)).status, 503)
    })
  )
})
