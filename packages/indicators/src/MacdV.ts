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

/** Advance the state by one closed candle. */
export const step = (state: State, candle: Input): State => {
  const index = state.bars
  const close = candle.close

  // EMA(n): seeded with the simple average of the first n closes at index n − 1, then α·x + (1 − α)·EMA.
  // Written out rather than shared through a helper returning a pair: this is the hot path.
  let { fastEma, fastSeedSum, slowEma, slowSeedSum } = state
  if (fastEma !== null) fastEma = FAST_ALPHA * close + (1 - FAST_ALPHA) * fastEma
  else {
    fastSeedSum += close
    if (index === FAST - 1) fastEma = fastSeedSum / FAST
  }
  if (slowEma !== null) slowEma = SLOW_ALPHA * close + (1 - SLOW_ALPHA) * slowEma
  else {
    slowSeedSum += close
    if (index === SLOW - 1) slowEma = slowSeedSum / SLOW
  }

  // Informative ATR: a synthetic candle has no true range, so ATR and its counters carry forward.
  let { observed, atrSeedSum, atr, firstObservedBar, lastObservedBar } = state
  if (!candle.synthetic) {
    const range = candle.high - candle.low
    const prevClose = state.prevClose
    const tr =
      prevClose === null ? range : Math.max(range, Math.abs(candle.high - prevClose), Math.abs(candle.low - prevClose))
    observed += 1
    if (firstObservedBar === null) firstObservedBar = index
    lastObservedBar = index
    if (atr !== null) atr = (atr * (ATR_PERIOD - 1) + tr) / ATR_PERIOD
    else {
      atrSeedSum += tr
      if (observed === ATR_PERIOD) atr = atrSeedSum / ATR_PERIOD
    }
  }

  // ATR = 0 (a flat market) gives no value rather than a division by zero.
  const macdV = fastEma !== null && slowEma !== null && atr !== null && atr > 0 ? ((fastEma - slowEma) / atr) * 100 : null

  // Signal: EMA(9) over the defined values only, seeded with the average of the first nine.
  let { values, signalSeedSum, signal } = state
  if (macdV !== null) {
    values += 1
    if (signal !== null) signal = SIGNAL_ALPHA * macdV + (1 - SIGNAL_ALPHA) * signal
    else {
      signalSeedSum += macdV
      if (values === SIGNAL) signal = signalSeedSum / SIGNAL
    }
  }

  return {
    bars: index + 1,
    prevClose: close,
    fastSeedSum,
    slowSeedSum,
    fastEma,
    slowEma,
    observed,
    atrSeedSum,
    atr,
    firstObservedBar,
    lastObservedBar,
    macdV,
    values,
    signalSeedSum,
    signal,
    rangeBoundBars: macdV !== null && Stage.isRangeBound(macdV) ? state.rangeBoundBars + 1 : 0
  }
}

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
export const validity = (state: State): Validity => ({
  seeded: state.atr !== null,
  nEff: state.observed,
  spanBars:
    state.firstObservedBar === null || state.lastObservedBar === null ? 0 : state.lastObservedBar - state.firstObservedBar + 1,
  bars: state.bars
})

/** The reading at the latest bar of a state. */
export const reading = (state: State): Reading => {
  const meta = validity(state)
  if (state.macdV === null) {
    return { _tag: "NoValue", reason: state.atr === null ? "Low trading activity" : "No price movement", validity: meta }
  }
  const signal = state.signal ?? undefined
  return {
    _tag: "Value",
    macdV: state.macdV,
    signal,
    histogram: signal === undefined ? undefined : state.macdV - signal,
    stage: signal === undefined ? undefined : Stage.classify(state.macdV, signal, state.rangeBoundBars),
    validity: meta
  }
}

/** Feed every candle of `candles`, in order, to `from` (default: the initial state). */
export const fold = (candles: Iterable<Input>, from: State = initial): State => {
  let state = from
  for (const candle of candles) state = step(state, candle)
  return state
}

/** The reading after each candle, as a batch: identical to calling `step` then `reading` one candle at a time. */
export const batch = (candles: ReadonlyArray<Input>, from: State = initial): ReadonlyArray<Reading> => {
  const out: Array<Reading> = new Array(candles.length)
  let state = from
  for (let i = 0; i < candles.length; i++) {
    state = step(state, candles[i]!)
    out[i] = reading(state)
  }
  return out
}
