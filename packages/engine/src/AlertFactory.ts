/**
 * Turning a rule that fired into the `Alert` of domain.md §3: source attribution (exchange id and name), the
 * candle's value and close, and the details — the MACD-V of the same symbol on every timeframe served and the
 * bias they show together.
 */
import { Alert, type Exchange, type Timeframe } from "@livermore/domain"
import type { AlertRules } from "@livermore/indicators"
import { DateTime } from "effect"
import type { SeriesTrack } from "./SeriesTrack.js"

/** Bullish when every value is above 0, bearish when every one is below, mixed otherwise (or with none). */
export const bias = (values: ReadonlyArray<number>): Alert.Bias => {
  if (values.length === 0) return "mixed"
  if (values.every((value) => value > 0)) return "bullish"
  if (values.every((value) => value < 0)) return "bearish"
  return "mixed"
}

/** The latest value of each track of one symbol that has one. */
export const valuesByTimeframe = (
  tracks: Iterable<SeriesTrack>
): Partial<Record<Timeframe.Timeframe, number>> => {
  const values: Partial<Record<Timeframe.Timeframe, number>> = {}
  for (const track of tracks) {
    const value = track.accumulator.macdV
    if (!Number.isNaN(value)) values[track.series.timeframe] = value
  }
  return values
}

/** The alert for `fired` on `track`'s series, at `now` (ms). */
export const make = (
  exchange: Exchange.Exchange,
  track: SeriesTrack,
  fired: AlertRules.Fired,
  siblings: Iterable<SeriesTrack>,
  now: number
): Alert.Alert => {
  const values = valuesByTimeframe(siblings)
  return new Alert.Alert({
    exchangeId: exchange.id,
    exchangeName: exchange.name,
    symbol: track.series.symbol,
    timeframe: track.series.timeframe,
    label: fired.label,
    value: fired.value,
    price: fired.price,
    candleOpenTime: fired.candleOpenTime,
    triggeredAt: DateTime.unsafeMake(now),
    details: new Alert.AlertDetails({
      valuesByTimeframe: values,
      bias: bias(Object.values(values))
    })
  })
}
