/**
 * Internal records → public DTOs, by whitelisting: each DTO is a new object naming its fields one by one, so a
 * field added to an internal record never reaches a client (domain.md §8). The generic signals are coarse
 * (a direction and one of four strengths) so that the proprietary indicator cannot be reconstructed from them.
 */
import type { PublicCatalog } from "@livermore/cache"
import type { Alert, Candle, Status, Timeframe } from "@livermore/domain"
import { IndicatorRecord } from "@livermore/engine"
import { DateTime, Schema } from "effect"
import type * as Dto from "./PublicDto.js"

const iso = (ms: number): string => new Date(ms).toISOString()

export const candle = (c: Candle.Candle): Dto.PublicCandle => ({
  time: iso(c.openTime),
  open: c.open,
  high: c.high,
  low: c.low,
  close: c.close,
  volume: c.volume,
  closed: c.closed,
  synthetic: c.synthetic
})

export const exchange = (row: PublicCatalog.CatalogExchange, status: Status.InstanceStatus | undefined): Dto.PublicExchange => ({
  name: row.name,
  displayName: row.displayName,
  timeframes: [...row.timeframes],
  status:
    status === undefined
      ? { state: "offline", live: false, symbolCount: 0, staleSeries: 0, lastHeartbeat: null }
      : {
          state: status.connectionState,
          live: status.connectionState === "active",
          symbolCount: status.symbolCount,
          staleSeries: status.staleSeries,
          lastHeartbeat: status.lastHeartbeat === null ? null : DateTime.formatIso(status.lastHeartbeat)
        }
})

export const symbol = (s: PublicCatalog.CatalogSymbol): Dto.PublicSymbol => ({
  symbol: s.symbol,
  baseAsset: s.baseAsset,
  quoteAsset: s.quoteAsset,
  liquidityGrade: s.liquidityGrade,
  rank: s.rank,
  quoteVolume24h: s.quoteVolume24h
})

/** The part of the indicator record the public signals are derived from; everything else is never read. */
export const SignalSource = IndicatorRecord.IndicatorRecord.pipe(
  Schema.pick("lastOpenTime", "value", "signal", "histogram", "stage", "trusted", "stale")
)
export type SignalSource = typeof SignalSource.Type

type Reading = { readonly direction: "bullish" | "bearish" | "neutral"; readonly strength: Dto.PublicSignal["trend_signal"]["strength"] }

const neutral: Reading = { direction: "neutral", strength: "weak" }

/** Trend: where the level stands, in four bands. */
const trend = (level: number): Reading => {
  const magnitude = Math.abs(level)
  if (magnitude < 50) return neutral
  const direction = level > 0 ? "bullish" : "bearish"
  return { direction, strength: magnitude < 150 ? "moderate" : magnitude < 250 ? "strong" : "extreme" }
}

/** Momentum: which way the push is turning, its strength from the stage. */
const momentum = (source: SignalSource): Reading => {
  if (source.stage === null || source.histogram === null) return neutral
  switch (source.stage) {
    case "ranging":
      return neutral
    case "oversold":
    case "overbought":
      return { direction: source.histogram >= 0 ? "bullish" : "bearish", strength: "extreme" }
    case "rallying":
      return { direction: "bullish", strength: "strong" }
    case "reversing":
      return { direction: "bearish", strength: "strong" }
    case "rebounding":
      return { direction: "bullish", strength: "moderate" }
    case "retracing":
      return { direction: "bearish", strength: "moderate" }
  }
}

export const tradeSignal = (
  exchangeName: string,
  symbolId: string,
  timeframe: Timeframe.Timeframe,
  source: SignalSource | undefined
): Dto.PublicSignal => {
  if (source === undefined || source.value === null) {
    return {
      exchange: exchangeName,
      symbol: symbolId,
      timeframe,
      time: source?.lastOpenTime == null ? null : iso(source.lastOpenTime),
      momentum_signal: neutral,
      trend_signal: neutral,
      quality: source === undefined ? "warming_up" : "unavailable"
    }
  }
  return {
    exchange: exchangeName,
    symbol: symbolId,
    timeframe,
    time: source.lastOpenTime === null ? null : iso(source.lastOpenTime),
    momentum_signal: momentum(source),
    trend_signal: trend(source.value),
    quality: source.stale ? "stale" : source.trusted ? "live" : "warming_up"
  }
}

/** The public type of an alert label. */
export const alertType = (label: string): Dto.PublicAlert["signalType"] =>
  label.startsWith("reversal_") ? "momentum_reversal" : "momentum_threshold"

/** Which way an alert points: a fall through a low level is bearish, a turn up from oversold bullish. */
export const alertDirection = (label: string): "bullish" | "bearish" =>
  label === "reversal_oversold" || label.startsWith("level_+") ? "bullish" : "bearish"

export const alert = (id: string, a: Alert.Alert): Dto.PublicAlert => ({
  id,
  time: DateTime.formatIso(a.triggeredAt),
  exchange: a.exchangeName,
  symbol: a.symbol,
  timeframe: a.timeframe,
  signalType: alertType(a.label),
  direction: alertDirection(a.label),
  price: a.price,
  candleTime: iso(a.candleOpenTime)
})
