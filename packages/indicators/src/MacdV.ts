/**
 * MACD-V (Spiroglou), computed incrementally exactly as domain.md §2 defines it: one closed candle costs O(1)
 * work on a small state that round-trips through JSON. `batch` is the same fold over an array, so batch and
 * incremental results agree by construction.
 */
import { Schema } from "effect"
import * as Stage from "./Stage.js"

/** EMA and ATR periods of the indicator. */
export const FAST = 12
export const SLOW = 26
export const SIGNAL = 9
export const ATR_PERIOD = 26

/** Closed candles per series before values are trusted for alerts (domain.md §2). */
export const MIN_BARS_FOR_ALERTS = 60

/**
 * ATR at or below this fraction of the slow EMA counts as 0 ("No price movement"). In a long flat stretch the
 * floating-point EMAs of a constant close settle a few ulps apart instead of on it, while Wilder's ATR keeps
 * decaying towards 0, so their ratio would grow without bound (|value| > 150 after ~700 flat observed bars,
 * Infinity after ~19,000). Above this floor that rounding residue is worth less than 0.01 of a unit.
 */
export const ATR_RESOLUTION = 1e-10

const FAST_ALPHA = 2 / (FAST + 1)
const SLOW_ALPHA = 2 / (SLOW + 1)
const SIGNAL_ALPHA = 2 / (SIGNAL + 1)

/** What one step needs of a closed candle. */
export interface Input {
  readonly high: number
  readonly low: number
  readonly close: number
  /** A gap-filled interval: it moves the EMAs but has no true range. */
  readonly synthetic: boolean
}

const Count = Schema.Int.pipe(Schema.nonNegative())
const Num = Schema.Number.pipe(Schema.finite())
const Maybe = Schema.NullOr(Num)

/**
 * Everything needed to resume: the averages, the seeding sums and counters, and the previous close. `null` marks
 * a value not yet defined, so the state is plain JSON.
 */
export const State = Schema.Struct({
  /** Closed candles fed, synthetic included. */
  bars: Count,
  prevClose: Maybe,
  /** Sum of the closes while the fast / slow EMA is still being seeded. */
  fastSeedSum: Num,
  slowSeedSum: Num,
  fastEma: Maybe,
  slowEma: Maybe,
  /** Observed (non-synthetic) true ranges so far: `nEff`. */
  observed: Count,
  /** Sum of the observed true ranges while ATR is being seeded. */
  atrSeedSum: Num,
  atr: Maybe,
  /** Bar index (0-based) of the first and the latest observed candle. */
  firstObservedBar: Schema.NullOr(Count),
  lastObservedBar: Schema.NullOr(Count),
  /** The value at the latest bar; null when it has none. */
  macdV: Maybe,
  /** Defined values so far, and their sum while the signal is being seeded. */
  values: Count,
  signalSeedSum: Num,
  signal: Maybe,
  /** Consecutive bars, up to the latest, whose value is strictly inside ±50. */
  rangeBoundBars: Count
}).annotations({ identifier: "MacdVState" })
export type State = typeof State.Type

/** The state before any candle. */
export const initial: State = {
  bars: 0,
  prevClose: null,
  fastSeedSum: 0,
  slowSeedSum: 0,
  fastEma: null,
  slowEma: null,
  observed: 0,
  atrSeedSum: 0,
  atr: null,
  firstObservedBar: null,
  lastObservedBar: null,
  macdV: null,
  values: 0,
  signalSeedSum: 0,
  signal: null,
  rangeBoundBars: 0
}

const orNull = (x: number): number | null => (Number.isNaN(x) ? null : x)
const orNaN = (x: number | null): number => (x === null ? Number.NaN : x)

/**
 * The state held in mutable number fields, for the hot path: an actor keeps one per series and snapshots it with
 * `state()` when it saves. Undefined values are NaN here (inputs are finite, so NaN never arises otherwise); that
 * keeps every field a plain double, so a step allocates nothing. `step` and `batch` are built on `push`, so every
 * way of advancing runs the same arithmetic.
 */
export class Accumulator {
  bars = 0
  prevClose = Number.NaN
  fastSeedSum = 0
  slowSeedSum = 0
  fastEma = Number.NaN
  slowEma = Number.NaN
  observed = 0
  atrSeedSum = 0
  atr = Number.NaN
  firstObservedBar = Number.NaN
  lastObservedBar = Number.NaN
  macdV = Number.NaN
  values = 0
  signalSeedSum = 0
  signal = Number.NaN
  rangeBoundBars = 0

  /** An accumulator resuming from a saved state. */
  static from(state: State): Accumulator {
    const acc = new Accumulator()
    acc.bars = state.bars
    acc.prevClose = orNaN(state.prevClose)
    acc.fastSeedSum = state.fastSeedSum
    acc.slowSeedSum = state.slowSeedSum
    acc.fastEma = orNaN(state.fastEma)
    acc.slowEma = orNaN(state.slowEma)
    acc.observed = state.observed
    acc.atrSeedSum = state.atrSeedSum
    acc.atr = orNaN(state.atr)
    acc.firstObservedBar = orNaN(state.firstObservedBar)
    acc.lastObservedBar = orNaN(state.lastObservedBar)
    acc.macdV = orNaN(state.macdV)
    acc.values = state.values
    acc.signalSeedSum = state.signalSeedSum
    acc.signal = orNaN(state.signal)
    acc.rangeBoundBars = state.rangeBoundBars
    return acc
  }

  /** Advance by one closed candle: O(1), no allocation. */
  push(candle: Input): this {
    const index = this.bars
    const close = candle.close

    // EMA(n): seeded with the simple average of the first n closes at index n − 1, then α·x + (1 − α)·EMA.
    if (index >= FAST) this.fastEma = FAST_ALPHA * close + (1 - FAST_ALPHA) * this.fastEma
    else {
      this.fastSeedSum += close
      if (index === FAST - 1) this.fastEma = this.fastSeedSum / FAST
    }
    if (index >= SLOW) this.slowEma = SLOW_ALPHA * close + (1 - SLOW_ALPHA) * this.slowEma
    else {
      this.slowSeedSum += close
      if (index === SLOW - 1) this.slowEma = this.slowSeedSum / SLOW
    }

    // Informative ATR: a synthetic candle has no true range, so ATR and its counters carry forward.
    if (!candle.synthetic) {
      const range = candle.high - candle.low
      const prevClose = this.prevClose
      const tr =
        index === 0 ? range : Math.max(range, Math.abs(candle.high - prevClose), Math.abs(candle.low - prevClose))
      const observed = this.observed + 1
      this.observed = observed
      if (observed === 1) this.firstObservedBar = index
      this.lastObservedBar = index
      if (observed > ATR_PERIOD) this.atr = (this.atr * (ATR_PERIOD - 1) + tr) / ATR_PERIOD
      else {
        this.atrSeedSum += tr
        if (observed === ATR_PERIOD) this.atr = this.atrSeedSum / ATR_PERIOD
      }
    }

    // Defined once EMA26 and ATR are (NaN otherwise, which fails `>`); ATR = 0, a flat market, gives no value
    // rather than a division by zero, and so does an ATR below the resolution of the prices (ATR_RESOLUTION).
    const atr = this.atr
    if (index >= SLOW - 1 && atr > Math.abs(this.slowEma) * ATR_RESOLUTION) {
      const macdV = ((this.fastEma - this.slowEma) / atr) * 100
      this.macdV = macdV
      // Signal: EMA(9) over the defined values only, seeded with the average of the first nine.
      const values = this.values + 1
      this.values = values
      if (values > SIGNAL) this.signal = SIGNAL_ALPHA * macdV + (1 - SIGNAL_ALPHA) * this.signal
      else {
        this.signalSeedSum += macdV
        if (values === SIGNAL) this.signal = this.signalSeedSum / SIGNAL
      }
      this.rangeBoundBars = Stage.isRangeBound(macdV) ? this.rangeBoundBars + 1 : 0
    } else {
      this.macdV = Number.NaN
      this.rangeBoundBars = 0
    }

    this.prevClose = close
    this.bars = index + 1
    return this
  }

  /** A snapshot as a plain, JSON-ready `State`. */
  state(): State {
    return {
      bars: this.bars,
      prevClose: orNull(this.prevClose),
      fastSeedSum: this.fastSeedSum,
      slowSeedSum: this.slowSeedSum,
      fastEma: orNull(this.fastEma),
      slowEma: orNull(this.slowEma),
      observed: this.observed,
      atrSeedSum: this.atrSeedSum,
      atr: orNull(this.atr),
      firstObservedBar: orNull(this.firstObservedBar),
      lastObservedBar: orNull(this.lastObservedBar),
      macdV: orNull(this.macdV),
      values: this.values,
      signalSeedSum: this.signalSeedSum,
      signal: orNull(this.signal),
      rangeBoundBars: this.rangeBoundBars
    }
  }

  /** The reading at the latest bar. */
  reading(): Reading {
    const meta: Validity = {
      seeded: !Number.isNaN(this.atr),
      nEff: this.observed,
      spanBars: this.observed === 0 ? 0 : this.lastObservedBar - this.firstObservedBar + 1,
      bars: this.bars
    }
    const macdV = this.macdV
    if (Number.isNaN(macdV)) {
      return { _tag: "NoValue", reason: meta.seeded ? "No price movement" : "Low trading activity", validity: meta }
    }
    const signal = this.signal
    if (Number.isNaN(signal)) {
      return { _tag: "Value", macdV, signal: undefined, histogram: undefined, stage: undefined, validity: meta }
    }
    return {
      _tag: "Value",
      macdV,
      signal,
      histogram: macdV - signal,
      stage: Stage.classify(macdV, signal, this.rangeBoundBars),
      validity: meta
    }
  }
}

/** Advance a saved state by one closed candle (pure: the input state is left as it was). */
export const step = (state: State, candle: Input): State => Accumulator.from(state).push(candle).state()

/** Whether values can be trusted, and how much data stands behind them. */
export interface Validity {
  /** ATR has its first 26 observed true ranges. */
  readonly seeded: boolean
  /** Observed (non-synthetic) true-range samples. */
  readonly nEff: number
  /** Bars from the first to the latest observed candle, both included; 0 before any. */
  readonly spanBars: number
  /** Closed candles fed, synthetic included. */
  readonly bars: number
}

/** What the indicator says at the latest bar. */
export type Reading =
  | {
      readonly _tag: "Value"
      readonly macdV: number
      /** Undefined until 9 values exist. */
      readonly signal: number | undefined
      readonly histogram: number | undefined
      /** Undefined while the signal is. */
      readonly stage: Stage.Stage | undefined
      readonly validity: Validity
    }
  | { readonly _tag: "NoValue"; readonly reason: NoValueReason; readonly validity: Validity }

/** Why there is no value: ATR not yet seeded, or a market so flat that ATR is 0. */
export type NoValueReason = "Low trading activity" | "No price movement"

/** The validity metadata of a state. */
export const validity = (state: State): Validity => Accumulator.from(state).reading().validity

/** The reading at the latest bar of a state. */
export const reading = (state: State): Reading => Accumulator.from(state).reading()

/** Feed every candle of `candles`, in order, to `from` (default: the initial state). */
export const fold = (candles: Iterable<Input>, from: State = initial): State => {
  const acc = Accumulator.from(from)
  for (const candle of candles) acc.push(candle)
  return acc.state()
}

/** The reading after each candle, as a batch: identical to calling `step` then `reading` one candle at a time. */
export const batch = (candles: ReadonlyArray<Input>, from: State = initial): ReadonlyArray<Reading> => {
  const acc = Accumulator.from(from)
  const out: Array<Reading> = new Array(candles.length)
  for (let i = 0; i < candles.length; i++) out[i] = acc.push(candles[i]!).reading()
  return out
}
