/**
 * Splitting a history request into pages the exchange accepts: at most `limit` candles per request (Binance
 * klines 1000, Coinbase candles 350 — from the exchange row's `apiLimits`). Pure.
 */
import { Timeframe } from "@livermore/domain"

/** One request: the candles of `timeframe` with open times in `[from, to]` (ms, inclusive, aligned). */
export interface Window {
  /** First open time of the window. */
  readonly from: number
  /** Last open time of the window; the candle opening here is the last one wanted. */
  readonly to: number
  /** Candles in the window: `(to − from) / interval + 1`, never more than the limit. */
  readonly count: number
}

/**
 * The windows covering the open times of `timeframe` in `[from, to]` (ms, inclusive), oldest first, each of at
 * most `limit` candles and together covering every open time exactly once. Unaligned bounds are rounded inwards
 * (`from` up, `to` down) so no window asks for a candle outside the range; an empty range gives no window.
 * Throws a `RangeError` for a `limit` below 1 (a programming error).
 */
export const windows = (
  timeframe: Timeframe.Timeframe,
  from: number,
  to: number,
  limit: number
): ReadonlyArray<Window> => {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`Pagination.windows: limit must be a positive integer, got ${limit}`)
  }
  const interval = Timeframe.durationMs[timeframe]
  const first = Timeframe.isAligned(timeframe, from) ? from : Timeframe.nextBoundary(timeframe, from)
  const last = Timeframe.floor(timeframe, to)
  const out: Array<Window> = []
  for (let start = first; start <= last; start += limit * interval) {
    const end = Math.min(last, start + (limit - 1) * interval)
    out.push({ from: start, to: end, count: (end - start) / interval + 1 })
  }
  return out
}
