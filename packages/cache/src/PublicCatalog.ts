/**
 * The public catalog: what the public API serves besides candles, signals and statuses — the exchanges, each
 * exchange's shared symbols, recent alerts and the active API keys — kept in the cache so that a `pw-host` node
 * answers from Redis alone (domain.md §9). Postgres stays the record: nodes that hold it project into here at
 * start and whenever it changes (`Keys.catalog*`).
 */
import { Alert, Exchange, Market, Timeframe } from "@livermore/domain"
import { Clock, Context, Duration, Effect, Layer, Option, Schema } from "effect"
import type { CacheError } from "./CacheError.js"
import { argument, command, decodeJson, encodeJson } from "./internal/codec.js"
import * as Pipeline from "./internal/pipeline.js"
import * as Script from "./internal/script.js"
import * as Keys from "./Keys.js"
import { RedisClient } from "./RedisClient.js"

/** The public fields of an exchange row. */
export const CatalogExchange = Schema.Struct({
  id: Exchange.ExchangeId,
  name: Exchange.ExchangeName,
  displayName: Schema.String,
  timeframes: Schema.Array(Timeframe.Timeframe),
  isActive: Schema.Boolean
})
export type CatalogExchange = typeof CatalogExchange.Type

/** One shared (Tier 1) symbol of an exchange. */
export const CatalogSymbol = Schema.Struct({
  symbol: Market.SymbolId,
  baseAsset: Schema.String,
  quoteAsset: Schema.String,
  /** `exchange_symbols.liquidity_grade`: A (most liquid) to E. */
  liquidityGrade: Schema.Literal("A", "B", "C", "D", "E"),
  /** 1 = most traded on the exchange; null when unranked. */
  rank: Schema.NullOr(Schema.Int),
  quoteVolume24h: Schema.Number
})
export type CatalogSymbol = typeof CatalogSymbol.Type

/** An active API key, found by the SHA-256 of the key: never the key itself. */
export const CatalogApiKey = Schema.Struct({
  id: Schema.Int,
  /** SHA-256 (hex) of the key, compared in constant time once found. */
  keyHash: Schema.String,
  name: Schema.String,
  prefix: Schema.String
})
export type CatalogApiKey = typeof CatalogApiKey.Type

/** An alert and its position in the feed (a Redis stream id: increasing, usable as a cursor). */
export interface FeedAlert {
  readonly id: string
  readonly alert: Alert.Alert
}

/** What `alertPage` reads. */
export interface AlertPageQuery {
  /** Only alerts older than this feed id; absent: from the newest. */
  readonly before?: string | undefined
  readonly limit: number
  readonly matches: (alert: Alert.Alert) => boolean
}

/** A page of alerts, newest first; `next` is the id to pass as `before` for the following page. */
export interface AlertPage {
  readonly alerts: ReadonlyArray<FeedAlert>
  readonly next: string | null
}

/** Most alerts kept in the feed (approximately, on Redis): enough for weeks at the flood breaker's pace. */
export const alertFeedLength = 50_000

const CatalogExchanges = Schema.Array(CatalogExchange)
const CatalogSymbols = Schema.Array(CatalogSymbol)

/** The catalog. */
export class PublicCatalog extends Context.Tag("@livermore/cache/PublicCatalog")<
  PublicCatalog,
  {
    readonly putExchanges: (exchanges: ReadonlyArray<CatalogExchange>) => Effect.Effect<void, CacheError>
    /** None until some node has projected the exchanges. */
    readonly exchanges: Effect.Effect<Option.Option<ReadonlyArray<CatalogExchange>>, CacheError>
    readonly putSymbols: (
      exchangeId: Exchange.ExchangeId,
      symbols: ReadonlyArray<CatalogSymbol>
    ) => Effect.Effect<void, CacheError>
    /** None until the exchange's symbols have been projected. */
    readonly symbols: (
      exchangeId: Exchange.ExchangeId
    ) => Effect.Effect<Option.Option<ReadonlyArray<CatalogSymbol>>, CacheError>
    /** Append an alert to the feed (capped to `alertFeedLength`). */
    readonly appendAlert: (alert: Alert.Alert) => Effect.Effect<void, CacheError>
    /** Alerts matching `query.matches`, newest first. */
    readonly alertPage: (query: AlertPageQuery) => Effect.Effect<AlertPage, CacheError>
    readonly putApiKey: (keyHash: string, key: CatalogApiKey) => Effect.Effect<void, CacheError>
    readonly removeApiKey: (keyHash: string) => Effect.Effect<void, CacheError>
    /** Make the projected keys exactly `keys` (hash → key): keys revoked while nobody was looking disappear. */
    readonly replaceApiKeys: (keys: ReadonlyMap<string, CatalogApiKey>) => Effect.Effect<void, CacheError>
    readonly findApiKey: (keyHash: string) => Effect.Effect<Option.Option<CatalogApiKey>, CacheError>
    /** Record that key `id` was used at `at` (ms). */
    readonly markApiKeyUsed: (id: number, at: number) => Effect.Effect<void, CacheError>
    /** Key id → last use (ms) as recorded by `markApiKeyUsed`. */
    readonly apiKeysUsed: Effect.Effect<ReadonlyMap<number, number>, CacheError>
    /**
     * Take one of the `limit` stream connection slots of key `keyId` for `connectionId`, held for `ttl` unless
     * refreshed (`Keys.publicStreamSlots`): one count for every instance, and a slot whose holder stopped
     * refreshing it (a crashed instance) frees itself when its TTL runs out. True when taken (or already held by
     * `connectionId`, whose TTL then restarts), false when `limit` live slots are held by other connections.
     * A TTL that is not finite and positive is an `Argument` error.
     */
    readonly acquireStreamSlot: (
      keyId: number,
      connectionId: string,
      limit: number,
      ttl: Duration.DurationInput
    ) => Effect.Effect<boolean, CacheError>
    /** Restart the TTL of `connectionId`'s slot, taking it again if it had lapsed (without checking the limit). */
    readonly refreshStreamSlot: (
      keyId: number,
      connectionId: string,
      ttl: Duration.DurationInput
    ) => Effect.Effect<void, CacheError>
    /** Free `connectionId`'s slot; nothing when it holds none. */
    readonly releaseStreamSlot: (keyId: number, connectionId: string) => Effect.Effect<void, CacheError>
    /** How many live slots key `keyId` holds. */
    readonly streamSlots: (keyId: number) => Effect.Effect<number, CacheError>
  }
>() {}

/** A slot TTL in whole milliseconds, or an `Argument` error. */
const slotTtl = (op: string, key: string, ttl: Duration.DurationInput): Effect.Effect<number, CacheError> => {
  const millis = Duration.toMillis(Duration.decode(ttl))
  return Number.isFinite(millis) && millis > 0
    ? Effect.succeed(Math.max(1, Math.ceil(millis)))
    : Effect.fail(argument(op, key, `a stream slot needs a finite, positive TTL, got ${Duration.format(ttl)}`))
}

// Every slot script reads the Redis clock (TIME), so instances whose clocks disagree still agree on expiry, and
// drops the lapsed slots before anything else. The key's own expiry follows its newest slot.
const slotNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
`

// KEYS[1] = the slots, ARGV = connection id, limit, ttl (ms). 1 when taken, 0 when the limit is reached.
const acquireSlotScript = Script.make(`${slotNow}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// KEYS[1] = the slots, ARGV = connection id, ttl (ms).
const refreshSlotScript = Script.make(`${slotNow}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// KEYS[1] = the slots. The number of live slots.
const countSlotsScript = Script.make(`${slotNow}
return redis.call('ZCARD', KEYS[1])
`)

const scanChunk = 500

/** The catalog in Redis (`Keys.catalog*`). */
export const layerRedis: Layer.Layer<PublicCatalog, never, RedisClient> = Layer.effect(
  PublicCatalog,
  Effect.gen(function* () {
    const redis = yield* RedisClient
    const readJson = <A, I>(op: string, name: string, schema: Schema.Schema<A, I>) =>
      Effect.gen(function* () {
        const key = redis.key(name)
        const json = yield* command(redis, op, key, (r) => r.get(key))
        return json === null ? Option.none<A>() : Option.some(yield* decodeJson(schema, json, op, key))
      })
    const writeJson = <A, I>(op: string, name: string, schema: Schema.Schema<A, I>, value: A) =>
      Effect.gen(function* () {
        const key = redis.key(name)
        const json = yield* encodeJson(schema, value, op, key)
        yield* command(redis, op, key, (r) => r.set(key, json))
      })
    const feed = redis.key(Keys.catalogAlerts)
    const used = redis.key(Keys.catalogApiKeyUsed)

    const scanKeys = Effect.gen(function* () {
      const pattern = Keys.escapeGlob(redis.prefix) + Keys.catalogApiKeyPattern
      const found: Array<string> = []
      let cursor = "0"
      do {
        const [next, keys] = yield* command(redis, "PublicCatalog.replaceApiKeys", pattern, (r) =>
          r.scan(cursor, "MATCH", pattern, "COUNT", 500)
        )
        found.push(...keys)
        cursor = next
      } while (cursor !== "0")
      return found
    })

    return PublicCatalog.of({
      putExchanges: Effect.fn("PublicCatalog.putExchanges")((exchanges: ReadonlyArray<CatalogExchange>) =>
        writeJson("PublicCatalog.putExchanges", Keys.catalogExchanges, CatalogExchanges, exchanges)
      ),
      exchanges: readJson("PublicCatalog.exchanges", Keys.catalogExchanges, CatalogExchanges).pipe(
        Effect.withSpan("PublicCatalog.exchanges")
      ),
      putSymbols: Effect.fn("PublicCatalog.putSymbols")(
        (exchangeId: Exchange.ExchangeId, symbols: ReadonlyArray<CatalogSymbol>) =>
          writeJson("PublicCatalog.putSymbols", Keys.catalogSymbols(exchangeId), CatalogSymbols, symbols)
      ),
      symbols: Effect.fn("PublicCatalog.symbols")((exchangeId: Exchange.ExchangeId) =>
        readJson("PublicCatalog.symbols", Keys.catalogSymbols(exchangeId), CatalogSymbols)
      ),
      appendAlert: Effect.fn("PublicCatalog.appendAlert")(function* (alert: Alert.Alert) {
        const json = yield* encodeJson(Alert.Alert, alert, "PublicCatalog.appendAlert", feed)
        yield* command(redis, "PublicCatalog.appendAlert", feed, (r) =>
          r.xadd(feed, "MAXLEN", "~", alertFeedLength, "*", "alert", json)
        )
      }),
      alertPage: Effect.fn("PublicCatalog.alertPage")(function* (query: AlertPageQuery) {
        const found: Array<FeedAlert> = []
        let end = query.before === undefined ? "+" : `(${query.before}`
        // Newest first, a chunk at a time, until one more than the page is found or the feed ends.
        while (found.length <= query.limit) {
          const entries = yield* command(redis, "PublicCatalog.alertPage", feed, (r) =>
            r.xrevrange(feed, end, "-", "COUNT", scanChunk)
          )
          for (const [id, fields] of entries) {
            const json = fields[1]
            if (json === undefined) continue
            const alert = yield* decodeJson(Alert.Alert, json, "PublicCatalog.alertPage", feed).pipe(
              Effect.option
            )
            if (Option.isSome(alert) && query.matches(alert.value)) {
              found.push({ id, alert: alert.value })
              if (found.length > query.limit) break
            }
          }
          if (entries.length < scanChunk) break
          end = `(${entries[entries.length - 1]![0]}`
        }
        const alerts = found.slice(0, query.limit)
        return { alerts, next: found.length > query.limit ? alerts[alerts.length - 1]!.id : null }
      }),
      putApiKey: Effect.fn("PublicCatalog.putApiKey")((keyHash: string, key: CatalogApiKey) =>
        writeJson("PublicCatalog.putApiKey", Keys.catalogApiKey(keyHash), CatalogApiKey, key)
      ),
      removeApiKey: Effect.fn("PublicCatalog.removeApiKey")(function* (keyHash: string) {
        const key = redis.key(Keys.catalogApiKey(keyHash))
        yield* command(redis, "PublicCatalog.removeApiKey", key, (r) => r.del(key))
      }),
      replaceApiKeys: Effect.fn("PublicCatalog.replaceApiKeys")(function* (keys: ReadonlyMap<string, CatalogApiKey>) {
        const wanted = new Map<string, string>()
        for (const [hash, key] of keys) {
          const name = redis.key(Keys.catalogApiKey(hash))
          wanted.set(name, yield* encodeJson(CatalogApiKey, key, "PublicCatalog.replaceApiKeys", name))
        }
        const stale = (yield* scanKeys).filter((name) => !wanted.has(name))
        yield* Pipeline.exec(redis, "PublicCatalog.replaceApiKeys", [...wanted.keys(), ...stale], (pipeline) => {
          for (const [name, json] of wanted) pipeline.set(name, json)
          for (const name of stale) pipeline.del(name)
        })
      }),
      // Untraced: the public API calls it on every request, inside the request's span.
      findApiKey: (keyHash: string) => readJson("PublicCatalog.findApiKey", Keys.catalogApiKey(keyHash), CatalogApiKey),
      markApiKeyUsed: Effect.fn("PublicCatalog.markApiKeyUsed")(function* (id: number, at: number) {
        yield* command(redis, "PublicCatalog.markApiKeyUsed", used, (r) => r.hset(used, String(id), String(at)))
      }),
      apiKeysUsed: command(redis, "PublicCatalog.apiKeysUsed", used, (r) => r.hgetall(used)).pipe(
        Effect.map((entries) => new Map(Object.entries(entries).map(([id, at]) => [Number(id), Number(at)] as const))),
        Effect.withSpan("PublicCatalog.apiKeysUsed")
      ),
      acquireStreamSlot: Effect.fn("PublicCatalog.acquireStreamSlot")(function* (
        keyId: number,
        connectionId: string,
        limit: number,
        ttl: Duration.DurationInput
      ) {
        const key = redis.key(Keys.publicStreamSlots(keyId))
        const ms = yield* slotTtl("PublicCatalog.acquireStreamSlot", key, ttl)
        const taken = yield* command(redis, "PublicCatalog.acquireStreamSlot", key, (r) =>
          Script.run(r, acquireSlotScript, key, [connectionId, limit, ms])
        )
        return taken === 1
      }),
      refreshStreamSlot: Effect.fn("PublicCatalog.refreshStreamSlot")(function* (
        keyId: number,
        connectionId: string,
        ttl: Duration.DurationInput
      ) {
        const key = redis.key(Keys.publicStreamSlots(keyId))
        const ms = yield* slotTtl("PublicCatalog.refreshStreamSlot", key, ttl)
        yield* command(redis, "PublicCatalog.refreshStreamSlot", key, (r) =>
          Script.run(r, refreshSlotScript, key, [connectionId, ms])
        )
      }),
      releaseStreamSlot: Effect.fn("PublicCatalog.releaseStreamSlot")(function* (keyId: number, connectionId: string) {
        const key = redis.key(Keys.publicStreamSlots(keyId))
        yield* command(redis, "PublicCatalog.releaseStreamSlot", key, (r) => r.zrem(key, connectionId))
      }),
      streamSlots: Effect.fn("PublicCatalog.streamSlots")(function* (keyId: number) {
        const key = redis.key(Keys.publicStreamSlots(keyId))
        const count = yield* command(redis, "PublicCatalog.streamSlots", key, (r) =>
          Script.run(r, countSlotsScript, key, [])
        )
        return Number(count)
      })
    })
  })
)

/** The catalog in process memory, for the embedded default and unit tests. */
export const layerMemory: Layer.Layer<PublicCatalog> = Layer.sync(PublicCatalog, () => {
  let exchanges: Option.Option<ReadonlyArray<CatalogExchange>> = Option.none()
  const symbols = new Map<number, ReadonlyArray<CatalogSymbol>>()
  const alerts: Array<FeedAlert> = []
  let sequence = 0
  const apiKeys = new Map<string, CatalogApiKey>()
  const used = new Map<number, number>()
  // Feed ids compare as numbers of equal width, like Redis stream ids compare as (ms, seq).
  const idOf = (n: number): string => `0-${n}`
  const seqOf = (id: string): number => Number(id.slice(2))
  // Key id → connection id → when its slot lapses (ms, the Effect `Clock`).
  const slots = new Map<number, Map<string, number>>()
  const liveSlots = (keyId: number, now: number): Map<string, number> => {
    const held = slots.get(keyId) ?? new Map<string, number>()
    for (const [id, until] of held) if (until <= now) held.delete(id)
    slots.set(keyId, held)
    return held
  }
  return PublicCatalog.of({
    putExchanges: (list) =>
      Effect.sync(() => {
        exchanges = Option.some(list)
      }),
    exchanges: Effect.sync(() => exchanges),
    putSymbols: (exchangeId, list) => Effect.sync(() => void symbols.set(exchangeId, list)),
    symbols: (exchangeId) => Effect.sync(() => Option.fromNullable(symbols.get(exchangeId))),
    appendAlert: (alert) =>
      Effect.sync(() => {
        alerts.push({ id: idOf(++sequence), alert })
        if (alerts.length > alertFeedLength) alerts.splice(0, alerts.length - alertFeedLength)
      }),
    alertPage: (query) =>
      Effect.sync(() => {
        const before = query.before === undefined ? Number.POSITIVE_INFINITY : seqOf(query.before)
        const found: Array<FeedAlert> = []
        for (let i = alerts.length - 1; i >= 0 && found.length <= query.limit; i--) {
          const entry = alerts[i]!
          if (seqOf(entry.id) < before && query.matches(entry.alert)) found.push(entry)
        }
        const page = found.slice(0, query.limit)
        return { alerts: page, next: found.length > query.limit ? page[page.length - 1]!.id : null }
      }),
    putApiKey: (hash, key) => Effect.sync(() => void apiKeys.set(hash, key)),
    removeApiKey: (hash) => Effect.sync(() => void apiKeys.delete(hash)),
    replaceApiKeys: (keys) =>
      Effect.sync(() => {
        apiKeys.clear()
        for (const [hash, key] of keys) apiKeys.set(hash, key)
      }),
    findApiKey: (hash) => Effect.sync(() => Option.fromNullable(apiKeys.get(hash))),
    markApiKeyUsed: (id, at) => Effect.sync(() => void used.set(id, at)),
    apiKeysUsed: Effect.sync(() => new Map(used)),
    acquireStreamSlot: (keyId, connectionId, limit, ttl) =>
      Effect.gen(function* () {
        const ms = yield* slotTtl("PublicCatalog.acquireStreamSlot", Keys.publicStreamSlots(keyId), ttl)
        const now = yield* Clock.currentTimeMillis
        const held = liveSlots(keyId, now)
        if (!held.has(connectionId) && held.size >= limit) return false
        held.set(connectionId, now + ms)
        return true
      }),
    refreshStreamSlot: (keyId, connectionId, ttl) =>
      Effect.gen(function* () {
        const ms = yield* slotTtl("PublicCatalog.refreshStreamSlot", Keys.publicStreamSlots(keyId), ttl)
        const now = yield* Clock.currentTimeMillis
        liveSlots(keyId, now).set(connectionId, now + ms)
      }),
    releaseStreamSlot: (keyId, connectionId) => Effect.sync(() => void slots.get(keyId)?.delete(connectionId)),
    streamSlots: (keyId) => Effect.map(Clock.currentTimeMillis, (now) => liveSlots(keyId, now).size)
  })
})
