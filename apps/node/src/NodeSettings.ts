/**
 * How a node runs (domain.md §5, §9), from configuration and the `start` flags: its mode, the exchange it serves,
 * the symbol universe size, heartbeat and TTL. Read once, in the layers, and checked as a whole so a bad value
 * fails at start with the setting's name.
 */
import { Mode } from "@livermore/domain"
import { Config, ConfigError, Duration, Either, Option, Schema } from "effect"

/** Everything a node needs to know about how to run. */
export interface NodeSettings {
  readonly mode: Mode.Mode
  /** The exchange served (by name, e.g. `binance_us`); required in `exchange` mode. */
  readonly exchange: Option.Option<string>
  /** Start serving the exchange at once instead of waiting idle for a `start` command. */
  readonly autostart: boolean
  /** If another instance holds the exchange, ask it to stop and take over once the lock is free. */
  readonly takeover: boolean
  /** How long a takeover waits for the holder to let go. */
  readonly takeoverWait: Duration.Duration
  /** Tier 1 size: the top N symbols by 24 h quote volume. */
  readonly topN: number
  /** Quote assets Tier 1 is ranked among (e.g. USDT); empty: every quote. */
  readonly quoteAssets: ReadonlyArray<string>
  readonly heartbeatInterval: Duration.Duration
  readonly statusTtl: Duration.Duration
  /** Added to 2 × timeframe before a series counts as stale (and a candle as too old to alert on). */
  readonly staleGrace: Duration.Duration
  /**
   * Serve the public API (`/public/v1`). `LIVERMORE_PUBLIC_API`; default on in `all` and `pw-host` (where it is
   * the point), off in `exchange` (an ingesting node need not face clients).
   */
  readonly servePublicApi: boolean
}

/** Documented defaults (README, docs/operations.md). */
export const defaults = {
  mode: "all" as Mode.Mode,
  topN: 50,
  heartbeatInterval: Duration.seconds(10),
  statusTtl: Duration.seconds(30),
  takeoverWait: Duration.seconds(60),
  staleGrace: Duration.seconds(30)
}

const mode = Config.string("LIVERMORE_MODE").pipe(
  Config.mapOrFail((value) =>
    Either.mapLeft(Schema.decodeUnknownEither(Mode.Mode)(value), () =>
      ConfigError.InvalidData([], `must be one of exchange, pw-host, all; got "${value}"`)
    )
  ),
  Config.withDefault(defaults.mode)
)

/** The settings from the environment; `flags` (from the command line) win over it. */
export const config = (flags: {
  readonly mode: Option.Option<Mode.Mode>
  readonly exchange: Option.Option<string>
  readonly autostart: Option.Option<string>
  readonly takeover: boolean
}): Config.Config<NodeSettings> =>
  Config.all({
    mode,
    exchange: Config.option(Config.nonEmptyString("LIVERMORE_EXCHANGE")),
    topN: Config.integer("LIVERMORE_TOP_N").pipe(
      Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 }),
      Config.withDefault(defaults.topN)
    ),
    quoteAssets: Config.array(Config.nonEmptyString(), "LIVERMORE_QUOTE_ASSETS").pipe(Config.withDefault([])),
    heartbeatInterval: Config.duration("LIVERMORE_HEARTBEAT_INTERVAL").pipe(Config.withDefault(defaults.heartbeatInterval)),
    statusTtl: Config.duration("LIVERMORE_STATUS_TTL").pipe(Config.withDefault(defaults.statusTtl)),
    takeoverWait: Config.duration("LIVERMORE_TAKEOVER_WAIT").pipe(Config.withDefault(defaults.takeoverWait)),
    staleGrace: Config.duration("LIVERMORE_STALE_GRACE").pipe(Config.withDefault(defaults.staleGrace)),
    publicApi: Config.option(Config.boolean("LIVERMORE_PUBLIC_API"))
  }).pipe(
    Config.mapOrFail(({ publicApi, ...env }) => {
      const chosenMode = Option.getOrElse(flags.mode, () => env.mode)
      const settings: NodeSettings = {
        ...env,
        mode: chosenMode,
        servePublicApi: Option.getOrElse(publicApi, () => chosenMode !== "exchange"),
        // `--autostart NAME` names the exchange too; `--exchange` and LIVERMORE_EXCHANGE name it without starting.
        exchange: Option.orElse(flags.autostart, () => Option.orElse(flags.exchange, () => env.exchange)),
        autostart: Option.isSome(flags.autostart),
        takeover: flags.takeover
      }
      return Either.mapLeft(check(settings), (message) => ConfigError.InvalidData([], message))
    })
  )

/** Combinations that cannot work, with the setting to change. */
export const check = (settings: NodeSettings): Either.Either<NodeSettings, string> => {
  if (Duration.greaterThanOrEqualTo(settings.heartbeatInterval, settings.statusTtl)) {
    return Either.left(
      `LIVERMORE_HEARTBEAT_INTERVAL (${Duration.format(settings.heartbeatInterval)}) must be shorter than ` +
        `LIVERMORE_STATUS_TTL (${Duration.format(settings.statusTtl)}), or the status expires between beats`
    )
  }
  if (settings.mode === "pw-host" && !settings.servePublicApi) {
    return Either.left("mode pw-host exists to serve the public API: drop LIVERMORE_PUBLIC_API=false, or use mode exchange")
  }
  if (settings.mode === "exchange" && Option.isNone(settings.exchange)) {
    return Either.left(
      "mode exchange serves one exchange: name it with --autostart NAME, --exchange NAME or LIVERMORE_EXCHANGE"
    )
  }
  if (settings.takeover && !settings.autostart) {
    return Either.left("--takeover takes over when starting: use it with --autostart NAME")
  }
  if (settings.mode === "pw-host" && Option.isSome(settings.exchange)) {
    return Either.left(
      "mode pw-host serves the public API only and ingests no exchange: drop --autostart/--exchange/LIVERMORE_EXCHANGE, or use mode exchange or all"
    )
  }
  return Either.right(settings)
}

/** The settings as log lines. */
export const describe = (settings: NodeSettings): string =>
  `mode ${settings.mode}` +
  Option.match(settings.exchange, {
    onNone: () => ", no exchange",
    onSome: (name) => `, exchange ${name}${settings.autostart ? " (autostart)" : " (idle until started)"}`
  }) +
  `, top ${settings.topN} symbols, heartbeat ${Duration.format(settings.heartbeatInterval)}, status TTL ${Duration.format(settings.statusTtl)}`
