/**
 * A real Redis at REDIS_URL (default redis://127.0.0.1:6379) for the engine tests, under a namespace unique to the
 * run (`livermore-test:<label>:<uuid>:`) whose keys are deleted when the layer is released. If no Redis answers,
 * building the layer fails with how to start one.
 */
import { Keys, RedisClient } from "@livermore/cache"
import { Config, Effect, Layer } from "effect"

const howToStart = `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no`

const redisUrl = Config.string("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379"))

/** A namespace no other run uses: `livermore-test:<label>:<uuid>:`. */
export const freshPrefix = (label: string) => `livermore-test:${label}:${crypto.randomUUID()}:`

/** Deletes every key under the client's prefix (SCAN + UNLINK). */
export const deleteNamespace = (redis: RedisClient.RedisClient["Type"]) =>
  Effect.gen(function* () {
    let cursor = "0"
    do {
      const [next, keys] = yield* redis.use("test.cleanup", (r) =>
        r.scan(cursor, "MATCH", `${Keys.escapeGlob(redis.prefix)}*`, "COUNT", 500)
      )
      if (keys.length > 0) yield* redis.use("test.cleanup", (r) => r.unlink(...keys))
      cursor = next
    } while (cursor !== "0")
  })

/**
 * `RedisClient` on REDIS_URL under `prefix` (a fresh one for `label` unless given), deleting the namespace on
 * release before the connection closes. Failing to connect is an `Error` saying how to start a Redis.
 */
export const redisLayer = (label: string, prefix: string = freshPrefix(label)) => {
  const client = Layer.unwrapEffect(
    Effect.map(redisUrl, (url) => RedisClient.layer({ url, keyPrefix: prefix, connectTimeout: "3 seconds" }))
  ).pipe(
    Layer.mapError(
      (error) =>
        new Error(
          `The engine Redis tests (${label}) need a Redis server at REDIS_URL (default redis://127.0.0.1:6379), and none answered: ${error.message}\n` +
            `Start one with: ${howToStart}`
        )
    )
  )
  const cleanup = Layer.scopedDiscard(
    Effect.flatMap(RedisClient.RedisClient, (redis) => Effect.addFinalizer(() => Effect.ignore(deleteNamespace(redis))))
  )
  return cleanup.pipe(Layer.provideMerge(client))
}
