/**
 * The live pipeline end to end (issue 6): the simulator over real sockets (Binance protocol, its clock running
 * 1200× the wall clock and the node reading that clock), the cache on real Redis, alerts stored in a real
 * Postgres and delivered to a real local webhook receiver. Every expectation is recomputed from what the cache
 * holds with the indicators package, never hard-coded.
 */
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Bus, CacheConfig, CacheServices, CandleCache, ExchangeLock, IndicatorStore, Keys, RedisClient } from "@livermore/cache"
import { Alert, type Candle, Exchange, Timeframe } from "@livermore/domain"
import { ExchangeSim, type Options as SimOptions } from "@livermore/exchange-sim"
import { AlertRules, MacdV } from "@livermore/indicators"
import { AlertsRepo, ExchangesRepo } from "@livermore/store"
import { Context, Effect, FiberRef, Layer, LogLevel, Option, Ref, Stream } from "effect"
import * as AlertOutbox from "../src/AlertOutbox.js"
import * as ExchangeRunner from "../src/ExchangeRunner.js"
import * as IndicatorRecord from "../src/IndicatorRecord.js"
import * as JsonStore from "../src/JsonStore.js"
import * as Lifecycle from "../src/Lifecycle.js"
import { Notifiers } from "../src/Notifier.js"
import { adapterLayer, nodeLayer, simSymbols } from "./nodeSupport.js"
import { redisLayer } from "./redisNamespace.js"
import * as PrivateRedis from "./privateRedis.js"
import * as SimTime from "./simTime.js"
import { MigratedStore, shared } from "./storeDatabase.js"
import * as WebhookReceiver from "./webhookReceiver.js"

const withStore = shared(MigratedStore)

const FIVE = Timeframe.durationMs["5m"]
/** Sim time when every test starts: a UTC midnight, so every timeframe has a boundary there. */
const T = Date.UTC(2024, 2, 4)
const SPEED = 1200
/** A fall steep enough to take MACD-V below −200, then a recovery that reverses it (exchange-sim's recommendation). */
const crash = (symbol: string, from: number) => ({
  symbol,
  from,
  legs: [
    { bars: 24, drift: -0.012 },
    { bars: 20, drift: 0.015 }
  ]
})
const GRACE = "5 minutes"
const FRAMES: ReadonlyArray<Timeframe.Timeframe> = ["5m", "15m", "1h"]

/** Poll `check` every 50 ms until it holds; dies naming `what` after `ms`. */
const waitFor = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, ms = 30_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + ms
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep("50 millis")
    }
  })

const alertKey = (a: Alert.Alert) => `${a.symbol}|${a.timeframe}|${a.label}|${a.candleOpenTime}`

interface WorldOptions {
  /** Which protocol serves the market: the seeded `sim_binance` (default) or `sim_coinbase` row. */
  readonly adapter?: "binance" | "coinbase"
  readonly symbols?: number
  readonly scripts?: ReadonlyArray<ReturnType<typeof crash>>
  readonly faults?: SimOptions.SimOptionsInput["faults"]
  /** A Redis of the test's own instead of the shared one (for the restart test). */
  readonly redisUrl?: string
}

/**
 * The simulator paused at `T`, the seeded `sim_binance` row pointed at it, a node serving it over the cache,
 * the store and an outbox delivering to a local receiver, and a collector of everything on the alerts channel.
 * The test body runs under the simulator's clock.
 */
const world = (options: WorldOptions = {}) =>
  Effect.gen(function* () {
    yield* Effect.locallyScoped(FiberRef.currentMinimumLogLevel, LogLevel.Error)
    const sim = yield* ExchangeSim.make({
      speed: 0,
      startTime: T,
      symbols: options.symbols ?? 3,
      scripts: options.scripts ?? [],
      ...(options.faults === undefined ? {} : { faults: options.faults })
    })
    const adapter = options.adapter ?? "binance"
    const seeded = yield* (yield* ExchangesRepo.ExchangesRepo).byName(`sim_${adapter}`)
    const row = new Exchange.Exchange({ ...seeded, wsUrl: sim.wsUrl, restUrl: sim.url })
    const receiver = yield* WebhookReceiver.make
    const redis =
      options.redisUrl === undefined
        ? redisLayer("pipeline")
        : RedisClient.layer({ url: options.redisUrl, connectTimeout: "3 seconds" }).pipe(Layer.orDie)
    const cache = Layer.mergeAll(CacheServices.layerRedis, JsonStore.layerRedis).pipe(
      Layer.provideMerge(CacheConfig.layer()),
      Layer.provideMerge(redis)
    )
    const outbox = AlertOutbox.layer({ retry: { base: "20 millis", cap: "200 millis" } }).pipe(
      Layer.provide(
        Notifiers.layer({
          discordWebhookUrls: [`${receiver.url}/discord`],
          jsonWebhookUrls: [`${receiver.url}/json`]
        }).pipe(Layer.provide(FetchHttpClient.layer))
      ),
      Layer.orDie
    )
    const symbols = simSymbols(sim, adapter, options.symbols ?? 3)
    const services = yield* Layer.build(Layer.mergeAll(cache, adapterLayer(row), outbox))
    const node = yield* Layer.build(
      nodeLayer(row, "pipeline-node", {
        universe: Effect.succeed(symbols),
        heartbeatInterval: "200 millis",
        timeframes: FRAMES,
        pipeline: { staleGrace: GRACE, staleCheckInterval: "100 millis", retryBase: "50 millis", retryCap: "300 millis" }
      }).pipe(Layer.provide(Layer.succeedContext(services)))
    )
    const get = <I, S>(tag: Context.Tag<I, S>) => Context.get(services as Context.Context<I>, tag)
    const runner = Context.get(node, ExchangeRunner.ExchangeRunner)
    const lifecycle = Context.get(node, Lifecycle.Lifecycle)

    const alerts = yield* Ref.make<ReadonlyArray<Alert.Alert>>([])
    const subscription = yield* get(Bus.Bus).subscribe(Keys.alertsChannel(row.id), Alert.Alert)
    yield* Effect.forkScoped(Stream.runForEach(subscription, (alert) => Ref.update(alerts, (all) => [...all, alert])))

    /** Run the market from T (paused until now) until sim time reaches `until`, then pause it again. */
    const runMarketUntil = (until: number) =>
      Effect.gen(function* () {
        yield* sim.setClock({ speed: SPEED })
        yield* waitFor(`sim time ${new Date(until).toISOString()}`, Effect.sync(() => sim.clock.now() >= until), 120_000)
        yield* sim.setClock({ speed: 0 })
      })

    const series = (symbol: (typeof symbols)[number], timeframe: Timeframe.Timeframe) => ({ exchangeId: row.id, symbol, timeframe })
    const record = (s: ReturnType<typeof series>) => get(IndicatorStore.IndicatorStore).get(s, IndicatorRecord.IndicatorRecord)
    /** The closed candles of a series, oldest first; a hole among them fails with every cached candle listed. */
    const closedCached = (s: ReturnType<typeof series>) =>
      Effect.gen(function* () {
        const all = yield* get(CandleCache.CandleCache).range(s, 0, Number.MAX_SAFE_INTEGER)
        const closed = all.filter((c) => c.closed)
        const d = Timeframe.durationMs[s.timeframe]
        for (let i = 1; i < closed.length; i++) {
          if (closed[i]!.openTime !== closed[i - 1]!.openTime + d) {
            const stored = yield* record(s)
            const listed = all.map((c) => `${new Date(c.openTime).toISOString().slice(5, 16)}${c.closed ? "" : "(forming)"}${c.synthetic ? "(synthetic)" : ""}`)
            assert.fail(
              `${s.symbol} ${s.timeframe}: no closed candle at ${new Date(closed[i - 1]!.openTime + d).toISOString()}; indicator at ${Option.isSome(stored) ? new Date(stored.value.lastOpenTime ?? 0).toISOString() : "none"}; cached: ${listed.slice(-30).join(" ")}`
            )
          }
        }
        return closed
      })

    /**
     * Wait until every series' indicator has applied the newest closed candle of the cache (a repair may still be
     * filling a hole when the market stops: this waits for it rather than judging the cache mid-repair).
     */
    const settled = Effect.forEach(symbols, (symbol) =>
      Effect.forEach(FRAMES, (timeframe) =>
        waitFor(
          `${symbol} ${timeframe} caught up`,
          Effect.gen(function* () {
            const s = series(symbol, timeframe)
            const cached = yield* get(CandleCache.CandleCache).range(s, 0, Number.MAX_SAFE_INTEGER)
            const last = cached.filter((c) => c.closed).at(-1)?.openTime ?? null
            const stored = yield* record(s)
            return Option.isSome(stored) && stored.value.lastOpenTime === last
          })
        )
      )
    )

    return {
      sim,
      row,
      symbols,
      runner,
      lifecycle,
      receiver,
      alerts: Ref.get(alerts),
      runMarketUntil,
      series,
      closedCached,
      record,
      settled,
      outbox: get(AlertOutbox.AlertOutbox),
      get,
      clock: SimTime.clockOf(sim)
    }
  })

/** What the rules give over `candles` (all of a series, oldest first): every alert with its candle. */
const recompute = (candles: ReadonlyArray<Candle.Candle>, timeframe: Timeframe.Timeframe) => {
  const acc = new MacdV.Accumulator()
  let state = AlertRules.initial
  const fired: Array<{ label: string; candleOpenTime: number; value: number; price: number }> = []
  for (const candle of candles) {
    acc.push(candle)
    const result = AlertRules.evaluate(state, {
      reading: acc.reading(),
      candleOpenTime: candle.openTime,
      closeTime: candle.openTime + Timeframe.durationMs[timeframe],
      price: candle.close
    })
    state = result.state
    for (const f of result.fired) fired.push({ label: f.label, candleOpenTime: f.candleOpenTime, value: f.value, price: f.price })
  }
  return { state: acc.state(), fired }
}

/** Every open time between the first and last candle is there, one timeframe apart. */
const assertNoHole = (candles: ReadonlyArray<Candle.Candle>, timeframe: Timeframe.Timeframe, what: string) => {
  const d = Timeframe.durationMs[timeframe]
  for (let i = 1; i < candles.length; i++) {
    if (candles[i]!.openTime !== candles[i - 1]!.openTime + d) {
      assert.fail(
        `${what}: missing open time after ${new Date(candles[i - 1]!.openTime).toISOString()} (next ${new Date(candles[i]!.openTime).toISOString()}, ${candles.length} closed candles)`
      )
    }
  }
}

describe("LivePipeline", () => {
  it.scopedLive(
    "a market falling through −150 and −200 and reversing fires exactly the recomputed alerts, once on Redis, once in Postgres, once at each webhook",
    () =>
      withStore(
        Effect.scoped(Effect.gen(function* () {
          const start = T + 2 * FIVE
          const w = yield* world({ scripts: [crash("BTCUSDT", start)] })
          yield* Effect.withClock(w.clock)(Effect.gen(function* () {
          yield* w.runner.start("test")
          yield* w.runner.awaitActive
          yield* w.runMarketUntil(T + 50 * FIVE)
          yield* w.settled
          yield* w.outbox.drained
          const storedCount = (yield* (yield* AlertsRepo.AlertsRepo).list({ exchangeId: w.row.id, limit: 1000 })).items.length
          yield* waitFor("the alerts channel delivered", Effect.map(w.alerts, (all) => all.length >= storedCount))

          const published = yield* w.alerts
          const btc = w.symbols.find((s) => s === "BTCUSDT")!
          for (const timeframe of FRAMES) {
            const candles = yield* w.closedCached(w.series(btc, timeframe))
            assertNoHole(candles, timeframe, `BTCUSDT ${timeframe}`)
            const expected = recompute(candles, timeframe).fired.filter((f) => f.candleOpenTime >= T)
            const actual = published
              .filter((a) => a.symbol === btc && a.timeframe === timeframe)
              .map((a) => ({ label: a.label, candleOpenTime: a.candleOpenTime, value: a.value, price: a.price }))
            assert.deepStrictEqual(actual, expected, `BTCUSDT ${timeframe}: the alerts equal the indicators package's`)
            if (timeframe === "5m") {
              const labels = expected.map((f) => f.label)
              assert.include(labels, "level_-150")
              assert.include(labels, "level_-200")
              assert.include(labels, "reversal_oversold")
            }
            const stored = Option.getOrThrow(yield* w.record(w.series(btc, timeframe)))
            assert.deepStrictEqual(stored.state, recompute(candles, timeframe).state, `${timeframe}: the indicator key equals a recomputation`)
          }

          // Each alert once: on the channel, in alert_history, at both webhooks.
          const keys = published.map(alertKey)
          assert.strictEqual(new Set(keys).size, keys.length, "no alert published twice")
          const page = yield* (yield* AlertsRepo.AlertsRepo).list({ exchangeId: w.row.id, limit: 1000 })
          assert.deepStrictEqual(page.items.map((s) => alertKey(s.alert)).sort(), [...keys].sort())
          assert.deepStrictEqual(
            page.items.filter((s) => !s.notificationSent).map((s) => [alertKey(s.alert), s.notificationError]),
            [],
            "every stored alert was delivered"
          )
          const delivered = w.receiver.bodies("/json") as ReadonlyArray<{ alert: { symbol: string; timeframe: string; label: string; candleOpenTime: number } }>
          assert.deepStrictEqual(
            delivered.map(({ alert: a }) => `${a.symbol}|${a.timeframe}|${a.label}|${a.candleOpenTime}`).sort(),
            [...keys].sort()
          )
          assert.strictEqual(w.receiver.bodies("/discord").length, keys.length)
          }))
        }))
      ),
    120_000
  )
  for (const adapter of ["binance", "coinbase"] as const) {
  it.scopedLive(
    `${adapter}: a WebSocket dropped mid-candle among malformed frames: afterwards no open time is missing, indicators equal a recomputation, no alert twice`,
    () =>
      withStore(
        Effect.scoped(
          Effect.gen(function* () {
            const w = yield* world({ adapter, faults: { malformedFrames: 0.2 } })
            yield* Effect.withClock(w.clock)(
              Effect.gen(function* () {
                yield* w.runner.start("test")
                yield* w.runner.awaitActive
                yield* w.runMarketUntil(T + 10 * FIVE + FIVE / 2)
                const connectionsBefore = (yield* w.sim.stats).wsConnectionsTotal
                // Mid-candle: the connection goes with the candle's close still ahead, and stays away a while.
                yield* w.sim.setFaults({ dropConnections: true, rejectConnections: true })
                yield* w.sim.setClock({ speed: SPEED })
                yield* Effect.sleep("1 second")
                yield* w.sim.setFaults({ rejectConnections: false })
                yield* w.runMarketUntil(T + 30 * FIVE)
                yield* w.settled
                yield* w.outbox.drained
                assert.isAbove((yield* w.sim.stats).wsConnectionsTotal, connectionsBefore, "the node reconnected")
                assert.strictEqual((yield* w.lifecycle.status).connectionState, "active")
                const malformed = (yield* w.sim.stats).malformedFramesSent
                assert.isAbove(malformed, 0, "the venue sent malformed frames")

                for (const symbol of w.symbols) {
                  for (const timeframe of FRAMES) {
                    const s = w.series(symbol, timeframe)
                    const candles = yield* w.closedCached(s)
                    assertNoHole(candles, timeframe, `${symbol} ${timeframe}`)
                    const stored = Option.getOrThrow(yield* w.record(s))
                    assert.deepStrictEqual(stored.state, recompute(candles, timeframe).state, `${symbol} ${timeframe}`)
                  }
                  // The 5m candles span the outage: it really was repaired, not avoided.
                  const fives = yield* w.closedCached(w.series(symbol, "5m"))
                  assert.isAtMost(fives[0]!.openTime, T + 10 * FIVE)
                  assert.isAtLeast(fives.at(-1)!.openTime, T + 25 * FIVE)
                }
                const keys = (yield* w.alerts).map(alertKey)
                assert.strictEqual(new Set(keys).size, keys.length, "no alert published twice")
                const page = yield* (yield* AlertsRepo.AlertsRepo).list({ exchangeId: w.row.id, limit: 1000 })
                assert.strictEqual(page.items.length, new Set(page.items.map((s) => alertKey(s.alert))).size)
              })
            )
          })
        )
      ),
    120_000
  )
  }

  it.scopedLive(
    "a stale series fires nothing: the crash happens while the venue is silent and its REST fails; repaired later, it alerts on none of it",
    () =>
      withStore(
        Effect.scoped(
          Effect.gen(function* () {
            const w = yield* world({ scripts: [crash("BTCUSDT", T + 2 * FIVE)] })
            yield* Effect.withClock(w.clock)(
              Effect.gen(function* () {
                yield* w.runner.start("test")
                yield* w.runner.awaitActive
                const btc5m = w.series(w.symbols.find((s) => s === "BTCUSDT")!, "5m")
                yield* w.sim.setFaults({ silence: true, restErrorRate: 1 })
                const silentUntil = T + 40 * FIVE
                yield* w.sim.setClock({ speed: SPEED })
                yield* waitFor(
                  "the series marked stale",
                  Effect.gen(function* () {
                    const stored = yield* w.record(btc5m)
                    const status = yield* w.lifecycle.status
                    return Option.isSome(stored) && stored.value.stale && status.staleSeries > 0
                  })
                )
                yield* w.runMarketUntil(silentUntil)
                yield* w.sim.setFaults({ silence: false, restErrorRate: 0, dropConnections: true })
                yield* w.runMarketUntil(silentUntil + 6 * FIVE)
                yield* w.settled
                yield* w.outbox.drained
                const fresh = Option.getOrThrow(yield* w.record(btc5m))
                assert.isFalse(fresh.stale, "repaired, the series is fresh again")

                // The rules, recomputed, do fire during the silence: those alerts must not have been sent.
                const candles = yield* w.closedCached(btc5m)
                assertNoHole(candles, "5m", "BTCUSDT 5m")
                const oldNews = silentUntil - 2 * FIVE - 5 * 60_000
                const wouldHaveFired = recompute(candles, "5m").fired.filter((f) => f.candleOpenTime >= T && f.candleOpenTime < oldNews)
                assert.isAbove(wouldHaveFired.length, 0, "the crash fires in a recomputation")
                const sent = (yield* w.alerts).filter(
                  (a) => a.symbol === btc5m.symbol && a.timeframe === "5m" && a.candleOpenTime < oldNews
                )
                assert.deepStrictEqual(sent, [], "nothing fired from stale data")
              })
            )
          })
        )
      ),
    120_000
  )
  it.scopedLive(
    "a Redis restart mid-stream is survived: the node stays up, re-takes its lock, and candles and indicators flow into the new server",
    () =>
      withStore(
        Effect.scoped(
          Effect.gen(function* () {
            const redis = yield* PrivateRedis.make
            const w = yield* world({ redisUrl: redis.url })
            yield* Effect.withClock(w.clock)(
              Effect.gen(function* () {
                yield* w.runner.start("test")
                yield* w.runner.awaitActive
                yield* w.runMarketUntil(T + 6 * FIVE)
                yield* w.sim.setClock({ speed: SPEED })
                yield* redis.restart(1_000)
                const restartedAt = w.sim.clock.now()
                yield* w.runMarketUntil(restartedAt + 12 * FIVE)
                yield* w.settled
                const status = yield* w.lifecycle.status
                assert.strictEqual(status.connectionState, "active")
                for (const symbol of w.symbols) {
                  const s = w.series(symbol, "5m")
                  const candles = yield* w.closedCached(s)
                  assert.isAtLeast(candles.at(-1)!.openTime, restartedAt + 10 * FIVE, `${symbol}: new closes land in the new server`)
                  const stored = Option.getOrThrow(yield* w.record(s))
                  assert.strictEqual(stored.lastOpenTime, candles.at(-1)!.openTime)
                  assert.isAbove(stored.validity.bars, 60, "the indicator kept its history across the restart")
                }
                // The new server started empty: the lease is this node's again, taken at a fresh epoch.
                const lease = Option.getOrThrow(yield* w.get(ExchangeLock.ExchangeLock).holder(w.row.id))
                assert.strictEqual(lease.holder.instanceId, "pipeline-node")
              })
            )
          })
        )
      ),
    120_000
  )
})
