/**
 * Redis key and channel names, exactly as domain.md §4 lays them out. Pure: no namespace prefix here; the
 * services prepend `RedisClient.prefix` to every key and channel they touch.
 */
import type { Exchange, Market, Timeframe } from "@livermore/domain"

/** What identifies one candle series in a key: any `Market.Series` fits. */
export interface SeriesKey {
  readonly exchangeId: Exchange.ExchangeId
  readonly symbol: Market.SymbolId
  readonly timeframe: Timeframe.Timeframe
}

/** Indicators that have a state key. Only MACD-V today (domain.md §4). */
export type IndicatorName = "macdv"

/** `candles:{exchangeId}:{symbol}:{timeframe}`: sorted set of the shared (Tier 1) candles, score = openTime. */
export const candles = (series: SeriesKey): string => `candles:${series.exchangeId}:${series.symbol}:${series.timeframe}`

/** `usercandles:{userId}:{exchangeId}:{symbol}:{timeframe}`: a user's Tier 2 candles, with a TTL. */
export const userCandles = (userId: string, series: SeriesKey): string =>
  `usercandles:${userId}:${series.exchangeId}:${series.symbol}:${series.timeframe}`

/** `indicator:{exchangeId}:{symbol}:{timeframe}:macdv`: latest indicator values and resumable state (JSON). */
export const indicator = (series: SeriesKey, name: IndicatorName = "macdv"): string =>
  `indicator:${series.exchangeId}:${series.symbol}:${series.timeframe}:${name}`

/** `ticker:{exchangeId}:{symbol}`: the latest ticker (JSON). */
export const ticker = (exchangeId: Exchange.ExchangeId, symbol: Market.SymbolId): string =>
  `ticker:${exchangeId}:${symbol}`

/** `channel:ticker:{exchangeId}:{symbol}`: pub/sub channel of ticker updates. */
export const tickerChannel = (exchangeId: Exchange.ExchangeId, symbol: Market.SymbolId): string =>
  `channel:ticker:${exchangeId}:${symbol}`

/** `channel:exchange:{exchangeId}:candle:close:{symbol}:{timeframe}`: pub/sub channel of closed candles. */
export const candleCloseChannel = (series: SeriesKey): string =>
  `channel:exchange:${series.exchangeId}:candle:close:${series.symbol}:${series.timeframe}`

/** `channel:alerts:{exchangeId}`: pub/sub channel of alerts with source attribution. */
export const alertsChannel = (exchangeId: Exchange.ExchangeId): string => `channel:alerts:${exchangeId}`

/**
 * `channel:indicator:{exchangeId}:{symbol}:{timeframe}:{name}`: pub/sub channel of indicator updates, for live
 * viewers. Not in domain.md §4's table; named like the other channels, after the state key it mirrors.
 */
export const indicatorChannel = (series: SeriesKey, name: IndicatorName = "macdv"): string =>
  `channel:indicator:${series.exchangeId}:${series.symbol}:${series.timeframe}:${name}`

/**
 * `alert:once:{exchangeId}:{symbol}:{timeframe}:{label}:{candleOpenTime}`: the claim that makes an alert's
 * publication happen once (`Bus.publishOnce`), across restarts and instances. Not in domain.md §4's table: a
 * marker with a TTL, its fields those that make an alert unique (`Alert`).
 */
export const alertOnce = (
  exchangeId: Exchange.ExchangeId,
  symbol: Market.SymbolId,
  timeframe: Timeframe.Timeframe,
  label: string,
  candleOpenTime: number
): string => `alert:once:${exchangeId}:${symbol}:${timeframe}:${label}:${candleOpenTime}`

/** `exchange:{exchangeId}:status`: the status projection (JSON, with a TTL). */
export const status = (exchangeId: Exchange.ExchangeId): string => `exchange:${exchangeId}:status`

/** Glob matching every status key (for SCAN); `parseStatus` recovers the exchange id. */
export const statusPattern = "exchange:*:status"

const statusKey = /^exchange:(\d+):status$/

/** The exchange id of a status key, or undefined for any other key. */
export const parseStatus = (key: string): number | undefined => {
  const match = statusKey.exec(key)
  return match ? Number(match[1]) : undefined
}

/**
 * `instance:{instanceId}`: what one exchange instance announces of itself (its status, also while idle or stopped,
 * when it writes no `exchange:{id}:status`), with a TTL renewed by its heartbeat. Not in domain.md §4's table: it
 * lets an admin find the instances waiting for a `start` to connect an exchange.
 */
export const instance = (instanceId: string): string => `instance:${instanceId}`

/** Glob matching every instance key (for SCAN). */
export const instancePattern = "instance:*"

/** `exchange:{exchangeId}:lock`: the instance serving the exchange (JSON lease, with a TTL). */
export const lock = (exchangeId: Exchange.ExchangeId): string => `exchange:${exchangeId}:lock`

/**
 * `exchange:{exchangeId}:lock:epoch`: the fencing counter, INCR'd on every acquisition attempt. Not in
 * domain.md §4's table: the epoch has to outlive the lock key (which expires and is deleted on release), or a
 * new holder could get an epoch a stale holder already has. It never expires.
 */
export const lockEpoch = (exchangeId: Exchange.ExchangeId): string => `exchange:${exchangeId}:lock:epoch`

/** `logs:network:{exchangeName}`: the lifecycle event log (a Redis stream). */
export const networkLog = (exchangeName: Exchange.ExchangeName): string => `logs:network:${exchangeName}`

/** `exchange:{exchangeId}:warm-up-schedule:symbols`: the warmup schedule (JSON, domain.md §6). */
export const warmupSchedule = (exchangeId: Exchange.ExchangeId): string =>
  `exchange:${exchangeId}:warm-up-schedule:symbols`

/** `exchange:{exchangeId}:warm-up-schedule:stats`: live warmup progress (JSON, domain.md §6). */
export const warmupStats = (exchangeId: Exchange.ExchangeId): string => `exchange:${exchangeId}:warm-up-schedule:stats`

/** Escape Redis glob metacharacters so a literal (a namespace prefix) can start a SCAN MATCH pattern. */
export const escapeGlob = (literal: string): string => literal.replace(/[*?[\]\\]/g, "\\$&")

/** Glob of every closed-candle channel (`candleCloseChannel`), for one pattern subscription of a fan-out. */
export const candleClosePattern = "channel:exchange:*:candle:close:*"

/** Glob of every indicator channel (`indicatorChannel`). */
export const indicatorPattern = "channel:indicator:*"

const candleCloseName = /^channel:exchange:(\d+):candle:close:(.+):(5m|15m|1h|4h|1d)$/
const indicatorName = /^channel:indicator:(\d+):(.+):(5m|15m|1h|4h|1d):([a-z]+)$/

/** The exchange, symbol and timeframe in a closed-candle channel name; undefined for any other name. */
export const parseCandleCloseChannel = (
  channel: string
): { readonly exchangeId: number; readonly symbol: string; readonly timeframe: Timeframe.Timeframe } | undefined => {
  const match = candleCloseName.exec(channel)
  return match
    ? { exchangeId: Number(match[1]), symbol: match[2]!, timeframe: match[3] as Timeframe.Timeframe }
    : undefined
}

/** The exchange, symbol and timeframe in an indicator channel name; undefined for any other name. */
export const parseIndicatorChannel = (
  channel: string
): { readonly exchangeId: number; readonly symbol: string; readonly timeframe: Timeframe.Timeframe } | undefined => {
  const match = indicatorName.exec(channel)
  return match
    ? { exchangeId: Number(match[1]), symbol: match[2]!, timeframe: match[3] as Timeframe.Timeframe }
    : undefined
}

/**
 * The public catalog (not in domain.md §4's table): what the public API serves besides candles, signals and
 * statuses, projected from Postgres so that a `pw-host` node answers from Redis alone (domain.md §9).
 *
 * `public:exchanges`: the exchange rows' public fields (JSON array).
 */
export const catalogExchanges = "public:exchanges"

/** `public:symbols:{exchangeId}`: the shared (Tier 1) symbols of an exchange with their liquidity grade (JSON). */
export const catalogSymbols = (exchangeId: Exchange.ExchangeId): string => `public:symbols:${exchangeId}`

/** `public:alerts`: recent alerts of every exchange (a stream, capped), newest last. */
export const catalogAlerts = "public:alerts"

/** `public:apikey:{sha256}`: an active API key's id, name and prefix, found by the hash of the key. */
export const catalogApiKey = (keyHash: string): string => `public:apikey:${keyHash}`

/** Glob of every `catalogApiKey`. */
export const catalogApiKeyPattern = "public:apikey:*"

/**
 * `channel:public:apikeys`: told after the catalog's keys were changed (a revocation, a resynchronisation), so
 * that API servers drop the keys they verified recently and look them up again.
 */
export const apiKeysChangedChannel = "channel:public:apikeys"

/** `public:apikey-used`: hash of API key id → when it was last used (ms), for the database to catch up. */
export const catalogApiKeyUsed = "public:apikey-used"

/**
 * `public:stream:slots:{keyId}`: the public stream's connections of one API key (domain.md §8: at most 5 per key,
 * shared by every instance): a sorted set of connection ids scored by when each lapses (ms, Redis clock),
 * pushed forward by the connection's heartbeat, so that the slots of a crashed instance free themselves.
 */
export const publicStreamSlots = (keyId: number): string => `public:stream:slots:${keyId}`
