/**
 * What the public API returns (domain.md §8). Every DTO is built field by field from the internal records
 * (`PublicMapping`), never by deleting fields from them, so nothing internal can leak by being forgotten; and
 * every schema carries a description and an example, for readers of the OpenAPI document who are programs.
 */
import { Option, Schema, SchemaAST } from "effect"

const Iso = Schema.String.annotations({
  description: "ISO-8601 timestamp in UTC",
  examples: ["2026-11-21T14:05:00.000Z"]
})

export const Timeframe = Schema.Literal("5m", "15m", "1h", "4h", "1d").annotations({
  identifier: "Timeframe",
  description: "Candle interval: 5 minutes, 15 minutes, 1 hour, 4 hours or 1 day (opens aligned to UTC)",
  examples: ["1h"]
})

/** Pagination metadata of every list response. */
export const Meta = Schema.Struct({
  cursor: Schema.NullOr(Schema.String).annotations({
    description: "Opaque cursor of the next page: pass it back as the `cursor` query parameter; null on the last page"
  }),
  hasMore: Schema.Boolean.annotations({ description: "Whether another page follows this one" }),
  count: Schema.Int.annotations({ description: "Number of items in `data`" })
}).annotations({
  identifier: "PageMeta",
  description: "Pagination metadata",
  examples: [{ cursor: "eyJrIjoiYyIsImIiOjE3NjM3MzM2MDAwMDB9", hasMore: true, count: 100 }]
})
export type Meta = typeof Meta.Type

/** The envelope `{ data, meta }` around a list of `item`. */
export const envelope = <A, I>(item: Schema.Schema<A, I>, identifier: string, description: string) => {
  // The example page holds the item's own first example.
  const example = Option.flatMap(SchemaAST.getExamplesAnnotation(item.ast), (examples) => Option.fromNullable(examples[0]))
  return Schema.Struct({ data: Schema.Array(item), meta: Meta }).annotations({
    identifier,
    description,
    ...(Option.isSome(example)
      ? { examples: [{ data: [example.value as A], meta: { cursor: null, hasMore: false, count: 1 } }] as const }
      : {})
  })
}

const ExchangeState = Schema.Literal(
  "offline",
  "idle",
  "starting",
  "warming",
  "active",
  "reconnecting",
  "stopping",
  "stopped"
).annotations({
  identifier: "ExchangeState",
  examples: ["active"],
  description:
    "Live state of the instance serving the exchange: `active` means candles and signals are live; `warming` " +
    "means history is being loaded; `reconnecting` means live data is interrupted; `offline` means no instance " +
    "serves it right now"
})

export const ExchangeStatus = Schema.Struct({
  state: ExchangeState,
  live: Schema.Boolean.annotations({ description: "True when the exchange's data is flowing now (state `active`)" }),
  symbolCount: Schema.Int.annotations({ description: "Symbols being followed; 0 when offline" }),
  staleSeries: Schema.Int.annotations({
    description: "Series (symbol × timeframe) whose latest candle is overdue; their signals may lag"
  }),
  lastHeartbeat: Schema.NullOr(Iso).annotations({ description: "Last time the serving instance reported in" })
}).annotations({
  identifier: "ExchangeStatus",
  description: "Live status of an exchange feed",
  examples: [{ state: "active", live: true, symbolCount: 50, staleSeries: 0, lastHeartbeat: "2026-11-21T14:05:03.000Z" }]
})

export const PublicExchange = Schema.Struct({
  name: Schema.String.annotations({
    description: "Exchange name, used in every path that names an exchange",
    examples: ["binance"]
  }),
  displayName: Schema.String.annotations({ description: "Human-readable name", examples: ["Binance"] }),
  timeframes: Schema.Array(Timeframe).annotations({ description: "Timeframes served for this exchange" }),
  status: ExchangeStatus
}).annotations({
  identifier: "Exchange",
  description: "An exchange whose market data Livermore serves",
  examples: [
    {
      name: "binance",
      displayName: "Binance",
      timeframes: ["5m", "15m", "1h", "4h", "1d"],
      status: { state: "active", live: true, symbolCount: 50, staleSeries: 0, lastHeartbeat: "2026-11-21T14:05:03.000Z" }
    }
  ]
})
export type PublicExchange = typeof PublicExchange.Type

export const LiquidityGrade = Schema.Literal("A", "B", "C", "D", "E").annotations({
  identifier: "LiquidityGrade",
  description:
    "Liquidity from 24 h quote volume in USD: A ≥ 100M, B ≥ 10M, C ≥ 1M, D ≥ 100k, E below. Prefer A–C " +
    "symbols where tight spreads matter",
  examples: ["A"]
})

export const PublicSymbol = Schema.Struct({
  symbol: Schema.String.annotations({
    description: "The exchange's own product id, used in candle and signal paths",
    examples: ["BTCUSDT"]
  }),
  baseAsset: Schema.String.annotations({ description: "Asset bought or sold", examples: ["BTC"] }),
  quoteAsset: Schema.String.annotations({ description: "Asset prices are quoted in", examples: ["USDT"] }),
  liquidityGrade: LiquidityGrade,
  rank: Schema.NullOr(Schema.Int.annotations({ description: "Rank", examples: [1] })).annotations({
    description: "Position by 24 h quote volume on this exchange, 1 = most traded; null when unranked"
  }),
  quoteVolume24h: Schema.Number.annotations({ description: "Volume of the last 24 h in quote units" })
}).annotations({
  identifier: "Symbol",
  description: "A symbol followed on an exchange",
  examples: [
    { symbol: "BTCUSDT", baseAsset: "BTC", quoteAsset: "USDT", liquidityGrade: "A", rank: 1, quoteVolume24h: 1.52e9 }
  ]
})
export type PublicSymbol = typeof PublicSymbol.Type

export const PublicCandle = Schema.Struct({
  time: Iso.annotations({ description: "Open time of the candle (UTC, aligned to the timeframe)" }),
  open: Schema.Number,
  high: Schema.Number,
  low: Schema.Number,
  close: Schema.Number,
  volume: Schema.Number.annotations({ description: "Traded volume in base units" }),
  closed: Schema.Boolean.annotations({ description: "False for the candle still forming; its values change until it closes" }),
  synthetic: Schema.Boolean.annotations({
    description: "True when nothing traded in the interval: open = high = low = close = previous close, volume 0"
  })
}).annotations({
  identifier: "Candle",
  description: "One OHLCV candle",
  examples: [
    {
      time: "2026-11-21T14:00:00.000Z",
      open: 97250.1,
      high: 97410,
      low: 97180.5,
      close: 97333.2,
      volume: 84.213,
      closed: true,
      synthetic: false
    }
  ]
})
export type PublicCandle = typeof PublicCandle.Type

export const Direction = Schema.Literal("bullish", "bearish", "neutral").annotations({
  identifier: "Direction",
  description: "Which way the reading points",
  examples: ["bullish"]
})

export const Strength = Schema.Literal("weak", "moderate", "strong", "extreme").annotations({
  identifier: "Strength",
  description: "How pronounced the reading is; `extreme` readings are where reversals become likely",
  examples: ["strong"]
})

const Reading = (identifier: string, description: string) =>
  Schema.Struct({ direction: Direction, strength: Strength }).annotations({
    identifier,
    description,
    examples: [{ direction: "bullish", strength: "moderate" }]
  })

export const SignalQuality = Schema.Literal("live", "stale", "warming_up", "unavailable").annotations({
  identifier: "SignalQuality",
  description:
    "`live`: computed on complete, current data. `stale`: the latest candle is overdue, the reading may lag. " +
    "`warming_up`: too little history yet to trust it. `unavailable`: no reading (too little trading activity)",
  examples: ["live"]
})

export const PublicSignal = Schema.Struct({
  exchange: Schema.String.annotations({ examples: ["binance"] }),
  symbol: Schema.String.annotations({ examples: ["BTCUSDT"] }),
  timeframe: Timeframe,
  time: Schema.NullOr(Iso).annotations({ description: "Open time of the latest closed candle the reading covers" }),
  momentum_signal: Reading(
    "MomentumReading",
    "Short-term push: whether buying or selling pressure is currently gaining, and how much"
  ),
  trend_signal: Reading("TrendReading", "Prevailing trend over the recent bars of this timeframe, and how stretched it is"),
  quality: SignalQuality
}).annotations({
  identifier: "TradeSignal",
  description: "Generic trade signals of one symbol on one timeframe, updated on every closed candle",
  examples: [
    {
      exchange: "binance",
      symbol: "BTCUSDT",
      timeframe: "1h",
      time: "2026-11-21T13:00:00.000Z",
      momentum_signal: { direction: "bullish", strength: "moderate" },
      trend_signal: { direction: "bullish", strength: "strong" },
      quality: "live"
    }
  ]
})
export type PublicSignal = typeof PublicSignal.Type

export const AlertType = Schema.Literal("momentum_threshold", "momentum_reversal").annotations({
  identifier: "AlertType",
  description:
    "`momentum_threshold`: the momentum crossed into (or deeper into) an extreme zone. `momentum_reversal`: " +
    "from an extreme zone, momentum turned back",
  examples: ["momentum_reversal"]
})

export const PublicAlert = Schema.Struct({
  id: Schema.String.annotations({ description: "Unique id of the alert", examples: ["1763733900123-0"] }),
  time: Iso.annotations({ description: "When the alert fired" }),
  exchange: Schema.String.annotations({ description: "Exchange whose data fired it (source attribution)", examples: ["binance"] }),
  symbol: Schema.String.annotations({ examples: ["BTCUSDT"] }),
  timeframe: Timeframe,
  signalType: AlertType,
  direction: Direction,
  price: Schema.Number.annotations({ description: "Close of the candle that fired it", examples: [97333.2] }),
  candleTime: Iso.annotations({ description: "Open time of the candle that fired it" })
}).annotations({
  identifier: "Alert",
  description: "A fired alert",
  examples: [
    {
      id: "1763733900123-0",
      time: "2026-11-21T14:05:00.123Z",
      exchange: "binance",
      symbol: "BTCUSDT",
      timeframe: "1h",
      signalType: "momentum_reversal",
      direction: "bullish",
      price: 97333.2,
      candleTime: "2026-11-21T13:00:00.000Z"
    }
  ]
})
export type PublicAlert = typeof PublicAlert.Type

export const ExchangeList = envelope(PublicExchange, "ExchangeList", "Every exchange with its live status")
export const SymbolList = envelope(PublicSymbol, "SymbolList", "A page of an exchange's symbols, most traded first")
export const CandleList = envelope(PublicCandle, "CandleList", "A page of candles, oldest first within the page")
export const SignalList = envelope(PublicSignal, "TradeSignalList", "Signals of one symbol, one entry per timeframe")
export const AlertList = envelope(PublicAlert, "AlertList", "A page of alerts, newest first")
