/** Liquidity grades of symbols (the `exchange_symbols.liquidity_grade` column), from 24 h quote volume in USD. */
import { Schema } from "effect"

/** `A` (most liquid) to `E` (least). */
export const LiquidityGrade = Schema.Literal("A", "B", "C", "D", "E").annotations({
  identifier: "LiquidityGrade",
  description: "Liquidity from 24 h quote volume in USD: A ≥ 100M, B ≥ 10M, C ≥ 1M, D ≥ 100k, E below"
})
export type LiquidityGrade = typeof LiquidityGrade.Type

/** Lower bounds in USD of 24 h quote volume, best grade first; anything below the last is `E`. */
export const thresholds: ReadonlyArray<readonly [LiquidityGrade, number]> = [
  ["A", 100_000_000],
  ["B", 10_000_000],
  ["C", 1_000_000],
  ["D", 100_000]
]

/**
 * The grade of a symbol trading `quoteVolumeUsd` per 24 h. Convert non-USD quotes (BTC, EUR) to USD first:
 * grades compare symbols across quotes and exchanges.
 */
export const fromQuoteVolumeUsd = (quoteVolumeUsd: number): LiquidityGrade =>
  thresholds.find(([, min]) => quoteVolumeUsd >= min)?.[0] ?? "E"
