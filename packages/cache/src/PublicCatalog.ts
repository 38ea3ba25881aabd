/**
 * The public catalog: what the public API serves besides candles, signals and statuses — the exchanges, each
 * exchange's shared symbols, recent alerts and the active API keys — kept in the cache so that a `pw-host` node
 * answers from Redis alone (domain.md §9). Postgres stays the record: nodes that hold it project into here at
 * start and whenever it changes (`Keys.catalog*`).
 */
import { Alert, Exchange, Market, Timeframe } from "@livermore/domain"
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { CacheError } from "./CacheError.js"
import { command, decodeJson, encodeJson } from "./internal/codec.js"
import * as Pipeline from "./internal/pipeline.js"
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
  }
>() {}

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
      findApiKey: Effect.fn("PublicCatalog.findApiKey")((keyHash: string) =>
        readJson("PublicCatalog.findApiKey", Keys.catalogApiKey(keyHash), CatalogApiKey)
      ),
      markApiKeyUsed: Effect.fn("PublicCatalog.markApiKeyUsed")(function* (id: number, at: number) {
        yield* command(redis, "PublicCatalog.markApiKeyUsed", used, (r) => r.hset(used, String(id), String(at)))
      }),
      apiKeysUsed: command(redis, "PublicCatalog.apiKeysUsed", used, (r) => r.hgetall(used)).pipe(
        Effect.map((entries) => new Map(Object.entries(entries).map(([id, at]) => [Number(id), Number(at)] as const))),
        Effect.withSpan("PublicCatalog.apiKeysUsed")
      )
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
    apiKeysUsed: Effect.sync(() => new Map(used))
  })
})
