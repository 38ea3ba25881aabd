/**
 * What `StatusStore` and `InstanceRegistry` share: both keep `InstanceStatus` JSON under keys with a TTL, list them
 * with a SCAN, and leave out an entry that does not decode so one bad writer cannot hide the others.
 */
import { Status } from "@livermore/domain"
import { type Context, Duration, Effect, Option } from "effect"
import type { CacheError } from "../CacheError.js"
import type { RedisClient } from "../RedisClient.js"
import { command, decodeJson } from "./codec.js"

/** A TTL as whole milliseconds for `PX`, at least 1. */
export const ttlMillis = (ttl: Duration.DurationInput): number =>
  Math.max(1, Math.ceil(Duration.toMillis(Duration.decode(ttl))))

/** `read`, with an undecodable value logged and treated as absent. */
export const skipUndecodable = (
  what: string,
  read: Effect.Effect<Option.Option<Status.InstanceStatus>, CacheError>
): Effect.Effect<Option.Option<Status.InstanceStatus>, CacheError> =>
  Effect.catchIf(
    read,
    (error) => error.reason === "Decode",
    (error) =>
      Effect.logWarning(`Left an undecodable ${what} out of the list`).pipe(
        Effect.annotateLogs({ key: error.key, error: error.message }),
        Effect.as(Option.none())
      )
  )

/** The status at a full (prefixed) key, decoded. */
export const readStatus = (redis: Context.Tag.Service<RedisClient>, op: string, key: string) =>
  Effect.gen(function* () {
    const json = yield* command(redis, op, key, (r) => r.get(key))
    if (json === null) return Option.none<Status.InstanceStatus>()
    return Option.some(yield* decodeJson(Status.InstanceStatus, json, op, key))
  })

/** Every key matching the full (prefixed) `pattern` that `keep` accepts. */
export const scanKeys = (redis: Context.Tag.Service<RedisClient>, op: string, pattern: string, keep: (key: string) => boolean) =>
  Effect.gen(function* () {
    const found = new Set<string>()
    let cursor = "0"
    do {
      const [next, keys] = yield* command(redis, op, pattern, (r) => r.scan(cursor, "MATCH", pattern, "COUNT", 200))
      for (const key of keys) if (keep(key)) found.add(key)
      cursor = next
    } while (cursor !== "0")
    return [...found]
  })
