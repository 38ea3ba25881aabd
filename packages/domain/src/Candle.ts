/** OHLCV candles, including synthetic gap-fill candles (domain.md §1). */
import { Schema } from "effect"

const Price = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

/**
 * One candle. `closed` is false while it is still forming; `synthetic` marks an interval in which nothing
 * traded, filled with the previous close and zero volume.
 */
export class Candle extends Schema.Class<Candle>("Candle")(
  Schema.Struct({
    /** Open time, ms since the epoch, UTC, aligned to the timeframe. */
    openTime: Schema.Int.pipe(Schema.nonNegative()),
    open: Price,
    high: Price,
    low: Price,
    close: Price,
    volume: Schema.Number.pipe(Schema.finite(), Schema.nonNegative()),
    closed: Schema.Boolean,
    synthetic: Schema.Boolean
  }).pipe(
    Schema.filter((c) =>
      c.low <= Math.min(c.open, c.close) && c.high >= Math.max(c.open, c.close)
        ? undefined
        : `candle at ${c.openTime} is inconsistent: low ${c.low} and high ${c.high} must bracket open ${c.open} and close ${c.close}`
    )
  )
) {}

/** The candle for an interval in which nothing traded: flat at the previous close, no volume, closed. */
export const synthetic = (openTime: number, previousClose: number): Candle =>
  new Candle({
    openTime,
    open: previousClose,
    high: previousClose,
    low: previousClose,
    close: previousClose,
    volume: 0,
    closed: true,
    synthetic: true
  })
