/** The port every exchange adapter implements (one service per exchange row), in domain terms only. */
import type { Candle, Exchange, Market, Timeframe } from "@livermore/domain"
import { Context, type Effect, type Stream } from "effect"
import type { ExchangeError } from "./ExchangeError.js"
import type { MarketEvent } from "./MarketEvent.js"

/** What the live stream should carry. */
export interface Subscription {
  readonly symbols: ReadonlyArray<Market.SymbolId>
  readonly timeframes: ReadonlyArray<Timeframe.Timeframe>
  /** Also stream tickers for the symbols. */
  readonly tickers: boolean
}

/** 24 h volumes of one symbol, for ranking the symbol universe. */
export interface Volume24h {
  readonly symbol: Market.SymbolId
  /** Base-asset volume. */
  readonly volume: number
  /** Quote-asset volume: what Tier 1 ranks by. */
  readonly quoteVolume: number
}

/** Request counters of the REST governor, for metrics. */
export interface RestStats {
  readonly requests: number
  /** Weight spent in the current window, and the exchange's budget for it. */
  readonly usedWeight: number
  readonly weightLimit: number
  readonly rateLimited: number
  readonly banned: number
  /** Requests waiting for budget right now. */
  readonly queued: number
}

/** One exchange, spoken to in its own protocol, seen through domain types. */
export class ExchangeAdapter extends Context.Tag("@livermore/exchange/ExchangeAdapter")<
  ExchangeAdapter,
  {
    /** The row this adapter was built from. */
    readonly exchange: Exchange.Exchange
    /**
     * Live candles (forming and closed) and tickers. Runs until interrupted (which unsubscribes and closes the
     * connections); reconnects by itself, emitting `Reconnected`; fails only when reconnecting is given up.
     * Malformed frames are counted and skipped, never fatal.
     */
    readonly stream: (subscription: Subscription) => Stream.Stream<MarketEvent, ExchangeError>
    /**
     * Closed candles of `symbol` on `timeframe` with open times in `[from, to]` (ms, inclusive), oldest first,
     * paginated within the exchange's limits and its REST governor. Intervals the exchange leaves empty are
     * absent (the engine fills them); a still-forming candle is never returned.
     */
    readonly history: (
      symbol: Market.SymbolId,
      timeframe: Timeframe.Timeframe,
      range: { readonly from: number; readonly to: number }
    ) => Effect.Effect<ReadonlyArray<Candle.Candle>, ExchangeError>
    /** Tradable products with their base and quote assets, from the exchange's product list. */
    readonly products: Effect.Effect<ReadonlyArray<Market.Product>, ExchangeError>
    /** 24 h volumes of every tradable product. */
    readonly volumes24h: Effect.Effect<ReadonlyArray<Volume24h>, ExchangeError>
    /** REST governor counters. */
    readonly restStats: Effect.Effect<RestStats>
    /** Malformed frames skipped so far. */
    readonly malformedFrames: Effect.Effect<number>
  }
>() {}
