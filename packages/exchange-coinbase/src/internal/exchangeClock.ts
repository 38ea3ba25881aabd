/**
 * The exchange's clock as this process sees it: the local clock plus the offset last observed in a frame
 * timestamp. Coinbase candle buckets end on Coinbase's clock, and a simulator may run on its own time, so
 * "has this bucket ended?" is asked of this clock rather than of the local one.
 */
import { Clock, Effect } from "effect"

/** A shared estimate of the exchange's time. */
export interface ExchangeClock {
  /** Estimated exchange time now, ms since the epoch (the local time until an offset is observed). */
  readonly now: Effect.Effect<number>
  /**
   * Record that the exchange stamped a frame `exchangeTime` (ms) and it is being handled now. Returns how far
   * the offset moved (ms, signed), so timers can re-plan when it jumps.
   */
  readonly observe: (exchangeTime: number) => Effect.Effect<number>
}

/** A clock with no offset observed yet. */
export const make = (): ExchangeClock => {
  let offset = 0
  return {
    now: Effect.map(Clock.currentTimeMillis, (now) => now + offset),
    observe: (exchangeTime) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const previous = offset
        offset = exchangeTime - now
        return offset - previous
      })
  }
}
