/**
 * What `indicator:{exchangeId}:{symbol}:{timeframe}:macdv` holds (domain.md §4): the latest values, the stage,
 * the validity metadata, whether the series is stale, and everything needed to resume incrementally — the MACD-V
 * state, the alert rules' state (cooldowns) and the open time of the last candle applied, which says whether the
 * state is behind the cached candles after a restart. The same record is published on
 * `Keys.indicatorChannel` for live viewers.
 */
import { Exchange, Market, Timeframe } from "@livermore/domain"
import { AlertRules, MacdV, Stage } from "@livermore/indicators"
import { Schema } from "effect"

const Int = Schema.Int.pipe(Schema.nonNegative())
const Finite = Schema.Number.pipe(Schema.finite())

/** Validity metadata of domain.md §2. */
export const Validity = Schema.Struct({
  seeded: Schema.Boolean,
  nEff: Int,
  spanBars: Int,
  bars: Int
})

/** The record of one series. */
export const IndicatorRecord = Schema.Struct({
  exchangeId: Exchange.ExchangeId,
  symbol: Market.SymbolId,
  timeframe: Timeframe.Timeframe,
  /** Open time (ms) of the latest closed candle applied; null before any. */
  lastOpenTime: Schema.NullOr(Int),
  /** When the record was written (ms, the node's clock). */
  updatedAt: Int,
  value: Schema.NullOr(Finite),
  signal: Schema.NullOr(Finite),
  histogram: Schema.NullOr(Finite),
  stage: Schema.NullOr(Stage.Stage),
  /** Why there is no value ("Low trading activity", "No price movement"); null when there is one. */
  reason: Schema.NullOr(Schema.Literal("Low trading activity", "No price movement")),
  validity: Validity,
  /** Enough closed candles stand behind the value for alerts (domain.md §2: 60). */
  trusted: Schema.Boolean,
  /** The last closed candle is older than 2 × timeframe + grace: no alert fires until the series is repaired. */
  stale: Schema.Boolean,
  state: MacdV.State,
  alerts: AlertRules.State
}).annotations({ identifier: "IndicatorRecord" })
export type IndicatorRecord = typeof IndicatorRecord.Type

/** Build the record of a series from its accumulator and rules state. */
export const make = (fields: {
  readonly series: Market.Series | { exchangeId: Exchange.ExchangeId; symbol: Market.SymbolId; timeframe: Timeframe.Timeframe }
  readonly accumulator: MacdV.Accumulator
  readonly alerts: AlertRules.State
  readonly lastOpenTime: number | null
  readonly stale: boolean
  readonly now: number
}): IndicatorRecord => {
  const reading = fields.accumulator.reading()
  const value = reading._tag === "Value" ? reading : undefined
  return {
    exchangeId: fields.series.exchangeId,
    symbol: fields.series.symbol,
    timeframe: fields.series.timeframe,
    lastOpenTime: fields.lastOpenTime,
    updatedAt: fields.now,
    value: value?.macdV ?? null,
    signal: value?.signal ?? null,
    histogram: value?.histogram ?? null,
    stage: value?.stage ?? null,
    reason: reading._tag === "NoValue" ? reading.reason : null,
    validity: reading.validity,
    trusted: value !== undefined && reading.validity.bars >= MacdV.MIN_BARS_FOR_ALERTS,
    stale: fields.stale,
    state: fields.accumulator.state(),
    alerts: fields.alerts
  }
}
