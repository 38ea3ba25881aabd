/** Counting contiguous closed candles, shared by the Redis and memory candle caches. */
import { type Candle, Timeframe } from "@livermore/domain"

/**
 * How many closed candles lie back to back ending at `endingAt`, or at the newest closed candle when it is
 * absent. `newestFirst` holds the series' candles in descending openTime (those after `endingAt` may be
 * included; they are skipped). A missing open time or a forming candle ends the run.
 */
export const count = (
  timeframe: Timeframe.Timeframe,
  newestFirst: ReadonlyArray<Candle.Candle>,
  endingAt: number | undefined
): number => {
  const step = Timeframe.durationMs[timeframe]
  let index =
    endingAt === undefined
      ? newestFirst.findIndex((candle) => candle.closed)
      : newestFirst.findIndex((candle) => candle.openTime <= endingAt)
  if (index < 0) return 0
  let expected = endingAt ?? newestFirst[index]!.openTime
  let run = 0
  for (; index < newestFirst.length; index++) {
    const candle = newestFirst[index]!
    if (candle.openTime !== expected || !candle.closed) break
    run++
    expected -= step
  }
  return run
}
