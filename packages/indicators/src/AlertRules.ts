/**
 * The alert rules of domain.md §3 as a pure function over a small state: level crossings at ±150, ±200, …
 * (one alert per level passed), reversals from oversold/overbought, and cooldowns in candle time.
 * Evaluated on closed candles only, so nothing repaints.
 */
import { Alert } from "@livermore/domain"
import { Schema } from "effect"
import * as MacdV from "./MacdV.js"

/** Levels start at ±150 and repeat every 50 beyond it, without bound. */
export const FIRST_LEVEL = 150
export const LEVEL_STEP = 50

/** Cooldown per level label, and between reversal alerts, in candle time (ms). */
export const LEVEL_COOLDOWN_MS = 5 * 60_000
export const REVERSAL_COOLDOWN_MS = 5 * 60_000

/** Histogram buffers of the reversal rules, as a fraction of |value|: asymmetric on purpose (domain.md §3). */
export const OVERSOLD_REVERSAL_BUFFER = 0.05
export const OVERBOUGHT_REVERSAL_BUFFER = 0.03

/** What the rules remember between candles of one series. */
export const State = Schema.Struct({
  /** The latest defined value; a crossing is measured from it. */
  lastValue: Schema.NullOr(Schema.Number.pipe(Schema.finite())),
  /** Close time of the candle that last fired each level label still in cooldown. */
  levelFiredAt: Schema.Record({ key: Schema.String, value: Schema.Number }),
  /** Close time of the candle that last fired a reversal alert. */
  reversalFiredAt: Schema.NullOr(Schema.Number)
}).annotations({ identifier: "AlertRulesState" })
export type State = typeof State.Type

export const initial: State = { lastValue: null, levelFiredAt: {}, reversalFiredAt: null }

/** The candle being evaluated, with the reading after it. */
export interface Input {
  readonly reading: MacdV.Reading
  readonly candleOpenTime: number
  /** The candle's close time (ms): the clock cooldowns are measured on. */
  readonly closeTime: number
  /** The candle's close price. */
  readonly price: number
}

/** One rule that fired. */
export interface Fired {
  readonly label: Alert.AlertLabel
  readonly kind: "level" | "reversal"
  readonly value: number
  readonly price: number
  readonly candleOpenTime: number
}

/** Levels crossed downwards: `previous ≥ L` and `current < L` for L = −150, −200, … in the order passed. */
export const bearishLevels = (previous: number, current: number): ReadonlyArray<number> => {
  const out: Array<number> = []
  // A non-finite value cannot come out of MacdV; refusing it keeps the loop bounded for any other caller.
  if (!Number.isFinite(previous) || !Number.isFinite(current)) return out
  for (let level = Math.floor(Math.min(previous, -FIRST_LEVEL) / LEVEL_STEP) * LEVEL_STEP; level > current; level -= LEVEL_STEP) {
    out.push(level)
  }
  return out
}

/** Levels crossed upwards: `previous ≤ L` and `current > L` for L = +150, +200, … in the order passed. */
export const bullishLevels = (previous: number, current: number): ReadonlyArray<number> => {
  const out: Array<number> = []
  if (!Number.isFinite(previous) || !Number.isFinite(current)) return out
  for (let level = Math.ceil(Math.max(previous, FIRST_LEVEL) / LEVEL_STEP) * LEVEL_STEP; level < current; level += LEVEL_STEP) {
    out.push(level)
  }
  return out
}

const cooled = (firedAt: number | null | undefined, now: number, cooldown: number): boolean =>
  firedAt === null || firedAt === undefined || now - firedAt >= cooldown

/**
 * Evaluate one closed candle. Fires nothing until the reading has a value and `MIN_BARS_FOR_ALERTS` candles
 * stand behind it, but still remembers the value so the first trusted candle compares with the one before it.
 */
export const evaluate = (
  state: State,
  input: Input,
  minBars: number = MacdV.MIN_BARS_FOR_ALERTS
): { readonly state: State; readonly fired: ReadonlyArray<Fired> } => {
  const { reading } = input
  if (reading._tag === "NoValue") return { state, fired: [] }
  const value = reading.macdV
  const previous = state.lastValue
  if (reading.validity.bars < minBars) return { state: { ...state, lastValue: value }, fired: [] }

  const now = input.closeTime
  const fired: Array<Fired> = []
  // Only labels still cooling down are kept, so the record stays small however far the value travels.
  const levelFiredAt: Record<string, number> = {}
  for (const [label, at] of Object.entries(state.levelFiredAt)) {
    if (now - at < LEVEL_COOLDOWN_MS) levelFiredAt[label] = at
  }

  // No crossing without a value to cross from; the reversal rules below need none.
  const crossed =
    previous === null ? [] : value < previous ? bearishLevels(previous, value) : bullishLevels(previous, value)
  for (const level of crossed) {
    const label = Alert.levelLabelFor(level)
    if (cooled(levelFiredAt[label], now, LEVEL_COOLDOWN_MS)) {
      fired.push({ label, kind: "level", value, price: input.price, candleOpenTime: input.candleOpenTime })
      levelFiredAt[label] = now
    }
  }

  let reversalFiredAt = state.reversalFiredAt
  const histogram = reading.histogram
  if (histogram !== undefined && cooled(reversalFiredAt, now, REVERSAL_COOLDOWN_MS)) {
    const magnitude = Math.abs(value)
    const label =
      value < -FIRST_LEVEL && histogram > magnitude * OVERSOLD_REVERSAL_BUFFER
        ? "reversal_oversold"
        : value > FIRST_LEVEL && histogram < -(magnitude * OVERBOUGHT_REVERSAL_BUFFER)
          ? "reversal_overbought"
          : undefined
    if (label !== undefined) {
      fired.push({
        label: Alert.AlertLabel.make(label),
        kind: "reversal",
        value,
        price: input.price,
        candleOpenTime: input.candleOpenTime
      })
      reversalFiredAt = now
    }
  }

  return { state: { lastValue: value, levelFiredAt, reversalFiredAt }, fired }
}
