/** The simulator's options, decoded with Schema: every field optional, with the documented default. */
import { Schema } from "effect"
import { Faults } from "./Faults.js"
import { Script } from "./Scripts.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const Ms = Schema.NonNegativeInt
const Ratio = Schema.Number.pipe(Schema.between(0, 1))
const withDefault = <S extends Schema.Schema.Any>(schema: S, value: Schema.Schema.Type<S>) =>
  Schema.optionalWith(schema, { default: () => value })

/** Binance-protocol limits and cadences (real-time unless marked sim). */
export const BinanceOptions = Schema.Struct({
  /** REQUEST_WEIGHT budget per window (binance.com: 6000 per minute). */
  weightPerMinute: withDefault(PositiveInt, 6000),
  /** Length of the weight window, ms (60000 — the `1M` of `X-MBX-USED-WEIGHT-1M`). */
  weightWindowMs: withDefault(PositiveInt, 60_000),
  /** Requests tolerated after a 429 before the IP is banned with 418 (Binance does not publish its threshold). */
  banAfterRejected: withDefault(Schema.NonNegativeInt, 10),
  /** First ban length, ms (2 minutes); each further ban doubles it, up to `banMaxMs`. */
  banBaseMs: withDefault(PositiveInt, 120_000),
  /** Longest ban, ms (3 days). */
  banMaxMs: withDefault(PositiveInt, 3 * 86_400_000),
  /** Server ping frame interval, ms (20 s). */
  pingIntervalMs: withDefault(PositiveInt, 20_000),
  /** Close a connection that has not answered a ping for this long, ms (60 s). */
  pongTimeoutMs: withDefault(PositiveInt, 60_000),
  /** Inbound messages (text, ping, pong) per second before the connection is closed (5). */
  maxMessagesPerSecond: withDefault(PositiveInt, 5),
  /** Streams per connection before it is closed (1024). */
  maxStreams: withDefault(PositiveInt, 1024),
  /** Forced connection lifetime, ms (24 h); 0 disables it. */
  maxLifetimeMs: withDefault(Ms, 86_400_000),
  /** How long before the lifetime cut (or after a `serverShutdown` fault) the `serverShutdown` event is sent, ms. */
  shutdownNoticeMs: withDefault(Ms, 10_000),
  /** Kline push cadence, sim ms (2000). */
  klinePushMs: withDefault(PositiveInt, 2000),
  /** Ticker push cadence, sim ms (1000). */
  tickerPushMs: withDefault(PositiveInt, 1000)
})
export type BinanceOptions = typeof BinanceOptions.Type

/** Coinbase-protocol limits and cadences. */
export const CoinbaseOptions = Schema.Struct({
  /** Public REST requests per second per IP (10). */
  requestsPerSecond: withDefault(PositiveInt, 10),
  /** Close a connection with no subscribe this long after it opened, ms (5 s). */
  subscribeTimeoutMs: withDefault(PositiveInt, 5000),
  /** Close a connection without a `heartbeats` subscription after this long with no data message, ms (75 s). */
  idleTimeoutMs: withDefault(PositiveInt, 75_000),
  /** Heartbeat interval, real ms (1000). */
  heartbeatIntervalMs: withDefault(PositiveInt, 1000),
  /** Candle and ticker update cadence, sim ms (1000). */
  pushMs: withDefault(PositiveInt, 1000),
  /** Largest candle count per REST request (350). */
  maxCandles: withDefault(PositiveInt, 350)
})
export type CoinbaseOptions = typeof CoinbaseOptions.Type

/** Everything `ExchangeSim.make` accepts. */
export const SimOptions = Schema.Struct({
  /** Interface to bind ("127.0.0.1"). */
  host: withDefault(Schema.NonEmptyTrimmedString, "127.0.0.1"),
  /** TCP port; 0 picks a free one (0). */
  port: withDefault(Schema.Int.pipe(Schema.between(0, 65_535)), 0),
  /** How many symbols (50, at most 1000). */
  symbols: withDefault(Schema.Int.pipe(Schema.between(1, 1000)), 50),
  /** Market seed (1). */
  seed: withDefault(Schema.Int, 1),
  /** Sim ms per real ms (1); 0 starts paused. */
  speed: withDefault(Schema.Number.pipe(Schema.finite(), Schema.nonNegative()), 1),
  /** Sim time at start, ms since the epoch (default: the wall clock at start). */
  startTime: Schema.optional(Ms),
  /** Listing time of every symbol, floored to UTC midnight (2019-01-01). No candles before it. */
  listedAt: withDefault(Ms, Date.UTC(2019, 0, 1)),
  /** Share of symbols that are illiquid — the last ones of the list (0.2). */
  illiquidRatio: withDefault(Ratio, 0.2),
  /** Probability that an illiquid symbol's 5-minute bucket has no trades (0.35). */
  emptyBucketProbability: withDefault(Ratio, 0.35),
  /** Shortest real interval between two pushes of the market loop, ms (50). */
  minTickMs: withDefault(PositiveInt, 50),
  binance: withDefault(BinanceOptions, Schema.decodeSync(BinanceOptions)({})),
  coinbase: withDefault(CoinbaseOptions, Schema.decodeSync(CoinbaseOptions)({})),
  /** Faults standing from the start (none). */
  faults: withDefault(Faults, Schema.decodeSync(Faults)({})),
  /** Price scripts installed from the start (none); see `Scripts` and `POST /__sim/script`. */
  scripts: withDefault(Schema.Array(Script), [])
})
export type SimOptions = typeof SimOptions.Type
/** The options as callers write them: every field optional. */
export type SimOptionsInput = typeof SimOptions.Encoded

/** Decode caller options, failing with a readable `ParseError`. */
export const decode = Schema.decodeUnknown(SimOptions, { onExcessProperty: "error" })
