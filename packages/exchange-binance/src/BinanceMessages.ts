/**
 * Binance wire formats (exchanges.md §1): WebSocket frames and REST bodies as Schemas, field names exactly as
 * Binance sends them. Decimal strings decode to numbers here; mapping to domain values is `BinanceParse`.
 * Unknown extra fields are ignored, so additions on Binance's side never break decoding.
 */
import { Schema } from "effect"

/** A decimal string (`"37000.10"`, `"0"`) decoded to a finite number. Binance sends prices and sizes this way. */
export const Decimal = Schema.compose(
  Schema.String.pipe(
    Schema.pattern(/^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/, { message: () => "a decimal string such as \"37000.10\"" })
  ),
  Schema.NumberFromString
).pipe(Schema.finite(), Schema.annotations({ identifier: "Decimal" }))

/** Milliseconds since the epoch, as Binance sends times (numbers). */
export const Millis = Schema.Int.annotations({ identifier: "Millis" })

/** A request id: a 64-bit int, an alphanumeric string or null (exchanges.md §1.2). */
export const RequestId = Schema.Union(Schema.Int, Schema.String, Schema.Null)

// ---------------------------------------------------------------------------------------------------------------
// WebSocket

/** The `k` object of a kline event (exchanges.md §1.3). */
export const KlinePayload = Schema.Struct({
  /** Open time, ms. */
  t: Millis,
  /** Close time = open + interval − 1 ms. */
  T: Millis,
  s: Schema.String,
  /** Interval, e.g. `5m`. */
  i: Schema.String,
  /** First / last trade id; -1 / -1 when nothing traded in the kline. */
  f: Schema.Int,
  L: Schema.Int,
  o: Decimal,
  c: Decimal,
  h: Decimal,
  l: Decimal,
  /** Base-asset volume. */
  v: Decimal,
  /** Number of trades. */
  n: Schema.Int,
  /** True only on the final update of the kline. */
  x: Schema.Boolean,
  /** Quote-asset volume. */
  q: Decimal,
  /** Taker-buy base / quote volume. */
  V: Decimal,
  Q: Decimal,
  /** "Ignore"; missing in some captured payloads, so optional and unchecked. */
  B: Schema.optionalWith(Schema.Unknown, { exact: true })
})
export type KlinePayload = typeof KlinePayload.Type

/** `<symbol>@kline_<interval>` event. */
export const KlineEvent = Schema.Struct({
  e: Schema.Literal("kline"),
  E: Millis,
  s: Schema.String,
  k: KlinePayload
})
export type KlineEvent = typeof KlineEvent.Type

/**
 * The part of a kline event the live path uses: every field a candle is built from, checked; the rest of
 * `KlinePayload` (trade ids and counts, quote and taker volumes) is not decoded for each of the many kline
 * updates a second (it costs as much as the rest together, for values nothing reads).
 */
export const KlineEssentials = Schema.Struct({
  e: Schema.Literal("kline"),
  E: Millis,
  s: Schema.String,
  k: Schema.Struct({ t: Millis, s: Schema.String, i: Schema.String, o: Decimal, c: Decimal, h: Decimal, l: Decimal, v: Decimal, x: Schema.Boolean })
})
export type KlineEssentials = typeof KlineEssentials.Type

/** A kline event inside the combined-stream wrapper. */
export const CombinedKline = Schema.Struct({ stream: Schema.String, data: KlineEssentials })

/** `<symbol>@miniTicker` event: rolling 24 h statistics without top of book. */
export const MiniTickerEvent = Schema.Struct({
  e: Schema.Literal("24hrMiniTicker"),
  E: Millis,
  s: Schema.String,
  /** Last price. */
  c: Decimal,
  o: Decimal,
  h: Decimal,
  l: Decimal,
  /** Base / quote volume over 24 h. */
  v: Decimal,
  q: Decimal
})
export type MiniTickerEvent = typeof MiniTickerEvent.Type

/**
 * `<symbol>@ticker` event: rolling 24 h statistics with best bid and ask (exchanges.md §1.4). The fields the
 * adapter reads are required; the rest are documented but optional, so a venue omitting one is not an error.
 */
export const TickerEvent = Schema.Struct({
  e: Schema.Literal("24hrTicker"),
  E: Millis,
  s: Schema.String,
  /** Last price. */
  c: Decimal,
  /** Best bid / ask price. */
  b: Decimal,
  a: Decimal,
  /** Base / quote volume over 24 h. */
  v: Decimal,
  q: Decimal,
  p: Schema.optionalWith(Decimal, { exact: true }),
  P: Schema.optionalWith(Decimal, { exact: true }),
  w: Schema.optionalWith(Decimal, { exact: true }),
  x: Schema.optionalWith(Decimal, { exact: true }),
  Q: Schema.optionalWith(Decimal, { exact: true }),
  B: Schema.optionalWith(Decimal, { exact: true }),
  A: Schema.optionalWith(Decimal, { exact: true }),
  o: Schema.optionalWith(Decimal, { exact: true }),
  h: Schema.optionalWith(Decimal, { exact: true }),
  l: Schema.optionalWith(Decimal, { exact: true }),
  O: Schema.optionalWith(Millis, { exact: true }),
  C: Schema.optionalWith(Millis, { exact: true }),
  F: Schema.optionalWith(Schema.Int, { exact: true }),
  L: Schema.optionalWith(Schema.Int, { exact: true }),
  n: Schema.optionalWith(Schema.Int, { exact: true })
})
export type TickerEvent = typeof TickerEvent.Type

/** Sent before maintenance; the client should reconnect promptly (exchanges.md §1.1). */
export const ServerShutdown = Schema.Struct({
  e: Schema.Literal("serverShutdown"),
  E: Millis
})
export type ServerShutdown = typeof ServerShutdown.Type

/** Any market event the adapter subscribes to, bare as on `/ws`. */
export const MarketEvent = Schema.Union(KlineEvent, TickerEvent, MiniTickerEvent, ServerShutdown)
export type MarketEvent = typeof MarketEvent.Type

/** The combined-stream wrapper: `{"stream":"btcusdt@kline_5m","data":{...}}` (`stream` = `!serverShutdown` for notices). */
export const Combined = Schema.Struct({
  stream: Schema.String,
  data: MarketEvent
})
export type Combined = typeof Combined.Type

/** Acknowledgement of a control message: `result` is null for SUBSCRIBE, a list or a value for queries. */
export const Ack = Schema.Struct({
  result: Schema.Union(Schema.Null, Schema.Array(Schema.String), Schema.Boolean),
  id: RequestId
})
export type Ack = typeof Ack.Type

/** A refused control message: code 0 unknown property, 1 bad value type, 2 invalid request, 3 invalid JSON. */
export const ControlError = Schema.Struct({
  code: Schema.Int,
  msg: Schema.String,
  id: Schema.optionalWith(RequestId, { exact: true })
})
export type ControlError = typeof ControlError.Type

/** Every text frame the adapter understands: wrapped or bare events, acknowledgements and control errors. */
export const Frame = Schema.Union(Combined, MarketEvent, Ack, ControlError)
export type Frame = typeof Frame.Type

/** A SUBSCRIBE (or UNSUBSCRIBE) control message. */
export const Subscribe = Schema.Struct({
  method: Schema.Literal("SUBSCRIBE", "UNSUBSCRIBE"),
  params: Schema.Array(Schema.String),
  id: RequestId
})
export type Subscribe = typeof Subscribe.Type

// ---------------------------------------------------------------------------------------------------------------
// REST

/**
 * One row of `GET /api/v3/klines` (exchanges.md §1.5): open time, OHLC, volume, close time, quote volume, trade
 * count, taker-buy volumes and an ignored field. Extra trailing elements are accepted.
 */
export const KlineRow = Schema.Tuple(
  [
    Millis, // 0 open time
    Decimal, // 1 open
    Decimal, // 2 high
    Decimal, // 3 low
    Decimal, // 4 close
    Decimal, // 5 base volume
    Millis, // 6 close time
    Decimal, // 7 quote volume
    Schema.Int, // 8 number of trades
    Decimal, // 9 taker-buy base volume
    Decimal, // 10 taker-buy quote volume
    Schema.optionalElement(Schema.Unknown) // 11 unused
  ],
  Schema.Unknown
)
export type KlineRow = typeof KlineRow.Type

/** The body of `GET /api/v3/klines`, oldest first. */
export const Klines = Schema.Array(KlineRow)

/** One entry of `exchangeInfo.rateLimits`. */
export const RateLimit = Schema.Struct({
  /** `REQUEST_WEIGHT`, `RAW_REQUESTS`, `ORDERS`. */
  rateLimitType: Schema.String,
  /** `SECOND`, `MINUTE`, `DAY`. */
  interval: Schema.String,
  intervalNum: Schema.Int,
  limit: Schema.Int
})
export type RateLimit = typeof RateLimit.Type

/** One entry of `exchangeInfo.symbols` (only the fields the adapter reads). */
export const SymbolInfo = Schema.Struct({
  symbol: Schema.String,
  /** `TRADING`, `HALT`, `BREAK`, `CANCEL_ONLY`, … */
  status: Schema.String,
  baseAsset: Schema.String,
  quoteAsset: Schema.String
})
export type SymbolInfo = typeof SymbolInfo.Type

/** The body of `GET /api/v3/exchangeInfo`. */
export const ExchangeInfo = Schema.Struct({
  rateLimits: Schema.Array(RateLimit),
  symbols: Schema.Array(SymbolInfo)
})
export type ExchangeInfo = typeof ExchangeInfo.Type

/** One row of `GET /api/v3/ticker/24hr`: rolling 24 h statistics. Bid and ask are absent with `type=MINI`. */
export const Ticker24h = Schema.Struct({
  symbol: Schema.String,
  /** Base-asset volume. */
  volume: Decimal,
  /** Quote-asset volume: what Tier 1 ranks by. */
  quoteVolume: Decimal,
  lastPrice: Decimal,
  bidPrice: Schema.optionalWith(Decimal, { exact: true }),
  askPrice: Schema.optionalWith(Decimal, { exact: true }),
  closeTime: Millis
})
export type Ticker24h = typeof Ticker24h.Type

/** The body of `GET /api/v3/ticker/24hr` without `symbol`: one row per symbol. */
export const Tickers24h = Schema.Array(Ticker24h)

/** The body of `GET /api/v3/time`. */
export const ServerTime = Schema.Struct({
  serverTime: Millis
})
export type ServerTime = typeof ServerTime.Type

/** An error body, e.g. `{"code":-1121,"msg":"Invalid symbol."}`. */
export const ErrorBody = Schema.Struct({
  code: Schema.Int,
  msg: Schema.String
})
export type ErrorBody = typeof ErrorBody.Type

/** Binance error codes the adapter acts on (binance-spot-api-docs `errors.md`). */
export const ErrorCode = {
  /** Too much request weight used (with HTTP 429/418). */
  TooManyRequests: -1003,
  /** Timestamp outside `recvWindow` of the server's clock. */
  InvalidTimestamp: -1021,
  /** The signature is not valid. */
  InvalidSignature: -1022,
  /** The symbol is not listed. */
  InvalidSymbol: -1121,
  /** API key format invalid. */
  BadApiKeyFormat: -2014,
  /** Invalid API key, IP or permissions. */
  RejectedMbxKey: -2015
} as const

/** One balance of `GET /api/v3/account`. */
export const Balance = Schema.Struct({
  asset: Schema.String,
  free: Decimal,
  locked: Decimal
})
export type Balance = typeof Balance.Type

/** The body of `GET /api/v3/account` (only the fields the adapter reads; `commissionRates` is binance.com's). */
export const Account = Schema.Struct({
  balances: Schema.Array(Balance),
  commissionRates: Schema.optionalWith(Schema.Struct({ maker: Decimal, taker: Decimal }), { exact: true }),
  updateTime: Schema.optionalWith(Millis, { exact: true })
})
export type Account = typeof Account.Type

/** One row of `GET /api/v3/myTrades`. */
export const MyTrade = Schema.Struct({
  symbol: Schema.String,
  /** Trade id, the `fromId` cursor. */
  id: Schema.Int,
  orderId: Schema.Int,
  price: Decimal,
  qty: Decimal,
  quoteQty: Decimal,
  commission: Decimal,
  commissionAsset: Schema.String,
  time: Millis,
  isBuyer: Schema.Boolean,
  isMaker: Schema.Boolean
})
export type MyTrade = typeof MyTrade.Type

/** The body of `GET /api/v3/myTrades`, ascending by id. */
export const MyTrades = Schema.Array(MyTrade)
