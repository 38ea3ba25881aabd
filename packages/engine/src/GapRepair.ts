/**
 * Gap repair (domain.md §7): the closed candles of a missing range, complete — from the cache when it already
 * holds them all (a warmup or backfill got there first), otherwise from the exchange's REST history through its
 * governor, with every interval the exchange confirms empty filled by a synthetic candle at the previous close,
 * and written to the cache before anything is computed on them.
 */
import { type CacheError, CandleCache, type Keys } from "@livermore/cache"
import { type Candle, Timeframe } from "@livermore/domain"
import { ExchangeAdapter, type ExchangeError } from "@livermore/exchange"
import { Effect } from "effect"
import * as WarmupPlan from "./WarmupPlan.js"

/** Where the candles of a repair came from. */
export type Source = "cache" | "exchange"

/** A repaired range. */
export interface Repaired {
  /** Every open time of the range, in order: real or synthetic candles, all closed. */
  readonly candles: ReadonlyArray<Candle.Candle>
  readonly source: Source
  /** Intervals the exchange had no candle for, filled synthetically. */
  readonly synthetic: number
}

/**
 * The candles of `[from, to]` for `series`. `previousClose` is the close before `from`, so leading empty
 * intervals can be filled; `to` must be an open time whose candle has closed on the exchange.
 */
export const fetchRange = Effect.fn("GapRepair.fetchRange")(function* (
  series: Keys.SeriesKey,
  range: { readonly from: number; readonly to: number },
  previousClose: number
): Effect.fn.Return<Repaired, CacheError.CacheError | ExchangeError.ExchangeError, CandleCache.CandleCache | ExchangeAdapter.ExchangeAdapter> {
  const cache = yield* CandleCache.CandleCache
  const expected = Timeframe.countBetween(series.timeframe, range.from, range.to)
  const cached = (yield* cache.range(series, range.from, range.to)).filter((candle) => candle.closed)
  if (cached.length === expected) return { candles: cached, source: "cache", synthetic: 0 }
  const adapter = yield* ExchangeAdapter.ExchangeAdapter
  const real = yield* adapter.history(series.symbol, series.timeframe, range)
  const candles = WarmupPlan.fillEmpty(series.timeframe, range, real, previousClose)
  yield* cache.upsertMany(series, candles)
  return { candles, source: "exchange", synthetic: candles.filter((candle) => candle.synthetic).length }
})
