/**
 * The lifecycle event log of each exchange, `logs:network:{exchangeName}` (domain.md §5): a Redis stream of
 * flat fields (type, exchangeId, instanceId, from, to, at, message, lockEpoch), trimmed by age on append.
 */
import { type Exchange, Lifecycle } from "@livermore/domain"
import {
  Chunk,
  Clock,
  Context,
  DateTime,
  Duration,
  Effect,
  identity,
  Layer,
  Option,
  PubSub,
  Queue,
  Schema,
  Stream
} from "effect"
import { CacheConfig } from "./CacheConfig.js"
import { CacheError } from "./CacheError.js"
import { argument, backend, command } from "./internal/codec.js"
import * as StreamId from "./internal/streamId.js"
import * as Keys from "./Keys.js"
import { RedisClient } from "./RedisClient.js"

/** One stored event with its stream entry id. */
export interface Entry {
  /** Stream entry id, `<ms>-<seq>`; ids grow with every append. */
  readonly id: string
  readonly event: Lifecycle.LifecycleEvent
}

/** Bounds of `range`, each an entry id or a bare millisecond time, both inclusive. */
export interface RangeOptions {
  /** First id (default `-`, the oldest). */
  readonly from?: string | undefined
  /** Last id (default `+`, the newest). */
  readonly to?: string | undefined
  /** At most this many entries: the oldest of the range, or with `newestFirst` the newest. */
  readonly count?: number | undefined
  /** Newest first (Redis `XREVRANGE`): with `count`, the latest entries without reading the whole log. */
  readonly newestFirst?: boolean | undefined
}

/** Where `tail` starts. */
export interface TailOptions {
  /**
   * Deliver entries after this id (exclusive). `$` means "only what is appended after the tail starts";
   * `0` replays everything. Pass the id of the last entry you processed to resume without loss.
   */
  readonly fromId: string
}

/** The append-only event log of every exchange. */
export class EventLog extends Context.Tag("@livermore/cache/EventLog")<
  EventLog,
  {
    /** Append an event; returns its entry id. Entries older than `CacheConfig.eventLogRetention` are trimmed. */
    readonly append: (
      exchangeName: Exchange.ExchangeName,
      event: Lifecycle.LifecycleEvent
    ) => Effect.Effect<string, CacheError>
    /** Stored entries between two ids, oldest first. A stored entry that does not decode is a `Decode` error. */
    readonly range: (
      exchangeName: Exchange.ExchangeName,
      options?: RangeOptions
    ) => Effect.Effect<ReadonlyArray<Entry>, CacheError>
    /**
     * New entries as they are appended (on Redis, blocking XREAD on a connection of its own, closed when the
     * stream ends). An entry that does not decode is logged and skipped, like a malformed bus message.
     */
    readonly tail: (exchangeName: Exchange.ExchangeName, options: TailOptions) => Stream.Stream<Entry, CacheError>
    /** Delete entries appended before `olderThan`; returns how many were deleted. */
    readonly trim: (
      exchangeName: Exchange.ExchangeName,
      olderThan: DateTime.DateTime
    ) => Effect.Effect<number, CacheError>
  }
>() {}

const Flat = Schema.Struct({
  type: Schema.String,
  exchangeId: Schema.NumberFromString,
  instanceId: Schema.String,
  from: Schema.optionalWith(Schema.String, { exact: true }),
  to: Schema.optionalWith(Schema.String, { exact: true }),
  at: Schema.String,
  message: Schema.String,
  lockEpoch: Schema.optionalWith(Schema.NumberFromString, { exact: true })
})

/** A `LifecycleEvent` as the flat string fields of a stream entry. */
export const Fields = Schema.compose(Flat, Lifecycle.LifecycleEvent, { strict: false })

const fieldOrder = ["type", "exchangeId", "instanceId", "from", "to", "at", "message", "lockEpoch"] as const

const encodeFields = (event: Lifecycle.LifecycleEvent, op: string, key: string) =>
  Schema.encode(Fields)(event).pipe(
    Effect.map((flat) => {
      const out: Array<string> = []
      for (const name of fieldOrder) {
        const value = flat[name]
        if (value !== undefined) out.push(name, value)
      }
      return out
    }),
    Effect.mapError((cause) => new CacheError({ reason: "Encode", op, key, cause }))
  )

const decodeEntry = (id: string, fields: ReadonlyArray<string>, op: string, key: string) => {
  const record: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!
  return Schema.decodeUnknown(Fields)(record).pipe(
    Effect.map((event): Entry => ({ id, event })),
    Effect.mapError((cause) => new CacheError({ reason: "Decode", op, key: `${key} ${id}`, cause }))
  )
}

const decodeOrSkip = (key: string) => (raw: readonly [string, ReadonlyArray<string>]) =>
  decodeEntry(raw[0], raw[1], "EventLog.tail", key).pipe(
    Effect.asSome,
    Effect.catchAll((error) =>
      Effect.logWarning("Skipped a malformed event-log entry").pipe(
        Effect.annotateLogs({ key, id: raw[0], error: error.message }),
        Effect.as(Option.none<Entry>())
      )
    )
  )

const checkRange = (op: string, key: string, options: RangeOptions | undefined): Effect.Effect<void, CacheError> => {
  for (const bound of [options?.from, options?.to]) {
    if (bound !== undefined && !StreamId.isBound(bound)) {
      return Effect.fail(argument(op, key, `"${bound}" is not a stream id`))
    }
  }
  const count = options?.count
  if (count !== undefined && !(Number.isInteger(count) && count > 0)) {
    return Effect.fail(argument(op, key, `count must be a positive integer, got ${count}`))
  }
  return Effect.void
}

const checkTail = (key: string, fromId: string): Effect.Effect<void, CacheError> =>
  fromId === "$" || StreamId.parse(fromId, 0) !== undefined
    ? Effect.void
    : Effect.fail(argument("EventLog.tail", key, `"${fromId}" is not a stream id or $`))

const xreadBlockMs = 5_000

/** The log on Redis streams. */
export const layerRedis: Layer.Layer<EventLog, never, RedisClient | CacheConfig> = Layer.effect(
  EventLog,
  Effect.gen(function* () {
    const redis = yield* RedisClient
    const { eventLogRetention } = yield* CacheConfig
    const keyOf = (name: Exchange.ExchangeName) => redis.key(Keys.networkLog(name))

    const lastId = (key: string) =>
      command(redis, "EventLog.tail", key, (r) => r.xrevrange(key, "+", "-", "COUNT", 1)).pipe(
        Effect.map((entries) => entries[0]?.[0] ?? "0-0")
      )

    return EventLog.of({
      append: Effect.fn("EventLog.append")(function* (exchangeName, event) {
        const key = keyOf(exchangeName)
        const fields = yield* encodeFields(event, "EventLog.append", key)
        const minId = Math.max(0, (yield* Clock.currentTimeMillis) - Duration.toMillis(eventLogRetention))
        const id = yield* command(redis, "EventLog.append", key, (r) =>
          r.xadd(key, "MINID", "~", String(minId), "*", ...fields)
        )
        if (id === null) return yield* Effect.fail(backend("EventLog.append", key)("XADD returned no id"))
        return id
      }),
      range: Effect.fn("EventLog.range")(function* (exchangeName, options) {
        const key = keyOf(exchangeName)
        yield* checkRange("EventLog.range", key, options)
        const from = options?.from ?? "-"
        const to = options?.to ?? "+"
        const count = options?.count
        const raw = yield* command(redis, "EventLog.range", key, (r) =>
          options?.newestFirst === true
            ? count === undefined
              ? r.xrevrange(key, to, from)
              : r.xrevrange(key, to, from, "COUNT", count)
            : count === undefined
              ? r.xrange(key, from, to)
              : r.xrange(key, from, to, "COUNT", count)
        )
        return yield* Effect.forEach(raw, ([id, fields]) => decodeEntry(id, fields, "EventLog.range", key))
      }),
      tail: (exchangeName, options) => {
        const key = keyOf(exchangeName)
        return Stream.unwrapScoped(
          Effect.gen(function* () {
            yield* checkTail(key, options.fromId)
            let last = options.fromId === "$" ? yield* lastId(key) : options.fromId
            const connection = yield* redis.dedicated.pipe(Effect.mapError(backend("EventLog.tail", key)))
            const poll = command(connection, "EventLog.tail", key, (r) =>
              r.xread("COUNT", 100, "BLOCK", xreadBlockMs, "STREAMS", key, last)
            ).pipe(
              Effect.map((reply) => {
                const entries = reply?.[0]?.[1] ?? []
                const newest = entries[entries.length - 1]
                if (newest) last = newest[0]
                return Chunk.fromIterable(entries)
              })
            )
            return Stream.repeatEffectChunk(poll).pipe(Stream.mapEffect(decodeOrSkip(key)), Stream.filterMap(identity))
          })
        ).pipe(Stream.withSpan("EventLog.tail"))
      },
      trim: Effect.fn("EventLog.trim")(function* (exchangeName, olderThan) {
        const key = keyOf(exchangeName)
        const minId = String(Math.max(0, DateTime.toEpochMillis(olderThan)))
        return yield* command(redis, "EventLog.trim", key, (r) => r.xtrim(key, "MINID", minId))
      })
    })
  })
)

interface StoredEntry {
  readonly id: StreamId.StreamId
  readonly fields: ReadonlyArray<string>
}

interface StoredLog {
  entries: Array<StoredEntry>
  last: StreamId.StreamId
}

/**
 * The log in process memory, with stream-id semantics (time-based ids, inclusive ranges, exclusive tails).
 * Retention trimming on append is exact here, where Redis's `MINID ~` may keep some older entries a while.
 */
export const layerMemory: Layer.Layer<EventLog, never, CacheConfig> = Layer.effect(
  EventLog,
  Effect.gen(function* () {
    const { eventLogRetention } = yield* CacheConfig
    const logs = new Map<string, StoredLog>()
    const appended = yield* PubSub.unbounded<string>()
    const logOf = (key: string): StoredLog => {
      const existing = logs.get(key)
      if (existing) return existing
      const created: StoredLog = { entries: [], last: { ms: 0, seq: 0 } }
      logs.set(key, created)
      return created
    }
    const removeBefore = (log: StoredLog, ms: number): number => {
      const kept = log.entries.filter((entry) => entry.id.ms >= ms)
      const removed = log.entries.length - kept.length
      log.entries = kept
      return removed
    }
    const after = (key: string, id: StreamId.StreamId): Array<StoredEntry> =>
      (logs.get(key)?.entries ?? []).filter((entry) => StreamId.compare(entry.id, id) > 0)

    return EventLog.of({
      append: Effect.fn("EventLog.append")(function* (exchangeName, event) {
        const key = Keys.networkLog(exchangeName)
        const fields = yield* encodeFields(event, "EventLog.append", key)
        const now = yield* Clock.currentTimeMillis
        const log = logOf(key)
        const id = now > log.last.ms ? { ms: now, seq: 0 } : { ms: log.last.ms, seq: log.last.seq + 1 }
        log.entries.push({ id, fields })
        log.last = id
        removeBefore(log, now - Duration.toMillis(eventLogRetention))
        yield* PubSub.publish(appended, key)
        return StreamId.format(id)
      }),
      range: Effect.fn("EventLog.range")(function* (exchangeName, options) {
        const key = Keys.networkLog(exchangeName)
        yield* checkRange("EventLog.range", key, options)
        const from = options?.from === undefined || options.from === "-" ? undefined : StreamId.parse(options.from, 0)
        const to =
          options?.to === undefined || options.to === "+" ? undefined : StreamId.parse(options.to, Number.MAX_SAFE_INTEGER)
        const inRange = (logs.get(key)?.entries ?? []).filter(
          (entry) =>
            (from === undefined || StreamId.compare(entry.id, from) >= 0) &&
            (to === undefined || StreamId.compare(entry.id, to) <= 0)
        )
        const selected = (options?.newestFirst === true ? inRange.reverse() : inRange).slice(
          0,
          options?.count ?? Number.POSITIVE_INFINITY
        )
        return yield* Effect.forEach(selected, (entry) =>
          decodeEntry(StreamId.format(entry.id), entry.fields, "EventLog.range", key)
        )
      }),
      tail: (exchangeName, options) => {
        const key = Keys.networkLog(exchangeName)
        return Stream.unwrapScoped(
          Effect.gen(function* () {
            yield* checkTail(key, options.fromId)
            const changes = yield* PubSub.subscribe(appended)
            let last =
              options.fromId === "$" ? (logs.get(key)?.last ?? { ms: 0, seq: 0 }) : StreamId.parse(options.fromId, 0)!
            const next = Effect.gen(function* () {
              for (;;) {
                const fresh = after(key, last)
                const newest = fresh[fresh.length - 1]
                if (newest) {
                  last = newest.id
                  return Chunk.fromIterable(fresh.map((entry) => [StreamId.format(entry.id), entry.fields] as const))
                }
                yield* Queue.take(changes)
              }
            })
            return Stream.repeatEffectChunk(next).pipe(Stream.mapEffect(decodeOrSkip(key)), Stream.filterMap(identity))
          })
        ).pipe(Stream.withSpan("EventLog.tail"))
      },
      trim: Effect.fn("EventLog.trim")((exchangeName, olderThan) =>
        Effect.sync(() => {
          const log = logs.get(Keys.networkLog(exchangeName))
          return log === undefined ? 0 : removeBefore(log, DateTime.toEpochMillis(olderThan))
        })
      )
    })
  })
)
