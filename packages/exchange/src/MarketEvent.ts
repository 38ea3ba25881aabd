/** What an adapter's live stream emits: candles (forming and closed), tickers, and connection facts. */
import type { Candle, Market, Ticker, Timeframe } from "@livermore/domain"
import { Data } from "effect"

export type MarketEvent = Data.TaggedEnum<{
  /** A candle update; `candle.closed` says whether it is final. */
  Candle: { readonly symbol: Market.SymbolId; readonly timeframe: Timeframe.Timeframe; readonly candle: Candle.Candle }
  Ticker: { readonly ticker: Ticker.Ticker }
  /**
   * A connection was restored and its subscriptions replayed. Streams do not replay what was missed, so the
   * engine repairs `symbols` from REST for the time the connection was down (`downSince` to `at`, ms).
   */
  /**
   * A connection was lost (`since`, ms: when data stopped) and is being restored by the adapter; `Reconnected`
   * follows when it is back (or the stream fails when the adapter gives up).
   */
  Disconnected: { readonly symbols: ReadonlyArray<Market.SymbolId>; readonly since: number; readonly reason: string }
  Reconnected: { readonly symbols: ReadonlyArray<Market.SymbolId>; readonly downSince: number; readonly at: number }
  /**
   * Messages were lost without a disconnect (a Coinbase `sequence_num` jump, a heartbeat counter jump):
   * the engine repairs `symbols` from REST.
   */
  Gap: { readonly symbols: ReadonlyArray<Market.SymbolId>; readonly reason: "sequence" | "heartbeat"; readonly at: number }
}>

export const MarketEvent = Data.taggedEnum<MarketEvent>()
