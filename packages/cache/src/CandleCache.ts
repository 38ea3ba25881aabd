/**
 * Candles per exchange, symbol and timeframe (domain.md §4): a sorted set scored by openTime holding one JSON
 * member per open time, capped to the newest `CacheConfig.candleCacheSize`.
 */
import { Candle } from "@livermore/domain"
import { Context, Effect, Either, Layer, Option } from "effect"
import type { Redis } from "ioredis"
import { CacheConfig } from "./CacheConfig.js"
import { CacheError } from "./CacheError.js"
import { argument, command, encodeJson } from "./internal/codec.js"
import * as Contiguous from "./internal/contiguous.js"
import * as Pipeline from "./internal/pipeline.js"
import * as Script from "./internal/script.js"
import * as Keys from "./Keys.js"
import { RedisClient } from "./RedisClient.js"

/** Options of `contiguousClosed`. */
export interface ContiguousOptions {
  /** Count back from this open time instead of from the newest closed candle. */
  readonly endingAt?: number | undefined
}

/** One candle of one series: an entry of `upsertBatch`. */
export interface SeriesCandle {
  readonly series: Keys.SeriesKey
  readonly candle: Candle.Candle
}

/** The cached candles of every series. */
export class CandleCache extends Context.Tag("@livermore/cache/CandleCache")<
  CandleCache,
  {
    /** Insert the candle, replacing any at the same openTime, then trim to the configured length. */
    readonly upsert: (series: Keys.SeriesKey, candle: Candle.Candle) => Effect.Effect<void, CacheError>
    /** `upsert` for many candles in one round trip; a later candle wins over an earlier one at the same openTime. */
    readonly upsertMany: (series: Keys.SeriesKey, candles: Iterable<Candle.Candle>) => Effect.Effect<void, CacheError>
    /**
     * `upsert` for candles of many series in one round trip (the live hot path): the entries of one series go
     * in one call, a later entry wins over an earlier one at the same series and openTime, and each series is
     * trimmed to the configured length. Every candle is encoded first, so one that does not encode fails the
     * batch (`Encode`) before anything is written. Atomic per series, not across series: when the store refuses
     * one series (`Backend`, naming the first such key), the others are still written. Empty input costs nothing.
     */
    readonly upsertBatch: (entries: ReadonlyArray<SeriesCandle>) => Effect.Effect<void, CacheError>
    /** Candles with `from <= openTime <= to`, oldest first. */
    readonly range: (
      series: Keys.SeriesKey,
      fromOpenTime: number,
      toOpenTime: number
    ) => Effect.Effect<ReadonlyArray<Candle.Candle>, CacheError>
    /**
     * The newest `limit` candles with `from <= openTime <= to`, oldest first: one page of a history read
     * backwards. Reads at most `limit` members, however long the series.
     */
    readonly newestInRange: (
      series: Keys.SeriesKey,
      fromOpenTime: number,
      toOpenTime: number,
      limit: number
    ) => Effect.Effect<ReadonlyArray<Candle.Candle>, CacheError>
    /** The newest `limit` candles (closed or forming), oldest first. */
    readonly recent: (series: Keys.SeriesKey, limit: number) => Effect.Effect<ReadonlyArray<Candle.Candle>, CacheError>
    /** The newest candle, closed or forming. */
    readonly latest: (series: Keys.SeriesKey) => Effect.Effect<Option.Option<Candle.Candle>, CacheError>
    /** How many candles the series holds. */
    readonly count: (series: Keys.SeriesKey) => Effect.Effect<number, CacheError>
    /**
     * How many closed candles lie back to back (one timeframe apart) ending at the newest closed candle, or at
     * `endingAt`. A missing open time or a forming candle ends the run; 0 when the end itself is missing or forming.
     */
    readonly contiguousClosed: (series: Keys.SeriesKey, options?: ContiguousOptions) => Effect.Effect<number, CacheError>
    /** Remove every candle of the series. */
    readonly clear: (series: Keys.SeriesKey) => Effect.Effect<void, CacheError>
  }
>() {}

/** How an encoded candle says it is final / still forming (the JSON the codec writes, no spaces). */
const closedMark = '"closed":true'
const formingMark = '"closed":false'

// One key per call: ZREMRANGEBYSCORE + ZADD per candle is what keeps one member per openTime, and doing it
// with the trim in a script makes the replace atomic for concurrent readers. A closed candle is final: a forming
// update for the same open time arriving after it (a late frame, a replay) never replaces it — only another
// closed version (a REST correction) does.
const upsertScript = Script.make(`
local cap = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local final = false
  if string.find(ARGV[i + 1], '${formingMark}', 1, true) then
    local held = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i])
    final = held[1] ~= nil and string.find(held[1], '${closedMark}', 1, true) ~= nil
  end
  if not final then
    redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i])
    redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
local size = redis.call('ZCARD', KEYS[1])
if size > cap then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, size - cap - 1)
end
return size
`)

const checkLimit = (op: string, key: string, limit: number): Effect.Effect<void, CacheError> =>
  Number.isInteger(limit) && limit >= 0
    ? Effect.void
    : Effect.fail(argument(op, key, `limit must be a non-negative integer, got ${limit}`))

/**
 * A cached member back to a candle: `JSON.parse`, then the schema's rules checked by hand (`Candle.violation`,
 * held to the schema's verdict by the domain tests). A third of the cost of one `Schema` decode Effect per
 * member, which mattered on the public API's hot path (101 members per candle page).
 */
const decodeCandle = (member: string, op: string, key: string): Either.Either<Candle.Candle, CacheError> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(member)
  } catch (cause) {
    return Either.left(new CacheError({ reason: "Decode", op, key, cause }))
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return Either.left(new CacheError({ reason: "Decode", op, key, cause: "a cached candle is not a JSON object" }))
  }
  const json = parsed as { readonly [field in keyof Candle.Fields]: Candle.Fields[field] }
  // Only the schema's fields, as a decode would keep them.
  const fields: Candle.Fields = {
    openTime: json.openTime,
    open: json.open,
    high: json.high,
    low: json.low,
    close: json.close,
    volume: json.volume,
    closed: json.closed,
    synthetic: json.synthetic
  }
  const broken = Candle.violation(fields)
  return broken === undefined
    ? Either.right(Candle.fromChecked(fields))
    : Either.left(new CacheError({ reason: "Decode", op, key, cause: broken }))
}

const decodeAll = (members: ReadonlyArray<string>, op: string, key: string): Effect.Effect<Array<Candle.Candle>, CacheError> =>
  Effect.suspend(() => {
    const candles: Array<Candle.Candle> = []
    for (const member of members) {
      const decoded = decodeCandle(member, op, key)
      if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
      candles.push(decoded.right)
    }
    return Effect.succeed(candles)
  })

/**
 * A candle's cache member: the schema's rules checked by hand and the JSON written directly (`Candle.violation`,
 * `Candle.toJson`, held to the schema by the domain tests) — a tenth of the cost of a Schema encode, once per
 * live update.
 */
const encodeCandle = (candle: Candle.Candle, op: string, key: string): Either.Either<string, CacheError> => {
  const broken = Candle.violation(candle)
  return broken === undefined
    ? Either.right(Candle.toJson(candle))
    : Either.left(new CacheError({ reason: "Encode", op, key, cause: broken }))
}

/**
 * The entries of a batch encoded and grouped by series key (in first-seen order), one JSON per openTime, the
 * last entry winning. Fails on the first candle that does not encode.
 */
const groupBySeries = (
  entries: ReadonlyArray<SeriesCandle>,
  keyOf: (series: Keys.SeriesKey) => string,
  op: string
): Effect.Effect<Map<string, Map<number, string>>, CacheError> =>
  Effect.suspend(() => {
    const groups = new Map<string, Map<number, string>>()
    for (const { series, candle } of entries) {
      const key = keyOf(series)
      const json = encodeCandle(candle, op, key)
      if (Either.isLeft(json)) return Effect.fail(json.left)
      let members = groups.get(key)
      if (members === undefined) {
        members = new Map()
        groups.set(key, members)
      }
      members.set(candle.openTime, json.right)
    }
    return Effect.succeed(groups)
  })

const encodeAll = (candles: Iterable<Candle.Candle>, op: string, key: string) =>
  Effect.forEach(candles, (candle) =>
    Effect.map(encodeJson(Candle.Candle, candle, op, key), (json) => [candle.openTime, json] as const)
  )

/** The cache on Redis sorted sets. */
export const layerRedis: Layer.Layer<CandleCache, never, RedisClient | CacheConfig> = Layer.effect(
  CandleCache,
  Effect.gen(function* () {
    const redis = yield* RedisClient
    const { candleCacheSize } = yield* CacheConfig
    const keyOf = (series: Keys.SeriesKey) => redis.key(Keys.candles(series))

    const write = (op: string, series: Keys.SeriesKey, candles: Iterable<Candle.Candle>) =>
      Effect.gen(function* () {
        const key = keyOf(series)
        const encoded = yield* encodeAll(candles, op, key)
        if (encoded.length === 0) return
        const args: Array<string | number> = [candleCacheSize]
        for (const [openTime, json] of encoded) args.push(openTime, json)
        yield* command(redis, op, key, (r) => Script.run(r, upsertScript, key, args))
      })

    const members = (op: string, key: string, f: (r: Redis) => Promise<Array<string>>) =>
      command(redis, op, key, f).pipe(Effect.flatMap((found) => decodeAll(found, op, key)))

    return CandleCache.of({
      upsert: Effect.fn("CandleCache.upsert")(function* (series, candle) {
        yield* write("CandleCache.upsert", series, [candle])
      }),
      upsertMany: Effect.fn("CandleCache.upsertMany")(function* (series, candles) {
        yield* write("CandleCache.upsertMany", series, candles)
      }),
      upsertBatch: Effect.fn("CandleCache.upsertBatch")(function* (entries) {
        const groups = yield* groupBySeries(entries, keyOf, "CandleCache.upsertBatch")
        const calls: Array<Pipeline.ScriptCall> = []
        for (const [key, members] of groups) {
          const args: Array<string | number> = [candleCacheSize]
          for (const [openTime, json] of members) args.push(openTime, json)
          calls.push({ key, args })
        }
        yield* Pipeline.evalScripts(redis, "CandleCache.upsertBatch", upsertScript, calls)
      }),
      range: Effect.fn("CandleCache.range")(function* (series, fromOpenTime, toOpenTime) {
        const key = keyOf(series)
        if (toOpenTime < fromOpenTime) return []
        return yield* members("CandleCache.range", key, (r) => r.zrangebyscore(key, fromOpenTime, toOpenTime))
      }),
      newestInRange: Effect.fn("CandleCache.newestInRange")(function* (series, fromOpenTime, toOpenTime, limit) {
        const key = keyOf(series)
        yield* checkLimit("CandleCache.newestInRange", key, limit)
        if (toOpenTime < fromOpenTime || limit === 0) return []
        const newestFirst = yield* members("CandleCache.newestInRange", key, (r) =>
          r.zrevrangebyscore(key, toOpenTime, fromOpenTime, "LIMIT", 0, limit)
        )
        return newestFirst.reverse()
      }),
      recent: Effect.fn("CandleCache.recent")(function* (series, limit) {
        const key = keyOf(series)
        yield* checkLimit("CandleCache.recent", key, limit)
        if (limit === 0) return []
        return yield* members("CandleCache.recent", key, (r) => r.zrange(key, -limit, -1))
      }),
      latest: Effect.fn("CandleCache.latest")(function* (series) {
        const key = keyOf(series)
        const found = yield* members("CandleCache.latest", key, (r) => r.zrange(key, -1, -1))
        return Option.fromNullable(found[0])
      }),
      count: Effect.fn("CandleCache.count")(function* (series) {
        const key = keyOf(series)
        return yield* command(redis, "CandleCache.count", key, (r) => r.zcard(key))
      }),
      contiguousClosed: Effect.fn("CandleCache.contiguousClosed")(function* (series, options) {
        const key = keyOf(series)
        const endingAt = options?.endingAt
        const newestFirst = yield* members("CandleCache.contiguousClosed", key, (r) =>
          r.zrevrangebyscore(key, endingAt ?? "+inf", "-inf")
        )
        return Contiguous.count(series.timeframe, newestFirst, endingAt)
      }),
      clear: Effect.fn("CandleCache.clear")(function* (series) {
        const key = keyOf(series)
        yield* command(redis, "CandleCache.clear", key, (r) => r.del(key))
      })
    })
  })
)

/**
 * The cache in process memory, with the same semantics (members stored as encoded JSON, decoded on read).
 * For tests and single-process runs.
 */
export const layerMemory: Layer.Layer<CandleCache, never, CacheConfig> = Layer.effect(
  CandleCache,
  Effect.gen(function* () {
    const { candleCacheSize } = yield* CacheConfig
    const sets = new Map<string, Map<number, string>>()
    const ascending = (key: string): Array<readonly [number, string]> =>
      [...(sets.get(key) ?? new Map<number, string>())].sort(([a], [b]) => a - b)

    const store = (key: string, encoded: Iterable<readonly [openTime: number, json: string]>) => {
      const set = sets.get(key) ?? new Map<number, string>()
      for (const [openTime, json] of encoded) {
        // As on Redis: a forming update never replaces a closed candle.
        if (json.includes(formingMark) && set.get(openTime)?.includes(closedMark) === true) continue
        set.set(openTime, json)
      }
      if (set.size > candleCacheSize) {
        const oldest = [...set.keys()].sort((a, b) => a - b).slice(0, set.size - candleCacheSize)
        for (const openTime of oldest) set.delete(openTime)
      }
      sets.set(key, set)
    }

    const write = (op: string, series: Keys.SeriesKey, candles: Iterable<Candle.Candle>) =>
      Effect.gen(function* () {
        const key = Keys.candles(series)
        const encoded = yield* encodeAll(candles, op, key)
        if (encoded.length === 0) return
        store(key, encoded)
      })

    type Members = Array<readonly [openTime: number, json: string]>
    const read = (op: string, series: Keys.SeriesKey, pick: (ascending: Members) => Members) => {
      const key = Keys.candles(series)
      return decodeAll(
        pick(ascending(key)).map(([, json]) => json),
        op,
        key
      )
    }

    return CandleCache.of({
      upsert: Effect.fn("CandleCache.upsert")(function* (series, candle) {
        yield* write("CandleCache.upsert", series, [candle])
      }),
      upsertMany: Effect.fn("CandleCache.upsertMany")(function* (series, candles) {
        yield* write("CandleCache.upsertMany", series, candles)
      }),
      upsertBatch: Effect.fn("CandleCache.upsertBatch")(function* (entries) {
        const groups = yield* groupBySeries(entries, Keys.candles, "CandleCache.upsertBatch")
        for (const [key, members] of groups) store(key, members)
      }),
      range: Effect.fn("CandleCache.range")(function* (series, fromOpenTime, toOpenTime) {
        return yield* read("CandleCache.range", series, (all) =>
          all.filter(([openTime]) => openTime >= fromOpenTime && openTime <= toOpenTime)
        )
      }),
      newestInRange: Effect.fn("CandleCache.newestInRange")(function* (series, fromOpenTime, toOpenTime, limit) {
        yield* checkLimit("CandleCache.newestInRange", Keys.candles(series), limit)
        return yield* read("CandleCache.newestInRange", series, (all) => {
          const inRange = all.filter(([openTime]) => openTime >= fromOpenTime && openTime <= toOpenTime)
          return limit === 0 ? [] : inRange.slice(-limit)
        })
      }),
      recent: Effect.fn("CandleCache.recent")(function* (series, limit) {
        yield* checkLimit("CandleCache.recent", Keys.candles(series), limit)
        return yield* read("CandleCache.recent", series, (all) => (limit === 0 ? [] : all.slice(-limit)))
      }),
      latest: Effect.fn("CandleCache.latest")(function* (series) {
        const found = yield* read("CandleCache.latest", series, (all) => all.slice(-1))
        return Option.fromNullable(found[0])
      }),
      count: Effect.fn("CandleCache.count")((series) => Effect.sync(() => sets.get(Keys.candles(series))?.size ?? 0)),
      contiguousClosed: Effect.fn("CandleCache.contiguousClosed")(function* (series, options) {
        const endingAt = options?.endingAt
        const found = yield* read("CandleCache.contiguousClosed", series, (all) =>
          all.filter(([openTime]) => endingAt === undefined || openTime <= endingAt).reverse()
        )
        return Contiguous.count(series.timeframe, found, endingAt)
      }),
      clear: Effect.fn("CandleCache.clear")((series) =>
        Effect.sync(() => {
          sets.delete(Keys.candles(series))
        })
      )
    })
  })
)
