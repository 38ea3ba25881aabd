/**
 * Tunables of the Coinbase adapter, with documented defaults and environment keys. URLs and venue limits are
 * not here: they come from the exchange's row (`Exchange.wsUrl`, `restUrl`, `apiLimits`).
 */
import { Config, Duration } from "effect"

/** Resolved settings of one Coinbase adapter. */
export interface CoinbaseConfig {
  /**
   * No frame for this long → the connection is dead: reconnect. Heartbeats arrive every second, so a few
   * seconds of silence is already abnormal (exchanges.md §4.8). Default 8 s, env `COINBASE_WS_IDLE_TIMEOUT`.
   */
  readonly idleTimeout: Duration.Duration
  /**
   * How long past a 5m bucket's end the timer waits before closing a candle no later `start` has closed, so the
   * bucket's last update (sent about once a second) is not cut off. Default 3 s, env `COINBASE_CANDLE_CLOSE_GRACE`.
   */
  readonly closeGrace: Duration.Duration
  /** First reconnect delay, doubling (jittered) up to `reconnectMax`. Default 500 ms, env `COINBASE_RECONNECT_INITIAL`. */
  readonly reconnectInitial: Duration.Duration
  /** Longest reconnect delay. Default 30 s, env `COINBASE_RECONNECT_MAX`. */
  readonly reconnectMax: Duration.Duration
  /**
   * Consecutive failed connection attempts before the stream fails with `Disconnected`; `undefined` never gives
   * up. Default never, env `COINBASE_RECONNECT_MAX_ATTEMPTS`.
   */
  readonly maxReconnectAttempts: number | undefined
  /** REST requests in flight at once. Default 4, env `COINBASE_REST_CONCURRENCY`. */
  readonly restMaxConcurrency: number
  /** Retries of one REST request after 429s. Default 3, env `COINBASE_REST_MAX_RETRIES`. */
  readonly restMaxRetries: number
}

/** The defaults listed on each field. */
export const defaults: CoinbaseConfig = {
  idleTimeout: Duration.seconds(8),
  closeGrace: Duration.seconds(3),
  reconnectInitial: Duration.millis(500),
  reconnectMax: Duration.seconds(30),
  maxReconnectAttempts: undefined,
  restMaxConcurrency: 4,
  restMaxRetries: 3
}

/** Overrides (tests, embedding); durations as any `DurationInput`, anything left out takes its default. */
export interface Options {
  readonly idleTimeout?: Duration.DurationInput | undefined
  readonly closeGrace?: Duration.DurationInput | undefined
  readonly reconnectInitial?: Duration.DurationInput | undefined
  readonly reconnectMax?: Duration.DurationInput | undefined
  readonly maxReconnectAttempts?: number | undefined
  readonly restMaxConcurrency?: number | undefined
  readonly restMaxRetries?: number | undefined
}

const positiveInteger = (name: string, n: number): number => {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${name} must be a positive integer, got ${n}`)
  return n
}

const duration = (input: Duration.DurationInput | undefined, fallback: Duration.Duration): Duration.Duration =>
  input === undefined ? fallback : Duration.decode(input)

/** Settings from `options` over the defaults. Throws a `RangeError` for a non-positive count (a programming error). */
export const make = (options: Options = {}): CoinbaseConfig => ({
  idleTimeout: duration(options.idleTimeout, defaults.idleTimeout),
  closeGrace: duration(options.closeGrace, defaults.closeGrace),
  reconnectInitial: duration(options.reconnectInitial, defaults.reconnectInitial),
  reconnectMax: duration(options.reconnectMax, defaults.reconnectMax),
  maxReconnectAttempts:
    options.maxReconnectAttempts === undefined
      ? defaults.maxReconnectAttempts
      : positiveInteger("maxReconnectAttempts", options.maxReconnectAttempts),
  restMaxConcurrency: positiveInteger("restMaxConcurrency", options.restMaxConcurrency ?? defaults.restMaxConcurrency),
  restMaxRetries: Math.max(0, Math.floor(options.restMaxRetries ?? defaults.restMaxRetries))
})

const positive = (name: string) =>
  Config.validate({ message: `${name} must be a positive integer`, validation: (n: number) => Number.isInteger(n) && n > 0 })

/** Reads the `COINBASE_*` keys listed on each field, each with its documented default. */
export const config: Config.Config<CoinbaseConfig> = Config.all({
  idleTimeout: Config.duration("COINBASE_WS_IDLE_TIMEOUT").pipe(
    Config.withDefault(defaults.idleTimeout),
    Config.withDescription("Coinbase WebSocket silence before reconnecting (default 8 seconds)")
  ),
  closeGrace: Config.duration("COINBASE_CANDLE_CLOSE_GRACE").pipe(
    Config.withDefault(defaults.closeGrace),
    Config.withDescription("Wait past a 5m bucket's end before closing it by timer (default 3 seconds)")
  ),
  reconnectInitial: Config.duration("COINBASE_RECONNECT_INITIAL").pipe(
    Config.withDefault(defaults.reconnectInitial),
    Config.withDescription("First reconnect delay (default 500 millis)")
  ),
  reconnectMax: Config.duration("COINBASE_RECONNECT_MAX").pipe(
    Config.withDefault(defaults.reconnectMax),
    Config.withDescription("Longest reconnect delay (default 30 seconds)")
  ),
  maxReconnectAttempts: Config.integer("COINBASE_RECONNECT_MAX_ATTEMPTS").pipe(
    positive("COINBASE_RECONNECT_MAX_ATTEMPTS"),
    Config.option,
    Config.map((o) => (o._tag === "Some" ? o.value : undefined)),
    Config.withDescription("Failed connection attempts in a row before giving up (default: never)")
  ),
  restMaxConcurrency: Config.integer("COINBASE_REST_CONCURRENCY").pipe(
    positive("COINBASE_REST_CONCURRENCY"),
    Config.withDefault(defaults.restMaxConcurrency),
    Config.withDescription("Coinbase REST requests in flight at once (default 4)")
  ),
  restMaxRetries: Config.integer("COINBASE_REST_MAX_RETRIES").pipe(
    Config.validate({ message: "COINBASE_REST_MAX_RETRIES must be 0 or more", validation: (n) => n >= 0 }),
    Config.withDefault(defaults.restMaxRetries),
    Config.withDescription("Retries of a Coinbase REST request after HTTP 429 (default 3)")
  )
})
