/** Candle timeframes and their UTC-aligned time arithmetic (domain.md §1). */
import { Either, Schema } from "effect"

/** The timeframes Livermore keeps, smallest first. */
export const all = ["5m", "15m", "1h", "4h", "1d"] as const

/** A candle timeframe. */
export const Timeframe = Schema.Literal(...all).annotations({
  identifier: "Timeframe",
  description: "Candle interval: 5m, 15m, 1h, 4h or 1d; open times are aligned to the UTC epoch",
  examples: ["5m", "1h"]
})
export type Timeframe = typeof Timeframe.Type

/** Largest first: the order warmup scans in (domain.md §6). */
export const largestFirst: ReadonlyArray<Timeframe> = [...all].reverse()

const MINUTE = 60_000

/** Length of each timeframe in milliseconds. */
export const durationMs: Readonly<Record<Timeframe, number>> = {
  "5m": 5 * MINUTE,
  "15m": 15 * MINUTE,
  "1h": 60 * MINUTE,
  "4h": 240 * MINUTE,
  "1d": 1440 * MINUTE
}

/** The base timeframe every higher one is built from on exchanges that stream only 5m (domain.md §7). */
export const base: Timeframe = "5m"

/** A string that is not one of the supported timeframes. */
export class UnknownTimeframe extends Schema.TaggedError<UnknownTimeframe>()("UnknownTimeframe", {
  timeframe: Schema.String
}) {
  override get message(): string {
    return `Unknown timeframe "${this.timeframe}"; expected one of ${all.join(", ")}`
  }
}

/** Parse a timeframe, failing with `UnknownTimeframe` rather than guessing. */
export const parse = (input: string): Either.Either<Timeframe, UnknownTimeframe> =>
  (all as ReadonlyArray<string>).includes(input)
    ? Either.right(input as Timeframe)
    : Either.left(new UnknownTimeframe({ timeframe: input }))

/** Whether `time` (ms since epoch) is an open time of `timeframe`. */
export const isAligned = (timeframe: Timeframe, time: number): boolean => time % durationMs[timeframe] === 0

/** The open time of the candle of `timeframe` that contains `time`. Works for times before the epoch too. */
export const floor = (timeframe: Timeframe, time: number): number => {
  const d = durationMs[timeframe]
  return Math.floor(time / d) * d
}

/** The first open time of `timeframe` strictly after `time`. */
export const nextBoundary = (timeframe: Timeframe, time: number): number => floor(timeframe, time) + durationMs[timeframe]

/** The close time (exclusive end) of the candle opening at `openTime`. */
export const closeTime = (timeframe: Timeframe, openTime: number): number => openTime + durationMs[timeframe]

/**
 * The open time of the most recent candle of `timeframe` that has closed at `now`:
 * the candle containing `now` is still forming, so it is the one before it.
 */
export const lastClosedOpenTime = (timeframe: Timeframe, now: number): number =>
  floor(timeframe, now) - durationMs[timeframe]

/**
 * The timeframes whose candle closes exactly at `boundary`, smallest first. `5m` always does
 * when `boundary` is a 5m boundary; `1d` only at 00:00 UTC. Empty for a time that is not a 5m boundary.
 */
export const closingAt = (boundary: number): ReadonlyArray<Timeframe> =>
  all.filter((timeframe) => isAligned(timeframe, boundary))

/**
 * The open times of `timeframe` in `[from, to]`, both inclusive, in order. `from` is rounded up
 * and `to` rounded down to open times, so unaligned bounds never invent a candle.
 */
export const openTimesBetween = (timeframe: Timeframe, from: number, to: number): ReadonlyArray<number> => {
  const d = durationMs[timeframe]
  const first = isAligned(timeframe, from) ? from : nextBoundary(timeframe, from)
  const out: Array<number> = []
  for (let t = first; t <= to; t += d) out.push(t)
  return out
}

/** How many candles of `timeframe` open in `[from, to]` (inclusive): `openTimesBetween(...).length` without the array. */
export const countBetween = (timeframe: Timeframe, from: number, to: number): number => {
  const d = durationMs[timeframe]
  const first = Math.ceil(from / d) * d
  const last = Math.floor(to / d) * d
  return last < first ? 0 : (last - first) / d + 1
}

/** Whether `higher` can be built from whole candles of `lower` (every boundary of `higher` is one of `lower`). */
export const divides = (lower: Timeframe, higher: Timeframe): boolean => durationMs[higher] % durationMs[lower] === 0
