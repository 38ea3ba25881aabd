/**
 * The latest ticker per exchange and symbol (`ticker:{exchangeId}:{symbol}`, domain.md §4). Storing only:
 * live viewers get updates from `Bus` on `Keys.tickerChannel`, which the publisher calls itself, so this
 * store and the bus stay independent (and a caller that only wants the snapshot pays no PUBLISH).
 */
import { type Exchange, type Market, Ticker } from "@livermore/domain"
import { Context, Effect, Layer, Option } from "effect"
import type { CacheError } from "./CacheError.js"
import { command, decodeJson, encodeByKey, encodeJson, jsonEncoder } from "./internal/codec.js"
import * as Pipeline from "./internal/pipeline.js"
import * as Keys from "./Keys.js"
import { RedisClient } from "./RedisClient.js"

/** Latest tickers. */
export class TickerCache extends Context.Tag("@livermore/cache/TickerCache")<
  TickerCache,
  {
    /** Replace the exchange's ticker for `ticker.symbol`. */
    readonly set: (exchangeId: Exchange.ExchangeId, ticker: Ticker.Ticker) => Effect.Effect<void, CacheError>
    /**
     * `set` for many tickers of one exchange in one round trip; a later ticker for the same symbol wins. Every
     * ticker is encoded first, so one that does not encode fails the batch (`Encode`) before anything is written.
     * Empty input costs nothing.
     */
    readonly setMany: (
      exchangeId: Exchange.ExchangeId,
      tickers: ReadonlyArray<Ticker.Ticker>
    ) => Effect.Effect<void, CacheError>
    /** The latest ticker, if any was stored. */
    readonly get: (
      exchangeId: Exchange.ExchangeId,
      symbol: Market.SymbolId
    ) => Effect.Effect<Option.Option<Ticker.Ticker>, CacheError>
  }
>() {}

const encodeTicker = jsonEncoder(Ticker.Ticker)

const encodeTickers = (
  exchangeId: Exchange.ExchangeId,
  tickers: ReadonlyArray<Ticker.Ticker>,
  keyOf: (name: string) => string
) =>
  encodeByKey(
    tickers,
    (ticker) => keyOf(Keys.ticker(exchangeId, ticker.symbol)),
    (ticker) => ticker,
    encodeTicker,
    "TickerCache.setMany"
  )

/** Tickers as JSON strings in Redis. */
export const layerRedis: Layer.Layer<TickerCache, never, RedisClient> = Layer.effect(
  TickerCache,
  Effect.gen(function* () {
    const redis = yield* RedisClient
    return TickerCache.of({
      set: Effect.fn("TickerCache.set")(function* (exchangeId, ticker) {
        const key = redis.key(Keys.ticker(exchangeId, ticker.symbol))
        const json = yield* encodeJson(Ticker.Ticker, ticker, "TickerCache.set", key)
        yield* command(redis, "TickerCache.set", key, (r) => r.set(key, json))
      }),
      setMany: Effect.fn("TickerCache.setMany")(function* (exchangeId, tickers) {
        const values = yield* encodeTickers(exchangeId, tickers, redis.key)
        yield* Pipeline.exec(redis, "TickerCache.setMany", [...values.keys()], (pipeline) => {
          for (const [key, json] of values) pipeline.set(key, json)
        })
      }),
      get: Effect.fn("TickerCache.get")(function* (exchangeId, symbol) {
        const key = redis.key(Keys.ticker(exchangeId, symbol))
        const json = yield* command(redis, "TickerCache.get", key, (r) => r.get(key))
        if (json === null) return Option.none()
        return Option.some(yield* decodeJson(Ticker.Ticker, json, "TickerCache.get", key))
      })
    })
  })
)

/** Tickers in process memory (encoded JSON, decoded on read, like Redis). */
export const layerMemory: Layer.Layer<TickerCache> = Layer.sync(TickerCache, () => {
  const values = new Map<string, string>()
  return TickerCache.of({
    set: Effect.fn("TickerCache.set")(function* (exchangeId, ticker) {
      const key = Keys.ticker(exchangeId, ticker.symbol)
      values.set(key, yield* encodeJson(Ticker.Ticker, ticker, "TickerCache.set", key))
    }),
    setMany: Effect.fn("TickerCache.setMany")(function* (exchangeId, tickers) {
      for (const [key, json] of yield* encodeTickers(exchangeId, tickers, (name) => name)) values.set(key, json)
    }),
    get: Effect.fn("TickerCache.get")(function* (exchangeId, symbol) {
      const key = Keys.ticker(exchangeId, symbol)
      const json = values.get(key)
      if (json === undefined) return Option.none()
      return Option.some(yield* decodeJson(Ticker.Ticker, json, "TickerCache.get", key))
    })
  })
})
