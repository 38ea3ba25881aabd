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

/** The fields of a candle, as a decoder has them before the candle's own rules are checked. */
export interface Fields {
  readonly openTime: number
  readonly open: number
  readonly high: number
  readonly low: number
  readonly close: number
  readonly volume: number
  readonly closed: boolean
  readonly synthetic: boolean
}

/**
 * Why `fields` break the rules of the `Candle` schema, or undefined when they keep them — the same rules, checked
 * by hand. A hot decoder (one per live message) that has already decoded the fields with a Schema of its own uses
 * this with `fromChecked` instead of decoding a second time through the class, at a twentieth of the cost; the
 * domain tests hold the two to the same verdict on random input.
 */
export const violation = (fields: Fields): string | undefined => {
  const { openTime, open, high, low, close, volume } = fields
  if (!Number.isSafeInteger(openTime) || openTime < 0) return `openTime ${openTime} is not a non-negative integer`
  for (const [name, value] of [
    ["open", open],
    ["high", high],
    ["low", low],
    ["close", close],
    ["volume", volume]
  ] as const) {
    if (!Number.isFinite(value) || value < 0) return `${name} ${value} is not a finite, non-negative number`
  }
  if (typeof fields.closed !== "boolean" || typeof fields.synthetic !== "boolean") return "closed and synthetic must be booleans"
  return low <= Math.min(open, close) && high >= Math.max(open, close)
    ? undefined
    : `candle at ${openTime} is inconsistent: low ${low} and high ${high} must bracket open ${open} and close ${close}`
}

/** The candle of `fields` that `violation` found none in (not checked again). */
export const fromChecked = (fields: Fields): Candle => new Candle(fields, { disableValidation: true })

/**
 * The candle as the JSON its schema encodes it to (every field is already its own encoding), written directly:
 * the cache writes one per live update. The domain tests hold it equal to `Schema.encode(Schema.parseJson(Candle))`,
 * so a schema that ever gains a transformation fails them rather than the cache.
 */
export const toJson = (candle: Fields): string =>
  JSON.stringify({
    openTime: candle.openTime,
    open: candle.open,
    high: candle.high,
    low: candle.low,
    close: candle.close,
    volume: candle.volume,
    closed: candle.closed,
    synthetic: candle.synthetic
  })

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
