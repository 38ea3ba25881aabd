/**
 * The instances of the network, `instance:{instanceId}` (see `Keys.instance`): each exchange instance announces its
 * own status on every heartbeat — also while idle, when only the lock holder writes `exchange:{id}:status` — so an
 * admin can find the instance to send `start` to. An instance that dies without a clean stop disappears by expiry.
 */
import { Status } from "@livermore/domain"
import { Clock, Context, type Duration, Effect, Layer, Option } from "effect"
import type { CacheError } from "./CacheError.js"
import { command, decodeJson, encodeJson } from "./internal/codec.js"
import { readStatus, scanKeys, skipUndecodable, ttlMillis } from "./internal/statusKeys.js"
import * as Keys from "./Keys.js"
import { RedisClient } from "./RedisClient.js"

export class InstanceRegistry extends Context.Tag("@livermore/cache/InstanceRegistry")<
  InstanceRegistry,
  {
    /** Announce `status` under its instance id, expiring after `ttl` unless announced again. */
    readonly announce: (status: Status.InstanceStatus, ttl: Duration.DurationInput) => Effect.Effect<void, CacheError>
    /** Every live instance, by exchange then instance id; an entry that does not decode is logged and left out. */
    readonly list: () => Effect.Effect<ReadonlyArray<Status.InstanceStatus>, CacheError>
    /** Remove an instance (its clean stop). */
    readonly withdraw: (instanceId: string) => Effect.Effect<void, CacheError>
  }
>() {}

const order = (a: Status.InstanceStatus, b: Status.InstanceStatus): number =>
  a.exchangeId - b.exchangeId || a.instanceId.localeCompare(b.instanceId)

/** Announcements as JSON strings with PX expiry in Redis. */
export const layerRedis: Layer.Layer<InstanceRegistry, never, RedisClient> = Layer.effect(
  InstanceRegistry,
  Effect.gen(function* () {
    const redis = yield* RedisClient
    const pattern = Keys.escapeGlob(redis.prefix) + Keys.instancePattern

    const scan = scanKeys(redis, "InstanceRegistry.list", pattern, () => true)

    return InstanceRegistry.of({
      announce: Effect.fn("InstanceRegistry.announce")(function* (status, ttl) {
        const key = redis.key(Keys.instance(status.instanceId))
        const json = yield* encodeJson(Status.InstanceStatus, status, "InstanceRegistry.announce", key)
        yield* command(redis, "InstanceRegistry.announce", key, (r) => r.set(key, json, "PX", ttlMillis(ttl)))
      }),
      list: Effect.fn("InstanceRegistry.list")(function* () {
        // A key can expire between SCAN and GET: that instance is simply gone.
        const found = yield* Effect.forEach(yield* scan, (key) => skipUndecodable("instance", readStatus(redis, "InstanceRegistry.list", key)), { concurrency: 16 })
        return found.flatMap(Option.toArray).sort(order)
      }),
      withdraw: Effect.fn("InstanceRegistry.withdraw")(function* (instanceId) {
        const key = redis.key(Keys.instance(instanceId))
        yield* command(redis, "InstanceRegistry.withdraw", key, (r) => r.del(key))
      })
    })
  })
)

/** Announcements in process memory, expiring by the Effect `Clock`. */
export const layerMemory: Layer.Layer<InstanceRegistry> = Layer.sync(InstanceRegistry, () => {
  const values = new Map<string, { readonly key: string; readonly json: string; readonly expiresAt: number }>()
  return InstanceRegistry.of({
    announce: Effect.fn("InstanceRegistry.announce")(function* (status, ttl) {
      const key = Keys.instance(status.instanceId)
      const json = yield* encodeJson(Status.InstanceStatus, status, "InstanceRegistry.announce", key)
      const now = yield* Clock.currentTimeMillis
      values.set(status.instanceId, { key, json, expiresAt: now + ttlMillis(ttl) })
    }),
    list: Effect.fn("InstanceRegistry.list")(function* () {
      const now = yield* Clock.currentTimeMillis
      for (const [id, value] of values) if (value.expiresAt <= now) values.delete(id)
      const found = yield* Effect.forEach([...values.values()], (value) =>
        skipUndecodable(
          "instance",
          Effect.asSome(decodeJson(Status.InstanceStatus, value.json, "InstanceRegistry.list", value.key))
        )
      )
      return found.flatMap(Option.toArray).sort(order)
    }),
    withdraw: Effect.fn("InstanceRegistry.withdraw")((instanceId) =>
      Effect.sync(() => {
        values.delete(instanceId)
      })
    )
  })
})
