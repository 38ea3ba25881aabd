/**
 * The Coinbase Advanced Trade wire formats (exchanges.md §2), as Schemas: WebSocket envelopes and channel
 * events, REST candles, products, private endpoints and the error body. Field names are Coinbase's own; decimal
 * strings decode to numbers and the envelope `timestamp` to ms since the epoch. Nothing here knows the domain.
 */
import { type Either, ParseResult, Schema } from "effect"

/** A decimal string (`"37004.2"`) as a finite number. */
export const Decimal = Schema.NumberFromString.pipe(Schema.finite()).annotations({ identifier: "Decimal" })

/** Unix seconds as a string (`"1700000100"`), the unit of every Coinbase candle `start`. */
export const UnixSecondsString = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()).annotations({
  identifier: "UnixSecondsString"
})

const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/**
 * An RFC 3339 time (`2026-01-05T10:02:11.123456789Z`) as ms since the epoch. Coinbase sends up to nanosecond
 * fractions; they are cut to milliseconds before parsing, since `Date.parse` only promises three digits.
 */
export const Rfc3339Millis = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (input, _, ast) => {
    const match = rfc3339.exec(input)
    const fraction = match?.[1]
    const ms = match === null ? Number.NaN : Date.parse(fraction === undefined ? input : input.replace(fraction, fraction.slice(0, 4)))
    return Number.isFinite(ms)
      ? ParseResult.succeed(ms)
      : ParseResult.fail(new ParseResult.Type(ast, input, "expected an RFC 3339 time"))
  },
  encode: (ms) => ParseResult.succeed(new Date(ms).toISOString())
}).annotations({ identifier: "Rfc3339Millis" })

/** `heartbeat_counter`: a string in the prose docs, an integer in the AsyncAPI spec; both are accepted. */
export const HeartbeatCounter = Schema.Union(
  Schema.Int,
  Schema.NumberFromString.pipe(Schema.int())
).annotations({ identifier: "HeartbeatCounter" })

// ---------------------------------------------------------------------------------------------------------------
// WebSocket: client messages

/** Channels this adapter subscribes to. */
export type Channel = "candles" | "ticker" | "heartbeats"

/** A subscribe request: exactly one channel per message (exchanges.md §2.1). */
export interface SubscribeMessage {
  readonly type: "subscribe" | "unsubscribe"
  readonly channel: Channel
  readonly product_ids?: ReadonlyArray<string>
  readonly jwt?: string
}

/** The JSON text of a subscribe (or unsubscribe) frame; `product_ids` is left out when empty (heartbeats). */
export const subscribeFrame = (message: SubscribeMessage): string => JSON.stringify(message)

// ---------------------------------------------------------------------------------------------------------------
// WebSocket: server messages

const envelope = {
  /** Documented as `""`; production omits it. */
  client_id: Schema.optional(Schema.String),
  timestamp: Rfc3339Millis,
  /** Per-connection sequence number, rising by one across every channel. */
  sequence_num: Schema.Int.pipe(Schema.nonNegative())
}

/** One 5-minute candle of the `candles` channel. `start` is the bucket start in unix seconds. */
export class CoinbaseWsCandle extends Schema.Class<CoinbaseWsCandle>("CoinbaseWsCandle")({
  start: UnixSecondsString,
  high: Decimal,
  low: Decimal,
  open: Decimal,
  close: Decimal,
  volume: Decimal,
  product_id: Schema.String
}) {}

/** `snapshot` first after subscribing, `update` afterwards. */
export const EventType = Schema.Literal("snapshot", "update")

/** A message of the `candles` channel. */
export class CoinbaseCandlesMessage extends Schema.Class<CoinbaseCandlesMessage>("CoinbaseCandlesMessage")({
  channel: Schema.Literal("candles"),
  ...envelope,
  events: Schema.Array(Schema.Struct({ type: EventType, candles: Schema.Array(CoinbaseWsCandle) }))
}) {}

/**
 * One item of `ticker` (and `ticker_batch`, which lacks the best bid/ask fields). Only what a ticker needs is
 * required; the 52-week and change fields are optional so a venue trimming them does not make a frame malformed.
 */
export class CoinbaseWsTicker extends Schema.Class<CoinbaseWsTicker>("CoinbaseWsTicker")({
  type: Schema.optional(Schema.String),
  product_id: Schema.String,
  price: Decimal,
  volume_24_h: Decimal,
  low_24_h: Schema.optional(Decimal),
  high_24_h: Schema.optional(Decimal),
  low_52_w: Schema.optional(Decimal),
  high_52_w: Schema.optional(Decimal),
  price_percent_chg_24_h: Schema.optional(Decimal),
  best_bid: Schema.optional(Decimal),
  best_bid_quantity: Schema.optional(Decimal),
  best_ask: Schema.optional(Decimal),
  best_ask_quantity: Schema.optional(Decimal)
}) {}

/** A message of the `ticker` or `ticker_batch` channel. */
export class CoinbaseTickerMessage extends Schema.Class<CoinbaseTickerMessage>("CoinbaseTickerMessage")({
  channel: Schema.Literal("ticker", "ticker_batch"),
  ...envelope,
  events: Schema.Array(Schema.Struct({ type: EventType, tickers: Schema.Array(CoinbaseWsTicker) }))
}) {}

/** A message of the `heartbeats` channel, one a second. `current_time` is a Go-style time string, kept as is. */
export class CoinbaseHeartbeatsMessage extends Schema.Class<CoinbaseHeartbeatsMessage>("CoinbaseHeartbeatsMessage")({
  channel: Schema.Literal("heartbeats"),
  ...envelope,
  events: Schema.Array(Schema.Struct({ current_time: Schema.String, heartbeat_counter: HeartbeatCounter }))
}) {}

/** The subscription acknowledgement: every current subscription, channel → product ids. */
export class CoinbaseSubscriptionsMessage extends Schema.Class<CoinbaseSubscriptionsMessage>(
  "CoinbaseSubscriptionsMessage"
)({
  channel: Schema.Literal("subscriptions"),
  ...envelope,
  events: Schema.Array(
    Schema.Struct({ subscriptions: Schema.Record({ key: Schema.String, value: Schema.Array(Schema.String) }) })
  )
}) {}

/** An error frame (`{"type":"error","message":"..."}`). */
export class CoinbaseErrorMessage extends Schema.Class<CoinbaseErrorMessage>("CoinbaseErrorMessage")({
  type: Schema.Literal("error"),
  message: Schema.String
}) {}

const knownChannels: ReadonlyArray<string> = ["candles", "ticker", "ticker_batch", "heartbeats", "subscriptions"]

/**
 * A well-formed message on a channel this adapter does not read (`status`, `level2`, ...): its envelope still
 * counts for `sequence_num`. A known channel never falls back here, so a bad candles frame stays malformed.
 */
export class CoinbaseOtherMessage extends Schema.Class<CoinbaseOtherMessage>("CoinbaseOtherMessage")({
  channel: Schema.String.pipe(Schema.filter((channel) => !knownChannels.includes(channel))),
  ...envelope
}) {}

/** Every server frame this adapter understands. */
export const ServerMessage = Schema.Union(
  CoinbaseCandlesMessage,
  CoinbaseTickerMessage,
  CoinbaseHeartbeatsMessage,
  CoinbaseSubscriptionsMessage,
  CoinbaseErrorMessage,
  CoinbaseOtherMessage
)
export type ServerMessage = typeof ServerMessage.Type

const decodeServerMessageEither = Schema.decodeEither(Schema.parseJson(ServerMessage), { errors: "first" })

/** Decode one text frame. A `ParseError` (bad JSON or an unknown shape) is the caller's to count and skip. */
export const decodeServerMessage = (text: string): Either.Either<ServerMessage, ParseResult.ParseError> =>
  decodeServerMessageEither(text)

// ---------------------------------------------------------------------------------------------------------------
// REST: public market data

/** One REST candle (`GET .../market/products/{id}/candles`); all strings, `start` in unix seconds. */
export class CoinbaseRestCandle extends Schema.Class<CoinbaseRestCandle>("CoinbaseRestCandle")({
  start: UnixSecondsString,
  low: Decimal,
  high: Decimal,
  open: Decimal,
  close: Decimal,
  volume: Decimal
}) {}

/** The candles response: newest first, empty buckets missing. */
export class CoinbaseCandlesResponse extends Schema.Class<CoinbaseCandlesResponse>("CoinbaseCandlesResponse")({
  candles: Schema.Array(CoinbaseRestCandle)
}) {}

/** REST candle granularities this adapter uses; `FOUR_HOUR` is deliberately absent (domain.md §7). */
export const Granularity = Schema.Literal("FIVE_MINUTE", "FIFTEEN_MINUTE", "ONE_HOUR", "ONE_DAY")
export type Granularity = typeof Granularity.Type

/**
 * One product of `GET .../market/products`. Identity and tradability fields are required; the volume fields are
 * kept as raw strings because Coinbase sends `""` for products without a figure, which the parser skips.
 */
export class CoinbaseProduct extends Schema.Class<CoinbaseProduct>("CoinbaseProduct")({
  product_id: Schema.String,
  base_currency_id: Schema.String,
  quote_currency_id: Schema.String,
  status: Schema.String,
  trading_disabled: Schema.Boolean,
  is_disabled: Schema.optional(Schema.Boolean),
  cancel_only: Schema.optional(Schema.Boolean),
  view_only: Schema.optional(Schema.Boolean),
  product_type: Schema.optional(Schema.String),
  product_venue: Schema.optional(Schema.String),
  base_display_symbol: Schema.optional(Schema.String),
  quote_display_symbol: Schema.optional(Schema.String),
  price: Schema.optional(Schema.String),
  price_percentage_change_24h: Schema.optional(Schema.String),
  volume_24h: Schema.optional(Schema.String),
  approximate_quote_24h_volume: Schema.optional(Schema.String),
  /** Set on an alias product (`BTC-USDC` → `"BTC-USD"`): it trades on the named product's book. */
  alias: Schema.optional(Schema.String),
  alias_to: Schema.optional(Schema.Array(Schema.String))
}) {}

/** The products response. */
export class CoinbaseProductsResponse extends Schema.Class<CoinbaseProductsResponse>("CoinbaseProductsResponse")({
  products: Schema.Array(CoinbaseProduct),
  num_products: Schema.optional(Schema.Int)
}) {}

/**
 * The REST error body (`{"error","code","message","details"}`, some endpoints `error_details`); every field
 * optional, as Coinbase varies it.
 */
export class CoinbaseErrorBody extends Schema.Class<CoinbaseErrorBody>("CoinbaseErrorBody")({
  error: Schema.optional(Schema.String),
  code: Schema.optional(Schema.Union(Schema.Int, Schema.String)),
  message: Schema.optional(Schema.String),
  error_details: Schema.optional(Schema.String),
  details: Schema.optional(Schema.Array(Schema.Unknown))
}) {}

// ---------------------------------------------------------------------------------------------------------------
// REST: private endpoints (JWT)

/** An amount with its currency (`available_balance`, `hold`). */
export class CoinbaseAmount extends Schema.Class<CoinbaseAmount>("CoinbaseAmount")({
  value: Decimal,
  currency: Schema.String
}) {}

/** One account (a currency balance) of `GET /accounts`. */
export class CoinbaseAccount extends Schema.Class<CoinbaseAccount>("CoinbaseAccount")({
  uuid: Schema.String,
  currency: Schema.String,
  available_balance: CoinbaseAmount,
  hold: Schema.optional(CoinbaseAmount),
  type: Schema.optional(Schema.String),
  active: Schema.optional(Schema.Boolean),
  name: Schema.optional(Schema.String)
}) {}

/** One page of `GET /accounts`: loop while `has_next`, passing `cursor` back. */
export class CoinbaseAccountsPage extends Schema.Class<CoinbaseAccountsPage>("CoinbaseAccountsPage")({
  accounts: Schema.Array(CoinbaseAccount),
  has_next: Schema.Boolean,
  cursor: Schema.optional(Schema.String),
  size: Schema.optional(Schema.Int)
}) {}

/** The fee tier of `GET /transaction_summary`; rates are fractions as decimal strings. */
export class CoinbaseFeeTier extends Schema.Class<CoinbaseFeeTier>("CoinbaseFeeTier")({
  pricing_tier: Schema.String,
  usd_from: Schema.optional(Schema.String),
  usd_to: Schema.optional(Schema.String),
  taker_fee_rate: Decimal,
  maker_fee_rate: Decimal,
  aop_from: Schema.optional(Schema.String),
  aop_to: Schema.optional(Schema.String)
}) {}

/** `GET /transaction_summary`. */
export class CoinbaseTransactionSummary extends Schema.Class<CoinbaseTransactionSummary>(
  "CoinbaseTransactionSummary"
)({
  total_volume: Schema.Number,
  total_fees: Schema.Number,
  fee_tier: CoinbaseFeeTier
}) {}

/** One fill of `GET /orders/historical/fills`. */
export class CoinbaseFill extends Schema.Class<CoinbaseFill>("CoinbaseFill")({
  entry_id: Schema.String,
  trade_id: Schema.String,
  order_id: Schema.String,
  trade_time: Schema.String,
  trade_type: Schema.String,
  price: Decimal,
  size: Decimal,
  commission: Decimal,
  product_id: Schema.String,
  sequence_timestamp: Schema.optional(Schema.String),
  liquidity_indicator: Schema.optional(Schema.String),
  size_in_quote: Schema.optional(Schema.Boolean),
  side: Schema.String
}) {}

/** One page of fills: pass `cursor` back until it is empty. */
export class CoinbaseFillsPage extends Schema.Class<CoinbaseFillsPage>("CoinbaseFillsPage")({
  fills: Schema.Array(CoinbaseFill),
  cursor: Schema.optional(Schema.String)
}) {}
