/**
 * The Redis connection: one shared ioredis client for commands, dedicated connections on demand (SUBSCRIBE,
 * blocking XREAD), and the namespace prefix every service puts in front of its keys and channels.
 */
import { Config, Context, Data, Duration, Effect, Either, Layer, Redacted, Runtime, type Scope } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { Redis } from "ioredis"

/** A Redis command failed or a connection could not be made. The message names the host, never the password. */
export class RedisError extends Data.TaggedError("RedisError")<{
  /** The operation: `connect`, or the service operation that issued the command (`CandleCache.upsert`). */
  readonly op: string
  /** `host:port`, without credentials. */
  readonly host: string
  readonly cause: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `Redis ${this.op} on ${this.host} failed: ${cause}`
  }
}

/** The Redis URL cannot be used: not a URL, not `redis:`/`rediss:`, no host, or a non-numeric database. */
export class RedisConfigError extends Data.TaggedError("RedisConfigError")<{
  readonly reason: string
}> {
  override get message(): string {
    return `REDIS_URL is invalid: ${this.reason}; expected redis://[[user]:password@]host[:port][/db] or rediss://…`
  }
}

/** Where and how to connect. */
export interface Options {
  /** `redis://` or `rediss://` URL, optionally with user, password and database number. */
  readonly url: string | Redacted.Redacted<string>
  /**
   * Namespace prepended to every key and channel by the services of this package (not by ioredis, whose
   * `keyPrefix` covers neither pub/sub channels nor SCAN results). Default `""`.
   */
  readonly keyPrefix?: string | undefined
  /** Bound on making a connection (TCP, TLS and the ready check). Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/** One connection and a way to run commands on it, mapping failures to `RedisError`. */
export interface Connection {
  /** The ioredis client itself, for commands this interface does not wrap. */
  readonly redis: Redis
  /** Run `f` on the connection; a rejection becomes a `RedisError` tagged with `op`. */
  readonly use: <A>(op: string, f: (redis: Redis) => Promise<A>) => Effect.Effect<A, RedisError>
}

/** The shared Redis connection plus the namespace and a factory of dedicated connections. */
export class RedisClient extends Context.Tag("@livermore/cache/RedisClient")<
  RedisClient,
  Connection & {
    /** `host:port` of the server, without credentials: for messages and logs. */
    readonly host: string
    /** The namespace prefix (`Options.keyPrefix`). */
    readonly prefix: string
    /** `prefix + name`: the physical key or channel for a `Keys` name. */
    readonly key: (name: string) => string
    /**
     * A new connection of its own, closed with the scope: for SUBSCRIBE (a subscribed connection can run
     * nothing else) and blocking XREAD (which would stall every other command on a shared one).
     */
    readonly dedicated: Effect.Effect<Connection, RedisError, Scope.Scope>
  }
>() {}

const defaultConnectTimeout = Duration.seconds(5)

/** A validated URL and its `host:port` (for messages). */
export interface Target {
  readonly url: string
  readonly host: string
}

/** Validate a Redis URL without connecting; the error never echoes the URL (it may hold a password). */
export const parseUrl = (url: string): Either.Either<Target, RedisConfigError> => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return Either.left(new RedisConfigError({ reason: "it is not a URL" }))
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    return Either.left(
      new RedisConfigError({ reason: `the scheme is "${parsed.protocol.slice(0, 20)}", not redis: or rediss:` })
    )
  }
  if (parsed.hostname === "") return Either.left(new RedisConfigError({ reason: "it names no host" }))
  if (parsed.pathname !== "" && parsed.pathname !== "/" && !/^\/\d+$/.test(parsed.pathname)) {
    return Either.left(new RedisConfigError({ reason: "the path must be empty or a database number" }))
  }
  return Either.right({ url, host: `${parsed.hostname}:${parsed.port === "" ? "6379" : parsed.port}` })
}

const attempt =
  (host: string, redis: Redis) =>
  <A>(op: string, f: (redis: Redis) => Promise<A>): Effect.Effect<A, RedisError> =>
    Effect.tryPromise({ try: () => f(redis), catch: (cause) => new RedisError({ op, host, cause }) })

/**
 * Open one connection, failing fast: no reconnect attempts until it has been ready once (ioredis would retry
 * a refused or unresolvable host forever), and a hard bound on the whole handshake. Once up, it reconnects
 * with a capped back-off and replays its subscriptions.
 */
const open = (
  target: Target,
  connectTimeout: Duration.Duration,
  close: "quit" | "disconnect"
): Effect.Effect<Redis, RedisError, Scope.Scope> =>
  Effect.gen(function* () {
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    let established = false
    let lastError: unknown
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new Redis(target.url, {
          lazyConnect: true,
          connectTimeout: Duration.toMillis(connectTimeout),
          maxRetriesPerRequest: 3,
          retryStrategy: (attempts) => (established ? Math.min(attempts * 200, 2_000) : null)
        })
        client.on("error", (error: unknown) => {
          lastError = error
          if (established) {
            runFork(Effect.logWarning("Redis connection error; reconnecting", { host: target.host, error: String(error) }))
          }
        })
        return client
      }),
      (client) =>
        close === "quit" && client.status === "ready"
          ? Effect.tryPromise(() => client.quit()).pipe(
              Effect.timeout("1 second"),
              Effect.ignore,
              Effect.ensuring(Effect.sync(() => client.disconnect()))
            )
          : Effect.sync(() => client.disconnect())
    )
    // Outside the (uninterruptible) acquire, so the timeout can abandon a handshake that never completes.
    yield* Effect.tryPromise({
      try: () => redis.connect(),
      catch: (cause) => new RedisError({ op: "connect", host: target.host, cause: lastError ?? cause })
    }).pipe(
      Effect.timeoutFail({
        duration: connectTimeout,
        onTimeout: () =>
          new RedisError({
            op: "connect",
            host: target.host,
            cause: `no ready connection within ${Duration.format(connectTimeout)}`
          })
      }),
      Effect.tapError(() => Effect.sync(() => redis.disconnect()))
    )
    established = true
    return redis
  })

/** Connect (scoped: the connection is closed with QUIT when the scope closes). */
export const make = (
  options: Options
): Effect.Effect<Context.Tag.Service<RedisClient>, RedisError | RedisConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const url = typeof options.url === "string" ? options.url : Redacted.value(options.url)
    const target = yield* parseUrl(url)
    const prefix = options.keyPrefix ?? ""
    const timeout = options.connectTimeout === undefined ? defaultConnectTimeout : Duration.decode(options.connectTimeout)
    const redis = yield* open(target, timeout, "quit")
    return RedisClient.of({
      redis,
      use: attempt(target.host, redis),
      host: target.host,
      prefix,
      key: (name) => prefix + name,
      dedicated: Effect.map(open(target, timeout, "disconnect"), (own) => ({ redis: own, use: attempt(target.host, own) }))
    })
  })

/** A client for explicit options. */
export const layer = (options: Options): Layer.Layer<RedisClient, RedisError | RedisConfigError> =>
  Layer.scoped(RedisClient, make(options))

/**
 * Reads `REDIS_URL` (required, redacted), `REDIS_KEY_PREFIX` (default `""`) and `REDIS_CONNECT_TIMEOUT`
 * (default 5 seconds).
 */
export const config: Config.Config<Options> = Config.all({
  url: Config.redacted("REDIS_URL").pipe(Config.withDescription("Redis URL, redis://[[user]:password@]host[:port][/db]")),
  keyPrefix: Config.string("REDIS_KEY_PREFIX").pipe(
    Config.withDefault(""),
    Config.withDescription("Namespace prepended to every key and channel (default empty)")
  ),
  connectTimeout: Config.duration("REDIS_CONNECT_TIMEOUT").pipe(
    Config.withDefault(defaultConnectTimeout),
    Config.withDescription("Bound on establishing a Redis connection (default 5 seconds)")
  )
})

/** A client configured from the environment (`config`). */
export const layerConfig: Layer.Layer<RedisClient, ConfigError | RedisError | RedisConfigError> = Layer.scoped(
  RedisClient,
  Effect.flatMap(config, make)
)
