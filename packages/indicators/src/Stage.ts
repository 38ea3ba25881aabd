/** Stages: a label for where momentum stands, checked in the order of domain.md §2 (first match wins). */
import { Schema } from "effect"

export const Stage = Schema.Literal(
  "oversold",
  "overbought",
  "ranging",
  "rallying",
  "rebounding",
  "retracing",
  "reversing"
).annotations({ identifier: "Stage" })
export type Stage = typeof Stage.Type

/** Consecutive bars inside ±50 after which the market is `ranging`. */
export const RANGING_BARS = 20

/** Whether `value` counts towards a ranging streak: strictly inside ±50. */
export const isRangeBound = (value: number): boolean => value > -50 && value < 50

/**
 * The stage of a bar with indicator value `m`, signal `s`, and `rangeBoundBars` consecutive bars (this one
 * included) strictly inside ±50.
 */
export const classify = (m: number, s: number, rangeBoundBars: number): Stage => {
  if (m < -150) return "oversold"
  if (m > 150 && m > s) return "overbought"
  if (rangeBoundBars >= RANGING_BARS) return "ranging"
  if (m > 50 && m <= 150 && m > s) return "rallying"
  if (m > s) return "rebounding"
  if (m >= -50) return "retracing"
  // Left: −150 ≤ m < −50 and m ≤ s.
  return "reversing"
}
