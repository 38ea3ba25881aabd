import { createServer, type Server } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer } from "effect"
import * as RedisClient from "../src/RedisClient.js"

/** Build a client layer on its own and return its error (a success fails the test). */
const buildError = <E>(layer: Layer.Layer<RedisClient.RedisClient, E>) =>
  Effect.scoped(Layer.build(layer)).pipe(Effect.flip, Effect.timeout("5 seconds"))

/** A TCP server that accepts connections and never answers, like a wedged Redis or a wrong service. */
const silentServer = Effect.acquireRelease(
  Effect.async<Server>((resume) => {
    const server = createServer(() => {})
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.sync(() => server.close())
)

describe("RedisClient (no server needed)", () => {
  it("parseUrl accepts redis: and rediss: URLs and reports the host without credentials", () => {
    const parsed = RedisClient.parseUrl("redis://user:s3cret@cache.internal:6380/2")
    assert.isTrue(Either.isRight(parsed))
    if (Either.isRight(parsed)) assert.strictEqual(parsed.right.host, "cache.internal:6380")
    const tls = RedisClient.parseUrl("rediss://cache.internal")
    if (Either.isRight(tls)) assert.strictEqual(tls.right.host, "cache.internal:6379")
    else assert.fail(tls.left.message)
  })

  it.live("a malformed REDIS_URL fails at layer build with a RedisConfigError naming REDIS_URL", () =>
    Effect.gen(function* () {
      for (const url of ["notaurl", "http://x", "redis://", "localhost:6379", "redis://host/db", ""]) {
        const error = yield* buildError(RedisClient.layer({ url }))
        assert.strictEqual(error._tag, "RedisConfigError", url)
        assert.include(error.message, "REDIS_URL")
      }
      const leaky = yield* buildError(RedisClient.layer({ url: "http://user:s3cret@x" }))
      assert.notInclude(leaky.message, "s3cret")
    })
  )

  it.live("layerConfig validates REDIS_URL from the environment and requires it", () =>
    Effect.gen(function* () {
      const malformed = yield* buildError(RedisClient.layerConfig).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", "http://x"]])))
      )
      assert.strictEqual(malformed._tag, "RedisConfigError")
      assert.include(malformed.message, "REDIS_URL")
      const missing = yield* buildError(RedisClient.layerConfig).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
      )
      assert.include(String(missing), "REDIS_URL")
    })
  )

  it.live("a refused connection fails fast with a RedisError naming the host, never the password", () =>
    Effect.gen(function* () {
      const started = Date.now()
      const error = yield* buildError(RedisClient.layer({ url: "redis://user:s3cret@127.0.0.1:1/0" }))
      assert.isBelow(Date.now() - started, 3_000, "no retry loop on the initial connect")
      assert.strictEqual(error._tag, "RedisError")
      if (error._tag === "RedisError") assert.strictEqual(error.op, "connect")
      assert.include(error.message, "127.0.0.1:1")
      assert.notInclude(error.message, "s3cret")
    })
  )

  it.scopedLive("a server that accepts but never answers fails within the connect timeout", () =>
    Effect.gen(function* () {
      const server = yield* silentServer
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const started = Date.now()
      const error = yield* buildError(RedisClient.layer({ url: `redis://127.0.0.1:${port}`, connectTimeout: "300 millis" }))
      assert.isBelow(Date.now() - started, 2_000)
      assert.strictEqual(error._tag, "RedisError")
      assert.include(error.message, `127.0.0.1:${port}`)
    })
  )
})
