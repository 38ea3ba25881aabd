/**
 * The lock that lets one instance serve an exchange (domain.md §5), fenced by an epoch.
 *
 * `exchange:{id}:lock` holds a JSON `Lease` with a TTL; `exchange:{id}:lock:epoch` is a counter that never
 * expires. Acquiring first INCRs the counter, then `SET lock lease NX PX ttl` with that epoch inside the lease.
 * The two keys are never touched by one script or transaction, so nothing here needs both keys in one hash
 * slot on Redis Cluster. A denied attempt burns its epoch, leaving a gap: fencing needs epochs that only grow,
 * not contiguous ones. Renewal and release compare holder and epoch inside a Lua script on the lock key alone,
 * so a stale holder (its lease expired, someone else acquired) can neither extend nor delete the new lease.
 */
import { Exchange } from "@livermore/domain"
import { Clock, Context, DateTime, Duration, Effect, Layer, Option, Schema } from "effect"
import type { CacheError } from "./CacheError.js"
import { backend, command, decodeJson, encodeJson } from "./internal/codec.js"
import * as Script from "./internal/script.js"
import * as Keys from "./Keys.js"
import { RedisClient } from "./RedisClient.js"

/** Who asks for the lock: shown to whoever is denied it. */
export class LockHolder extends Schema.Class<LockHolder>("LockHolder")({
  instanceId: Schema.NonEmptyTrimmedString,
  hostname: Schema.String,
  ipAddress: Schema.NullOr(Schema.String),
  /** When the holder's exchange connection came up, if it has. */
  connectedAt: Schema.NullOr(Schema.DateTimeUtc)
}) {}

/** The value of the lock key: the holder, its fencing epoch and when it acquired. */
export class Lease extends Schema.Class<Lease>("Lease")({
  exchangeId: Exchange.ExchangeId,
  /** Fencing token: grows with every acquisition of this exchange's lock. */
  epoch: Schema.Int.pipe(Schema.positive()),
  holder: LockHolder,
  acquiredAt: Schema.DateTimeUtc
}) {}

/** The lock is held by another lease (possibly an earlier incarnation of the same instance). */
export class LockHeldElsewhere extends Schema.TaggedError<LockHeldElsewhere>()("LockHeldElsewhere", {
  exchangeId: Exchange.ExchangeId,
  holder: LockHolder,
  epoch: Schema.Int,
  acquiredAt: Schema.DateTimeUtc
}) {
  override get message(): string {
    const ip = this.holder.ipAddress === null ? "" : ` (${this.holder.ipAddress})`
    const where = `${this.holder.hostname}${ip}`
    const since = DateTime.formatIso(this.acquiredAt)
    return `Exchange ${this.exchangeId} is served by instance ${this.holder.instanceId} on ${where} since ${since} (lock epoch ${this.epoch})`
  }
}

/** The caller no longer holds the lock at that epoch: it expired, was released, or another instance took it. */
export class LockLost extends Schema.TaggedError<LockLost>()("LockLost", {
  exchangeId: Exchange.ExchangeId,
  instanceId: Schema.String,
  epoch: Schema.Int,
  /** The lease now in place, or null when the lock is free. */
  current: Schema.NullOr(Lease)
}) {
  override get message(): string {
    const now =
      this.current === null
        ? "the lock is free"
        : `it is held by ${this.current.holder.instanceId} at epoch ${this.current.epoch}`
    return `Instance ${this.instanceId} lost the lock of exchange ${this.exchangeId} (epoch ${this.epoch}); ${now}`
  }
}

/** One lock per exchange. */
export class ExchangeLock extends Context.Tag("@livermore/cache/ExchangeLock")<
  ExchangeLock,
  {
    /** Take the free lock for `ttl` under a new epoch, or learn who holds it. Not re-entrant. */
    readonly acquire: (
      exchangeId: Exchange.ExchangeId,
      holder: LockHolder,
      ttl: Duration.DurationInput
    ) => Effect.Effect<Lease, LockHeldElsewhere | CacheError>
    /** Extend the lease to `ttl` from now, only if `instanceId` still holds it at `epoch`. */
    readonly renew: (
      exchangeId: Exchange.ExchangeId,
      instanceId: string,
      epoch: number,
      ttl: Duration.DurationInput
    ) => Effect.Effect<void, LockLost | CacheError>
    /** Delete the lock if `instanceId` holds it at `epoch`; true when it did, false when it was not the holder. */
    readonly release: (
      exchangeId: Exchange.ExchangeId,
      instanceId: string,
      epoch: number
    ) => Effect.Effect<boolean, CacheError>
    /** The current lease, if the lock is held. */
    readonly holder: (exchangeId: Exchange.ExchangeId) => Effect.Effect<Option.Option<Lease>, CacheError>
  }
>() {}

const ttlMillis = (ttl: Duration.DurationInput): number => Math.max(1, Math.ceil(Duration.toMillis(Duration.decode(ttl))))

// The holder test, shared by renew and release. ARGV[1] = instanceId, ARGV[2] = epoch.
const holds = `
local value = redis.call('GET', KEYS[1])
if not value then return false end
local ok, lease = pcall(cjson.decode, value)
local mine = ok and type(lease) == 'table' and type(lease.holder) == 'table'
  and lease.holder.instanceId == ARGV[1] and lease.epoch == tonumber(ARGV[2])
`

// Returns 1 when renewed, otherwise the current value (nil when the lock is free).
const renewScript = Script.make(`${holds}
if mine then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return value
`)

const releaseScript = Script.make(`${holds}
if mine then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`)

const denied = (lease: Lease) =>
  new LockHeldElsewhere({
    exchangeId: lease.exchangeId,
    holder: lease.holder,
    epoch: lease.epoch,
    acquiredAt: lease.acquiredAt
  })

/** A lost lock, with the current lease when it still decodes (a corrupt one is reported as free). */
const lost = (exchangeId: Exchange.ExchangeId, instanceId: string, epoch: number, current: string | null, key: string) =>
  (current === null
    ? Effect.succeed<Lease | null>(null)
    : decodeJson(Lease, current, "ExchangeLock.renew", key).pipe(Effect.orElseSucceed(() => null))
  ).pipe(Effect.flatMap((lease) => Effect.fail(new LockLost({ exchangeId, instanceId, epoch, current: lease }))))

const maxAttempts = 3

/** The lock on Redis: INCR for the epoch, SET NX PX for the lease, Lua compare-and-set for renew and release. */
export const layerRedis: Layer.Layer<ExchangeLock, never, RedisClient> = Layer.effect(
  ExchangeLock,
  Effect.gen(function* () {
    const redis = yield* RedisClient

    const current = (op: string, key: string) =>
      command(redis, op, key, (r) => r.get(key)).pipe(
        Effect.flatMap((json) =>
          json === null ? Effect.succeedNone : Effect.asSome(decodeJson(Lease, json, op, key))
        )
      )

    const attempt = (
      exchangeId: Exchange.ExchangeId,
      holder: LockHolder,
      ttl: number,
      attemptsLeft: number
    ): Effect.Effect<Lease, LockHeldElsewhere | CacheError> =>
      Effect.gen(function* () {
        const op = "ExchangeLock.acquire"
        const key = redis.key(Keys.lock(exchangeId))
        const epochKey = redis.key(Keys.lockEpoch(exchangeId))
        const epoch = yield* command(redis, op, epochKey, (r) => r.incr(epochKey))
        const acquiredAt = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
        const lease = new Lease({ exchangeId, epoch, holder, acquiredAt })
        const json = yield* encodeJson(Lease, lease, op, key)
        const set = yield* command(redis, op, key, (r) => r.set(key, json, "PX", ttl, "NX"))
        if (set === "OK") return lease
        const existing = yield* current(op, key)
        if (Option.isSome(existing)) return yield* Effect.fail(denied(existing.value))
        // It expired or was released between the SET and the GET: try again with a fresh epoch.
        if (attemptsLeft > 1) return yield* attempt(exchangeId, holder, ttl, attemptsLeft - 1)
        return yield* Effect.fail(backend(op, key)("the lock kept changing hands; giving up after 3 attempts"))
      })

    return ExchangeLock.of({
      acquire: Effect.fn("ExchangeLock.acquire")(function* (exchangeId, holder, ttl) {
        return yield* attempt(exchangeId, holder, ttlMillis(ttl), maxAttempts)
      }),
      renew: Effect.fn("ExchangeLock.renew")(function* (exchangeId, instanceId, epoch, ttl) {
        const key = redis.key(Keys.lock(exchangeId))
        const reply = yield* command(redis, "ExchangeLock.renew", key, (r) =>
          Script.run(r, renewScript, key, [instanceId, epoch, ttlMillis(ttl)])
        )
        if (reply === 1) return
        return yield* lost(exchangeId, instanceId, epoch, typeof reply === "string" ? reply : null, key)
      }),
      release: Effect.fn("ExchangeLock.release")(function* (exchangeId, instanceId, epoch) {
        const key = redis.key(Keys.lock(exchangeId))
        const reply = yield* command(redis, "ExchangeLock.release", key, (r) =>
          Script.run(r, releaseScript, key, [instanceId, epoch])
        )
        return reply === 1
      }),
      holder: Effect.fn("ExchangeLock.holder")(function* (exchangeId) {
        return yield* current("ExchangeLock.holder", redis.key(Keys.lock(exchangeId)))
      })
    })
  })
)

/** The lock in process memory, expiring by the Effect `Clock`; epochs behave as on Redis (a denial burns one). */
export const layerMemory: Layer.Layer<ExchangeLock> = Layer.sync(ExchangeLock, () => {
  const leases = new Map<number, { readonly json: string; expiresAt: number }>()
  const epochs = new Map<number, number>()
  const live = (exchangeId: number, now: number) => {
    const held = leases.get(exchangeId)
    if (held !== undefined && held.expiresAt <= now) leases.delete(exchangeId)
    return leases.get(exchangeId)
  }
  const decode = (op: string, exchangeId: Exchange.ExchangeId, json: string) =>
    decodeJson(Lease, json, op, Keys.lock(exchangeId))
  const holding = (json: string, instanceId: string, epoch: number) =>
    Effect.map(Effect.option(decodeJson(Lease, json, "ExchangeLock", "")), (lease) =>
      Option.exists(lease, (l) => l.holder.instanceId === instanceId && l.epoch === epoch)
    )

  return ExchangeLock.of({
    acquire: Effect.fn("ExchangeLock.acquire")(function* (exchangeId, holder, ttl) {
      const now = yield* Clock.currentTimeMillis
      const epoch = (epochs.get(exchangeId) ?? 0) + 1
      epochs.set(exchangeId, epoch)
      const held = live(exchangeId, now)
      if (held !== undefined) {
        return yield* Effect.fail(denied(yield* decode("ExchangeLock.acquire", exchangeId, held.json)))
      }
      const lease = new Lease({ exchangeId, epoch, holder, acquiredAt: DateTime.unsafeMake(now) })
      const json = yield* encodeJson(Lease, lease, "ExchangeLock.acquire", Keys.lock(exchangeId))
      leases.set(exchangeId, { json, expiresAt: now + ttlMillis(ttl) })
      return lease
    }),
    renew: Effect.fn("ExchangeLock.renew")(function* (exchangeId, instanceId, epoch, ttl) {
      const now = yield* Clock.currentTimeMillis
      const held = live(exchangeId, now)
      if (held !== undefined && (yield* holding(held.json, instanceId, epoch))) {
        held.expiresAt = now + ttlMillis(ttl)
        return
      }
      return yield* lost(exchangeId, instanceId, epoch, held?.json ?? null, Keys.lock(exchangeId))
    }),
    release: Effect.fn("ExchangeLock.release")(function* (exchangeId, instanceId, epoch) {
      const held = live(exchangeId, yield* Clock.currentTimeMillis)
      if (held === undefined || !(yield* holding(held.json, instanceId, epoch))) return false
      leases.delete(exchangeId)
      return true
    }),
    holder: Effect.fn("ExchangeLock.holder")(function* (exchangeId) {
      const held = live(exchangeId, yield* Clock.currentTimeMillis)
      if (held === undefined) return Option.none()
      return Option.some(yield* decode("ExchangeLock.holder", exchangeId, held.json))
    })
  })
})
