/** Alerts fired by the rules of domain.md §3, with their source attribution. */
import { Schema } from "effect"
import { ExchangeId, ExchangeName } from "./Exchange.js"
import { SymbolId } from "./Market.js"
import { Timeframe } from "./Timeframe.js"

const levelLabel = /^level_([+-])(\d+)$/

/** The level a `level_±N` label names, or undefined for other labels. */
export const levelOf = (label: string): number | undefined => {
  const match = levelLabel.exec(label)
  if (!match) return undefined
  const magnitude = Number(match[2])
  return match[1] === "-" ? -magnitude : magnitude
}

/** The label of a crossing of `level` (a multiple of 50 at or beyond ±150). */
export const levelLabelFor = (level: number): AlertLabel =>
  (level < 0 ? `level_${level}` : `level_+${level}`) as AlertLabel

/** `level_-150`, `level_-200`, … `level_+150`, …, `reversal_oversold` or `reversal_overbought`. */
export const AlertLabel = Schema.String.pipe(
  Schema.filter(
    (label) => {
      if (label === "reversal_oversold" || label === "reversal_overbought") return true
      const level = levelOf(label)
      return level !== undefined && Math.abs(level) >= 150 && level % 50 === 0
    },
    { message: () => "an alert label is level_±N (N ≥ 150, a multiple of 50), reversal_oversold or reversal_overbought" }
  ),
  Schema.brand("AlertLabel")
).annotations({ identifier: "AlertLabel" })
export type AlertLabel = typeof AlertLabel.Type

/** Direction implied by the indicator values of one symbol across timeframes. */
export const Bias = Schema.Literal("bullish", "bearish", "mixed").annotations({ identifier: "Bias" })
export type Bias = typeof Bias.Type

/** Context attached to an alert: the indicator value of the same symbol on every timeframe, and the bias. */
export class AlertDetails extends Schema.Class<AlertDetails>("AlertDetails")({
  /** Latest value per timeframe; a timeframe without a value yet is absent. */
  valuesByTimeframe: Schema.partial(Schema.Record({ key: Timeframe, value: Schema.Number })),
  bias: Bias
}) {}

/** One fired alert. Unique per (exchangeId, symbol, timeframe, label, candleOpenTime). */
export class Alert extends Schema.Class<Alert>("Alert")({
  exchangeId: ExchangeId,
  /** Source attribution: which exchange's data fired it. */
  exchangeName: ExchangeName,
  symbol: SymbolId,
  timeframe: Timeframe,
  label: AlertLabel,
  /** The indicator value at the candle that fired it. */
  value: Schema.Number,
  /** The candle's close. */
  price: Schema.Number,
  candleOpenTime: Schema.Int.pipe(Schema.nonNegative()),
  triggeredAt: Schema.DateTimeUtc,
  details: AlertDetails
}) {}
