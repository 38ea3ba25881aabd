/**
 * Tunables of the Binance adapter that an `exchanges` row does not carry: liveness and recycling of
 * WebSocket connections, REST request weights and retries. Everything venue-specific (URLs, budgets, stream
 * limits) comes from the row, so binance.com, binance.us and the simulator share these defaults.
 */
import { Context, Duration, Layer } from "effect"

/** REST request weights, in the exchange's REQUEST_WEIGHT units (exchanges.md §1.5, §1.7). */
export interface Weights {
  /** `GET /api/v3/klines`, any `limit`. binance.com 2 (binance.us 1). */
  readonly klines: number
  /** `GET /api/v3/exchangeInfo` without filters. binance.com 20 (binance.us 10). */
  readonly exchangeInfo: number
  /** `GET /api/v3/ticker/24hr` without `symbol`: every symbol. binance.com 80 (binance.us 40). */
  readonly ticker24hAll: number
  /** `GET /api/v3/account`. binance.com 20 (binance.us 10). */
  readonly account: number
  /** `GET /api/v3/myTrades` without `orderId`. 20 on both. */
  readonly myTrades: number
  /** `GET /api/v3/time`. 1 on both. */
  readonly time: number
}

/** The adapter's tunables. */
export interface Settings {
  /**
   * No inbound frame (message or ping) for this long means the connection is dead. Binance pings every 20 s
   * (binance.us every 3 min per its 2023 docs), and kline streams push every 2 s, so 60 s is generous on
   * binance.com and still far below binance.us's 10-minute pong deadline. Default 60 s.
   */
  readonly idleTimeout: Duration.Duration
  /**
   * How long before the row's `wsMaxConnectionHours` cut a connection is recycled, so the cut never lands on a
   * live connection (exchanges.md §4.1). Default 30 minutes (23.5 h on a 24 h venue).
   */
  readonly recycleMargin: Duration.Duration
  /**
   * Stream names per SUBSCRIBE message. Every message counts against the 5 msg/s inbound limit, so streams are
   * batched; a large batch keeps a 1024-stream connection at a handful of messages. Default 200.
   */
  readonly streamsPerSubscribe: number
  /** Reconnect back-off, exponential from `initial` to `max`, jittered. Default 500 ms to 30 s. */
  readonly backoff: { readonly initial: Duration.Duration; readonly max: Duration.Duration }
  /** Consecutive failed connection attempts before the stream fails with `Disconnected`. Default: never give up. */
  readonly maxConnectAttempts: number | undefined
  /**
   * REST weights. The row carries only the budget, not per-endpoint weights; binance.com's weights are the
   * defaults, which over-count binance.us's by 2× (conservative), and the governor corrects its estimate from
   * `X-MBX-USED-WEIGHT-1M` on every response.
   */
  readonly weights: Weights
  /** REST requests in flight at once per exchange. Default 4. */
  readonly restConcurrency: number
  /** Retries of one REST request after 429s before it fails with `RateLimited`. Default 3. */
  readonly maxRetries: number
  /** `recvWindow` of signed requests, ms (Binance default 5000, max 60000). Default 5000. */
  readonly recvWindow: number
  /**
   * How long a measured offset to the server's clock (`GET /api/v3/time`) is trusted before it is measured
   * again. The offset decides which klines have closed and stamps signed requests. Default 10 minutes.
   */
  readonly timeSyncInterval: Duration.Duration
}

/** The defaults documented on each field of `Settings`. */
export const defaults: Settings = {
  idleTimeout: Duration.seconds(60),
  recycleMargin: Duration.minutes(30),
  streamsPerSubscribe: 200,
  backoff: { initial: Duration.millis(500), max: Duration.seconds(30) },
  maxConnectAttempts: undefined,
  weights: { klines: 2, exchangeInfo: 20, ticker24hAll: 80, account: 20, myTrades: 20, time: 1 },
  restConcurrency: 4,
  maxRetries: 3,
  recvWindow: 5000,
  timeSyncInterval: Duration.minutes(10)
}

/**
 * The adapter's settings. A reference with `defaults` as its value, so the adapter layer needs nothing but an
 * `HttpClient`; provide `layer(overrides)` to change them (tests shorten the back-off, for instance).
 */
export class BinanceConfig extends Context.Reference<BinanceConfig>()("@livermore/exchange-binance/BinanceConfig", {
  defaultValue: (): Settings => defaults
}) {}

/** Overrides accepted by `layer`; durations may be any `DurationInput`. */
export interface Options {
  readonly idleTimeout?: Duration.DurationInput | undefined
  readonly recycleMargin?: Duration.DurationInput | undefined
  readonly streamsPerSubscribe?: number | undefined
  readonly backoff?: { readonly initial: Duration.DurationInput; readonly max: Duration.DurationInput } | undefined
  readonly maxConnectAttempts?: number | undefined
  readonly weights?: Partial<Weights> | undefined
  readonly restConcurrency?: number | undefined
  readonly maxRetries?: number | undefined
  readonly recvWindow?: number | undefined
  readonly timeSyncInterval?: Duration.DurationInput | undefined
}

const positiveInt = (name: string, n: number): number => {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`BinanceConfig.${name} must be a positive integer, got ${n}`)
  return n
}

/** Settings from explicit overrides; anything left out keeps its default. Throws `RangeError` on a nonsensical count. */
export const make = (options: Options = {}): Settings => {
  const recvWindow = positiveInt("recvWindow", options.recvWindow ?? defaults.recvWindow)
  if (recvWindow > 60_000) throw new RangeError(`BinanceConfig.recvWindow is at most 60000 ms, got ${recvWindow}`)
  const maxConnectAttempts = options.maxConnectAttempts ?? defaults.maxConnectAttempts
  return {
    idleTimeout: Duration.decode(options.idleTimeout ?? defaults.idleTimeout),
    recycleMargin: Duration.decode(options.recycleMargin ?? defaults.recycleMargin),
    streamsPerSubscribe: positiveInt("streamsPerSubscribe", options.streamsPerSubscribe ?? defaults.streamsPerSubscribe),
    backoff:
      options.backoff === undefined
        ? defaults.backoff
        : { initial: Duration.decode(options.backoff.initial), max: Duration.decode(options.backoff.max) },
    maxConnectAttempts:
      maxConnectAttempts === undefined ? undefined : positiveInt("maxConnectAttempts", maxConnectAttempts),
    weights: { ...defaults.weights, ...options.weights },
    restConcurrency: positiveInt("restConcurrency", options.restConcurrency ?? defaults.restConcurrency),
    maxRetries: options.maxRetries ?? defaults.maxRetries,
    recvWindow,
    timeSyncInterval: Duration.decode(options.timeSyncInterval ?? defaults.timeSyncInterval)
  }
}

/** Provides settings built by `make(options)`. */
export const layer = (options: Options = {}): Layer.Layer<BinanceConfig> =>
  Layer.sync(BinanceConfig, () => make(options))
