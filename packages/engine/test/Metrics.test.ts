/**
 * The node's metrics as the registry holds them after the helpers run. Effect's registry is global to the
 * process, so every test uses its own exchange names.
 */
import { assert, describe, it } from "@effect/vitest"
import { Exchange, Lifecycle } from "@livermore/domain"
import { Effect, Metric, type MetricPair, MetricState } from "effect"
import * as Metrics from "../src/Metrics.js"

const exchange = (name: string) => Exchange.ExchangeName.make(name)

const tagsOf = (pair: MetricPair.MetricPair.Untyped): Record<string, string> =>
  Object.fromEntries(pair.metricKey.tags.map((tag) => [tag.key, tag.value]))

/** The series of `name` tagged with `exchangeName`, as tag records with their state. */
const seriesOf = (name: string, exchangeName: string) =>
  Effect.map(Metric.snapshot, (pairs) =>
    pairs
      .filter((pair) => pair.metricKey.name === name && tagsOf(pair).exchange === exchangeName)
      .map((pair) => ({ tags: tagsOf(pair), state: pair.metricState as unknown }))
  )

const gaugeValues = (name: string, exchangeName: string, by: string) =>
  Effect.map(seriesOf(name, exchangeName), (series) =>
    Object.fromEntries(
      series.map(({ tags, state }) => [tags[by] ?? "", MetricState.isGaugeState(state) ? Number(state.value) : Number.NaN])
    )
  )

const counterValue = (name: string, exchangeName: string, tags: Record<string, string> = {}) =>
  Effect.map(seriesOf(name, exchangeName), (series) => {
    const match = series.filter((s) => Object.entries(tags).every(([k, v]) => s.tags[k] === v))
    assert.strictEqual(match.length, 1, `one ${name} series for ${JSON.stringify(tags)}`)
    const state = match[0]?.state
    return MetricState.isCounterState(state) ? Number(state.count) : Number.NaN
  })

describe("Metrics.setLifecycleState", () => {
  it.effect("leaves exactly one state at 1 through every transition, for every state", () =>
    Effect.gen(function* () {
      const name = exchange("test_metrics_lifecycle_walk")
      // Every edge of the transitions table, each from its source state.
      for (const [from, targets] of Object.entries(Lifecycle.transitions) as Array<
        [Lifecycle.ConnectionState, ReadonlyArray<Lifecycle.ConnectionState>]
      >) {
        for (const to of targets) {
          for (const state of [from, to]) {
            yield* Metrics.setLifecycleState(name, state)
            const values = yield* gaugeValues("livermore_lifecycle_state", name, "state")
            assert.deepStrictEqual(
              Object.keys(values).sort(),
              [...Lifecycle.states].sort(),
              "one series per state, no others"
            )
            assert.deepStrictEqual(
              Object.entries(values).filter(([, value]) => value !== 0),
              [[state, 1]],
              `only ${state} is 1`
            )
          }
        }
      }
    })
  )

  it.effect("an exchange's state does not touch another exchange's", () =>
    Effect.gen(function* () {
      const a = exchange("test_metrics_lifecycle_a")
      const b = exchange("test_metrics_lifecycle_b")
      yield* Metrics.setLifecycleState(a, "active")
      yield* Metrics.setLifecycleState(b, "warming")
      yield* Metrics.setLifecycleState(a, "reconnecting")
      const valuesA = yield* gaugeValues("livermore_lifecycle_state", a, "state")
      const valuesB = yield* gaugeValues("livermore_lifecycle_state", b, "state")
      assert.strictEqual(valuesA.reconnecting, 1)
      assert.strictEqual(valuesA.active, 0)
      assert.strictEqual(valuesB.warming, 1)
      assert.strictEqual(valuesB.reconnecting, 0)
    })
  )
})

describe("Metrics helpers", () => {
  it.effect("counters count per exchange and timeframe and ignore negative counts", () =>
    Effect.gen(function* () {
      const name = exchange("test_metrics_counters")
      yield* Metrics.recordWsMessages(name)
      yield* Metrics.recordWsMessages(name, 9)
      yield* Metrics.recordWsMessages(name, -3)
      yield* Metrics.recordCandlesWritten(name, "5m", 4)
      yield* Metrics.recordCandlesWritten(name, "1h")
      yield* Metrics.recordGapsFound(name, "5m", 2)
      yield* Metrics.recordGapsRepaired(name, "5m")
      yield* Metrics.recordRestRateLimited(name)
      yield* Metrics.recordRestBanned(name)
      yield* Metrics.recordRestBanned(name)
      assert.strictEqual(yield* counterValue("livermore_ws_messages_received_total", name), 10)
      assert.strictEqual(yield* counterValue("livermore_candles_written_total", name, { timeframe: "5m" }), 4)
      assert.strictEqual(yield* counterValue("livermore_candles_written_total", name, { timeframe: "1h" }), 1)
      assert.strictEqual(yield* counterValue("livermore_gaps_found_total", name, { timeframe: "5m" }), 2)
      assert.strictEqual(yield* counterValue("livermore_gaps_repaired_total", name, { timeframe: "5m" }), 1)
      assert.strictEqual(yield* counterValue("livermore_rest_rate_limited_total", name), 1)
      assert.strictEqual(yield* counterValue("livermore_rest_banned_total", name), 2)
    })
  )

  it.effect("warmup progress and heartbeat age are set from stats and durations", () =>
    Effect.gen(function* () {
      const name = exchange("test_metrics_gauges")
      yield* Metrics.setWarmupProgress(name, { scheduledPairs: 8, completedPairs: 5, failedPairs: 1, percentComplete: 75 })
      yield* Metrics.setHeartbeatAge(name, "2500 millis")
      const values = (metric: string) => Effect.map(gaugeValues(metric, name, "exchange"), (v) => v[name])
      assert.strictEqual(yield* values("livermore_warmup_pairs_scheduled"), 8)
      assert.strictEqual(yield* values("livermore_warmup_pairs_completed"), 5)
      assert.strictEqual(yield* values("livermore_warmup_pairs_failed"), 1)
      assert.strictEqual(yield* values("livermore_warmup_progress_percent"), 75)
      assert.strictEqual(yield* values("livermore_heartbeat_age_seconds"), 2.5)
    })
  )

  it.effect("close-to-alert latency is observed in seconds on buckets from 1 ms to about 30 s", () =>
    Effect.gen(function* () {
      const bounds = Metrics.closeToAlertBoundaries.values
      assert.strictEqual(bounds[0], 0.001)
      assert.strictEqual(bounds[bounds.length - 2], 32.768)
      assert.strictEqual(bounds[bounds.length - 1], Number.POSITIVE_INFINITY)

      const name = exchange("test_metrics_latency")
      yield* Metrics.recordCloseToAlertLatency(name, "250 millis")
      yield* Metrics.recordCloseToAlertLatency(name, "40 seconds")
      const [series] = yield* seriesOf("livermore_close_to_alert_latency_seconds", name)
      const state = series?.state
      assert.isTrue(MetricState.isHistogramState(state))
      if (!MetricState.isHistogramState(state)) return
      assert.strictEqual(state.count, 2)
      assert.strictEqual(state.sum, 40.25)
      const cumulative = Object.fromEntries(state.buckets.map(([le, n]) => [String(le), n]))
      assert.strictEqual(cumulative["0.128"], 0)
      assert.strictEqual(cumulative["0.256"], 1)
      assert.strictEqual(cumulative["32.768"], 1)
      assert.strictEqual(cumulative.Infinity, 2)
    })
  )

  it.effect("register lists every series of an exchange at 0 before anything happens", () =>
    Effect.gen(function* () {
      const name = exchange("test_metrics_register")
      const before = yield* Metric.snapshot
      assert.isFalse(before.some((pair) => tagsOf(pair).exchange === name))
      yield* Metrics.register(name, ["5m", "1h"])
      const names = (yield* Metric.snapshot)
        .filter((pair) => tagsOf(pair).exchange === name)
        .map((pair) => `${pair.metricKey.name}${tagsOf(pair).timeframe === undefined ? "" : `/${tagsOf(pair).timeframe}`}`)
        .sort()
      assert.deepStrictEqual(names, [
        "livermore_candles_written_total/1h",
        "livermore_candles_written_total/5m",
        "livermore_close_to_alert_latency_seconds",
        "livermore_gaps_found_total/1h",
        "livermore_gaps_found_total/5m",
        "livermore_gaps_repaired_total/1h",
        "livermore_gaps_repaired_total/5m",
        "livermore_heartbeat_age_seconds",
        "livermore_rest_banned_total",
        "livermore_rest_rate_limited_total",
        "livermore_rest_requests_total",
        "livermore_rest_weight_used",
        "livermore_stale_series",
        "livermore_warmup_pairs_completed",
        "livermore_warmup_pairs_failed",
        "livermore_warmup_pairs_scheduled",
        "livermore_warmup_progress_percent",
        "livermore_ws_messages_received_total",
        "livermore_ws_reconnects_total"
      ])
      assert.strictEqual(yield* counterValue("livermore_ws_reconnects_total", name), 0)
    })
  )
})
