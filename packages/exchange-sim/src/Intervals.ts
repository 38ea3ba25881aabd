/** Candle intervals of both venues: their wire names, lengths and bucket alignment. */

/** A candle interval the simulator can serve. */
export interface Interval {
  /** Length in milliseconds. */
  readonly ms: number
  /** Buckets open at `offsetMs + n × ms` (0 for epoch-aligned; 4 days for Monday-aligned weeks). */
  readonly offsetMs: number
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const interval = (ms: number, offsetMs = 0): Interval => ({ ms, offsetMs })

/**
 * Binance kline intervals (case-sensitive). `undefined` marks an interval Binance has but the simulator does
 * not serve (`1s`, `3d`, `1M`): REST answers -1120 and a stream of it is accepted but stays silent.
 */
export const binance: ReadonlyMap<string, Interval | undefined> = new Map<string, Interval | undefined>([
  ["1s", undefined],
  ["1m", interval(MINUTE)],
  ["3m", interval(3 * MINUTE)],
  ["5m", interval(5 * MINUTE)],
  ["15m", interval(15 * MINUTE)],
  ["30m", interval(30 * MINUTE)],
  ["1h", interval(HOUR)],
  ["2h", interval(2 * HOUR)],
  ["4h", interval(4 * HOUR)],
  ["6h", interval(6 * HOUR)],
  ["8h", interval(8 * HOUR)],
  ["12h", interval(12 * HOUR)],
  ["1d", interval(DAY)],
  ["3d", undefined],
  // 1970-01-01 was a Thursday: Monday-aligned weeks start 4 days after the epoch.
  ["1w", interval(7 * DAY, 4 * DAY)],
  ["1M", undefined]
])

/** Coinbase Advanced Trade candle granularities (`UNKNOWN_GRANULARITY` is not one). */
export const coinbase: ReadonlyMap<string, Interval> = new Map<string, Interval>([
  ["ONE_MINUTE", interval(MINUTE)],
  ["FIVE_MINUTE", interval(5 * MINUTE)],
  ["FIFTEEN_MINUTE", interval(15 * MINUTE)],
  ["THIRTY_MINUTE", interval(30 * MINUTE)],
  ["ONE_HOUR", interval(HOUR)],
  ["TWO_HOUR", interval(2 * HOUR)],
  // In the official enum; whether the real server accepts it is unconfirmed (exchanges.md §2.5). Served here.
  ["FOUR_HOUR", interval(4 * HOUR)],
  ["SIX_HOUR", interval(6 * HOUR)],
  ["ONE_DAY", interval(DAY)]
])

/** The open time of the bucket of `interval` containing `time`. */
export const openTimeOf = (iv: Interval, time: number): number =>
  Math.floor((time - iv.offsetMs) / iv.ms) * iv.ms + iv.offsetMs

/** The first open time of `interval` at or after `time`. */
export const ceilOpenTime = (iv: Interval, time: number): number => {
  const floor = openTimeOf(iv, time)
  return floor === time ? floor : floor + iv.ms
}
