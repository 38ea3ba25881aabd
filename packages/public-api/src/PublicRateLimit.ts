/**
 * The per-key request budget (domain.md §8: 300 requests a minute, shared by every instance): a fixed window per
 * key, counted on Redis by one atomic script (one count whoever answers), or in memory for the embedded default.
 *
 * Why not `@effect/experimental`'s `RateLimiter`, which this replaced: it charged ~100 µs of CPU per request on the
 * candles bench, mostly runtime steps around one Redis call; this is one callback-based call per request. The
 * Redis store opens its own connection with auto-pipelining (the scripts of one event-loop turn go out in one
 * write); its keys live under the cache's namespace.
 */
import { RedisClient } from "@livermore/cache"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import { Redis } from "ioredis"

/** A request charged to a key's budget. */
export interface Charged {
  /** Whether the request fits the budget; `false`: refuse it until the window resets. */
  readonly allowed: boolean
  /** Requests left in the current window. */
  readonly remaining: number
  /** Milliseconds until the window resets. */
  readonly resetAfterMs: number
}

/** The limiter's store did not answer: the request can be neither allowed nor refused on its count. */
export class RateLimitStoreError extends Schema.TaggedError<RateLimitStoreError>()("RateLimitStoreError", {
  message: Schema.String
}) {}

export class PublicRateLimit extends Context.Tag("@livermore/public-api/PublicRateLimit")<
  PublicRateLimit,
  {
    /** Charge one request to `keyId`'s budget of `limit` requests a minute. */
    readonly consume: (keyId: number, limit: number) => Effect.Effect<Charged, RateLimitStoreError>
  }
>() {}

/**
 * The window of a `limit`-a-minute budget, in ms: a minute rounded up to a multiple of the limit, as the limiter
 * this replaced did, so the reset times clients saw stay the same.
 */
export const windowMs = (limit: number): number => Math.ceil(60_000 / limit) * limit

const charged = (count: number, limit: number, resetAfterMs: number): Charged => ({
  allowed: count <= limit,
  remaining: Math.max(0, limit - count),
  resetAfterMs: Math.max(0, resetAfterMs)
})

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

/**
 * Count one request in the key's window and answer the count and the window's time left. The expiry is set with
 * the first request of a window (and repaired if a key ever lacks one), so a window ends `ARGV[1]` ms after it began.
 */
const chargeScript = `
local count = redis.call("INCR", KEYS[1])
if count == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
local ttl = redis.call("PTTL", KEYS[1])
if ttl < 0 then
  redis.call("PEXPIRE", KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`

/** The script as an ioredis command (`defineCommand` adds it at run time, so its type is declared here). */
interface WithCharge {
  livermoreCharge(
    key: string,
    windowMs: number,
    callback: (error: Error | null | undefined, result?: [number, number]) => void
  ): void
}

/** The limiter on Redis at `options.url`, under `options.keyPrefix`. */
export const layerRedis = (options: RedisClient.Options) =>
  Layer.scoped(
    PublicRateLimit,
    Effect.gen(function* () {
      const url = typeof options.url === "string" ? options.url : Redacted.value(options.url)
      const prefix = keyPrefix(options.keyPrefix ?? "")
      const redis = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const client = new Redis({ ...connectionOptions(url), enableAutoPipelining: true, lazyConnect: false })
          client.defineCommand("livermoreCharge", { numberOfKeys: 1, lua: chargeScript })
          // Errors reach the callers of `consume`; without a listener ioredis would also print each one.
          client.on("error", () => undefined)
          return client
        }),
        (client) => Effect.promise(() => client.quit().catch(() => undefined))
      )
      // The cast names the command `defineCommand` added; ioredis cannot type it.
      const commands = redis as unknown as WithCharge
      return PublicRateLimit.of({
        consume: (keyId, limit) =>
          Effect.async<Charged, RateLimitStoreError>((resume) => {
            commands.livermoreCharge(`${prefix}key:${keyId}`, windowMs(limit), (error, result) => {
              if (error !== null && error !== undefined) {
                resume(Effect.fail(new RateLimitStoreError({ message: error.message })))
              } else if (result === undefined) {
                resume(Effect.fail(new RateLimitStoreError({ message: "the charge script answered nothing" })))
              } else {
                resume(Effect.succeed(charged(Number(result[0]), limit, Number(result[1]))))
              }
            })
          })
      })
    })
  )

/** The limiter on the Redis of `REDIS_URL` / `REDIS_KEY_PREFIX` (as the cache reads them). */
export const layerRedisConfig = Layer.unwrapEffect(Effect.map(RedisClient.config, layerRedis))

/** The limiter in process memory: one process, one count (the embedded default and unit tests). */
export const layerMemory = Layer.sync(PublicRateLimit, () => {
  const windows = new Map<number, { count: number; endsAt: number }>()
  return PublicRateLimit.of({
    consume: (keyId, limit) =>
      Effect.sync(() => {
        const now = Date.now()
        let window = windows.get(keyId)
        if (window === undefined || window.endsAt <= now) {
          window = { count: 0, endsAt: now + windowMs(limit) }
          windows.set(keyId, window)
          // Forget ended windows now and then, so keys that stop calling do not stay forever.
          if (windows.size > 10_000) for (const [id, w] of windows) if (w.endsAt <= now) windows.delete(id)
        }
        window.count += 1
        return charged(window.count, limit, window.endsAt - now)
      })
  })
})
