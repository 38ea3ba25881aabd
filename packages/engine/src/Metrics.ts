/**
 * The node's metrics: Effect `Metric`s in the process-wide registry, named for Prometheus (`livermore_` prefix,
 * unit in the name, `_total` on counters) and tagged `exchange` (the exchange's name) first, then `state` or
 * `timeframe`. Each description becomes the HELP line of `/metrics`. The helpers are what the runtime calls;
 * every series is tagged in the same order so one label set is always one registry entry. Counters are
 * incremental: a negative count is ignored, as Effect does for incremental counters.
 */
import { type Exchange, Lifecycle, type Timeframe } from "@livermore/domain"
import { Duration, Effect, Metric, MetricBoundaries, MetricLabel } from "effect"
import type * as WarmupPlan from "./WarmupPlan.js"

/** 1 for the lifecycle state an exchange is in, 0 for every other state. Tags: `exchange`, `state`. */
export const lifecycleState = Metric.gauge("livermore_lifecycle_state", {
  description: "Lifecycle state of the exchange connection: 1 for the current state, 0 for the others"
})

/** Seconds since the last heartbeat was recorded. Tag: `exchange`. */
export const heartbeatAgeSeconds = Metric.gauge("livermore_heartbeat_age_seconds", {
  description: "Seconds since the instance last recorded a heartbeat"
})

/** WebSocket messages received from the exchange. Tag: `exchange`. */
export const wsMessagesReceived = Metric.counter("livermore_ws_messages_received_total", {
  description: "WebSocket messages received from the exchange",
  incremental: true
})

/** WebSocket reconnects (each time a lost connection is re-established). Tag: `exchange`. */
export const wsReconnects = Metric.counter("livermore_ws_reconnects_total", {
  description: "WebSocket reconnects after a lost connection",
  incremental: true
})

/** REST requests sent to the exchange, whatever their outcome. Tag: `exchange`. */
export const restRequests = Metric.counter("livermore_rest_requests_total", {
  description: "REST requests sent to the exchange",
  incremental: true
})

/**
 * REST weight used in the exchange's current rate-limit window, as the exchange last reported it (Binance's
 * used-weight header) or as the governor counts it. Tag: `exchange`.
 */
export const restWeightUsed = Metric.gauge("livermore_rest_weight_used", {
  description: "REST weight used in the exchange's current one-minute rate-limit window, in the exchange's weight units"
})

/** HTTP 429 (rate limited) responses to REST requests. Tag: `exchange`. */
export const restRateLimited = Metric.counter("livermore_rest_rate_limited_total", {
  description: "REST responses with HTTP 429 (rate limit exceeded)",
  incremental: true
})

/** HTTP 418 (IP banned after ignoring 429s) responses to REST requests. Tag: `exchange`. */
export const restBanned = Metric.counter("livermore_rest_banned_total", {
  description: "REST responses with HTTP 418 (IP banned for ignoring rate limits)",
  incremental: true
})

/** Warmup progress, 0–100 (`WarmupPlan.percentComplete`). Tag: `exchange`. */
export const warmupProgressPercent = Metric.gauge("livermore_warmup_progress_percent", {
  description: "Warmup progress: percent of the scheduled pairs done, 100 when nothing is scheduled"
})

/** Scheduled warmup pairs fetched. Tag: `exchange`. */
export const warmupPairsCompleted = Metric.gauge("livermore_warmup_pairs_completed", {
  description: "Warmup pairs fetched in the current or last run"
})

/** Scheduled warmup pairs whose fetch failed. Tag: `exchange`. */
export const warmupPairsFailed = Metric.gauge("livermore_warmup_pairs_failed", {
  description: "Warmup pairs whose fetch failed in the current or last run"
})

/** Pairs the warmup scheduled for fetching. Tag: `exchange`. */
export const warmupPairsScheduled = Metric.gauge("livermore_warmup_pairs_scheduled", {
  description: "Warmup pairs scheduled for fetching in the current or last run"
})

/** Candles written to the cache. Tags: `exchange`, `timeframe`. */
export const candlesWritten = Metric.counter("livermore_candles_written_total", {
  description: "Candles written to the candle cache",
  incremental: true
})

/** Gaps (missing candle intervals) found in a series. Tags: `exchange`, `timeframe`. */
export const gapsFound = Metric.counter("livermore_gaps_found_total", {
  description: "Gaps (missing candle intervals) found in cached series",
  incremental: true
})

/** Gaps repaired (refetched or filled). Tags: `exchange`, `timeframe`. */
export const gapsRepaired = Metric.counter("livermore_gaps_repaired_total", {
  description: "Gaps in cached series repaired by refetching or filling",
  incremental: true
})

/** Series (symbol and timeframe) whose newest candle is older than expected. Tag: `exchange`. */
export const staleSeries = Metric.gauge("livermore_stale_series", {
  description: "Series (symbol and timeframe) whose newest closed candle is older than expected"
})

/** Bucket bounds of `closeToAlertLatencySeconds`: 1 ms doubling to 32.768 s (16 bounds, then +Inf). */
export const closeToAlertBoundaries: MetricBoundaries.MetricBoundaries = MetricBoundaries.exponential({
  start: 0.001,
  factor: 2,
  count: 17
})

/** Seconds from a candle's close to the alert it triggered being emitted. Tag: `exchange`. */
export const closeToAlertLatencySeconds = Metric.histogram(
  "livermore_close_to_alert_latency_seconds",
  closeToAlertBoundaries,
  "Seconds from a candle's close to the alert it triggered being emitted"
)

const exchangeTag = (exchange: Exchange.ExchangeName): MetricLabel.MetricLabel => MetricLabel.make("exchange", exchange)

const byExchange = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  exchange: Exchange.ExchangeName
): Metric.Metric<Type, In, Out> => Metric.taggedWithLabels(metric, [exchangeTag(exchange)])

const byTimeframe = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  exchange: Exchange.ExchangeName,
  timeframe: Timeframe.Timeframe
): Metric.Metric<Type, In, Out> =>
  Metric.taggedWithLabels(metric, [exchangeTag(exchange), MetricLabel.make("timeframe", timeframe)])

/**
 * Mark `state` as the exchange's lifecycle state: its gauge to 1, every other state's (`Lifecycle.states`) to 0.
 */
export const setLifecycleState = (
  exchange: Exchange.ExchangeName,
  state: Lifecycle.ConnectionState
): Effect.Effect<void> =>
  // One synchronous block, so a scrape never sees two states at 1 or none.
  Effect.sync(() => {
    const tag = exchangeTag(exchange)
    for (const each of Lifecycle.states) {
      lifecycleState.unsafeUpdate(each === state ? 1 : 0, [tag, MetricLabel.make("state", each)])
    }
  })

/** Set the seconds since the exchange's last heartbeat. */
export const setHeartbeatAge = (exchange: Exchange.ExchangeName, age: Duration.DurationInput): Effect.Effect<void> =>
  Metric.set(byExchange(heartbeatAgeSeconds, exchange), Duration.toSeconds(age))

/** Count `count` (default 1) WebSocket messages received. */
export const recordWsMessages = (exchange: Exchange.ExchangeName, count = 1): Effect.Effect<void> =>
  Metric.incrementBy(byExchange(wsMessagesReceived, exchange), count)

/** Count one WebSocket reconnect. */
export const recordWsReconnect = (exchange: Exchange.ExchangeName): Effect.Effect<void> =>
  Metric.increment(byExchange(wsReconnects, exchange))

/** Count one REST request sent. */
export const recordRestRequest = (exchange: Exchange.ExchangeName): Effect.Effect<void> =>
  Metric.increment(byExchange(restRequests, exchange))

/** Set the REST weight used in the current rate-limit window. */
export const setRestWeightUsed = (exchange: Exchange.ExchangeName, weight: number): Effect.Effect<void> =>
  Metric.set(byExchange(restWeightUsed, exchange), weight)

/** Count one HTTP 429 response. */
export const recordRestRateLimited = (exchange: Exchange.ExchangeName): Effect.Effect<void> =>
  Metric.increment(byExchange(restRateLimited, exchange))

/** Count one HTTP 418 response. */
export const recordRestBanned = (exchange: Exchange.ExchangeName): Effect.Effect<void> =>
  Metric.increment(byExchange(restBanned, exchange))

/** Set warmup progress from the run's stats (`Warmup` writes the same numbers to the stats key). */
export const setWarmupProgress = (
  exchange: Exchange.ExchangeName,
  stats: Pick<WarmupPlan.Stats, "scheduledPairs" | "completedPairs" | "failedPairs" | "percentComplete">
): Effect.Effect<void> =>
  Effect.sync(() => {
    const tags = [exchangeTag(exchange)]
    warmupPairsScheduled.unsafeUpdate(stats.scheduledPairs, tags)
    warmupPairsCompleted.unsafeUpdate(stats.completedPairs, tags)
    warmupPairsFailed.unsafeUpdate(stats.failedPairs, tags)
    warmupProgressPercent.unsafeUpdate(stats.percentComplete, tags)
  })

/** Count `count` (default 1) candles written. */
export const recordCandlesWritten = (
  exchange: Exchange.ExchangeName,
  timeframe: Timeframe.Timeframe,
  count = 1
): Effect.Effect<void> =>
  Metric.incrementBy(byTimeframe(candlesWritten, exchange, timeframe), count)

/** Count `count` (default 1) gaps found. */
export const recordGapsFound = (
  exchange: Exchange.ExchangeName,
  timeframe: Timeframe.Timeframe,
  count = 1
): Effect.Effect<void> =>
  Metric.incrementBy(byTimeframe(gapsFound, exchange, timeframe), count)

/** Count `count` (default 1) gaps repaired. */
export const recordGapsRepaired = (
  exchange: Exchange.ExchangeName,
  timeframe: Timeframe.Timeframe,
  count = 1
): Effect.Effect<void> =>
  Metric.incrementBy(byTimeframe(gapsRepaired, exchange, timeframe), count)

/** Set the number of stale series. */
export const setStaleSeries = (exchange: Exchange.ExchangeName, count: number): Effect.Effect<void> =>
  Metric.set(byExchange(staleSeries, exchange), count)

/** Record one close-to-alert latency. */
export const recordCloseToAlertLatency = (
  exchange: Exchange.ExchangeName,
  latency: Duration.DurationInput
): Effect.Effect<void> => Metric.update(byExchange(closeToAlertLatencySeconds, exchange), Duration.toSeconds(latency))

/**
 * Register every series of `exchange` (all but the lifecycle gauges, which `setLifecycleState` registers) at its
 * current value, 0 for new ones, so the first scrape lists them before anything happens. `timeframes` are those of
 * the timeframe-tagged counters.
 */
export const register = (
  exchange: Exchange.ExchangeName,
  timeframes: ReadonlyArray<Timeframe.Timeframe>
): Effect.Effect<void> =>
  Effect.sync(() => {
    // Reading a metric's value creates its registry entry without changing it.
    const tags = [exchangeTag(exchange)]
    heartbeatAgeSeconds.unsafeValue(tags)
    wsMessagesReceived.unsafeValue(tags)
    wsReconnects.unsafeValue(tags)
    restRequests.unsafeValue(tags)
    restWeightUsed.unsafeValue(tags)
    restRateLimited.unsafeValue(tags)
    restBanned.unsafeValue(tags)
    warmupProgressPercent.unsafeValue(tags)
    warmupPairsCompleted.unsafeValue(tags)
    warmupPairsFailed.unsafeValue(tags)
    warmupPairsScheduled.unsafeValue(tags)
    staleSeries.unsafeValue(tags)
    closeToAlertLatencySeconds.unsafeValue(tags)
    for (const timeframe of timeframes) {
      const withTimeframe = [exchangeTag(exchange), MetricLabel.make("timeframe", timeframe)]
      candlesWritten.unsafeValue(withTimeframe)
      gapsFound.unsafeValue(withTimeframe)
      gapsRepaired.unsafeValue(withTimeframe)
    }
  })

/**
 * Bring the REST metrics up to an adapter's cumulative counters: counters grow by what is new since `previous`
 * (the last counters seen), the weight gauge takes the current window's value.
 */
export const observeRestStats = (
  exchange: Exchange.ExchangeName,
  previous: { readonly requests: number; readonly rateLimited: number; readonly banned: number },
  current: { readonly requests: number; readonly rateLimited: number; readonly banned: number; readonly usedWeight: number }
): Effect.Effect<void> =>
  Effect.all(
    [
      Metric.incrementBy(byExchange(restRequests, exchange), Math.max(0, current.requests - previous.requests)),
      Metric.incrementBy(byExchange(restRateLimited, exchange), Math.max(0, current.rateLimited - previous.rateLimited)),
      Metric.incrementBy(byExchange(restBanned, exchange), Math.max(0, current.banned - previous.banned)),
      Metric.set(byExchange(restWeightUsed, exchange), current.usedWeight)
    ],
    { discard: true }
  )
