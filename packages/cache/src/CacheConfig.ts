/** Tunables of the cache services, with documented defaults and their environment keys. */
import { Config, Context, Duration, Effect, Layer } from "effect"
import type { ConfigError } from "effect/ConfigError"

/** Settings shared by the cache services. */
export class CacheConfig extends Context.Tag("@livermore/cache/CacheConfig")<
  CacheConfig,
  {
    /**
     * Most candles kept per series; an upsert trims the oldest beyond it. Default 500 (domain.md §4),
     * env `CANDLE_CACHE_SIZE`.
     */
    readonly candleCacheSize: number
    /**
     * How long event-log entries are kept: each append trims entries older than this (approximately on
     * Redis, `MINID ~`). Default 90 days (domain.md §4), env `EVENT_LOG_RETENTION` (e.g. `90 days`).
     */
    readonly eventLogRetention: Duration.Duration
  }
>() {}

/** The defaults: 500 candles per series, 90 days of event log. */
export const defaults: Context.Tag.Service<CacheConfig> = {
  candleCacheSize: 500,
  eventLogRetention: Duration.days(90)
}

/** Overrides accepted by `layer`: durations may be given as any `DurationInput`. */
export interface Options {
  readonly candleCacheSize?: number | undefined
  readonly eventLogRetention?: Duration.DurationInput | undefined
}

const candleCacheSize = (n: number): boolean => Number.isInteger(n) && n > 0

/** A config from explicit values (tests, embedding); anything left out takes its default. */
export const layer = (options: Options = {}): Layer.Layer<CacheConfig> =>
  Layer.effect(
    CacheConfig,
    Effect.suspend(() => {
      const size = options.candleCacheSize ?? defaults.candleCacheSize
      if (!candleCacheSize(size)) return Effect.dieMessage(`candleCacheSize must be a positive integer, got ${size}`)
      return Effect.succeed({
        candleCacheSize: size,
        eventLogRetention:
          options.eventLogRetention === undefined
            ? defaults.eventLogRetention
            : Duration.decode(options.eventLogRetention)
      })
    })
  )

/** Reads `CANDLE_CACHE_SIZE` and `EVENT_LOG_RETENTION`, each with its documented default. */
export const config: Config.Config<Context.Tag.Service<CacheConfig>> = Config.all({
  candleCacheSize: Config.integer("CANDLE_CACHE_SIZE").pipe(
    Config.validate({ message: "CANDLE_CACHE_SIZE must be a positive integer", validation: candleCacheSize }),
    Config.withDefault(defaults.candleCacheSize),
    Config.withDescription("Most candles kept per exchange, symbol and timeframe (default 500)")
  ),
  eventLogRetention: Config.duration("EVENT_LOG_RETENTION").pipe(
    Config.withDefault(defaults.eventLogRetention),
    Config.withDescription("How long lifecycle events are kept in logs:network:* (default 90 days)")
  )
})

/** The config read from the environment (`config`). */
export const layerConfig: Layer.Layer<CacheConfig, ConfigError> = Layer.effect(
  CacheConfig,
  config
)
