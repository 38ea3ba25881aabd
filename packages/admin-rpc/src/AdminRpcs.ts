/**
 * The admin RPC, shared by the server (`AdminHandlers`) and the browser (`apps/admin-web`): every procedure, its
 * payload, success and error schemas. Every one runs behind `AdminAuth` and needs the `admin` role.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Alert, Candle, Exchange, Lifecycle, Market, Mode, Status, Timeframe, UserSettings, Warmup } from "@livermore/domain"
import { Schema } from "effect"
import { AdminAuth, AdminUser } from "./AdminAuth.js"

/** A storage or cache failure on the server: the call can be retried; the message says what failed. */
export class AdminRequestFailed extends Schema.TaggedError<AdminRequestFailed>()("AdminRequestFailed", {
  message: Schema.String
}) {}

/** What the call names does not exist (an API key id, an exchange name). */
export class AdminNotFound extends Schema.TaggedError<AdminNotFound>()("AdminNotFound", {
  entity: Schema.String,
  key: Schema.String,
  message: Schema.String
}) {}

/** One exchange of the network: its catalog row and, while an instance serves it, that instance's status. */
export class ExchangeCard extends Schema.Class<ExchangeCard>("ExchangeCard")({
  exchangeId: Exchange.ExchangeId,
  name: Exchange.ExchangeName,
  displayName: Schema.String,
  isActive: Schema.Boolean,
  /** `null`: no instance serves it (offline, or its status expired). */
  status: Schema.NullOr(Status.InstanceStatus),
  /** Milliseconds since the instance's last heartbeat, when the server read the status. */
  heartbeatAgeMs: Schema.NullOr(Schema.Number),
  /**
   * Every running instance of this exchange, as each announces itself (`instance:{instanceId}`): the holder and
   * those waiting, idle or stopped, for a `start` — the ones "Connect" can use.
   */
  instances: Schema.Array(Status.InstanceStatus)
}) {}

/** The instance holding an exchange's lock, as the takeover warning shows it. */
export class LockHolder extends Schema.Class<LockHolder>("LockHolder")({
  instanceId: Schema.String,
  hostname: Schema.String,
  ipAddress: Schema.NullOr(Schema.String),
  connectedAt: Schema.NullOr(Schema.DateTimeUtc),
  connectionState: Lifecycle.ConnectionState
}) {}

/**
 * Another instance serves the exchange: connecting would take it over, which only an explicit confirmation does
 * (`Connect` again with `takeover: true`).
 */
export class ExchangeHeld extends Schema.TaggedError<ExchangeHeld>()("ExchangeHeld", {
  exchange: Exchange.ExchangeName,
  holder: LockHolder,
  message: Schema.String
}) {}

/** One entry of an exchange's network event log. */
export class NetworkEvent extends Schema.Class<NetworkEvent>("NetworkEvent")({
  /** The Redis Stream entry id: unique, and ordered within one exchange's log. */
  id: Schema.String,
  exchangeName: Exchange.ExchangeName,
  event: Lifecycle.LifecycleEvent
}) {}

/** Filters of the event log; every one optional. */
export const NetworkLogQuery = Schema.Struct({
  /** One exchange's log; absent: every exchange's, merged by time. */
  exchange: Schema.optional(Exchange.ExchangeName),
  types: Schema.optional(Schema.Array(Lifecycle.EventType)),
  /** Events that happened at or after this time (their `at`). */
  since: Schema.optional(Schema.DateTimeUtc),
  /** Events that happened at or before this time. */
  until: Schema.optional(Schema.DateTimeUtc),
  /** Most entries returned, newest first. Default 200, at most 1,000. */
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 1000)))
})
export type NetworkLogQuery = typeof NetworkLogQuery.Type

/** A public API key as the admin sees it: never the key itself. */
export class ApiKeyView extends Schema.Class<ApiKeyView>("ApiKeyView")({
  id: Schema.Int,
  prefix: Schema.String,
  name: Schema.String,
  createdAt: Schema.DateTimeUtc,
  lastUsedAt: Schema.NullOr(Schema.DateTimeUtc),
  revokedAt: Schema.NullOr(Schema.DateTimeUtc)
}) {}

/** A key just created: `secret` is the key, shown this once. */
export class CreatedApiKey extends Schema.Class<CreatedApiKey>("CreatedApiKey")({
  key: ApiKeyView,
  secret: Schema.String
}) {}

/** A key's name; surrounding spaces are dropped by the server. */
/** A control command as the admin asks for it; the server adds its id, time and issuer. */
export const CommandRequest = Schema.Union(
  Schema.TaggedStruct("start", {}),
  Schema.TaggedStruct("stop", { reason: Schema.String }),
  Schema.TaggedStruct("pause", {}),
  Schema.TaggedStruct("resume", {}),
  Schema.TaggedStruct("reload-settings", {}),
  Schema.TaggedStruct("force-backfill", {
    symbols: Schema.optionalWith(Schema.Array(Market.SymbolId), { exact: true }),
    timeframes: Schema.optionalWith(Schema.Array(Timeframe.Timeframe), { exact: true })
  }),
  Schema.TaggedStruct("clear-cache", { symbols: Schema.optionalWith(Schema.Array(Market.SymbolId), { exact: true }) }),
  Schema.TaggedStruct("switch-mode", { mode: Mode.Mode }),
  Schema.TaggedStruct("status", {})
)
export type CommandRequest = typeof CommandRequest.Type

/** What the instance answered. */
export class CommandResult extends Schema.Class<CommandResult>("CommandResult")({
  commandId: Schema.String,
  instanceId: Schema.String,
  finishedAt: Schema.DateTimeUtc,
  /** The command's outcome (a status, counts, …), as the instance reported it. */
  data: Schema.Unknown
}) {}

/** Nothing acknowledged the command: no instance with that id is running. */
export class CommandNotAcknowledged extends Schema.TaggedError<CommandNotAcknowledged>()("CommandNotAcknowledged", {
  instanceId: Schema.String,
  command: Schema.String,
  message: Schema.String
}) {}

/** The instance ran the command, or refused it, and reported why it failed. */
export class CommandRejected extends Schema.TaggedError<CommandRejected>()("CommandRejected", {
  instanceId: Schema.String,
  command: Schema.String,
  error: Schema.String,
  message: Schema.String
}) {}

/** The instance acknowledged the command but no result came in time (it may still finish). */
export class CommandTimedOut extends Schema.TaggedError<CommandTimedOut>()("CommandTimedOut", {
  instanceId: Schema.String,
  command: Schema.String,
  message: Schema.String
}) {}

/** One finished command of an instance's history. */
export class CommandRecord extends Schema.Class<CommandRecord>("CommandRecord")({
  commandId: Schema.String,
  name: Schema.String,
  issuedBy: Schema.String,
  issuedAt: Schema.DateTimeUtc,
  receivedAt: Schema.DateTimeUtc,
  finishedAt: Schema.DateTimeUtc,
  outcome: Schema.Literal("succeeded", "failed"),
  error: Schema.NullOr(Schema.String)
}) {}

/** One bar of the chart: the candle and MACD-V after it (admins see the indicator; the public API never does). */
export class ChartBar extends Schema.Class<ChartBar>("ChartBar")({
  ...Candle.Candle.fields,
  /** `null` while the indicator has no value (not seeded yet, or a forming candle). */
  macdV: Schema.NullOr(Schema.Number),
  signal: Schema.NullOr(Schema.Number),
  histogram: Schema.NullOr(Schema.Number)
}) {}

/** A stored alert. */
export class AlertView extends Schema.Class<AlertView>("AlertView")({
  id: Schema.String,
  alert: Alert.Alert,
  notificationSent: Schema.Boolean
}) {}

/** A series' candles with MACD-V, and its alerts among them. */
export class Chart extends Schema.Class<Chart>("Chart")({
  exchange: Exchange.ExchangeName,
  symbol: Market.SymbolId,
  timeframe: Timeframe.Timeframe,
  bars: Schema.Array(ChartBar),
  alerts: Schema.Array(AlertView)
}) {}

/** A symbol of an exchange's universe. */
export class SymbolView extends Schema.Class<SymbolView>("SymbolView")({
  symbol: Market.SymbolId,
  baseAsset: Schema.String,
  quoteAsset: Schema.String,
  /** 1 is followed live; 2 is known but not followed. */
  tier: Schema.Number,
  rank: Schema.NullOr(Schema.Number),
  quoteVolume24h: Schema.Number,
  liquidityGrade: Schema.String
}) {}

/** Closed and forming candles in the cache, per timeframe. */
export const CandlesCached = Schema.Record({ key: Timeframe.Timeframe, value: Schema.NonNegativeInt })
export type CandlesCached = typeof CandlesCached.Type

/** A Tier 1 symbol with its cached history, as the Symbols page lists the shared pool. */
export class PoolSymbol extends Schema.Class<PoolSymbol>("PoolSymbol")({
  ...SymbolView.fields,
  candlesCached: CandlesCached
}) {}

/**
 * A symbol as typed by the admin, checked against what the exchange lists now:
 * - `new`: listed, and neither in the top N pool nor the watchlist — it can be added;
 * - `top`: already followed as one of the top N;
 * - `watched`: already on the watchlist;
 * - `repeated`: the same symbol came earlier in the same input;
 * - `unknown`: the exchange does not list it.
 */
export const CheckStatus = Schema.Literal("new", "top", "watched", "repeated", "unknown")
export type CheckStatus = typeof CheckStatus.Type

/** The check of one symbol, with the metrics previewed before it is added. */
export class SymbolCheck extends Schema.Class<SymbolCheck>("SymbolCheck")({
  input: Schema.String,
  /** The exchange's spelling (`btc/usdt` → `BTCUSDT`, `btc-usd` → `BTC-USD`); null when it lists no such symbol. */
  symbol: Schema.NullOr(Market.SymbolId),
  status: CheckStatus,
  baseAsset: Schema.NullOr(Schema.String),
  quoteAsset: Schema.NullOr(Schema.String),
  /** 24 h volume in the quote asset; null when unknown or its quote has no USD price on the exchange. */
  quoteVolume24h: Schema.NullOr(Schema.Number),
  quoteVolumeUsd: Schema.NullOr(Schema.Number),
  /** A (most liquid) to E, from the USD volume. */
  liquidityGrade: Schema.NullOr(Schema.String),
  candlesCached: CandlesCached
}) {}

/** An exchange's symbols as the Symbols page shows them. */
export class WatchlistView extends Schema.Class<WatchlistView>("WatchlistView")({
  exchange: Exchange.ExchangeName,
  /** The shared top N pool (Tier 1), as the serving instance last stored it. */
  top: Schema.Array(PoolSymbol),
  /** The signed-in admin's watchlist for this exchange, each checked against the current listing. */
  watchlist: Schema.Array(SymbolCheck),
  /** The admin whose settings the serving instance follows (its `LIVERMORE_ADMIN_EMAIL`); null when none serves. */
  followedBy: Schema.NullOr(Schema.String),
  /** Why the watchlist could not be checked against the exchange, when it could not; its symbols show unchecked. */
  listingError: Schema.NullOr(Schema.String)
}) {}

/** The exchange's listing could not be read, so symbols cannot be checked against it. */
export class ListingUnavailable extends Schema.TaggedError<ListingUnavailable>()("ListingUnavailable", {
  exchange: Exchange.ExchangeName,
  message: Schema.String
}) {}

/** Symbols the exchange does not list: nothing was saved. */
export class SymbolsRejected extends Schema.TaggedError<SymbolsRejected>()("SymbolsRejected", {
  exchange: Exchange.ExchangeName,
  unknown: Schema.Array(Schema.String),
  message: Schema.String
}) {}

/** A settings document that does not validate: every problem with its path; nothing was saved. */
export class SettingsInvalid extends Schema.TaggedError<SettingsInvalid>()("SettingsInvalid", {
  issues: Schema.Array(UserSettings.Issue),
  message: Schema.String
}) {}

/** The signed-in admin's settings as stored, and what is wrong with them, if anything (edited outside the UI). */
export class SettingsDocument extends Schema.Class<SettingsDocument>("SettingsDocument")({
  /** The stored JSON object, defaults filled in when it validates. */
  document: Schema.Unknown,
  issues: Schema.Array(UserSettings.Issue)
}) {}

/** The name of an environment variable (never its value), as the `user_exchanges` table requires. */
export const EnvVarName = Schema.String.pipe(
  Schema.pattern(/^[A-Z_][A-Z0-9_]*$/, {
    message: () => "an environment variable name is uppercase letters, digits and underscores, not starting with a digit"
  })
)

/** Where an instance finds a connection's credentials: two environment variable names. */
export const CredentialVars = Schema.Struct({ apiKey: EnvVarName, apiSecret: EnvVarName })

/** One of the signed-in admin's exchange connections (`user_exchanges`). */
export class ConnectionView extends Schema.Class<ConnectionView>("ConnectionView")({
  id: Schema.Int,
  exchange: Exchange.ExchangeName,
  displayName: Schema.String,
  /** `null`: public market data only. */
  credentials: Schema.NullOr(CredentialVars),
  isActive: Schema.Boolean,
  isDefault: Schema.Boolean
}) {}

/** Create (no `id`) or update (`id`) a connection of the signed-in admin. */
export const SaveConnection = Schema.Struct({
  id: Schema.optional(Schema.Int),
  exchange: Exchange.ExchangeName,
  displayName: Schema.String.pipe(Schema.filter((name) => name.trim().length > 0 || "a connection needs a display name")),
  credentials: Schema.NullOr(CredentialVars),
  isActive: Schema.Boolean,
  /** Setting it unsets the previous default. */
  isDefault: Schema.Boolean
})
export type SaveConnection = typeof SaveConnection.Type

/** Which series a chart shows. */
export const ChartQuery = {
  exchange: Exchange.ExchangeName,
  symbol: Market.SymbolId,
  timeframe: Timeframe.Timeframe,
  /** The newest bars; default 300, at most 1,000. */
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 1000)))
}

/** Filters of the alert history; every one optional. */
export const AlertQuery = Schema.Struct({
  exchange: Schema.optional(Exchange.ExchangeName),
  symbol: Schema.optional(Market.SymbolId),
  timeframe: Schema.optional(Timeframe.Timeframe),
  label: Schema.optional(Schema.String),
  since: Schema.optional(Schema.DateTimeUtc),
  /** Newest first; default 100, at most 1,000. */
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 1000)))
})
export type AlertQuery = typeof AlertQuery.Type

const KeyName = Schema.String.pipe(
  Schema.filter((name) => name.trim().length > 0 || "a key needs a name"),
  Schema.maxLength(100)
)

export class AdminRpcs extends RpcGroup.make(
  Rpc.make("WhoAmI", { success: AdminUser }),
  Rpc.make("Network", { success: Schema.Array(ExchangeCard), error: AdminRequestFailed }),
  Rpc.make("WatchNetwork", {
    success: Schema.Array(ExchangeCard),
    error: AdminRequestFailed,
    stream: true
  }),
  Rpc.make("Connect", {
    payload: {
      exchange: Exchange.ExchangeName,
      /** The instance to start; default: the first idle or stopped instance of the exchange. */
      instanceId: Schema.optional(Schema.NonEmptyTrimmedString),
      /** Confirmed: ask the current holder to stop, then start. Without it (default) a held exchange fails `ExchangeHeld`. */
      takeover: Schema.optional(Schema.Boolean)
    },
    success: CommandResult,
    error: Schema.Union(
      AdminNotFound,
      ExchangeHeld,
      CommandNotAcknowledged,
      CommandRejected,
      CommandTimedOut,
      AdminRequestFailed
    )
  }),
  Rpc.make("WatchWarmup", {
    payload: { exchange: Exchange.ExchangeName },
    /** The current progress, then every update; the stream ends after the run's `completed` or `failed`. */
    success: Warmup.Stats,
    error: Schema.Union(AdminNotFound, AdminRequestFailed),
    stream: true
  }),
  Rpc.make("WatchActivity", {
    payload: {
      /** How many recent events come first, newest first; default 30, at most 200. */
      recent: Schema.optional(Schema.Int.pipe(Schema.between(0, 200)))
    },
    /** The recent events (newest first), then every event appended to any exchange's log, as it is appended. */
    success: NetworkEvent,
    error: AdminRequestFailed,
    stream: true
  }),
  Rpc.make("NetworkLog", { payload: NetworkLogQuery, success: Schema.Array(NetworkEvent), error: AdminRequestFailed }),
  Rpc.make("SendCommand", {
    payload: { instanceId: Schema.NonEmptyTrimmedString, command: CommandRequest },
    success: CommandResult,
    error: Schema.Union(CommandNotAcknowledged, CommandRejected, CommandTimedOut, AdminRequestFailed)
  }),
  Rpc.make("CommandHistory", {
    payload: {
      instanceId: Schema.NonEmptyTrimmedString,
      /** Most entries, newest first; default 100. */
      limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 1000)))
    },
    success: Schema.Array(CommandRecord),
    error: AdminRequestFailed
  }),
  Rpc.make("ListConnections", { success: Schema.Array(ConnectionView), error: AdminRequestFailed }),
  Rpc.make("SaveConnection", {
    payload: SaveConnection,
    success: ConnectionView,
    error: Schema.Union(AdminNotFound, AdminRequestFailed)
  }),
  Rpc.make("Symbols", {
    payload: { exchange: Exchange.ExchangeName },
    success: Schema.Array(SymbolView),
    error: Schema.Union(AdminNotFound, AdminRequestFailed)
  }),
  Rpc.make("Watchlist", {
    payload: { exchange: Exchange.ExchangeName },
    success: WatchlistView,
    error: Schema.Union(AdminNotFound, AdminRequestFailed)
  }),
  Rpc.make("CheckSymbols", {
    /** Symbols as typed or imported (any case; `/`, `-` or nothing between base and quote), at most 500. */
    payload: { exchange: Exchange.ExchangeName, symbols: Schema.Array(Schema.String).pipe(Schema.maxItems(500)) },
    success: Schema.Array(SymbolCheck),
    error: Schema.Union(AdminNotFound, ListingUnavailable, AdminRequestFailed)
  }),
  Rpc.make("SetWatchlist", {
    /** The whole new watchlist of the exchange, in the exchange's spelling; every symbol must be listed. */
    payload: { exchange: Exchange.ExchangeName, symbols: Schema.Array(Market.SymbolId) },
    success: WatchlistView,
    error: Schema.Union(AdminNotFound, SymbolsRejected, SettingsInvalid, ListingUnavailable, AdminRequestFailed)
  }),
  Rpc.make("GetSettings", { success: SettingsDocument, error: AdminRequestFailed }),
  Rpc.make("SaveSettings", {
    /** The whole settings document; unknown keys are refused. */
    payload: { document: Schema.Unknown },
    success: SettingsDocument,
    error: Schema.Union(SettingsInvalid, AdminRequestFailed)
  }),
  Rpc.make("Chart", {
    payload: ChartQuery,
    success: Chart,
    error: Schema.Union(AdminNotFound, AdminRequestFailed)
  }),
  Rpc.make("WatchChart", {
    payload: ChartQuery,
    /** The chart now, again at once after each closed candle of the series, and every 2 s for the forming one. */
    success: Chart,
    error: Schema.Union(AdminNotFound, AdminRequestFailed),
    stream: true
  }),
  Rpc.make("Alerts", { payload: AlertQuery, success: Schema.Array(AlertView), error: Schema.Union(AdminNotFound, AdminRequestFailed) }),
  Rpc.make("WatchAlerts", { success: Alert.Alert, error: AdminRequestFailed, stream: true }),
  Rpc.make("ListApiKeys", { success: Schema.Array(ApiKeyView), error: AdminRequestFailed }),
  Rpc.make("CreateApiKey", { payload: { name: KeyName }, success: CreatedApiKey, error: AdminRequestFailed }),
  Rpc.make("RevokeApiKey", {
    payload: { id: Schema.Int },
    success: ApiKeyView,
    error: Schema.Union(AdminNotFound, AdminRequestFailed)
  }),
  Rpc.make("RegenerateApiKey", {
    payload: { id: Schema.Int },
    success: CreatedApiKey,
    error: Schema.Union(AdminNotFound, AdminRequestFailed)
  })
).middleware(AdminAuth) {}
