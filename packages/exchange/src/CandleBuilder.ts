/**
 * Higher timeframes built from closed candles of a smaller one (domain.md §7): 15m/1h/4h/1d from Coinbase's
 * 5m stream, and 4h history from 1h. Pure: an incremental `step` for live data and a batch `aggregate` for
 * history, which agree on every bucket they both complete.
 *
 * A bucket is built only from every one of its base candles. One that misses any is reported `Incomplete`
 * (with the missing open times) instead of being emitted, so the engine repairs it from REST rather than
 * computing indicators on a candle that silently lacks part of its interval. Synthetic base candles (intervals
 * in which nothing traded) count as present; the result is synthetic only if all its parts are.
 */
import { Candle, Timeframe } from "@livermore/domain"
import { Data, Schema } from "effect"

/** What `step` and `aggregate` report. */
export type Output = Data.TaggedEnum<{
  /** A complete, closed candle of `timeframe`. */
  Built: { readonly timeframe: Timeframe.Timeframe; readonly candle: Candle.Candle }
  /**
   * The bucket of `timeframe` opening at `openTime` ended (or was left behind) without all its base candles:
   * `missing` lists the base open times it lacks. Nothing was emitted for it; repair it from REST.
   */
  Incomplete: {
    readonly timeframe: Timeframe.Timeframe
    readonly openTime: number
    readonly missing: ReadonlyArray<number>
  }
  /** A base candle that was not used: still forming, not aligned to the base timeframe, or not newer than the last. */
  Skipped: { readonly candle: Candle.Candle; readonly reason: "not-closed" | "not-aligned" | "out-of-order" }
}>

/** Constructors and matchers of `Output`. */
export const Output = Data.taggedEnum<Output>()

/** A bucket being filled: the running OHLCV of the parts seen so far. */
export const Bucket = Schema.Struct({
  openTime: Schema.Number,
  open: Schema.Number,
  high: Schema.Number,
  low: Schema.Number,
  close: Schema.Number,
  volume: Schema.Number,
  /** Every part so far was synthetic. */
  synthetic: Schema.Boolean,
  /** Open time of the base candle that should come next. */
  expected: Schema.Number,
  /** Base open times skipped so far (normally empty). */
  missing: Schema.Array(Schema.Number)
})
export type Bucket = typeof Bucket.Type

/** The builder of one symbol: plain data (a `Schema`), so it can be persisted between runs. */
export const State = Schema.Struct({
  base: Timeframe.Timeframe,
  targets: Schema.Array(Timeframe.Timeframe),
  /** Open time of the last base candle used. */
  lastOpenTime: Schema.NullOr(Schema.Number),
  /** The bucket in progress per target timeframe. */
  buckets: Schema.Record({ key: Schema.String, value: Bucket })
})
export type State = typeof State.Type

/**
 * An empty builder of `targets` from closed candles of `base`, e.g. `initial("5m", ["15m", "1h", "4h", "1d"])`
 * or `initial("1h", ["4h"])`. Throws if a target is not a strict multiple of `base` (a programming error).
 */
export const initial = (base: Timeframe.Timeframe, targets: ReadonlyArray<Timeframe.Timeframe>): State => {
  for (const target of targets) checkBuildable(base, target)
  return { base, targets: Timeframe.all.filter((t) => targets.includes(t)), lastOpenTime: null, buckets: {} }
}

const checkBuildable = (base: Timeframe.Timeframe, target: Timeframe.Timeframe): void => {
  if (Timeframe.durationMs[target] <= Timeframe.durationMs[base] || !Timeframe.divides(base, target)) {
    throw new RangeError(`CandleBuilder: ${target} cannot be built from whole ${base} candles`)
  }
}

const startBucket = (
  openTime: number,
  part: Candle.Candle,
  missing: ReadonlyArray<number>,
  baseMs: number
): Bucket => ({
  openTime,
  open: part.open,
  high: part.high,
  low: part.low,
  close: part.close,
  volume: part.volume,
  synthetic: part.synthetic,
  expected: part.openTime + baseMs,
  missing
})

const addPart = (bucket: Bucket, part: Candle.Candle, missing: ReadonlyArray<number>, baseMs: number): Bucket => ({
  ...bucket,
  high: Math.max(bucket.high, part.high),
  low: Math.min(bucket.low, part.low),
  close: part.close,
  volume: bucket.volume + part.volume,
  synthetic: bucket.synthetic && part.synthetic,
  expected: part.openTime + baseMs,
  missing: missing.length === 0 ? bucket.missing : [...bucket.missing, ...missing]
})

/** Base open times in `[from, until)`. */
const range = (from: number, until: number, step: number): ReadonlyArray<number> => {
  const out: Array<number> = []
  for (let t = from; t < until; t += step) out.push(t)
  return out
}

const finish = (timeframe: Timeframe.Timeframe, bucket: Bucket, baseMs: number): Output => {
  const end = Timeframe.closeTime(timeframe, bucket.openTime)
  const missing = [...bucket.missing, ...range(bucket.expected, end, baseMs)]
  return missing.length > 0
    ? Output.Incomplete({ timeframe, openTime: bucket.openTime, missing })
    : Output.Built({
        timeframe,
        candle: new Candle.Candle({
          openTime: bucket.openTime,
          open: bucket.open,
          high: bucket.high,
          low: bucket.low,
          close: bucket.close,
          volume: bucket.volume,
          closed: true,
          synthetic: bucket.synthetic
        })
      })
}

/**
 * Feed the next closed base candle (open times ascending). Returns the new state and what it completed:
 * for each target, smallest first, an `Incomplete` for a bucket left behind by a jump past its end and for
 * every bucket the jump skipped entirely, then a `Built` or `Incomplete` for the bucket this candle closes.
 * A candle that cannot be used comes back `Skipped` and leaves the state unchanged. Shaped for
 * `Stream.mapAccum` and `Array.reduce`.
 */
export const step = (state: State, candle: Candle.Candle): readonly [State, ReadonlyArray<Output>] => {
  const baseMs = Timeframe.durationMs[state.base]
  const t = candle.openTime
  if (!candle.closed) return [state, [Output.Skipped({ candle, reason: "not-closed" })]]
  if (!Timeframe.isAligned(state.base, t)) return [state, [Output.Skipped({ candle, reason: "not-aligned" })]]
  if (state.lastOpenTime !== null && t <= state.lastOpenTime) {
    return [state, [Output.Skipped({ candle, reason: "out-of-order" })]]
  }
  const closing = Timeframe.closingAt(t + baseMs)
  const outputs: Array<Output> = []
  const buckets: Record<string, Bucket> = { ...state.buckets }
  for (const timeframe of state.targets) {
    const openTime = Timeframe.floor(timeframe, t)
    let bucket = buckets[timeframe]
    if (bucket !== undefined && bucket.openTime !== openTime) {
      // The candle that would have closed that bucket never came.
      outputs.push(finish(timeframe, bucket, baseMs))
      bucket = undefined
    }
    if (state.lastOpenTime !== null) {
      // Buckets the jump from the last candle skipped entirely: not one of their base candles arrived.
      const durationMs = Timeframe.durationMs[timeframe]
      const firstSkipped = Timeframe.floor(timeframe, state.lastOpenTime) + durationMs
      for (let skipped = firstSkipped; skipped < openTime; skipped += durationMs) {
        const missing = range(skipped, skipped + durationMs, baseMs)
        outputs.push(Output.Incomplete({ timeframe, openTime: skipped, missing }))
      }
    }
    bucket =
      bucket === undefined
        ? startBucket(openTime, candle, range(openTime, t, baseMs), baseMs)
        : addPart(bucket, candle, range(bucket.expected, t, baseMs), baseMs)
    if (closing.includes(timeframe)) {
      outputs.push(finish(timeframe, bucket, baseMs))
      delete buckets[timeframe]
    } else {
      buckets[timeframe] = bucket
    }
  }
  return [{ ...state, lastOpenTime: t, buckets }, outputs]
}

/** The result of `aggregate`. */
export interface Aggregated {
  /** Complete candles of the target timeframe, oldest first. */
  readonly candles: ReadonlyArray<Candle.Candle>
  /** Buckets in the range that lack base candles (including buckets with none at all), oldest first. */
  readonly incomplete: ReadonlyArray<Output & { readonly _tag: "Incomplete" }>
}

/**
 * Batch form for history: the `target` candles with open times in `[from, to]` (ms, inclusive; unaligned
 * bounds are rounded inwards) built from `candles` of `base`. Input order does not matter; forming candles are
 * ignored, and of two candles with the same open time the later in the input wins (a REST repair overrides a
 * stream value). Pass a `to` whose bucket has closed: a bucket still forming comes back incomplete.
 */
export const aggregate = (
  candles: ReadonlyArray<Candle.Candle>,
  from: number,
  to: number,
  options: { readonly base: Timeframe.Timeframe; readonly target: Timeframe.Timeframe }
): Aggregated => {
  const { base, target } = options
  checkBuildable(base, target)
  const baseMs = Timeframe.durationMs[base]
  const byOpenTime = new Map<number, Candle.Candle>()
  for (const candle of candles) {
    if (candle.closed && Timeframe.isAligned(base, candle.openTime)) byOpenTime.set(candle.openTime, candle)
  }
  const built: Array<Candle.Candle> = []
  const incomplete: Array<Output & { readonly _tag: "Incomplete" }> = []
  for (const openTime of Timeframe.openTimesBetween(target, from, to)) {
    let bucket: Bucket | undefined
    const missing: Array<number> = []
    for (const t of range(openTime, Timeframe.closeTime(target, openTime), baseMs)) {
      const part = byOpenTime.get(t)
      if (part === undefined) missing.push(t)
      else if (bucket === undefined) bucket = startBucket(openTime, part, [], baseMs)
      else bucket = addPart(bucket, part, [], baseMs)
    }
    if (bucket === undefined || missing.length > 0) {
      incomplete.push(Output.Incomplete({ timeframe: target, openTime, missing }))
      continue
    }
    const output = finish(target, bucket, baseMs)
    if (output._tag === "Built") built.push(output.candle)
  }
  return { candles: built, incomplete }
}
