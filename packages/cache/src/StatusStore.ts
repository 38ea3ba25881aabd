/**
 * Live instance statuses, `exchange:{exchangeId}:status` (domain.md §5): the projection of the event log plus
 * the heartbeat, kept with a TTL so an instance that dies without a clean stop disappears by expiry.
 */
import { type Exchange, Status } from "@livermore/domain"
import { Clock, Context, type Duration, Effect, Layer, Option } from "effect"
import type { CacheError } from "./CacheError.js"
import { command, decodeJson, encodeJson } from "./internal/codec.js"
import { readStatus, scanKeys, skipUndecodable, ttlMillis } from "./internal/statusKeys.js"
import * as Keys from "./Keys.js"
import { RedisClient } from "./RedisClient.js"

/** Statuses of the instances serving exchanges. */
export class StatusStore extends Context.Tag("@livermore/cache/StatusStore")<
  StatusStore,
  {
    /** Write the status of `status.exchangeId`, expiring after `ttl` unless written again. */
    readonly put: (status: Status.InstanceStatus, ttl: Duration.DurationInput) => Effect.Effect<void, CacheError>
    /** The live status of an exchange. */
    readonly get: (exchangeId: Exchange.ExchangeId) => Effect.Effect<Option.Option<Status.InstanceStatus>, CacheError>
    /**
     * Every live status, by exchange id. A status that does not decode is logged and left out, so one bad
     * writer cannot hide the others. On Redis a SCAN of this namespace, so it costs a pass over its keys.
     */
    readonly list: () => Effect.Effect<ReadonlyArray<Status.InstanceStatus>, CacheError>
    /** Delete the status of an exchange. */
    readonly remove: (exchangeId: Exchange.ExchangeId) => Effect.Effect<void, CacheError>
  }
>() {}

const byExchange = (a: Status.InstanceStatus, b: Status.InstanceStatus): number => a.exchangeId - b.exchangeId

/** Statuses as JSON strings with PX expiry in Redis. */
export const layerRedis: Layer.Layer<StatusStore, never, RedisClient> = Layer.effect(
  StatusStore,
  Effect.gen(function* () {
    const redis = yield* RedisClient
    const pattern = Keys.escapeGlob(redis.prefix) + Keys.statusPattern

    const read = (op: string, key: string) => readStatus(redis, op, key)
    const scan = scanKeys(redis, "StatusStore.list", pattern, (key) => Keys.parseStatus(key.slice(redis.prefix.length)) !== undefined)

    return StatusStore.of({
      put: Effect.fn("StatusStore.put")(function* (status, ttl) {
        const key = redis.key(Keys.status(status.exchangeId))
        const json = yield* encodeJson(Status.InstanceStatus, status, "StatusStore.put", key)
        yield* command(redis, "StatusStore.put", key, (r) => r.set(key, json, "PX", ttlMillis(ttl)))
      }),
      get: Effect.fn("StatusStore.get")(function* (exchangeId) {
        return yield* read("StatusStore.get", redis.key(Keys.status(exchangeId)))
      }),
      list: Effect.fn("StatusStore.list")(function* () {
        const keys = yield* scan
        // A key can expire between SCAN and GET: that status is simply no longer live.
        const statuses = yield* Effect.forEach(keys, (key) => skipUndecodable("status", read("StatusStore.list", key)), {
          concurrency: 16
        })
        return statuses.flatMap(Option.toArray).sort(byExchange)
      }),
      remove: Effect.fn("StatusStore.remove")(function* (exchangeId) {
        const key = redis.key(Keys.status(exchangeId))
        yield* command(redis, "StatusStore.remove", key, (r) => r.del(key))
      })
    })
  })
)

/** Statuses in process memory, expiring by the Effect `Clock` (so `TestClock` drives the TTL). */
export const layerMemory: Layer.Layer<StatusStore> = Layer.sync(StatusStore, () => {
  const values = new Map<number, { readonly key: string; readonly json: string; readonly expiresAt: number }>()
  const live = (now: number) => {
    for (const [id, value] of values) if (value.expiresAt <= now) values.delete(id)
    return values
  }
  return StatusStore.of({
    put: Effect.fn("StatusStore.put")(function* (status, ttl) {
      const key = Keys.status(status.exchangeId)
      const json = yield* encodeJson(Status.InstanceStatus, status, "StatusStore.put", key)
      const now = yield* Clock.currentTimeMillis
      values.set(status.exchangeId, { key, json, expiresAt: now + ttlMillis(ttl) })
    }),
    get: Effect.fn("StatusStore.get")(function* (exchangeId) {
      const value = live(yield* Clock.currentTimeMillis).get(exchangeId)
      if (value === undefined) return Option.none()
      return Option.some(yield* decodeJson(Status.InstanceStatus, value.json, "StatusStore.get", value.key))
    }),
    list: Effect.fn("StatusStore.list")(function* () {
      const now = yield* Clock.currentTimeMillis
      const statuses = yield* Effect.forEach([...live(now).values()], (value) =>
        skipUndecodable("status", Effect.asSome(decodeJson(Status.InstanceStatus, value.json, "StatusStore.list", value.key)))
      )
      return statuses.flatMap(Option.toArray).sort(byExchange)
    }),
    remove: Effect.fn("StatusStore.remove")((exchangeId) =>
      Effect.sync(() => {
        values.delete(exchangeId)
      })
    )
  })
})
