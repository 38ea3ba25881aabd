/**
 * The per-key request budget (domain.md §8: 300 requests a minute, shared by every instance): `@effect/experimental`'s
 * `RateLimiter`, on its Redis store (atomic Lua scripts, one count whoever answers) or in memory for the
 * embedded default. The Redis store opens its own connection; its keys live under the cache's namespace.
 */
import { RateLimiter } from "@effect/experimental"
import * as RateLimiterRedis from "@effect/experimental/RateLimiter/Redis"
import { RedisClient } from "@livermore/cache"
import { Effect, Layer, Redacted } from "effect"

/** ioredis options for a `redis://` or `rediss://` URL. */
const connectionOptions = (url: string) => {
  const parsed = new URL(url)
  const db = parsed.pathname.replace(/^\//, "")
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ""),
    port: parsed.port === "" ? 6379 : Number(parsed.port),
    ...(parsed.username === "" ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === "" ? {} : { password: decodeURIComponent(parsed.password) }),
    ...(db === "" ? {} : { db: Number(db) }),
    ...(parsed.protocol === "rediss:" ? { tls: {} } : {})
  }
}

/** Where the limiter keeps its counts: `{keyPrefix}public:ratelimit:…`. */
export const keyPrefix = (namespace: string): string => `${namespace}public:ratelimit:`

/** The limiter on Redis at `options.url`, under `options.keyPrefix`. */
export const layerRedis = (options: RedisClient.Options) =>
  RateLimiter.layer.pipe(
    Layer.provide(
      RateLimiterRedis.layerStore({
        ...connectionOptions(typeof options.url === "string" ? options.url : Redacted.value(options.url)),
        // Every request runs one script: under load, sending the scripts of one event-loop turn in one write costs
        // Redis and this process far fewer syscalls than one write each.
        enableAutoPipelining: true,
        prefix: keyPrefix(options.keyPrefix ?? "")
      })
    )
  )

/** The limiter on the Redis of `REDIS_URL` / `REDIS_KEY_PREFIX` (as the cache reads them). */
export const layerRedisConfig = Layer.unwrapEffect(Effect.map(RedisClient.config, layerRedis))

/** The limiter in process memory: one process, one count (the embedded default and unit tests). */
export const layerMemory = RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory))
