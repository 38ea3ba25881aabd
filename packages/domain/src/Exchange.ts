/** Exchanges: the rows of the `exchanges` table and the protocol adapters that speak to them (domain.md §1). */
import { Schema } from "effect"
import { Timeframe } from "./Timeframe.js"

/** Database id of an exchange row. */
export const ExchangeId = Schema.Int.pipe(Schema.positive(), Schema.brand("ExchangeId")).annotations({
  identifier: "ExchangeId",
  description: "Numeric id of an exchange"
})
export type ExchangeId = typeof ExchangeId.Type

/** The exchange names seeded by the migrations; other rows may be added, so names are not a closed set. */
export const knownNames = [
  "coinbase",
  "binance",
  "binance_us",
  "kraken",
  "kucoin",
  "mexc",
  "sim_binance",
  "sim_coinbase"
] as const

/** Machine name of an exchange: lowercase letters, digits and underscores. */
export const ExchangeName = Schema.String.pipe(
  Schema.pattern(/^[a-z][a-z0-9_]{0,62}$/, {
    message: () => "an exchange name is lowercase letters, digits and underscores, starting with a letter"
  }),
  Schema.brand("ExchangeName")
).annotations({ identifier: "ExchangeName" })
export type ExchangeName = typeof ExchangeName.Type

/** Which wire protocol speaks to an exchange: binance.com, binance.us and the Binance simulator share one. */
export const AdapterKind = Schema.Literal("coinbase", "binance").annotations({ identifier: "AdapterKind" })
export type AdapterKind = typeof AdapterKind.Type

/** REST and WebSocket limits of an exchange, as published by it. */
export class ApiLimits extends Schema.Class<ApiLimits>("ApiLimits")({
  /** REST budget per minute, in the exchange's weight units (Binance) or requests (Coinbase). */
  restWeightPerMinute: Schema.Int.pipe(Schema.positive()),
  /** Most candles one REST history request returns. */
  candlesPerRequest: Schema.Int.pipe(Schema.positive()),
  /** Inbound WebSocket messages per second a client may send. */
  wsMessagesPerSecond: Schema.Int.pipe(Schema.positive()),
  /** Most streams one WebSocket connection may carry. */
  wsMaxStreamsPerConnection: Schema.Int.pipe(Schema.positive()),
  /** Hours after which the exchange drops a WebSocket connection, if it does. */
  wsMaxConnectionHours: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { as: "Option" })
}) {}

/** Maker and taker fees as fractions (0.001 = 0.1 %). */
export class Fees extends Schema.Class<Fees>("Fees")({
  maker: Schema.Number.pipe(Schema.nonNegative()),
  taker: Schema.Number.pipe(Schema.nonNegative())
}) {}

/** One exchange Livermore can serve. */
export class Exchange extends Schema.Class<Exchange>("Exchange")({
  id: ExchangeId,
  name: ExchangeName,
  displayName: Schema.NonEmptyTrimmedString,
  adapter: AdapterKind,
  wsUrl: Schema.NonEmptyTrimmedString,
  restUrl: Schema.NonEmptyTrimmedString,
  timeframes: Schema.NonEmptyArray(Timeframe),
  apiLimits: ApiLimits,
  fees: Fees,
  /** ISO 3166 country codes from which the exchange may not be used. */
  geoRestrictions: Schema.Array(Schema.String),
  isActive: Schema.Boolean
}) {}

/** A name or id that matches no exchange row. */
export class UnknownExchange extends Schema.TaggedError<UnknownExchange>()("UnknownExchange", {
  exchange: Schema.String
}) {
  override get message(): string {
    return `No exchange named "${this.exchange}"`
  }
}
