/**
 * Ingest (domain.md §4, §7): a chunk of market events from the adapter becomes one batch of cache writes —
 * candles (forming and closed) into their sorted sets, tickers into `ticker:{id}:{symbol}` and
 * `channel:ticker:…`, and every closed candle on `channel:exchange:{id}:candle:close:{symbol}:{tf}`. Updates of
 * the same candle within a chunk are coalesced (only the newest is written), and each kind of write is one
 * pipelined round trip, never one per message.
 */
import { Bus, type CacheError, CandleCache, Keys, TickerCache } from "@livermore/cache"
import { Candle, Exchange, Market, Ticker, Timeframe } from "@livermore/domain"
import type { MarketEvent } from "@livermore/exchange"
import { Effect, Schema } from "effect"

/** The payload of a closed-candle channel: the candle and the series it belongs to. */
export class CandleClosed extends Schema.Class<CandleClosed>("CandleClosed")({
  exchangeId: Exchange.ExchangeId,
  symbol: Market.SymbolId,
  timeframe: Timeframe.Timeframe,
  candle: Candle.Candle
}) {}

/** A closed candle with its series, in arrival order. */
export interface ClosedCandle {
  readonly series: Keys.SeriesKey
  readonly candle: Candle.Candle
}

/** Connection facts found in a chunk, in order, for the lifecycle and for repairs. */
export type ConnectionEvent = Extract<MarketEvent.MarketEvent, { _tag: "Disconnected" | "Reconnected" | "Gap" }>

/** What a chunk held, sorted for the writes and for the indicator step. */
export interface Sorted {
  readonly candles: ReadonlyArray<CandleCache.SeriesCandle>
  readonly tickers: ReadonlyArray<Ticker.Ticker>
  readonly closed: ReadonlyArray<ClosedCandle>
  readonly connection: ReadonlyArray<ConnectionEvent>
  /** Candle updates received, before coalescing. */
  readonly candleUpdates: number
}

/**
 * Sort a chunk: the newest update per (series, open time) — but a forming update never replaces a closed one —
 * the newest ticker per symbol, every closed candle once per (series, open time), and the connection events.
 */
export const sort = (exchangeId: Exchange.ExchangeId, events: Iterable<MarketEvent.MarketEvent>): Sorted => {
  const candles = new Map<string, CandleCache.SeriesCandle>()
  const tickers = new Map<string, Ticker.Ticker>()
  const closed = new Map<string, ClosedCandle>()
  const connection: Array<ConnectionEvent> = []
  let candleUpdates = 0
  for (const event of events) {
    switch (event._tag) {
      case "Candle": {
        candleUpdates++
        const id = `${event.symbol}\u0000${event.timeframe}\u0000${event.candle.openTime}`
        const held = candles.get(id)
        if (held?.candle.closed === true && !event.candle.closed) break
        const series = held?.series ?? { exchangeId, symbol: event.symbol, timeframe: event.timeframe }
        const entry = { series, candle: event.candle }
        candles.set(id, entry)
        if (event.candle.closed) closed.set(id, entry)
        break
      }
      case "Ticker":
        tickers.set(event.ticker.symbol, event.ticker)
        break
      default:
        connection.push(event)
    }
  }
  return {
    candles: [...candles.values()],
    tickers: [...tickers.values()],
    closed: [...closed.values()],
    connection,
    candleUpdates
  }
}

/**
 * Write a sorted chunk: candles and tickers first, then the publications, so a subscriber told of a close finds
 * the candle in the cache. Each group runs concurrently, each write one round trip.
 */
export const write = Effect.fn("Ingest.write")(function* (exchangeId: Exchange.ExchangeId, sorted: Sorted) {
  const candles = yield* CandleCache.CandleCache
  const tickers = yield* TickerCache.TickerCache
  const bus = yield* Bus.Bus
  const stores: Array<Effect.Effect<void, CacheError.CacheError>> = []
  const publications: Array<Effect.Effect<void, CacheError.CacheError>> = []
  if (sorted.candles.length > 0) stores.push(candles.upsertBatch(sorted.candles))
  if (sorted.tickers.length > 0) {
    stores.push(tickers.setMany(exchangeId, sorted.tickers))
    publications.push(
      bus.publishBatch(
        Ticker.Ticker,
        sorted.tickers.map((ticker) => [Keys.tickerChannel(exchangeId, ticker.symbol), ticker] as const)
      )
    )
  }
  if (sorted.closed.length > 0) {
    publications.push(
      bus.publishBatch(
        CandleClosed,
        sorted.closed.map(
          ({ series, candle }) =>
            [
              Keys.candleCloseChannel(series),
              new CandleClosed({ exchangeId, symbol: series.symbol, timeframe: series.timeframe, candle }, { disableValidation: true })
            ] as const
        )
      )
    )
  }
  yield* Effect.all(stores, { concurrency: "unbounded", discard: true })
  yield* Effect.all(publications, { concurrency: "unbounded", discard: true })
})
