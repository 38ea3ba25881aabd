/** Settings of the public API, with documented defaults and their environment keys. */
import { Config, Context, Duration, Layer } from "effect"

export class PublicApiConfig extends Context.Tag("@livermore/public-api/PublicApiConfig")<
  PublicApiConfig,
  {
    /** Requests per minute per API key, shared by every instance. Default 300, env `PUBLIC_API_RATE_LIMIT`. */
    readonly requestsPerMinute: number
    /**
     * Origins allowed to call the API from a browser (CORS). Default none: only same-origin and non-browser
     * clients. Env `PUBLIC_API_CORS_ORIGINS`, comma-separated; `*` allows every origin.
     */
    readonly corsOrigins: ReadonlyArray<string>
    /** Concurrent stream connections per key. Default 5, env `PUBLIC_STREAM_MAX_CONNECTIONS_PER_KEY`. */
    readonly streamConnectionsPerKey: number
    /**
     * Messages waiting for one stream client before it is disconnected as too slow (close code 4008).
     * Default 1000, env `PUBLIC_STREAM_QUEUE_LIMIT`.
     */
    readonly streamQueueLimit: number
    /**
     * Interval of the server's ping; a client that has not answered the previous ping is disconnected.
     * Default 30 seconds, env `PUBLIC_STREAM_PING_INTERVAL`.
     */
    readonly streamPingInterval: Duration.Duration
    /**
     * How long a process reuses what it read for many requests: the exchange and symbol lists, and each encoded
     * candle page (a close of the series replaces its pages at once). Default 1 second; 0 turns it off. Env
     * `PUBLIC_API_CACHE_TTL` (a duration such as `500 millis`).
     */
    readonly cacheTtl: Duration.Duration
  }
>() {}

export const defaults: Context.Tag.Service<PublicApiConfig> = {
  requestsPerMinute: 300,
  corsOrigins: [],
  streamConnectionsPerKey: 5,
  streamQueueLimit: 1000,
  streamPingInterval: Duration.seconds(30),
  cacheTtl: Duration.seconds(1)
}

const positive = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be a positive integer`, validation: (n) => n > 0 }),
    Config.withDefault(fallback)
  )

/** Reads the environment keys above, each with its default. */
export const config: Config.Config<Context.Tag.Service<PublicApiConfig>> = Config.all({
  requestsPerMinute: positive("PUBLIC_API_RATE_LIMIT", defaults.requestsPerMinute),
  corsOrigins: Config.string("PUBLIC_API_CORS_ORIGINS").pipe(
    Config.map((text) =>
      text
        .split(",")
        .map((origin) => origin.trim())
        .filter((origin) => origin !== "")
    ),
    Config.validate({
      message: "PUBLIC_API_CORS_ORIGINS must be `*` or comma-separated origins such as https://app.example.com",
      validation: (origins) => origins.every((o) => o === "*" || /^https?:\/\/[^/\s]+$/.test(o))
    }),
    Config.withDefault(defaults.corsOrigins)
  ),
  streamConnectionsPerKey: positive("PUBLIC_STREAM_MAX_CONNECTIONS_PER_KEY", defaults.streamConnectionsPerKey),
  streamQueueLimit: positive("PUBLIC_STREAM_QUEUE_LIMIT", defaults.streamQueueLimit),
  streamPingInterval: Config.duration("PUBLIC_STREAM_PING_INTERVAL").pipe(Config.withDefault(defaults.streamPingInterval)),
  cacheTtl: Config.duration("PUBLIC_API_CACHE_TTL").pipe(
    Config.validate({
      message: "PUBLIC_API_CACHE_TTL must be at most 1 minute (0 turns the cache off)",
      validation: (ttl) => Duration.lessThanOrEqualTo(ttl, Duration.minutes(1))
    }),
    Config.withDefault(defaults.cacheTtl)
  )
})

/** The config from the environment. */
export const layerConfig = Layer.effect(PublicApiConfig, config)

/** A config from explicit values (tests, embedding); anything left out takes its default. */
export const layer = (overrides: Partial<Context.Tag.Service<PublicApiConfig>> = {}) =>
  Layer.succeed(PublicApiConfig, { ...defaults, ...overrides })
