/**
 * The exchange runner end to end: real Redis (a namespace per test, deleted afterwards), the simulator over real
 * sockets for both protocols, and the lifecycle recorded in the `logs:network:{name}` stream.
 */
import { assert, describe, it } from "@effect/vitest"
import { CandleCache, EventLog, ExchangeLock, StatusStore } from "@livermore/cache"
import type { Exchange } from "@livermore/domain"
import { ExchangeSim } from "@livermore/exchange-sim"
import { Context, type Duration, Effect, Exit, FiberRef, Layer, LogLevel, Option } from "effect"
import * as ExchangeRunner from "../src/ExchangeRunner.js"
import * as Lifecycle from "../src/Lifecycle.js"
import { adapterLayer, nodeLayer, redisCache, simRow, simSymbols } from "./nodeSupport.js"
import { assertSameStatus } from "./scenarios.js"


/** Poll `check` every 50 ms until it holds; dies naming `what` after `ms`. */
const waitFor = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, ms = 15_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + ms
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep("50 millis")
    }
  })

/** A simulator, the cache on Redis, and a function building one node (lifecycle + runner) per instance id. */
const world = (adapter: Exchange.AdapterKind, options: { readonly symbols?: number } = {}) =>
  Effect.gen(function* () {
    yield* Effect.locallyScoped(FiberRef.currentMinimumLogLevel, LogLevel.Error)
    const sim = yield* ExchangeSim.make({ speed: 1, symbols: 10 })
    const row = simRow(sim, adapter)
    const cache = yield* Layer.build(Layer.merge(redisCache(), adapterLayer(row)))
    const symbols = simSymbols(sim, adapter, options.symbols ?? 3)
    const node = (
      instanceId: string,
      extra: Partial<Omit<ExchangeRunner.Options, "holder">> & { readonly statusTtl?: Duration.DurationInput } = {}
    ) =>
      Effect.map(
        Layer.build(
          nodeLayer(row, instanceId, { universe: Effect.succeed(symbols), heartbeatInterval: "200 millis", ...extra }).pipe(
            Layer.provide(Layer.succeedContext(cache))
          )
        ),
        (context) => ({
          runner: Context.get(context, ExchangeRunner.ExchangeRunner),
          lifecycle: Context.get(context, Lifecycle.Lifecycle)
        })
      )
    const get = <I, S>(tag: Context.Tag<I, S>) => Context.get(cache as Context.Context<I>, tag)
    return { sim, row, symbols, node, cache, get }
  })

const eventsOf = (w: Effect.Effect.Success<ReturnType<typeof world>>) =>
  Effect.map(w.get(EventLog.EventLog).range(w.row.name), (entries) => entries.map((e) => e.event))

describe("ExchangeRunner", () => {
  for (const adapter of ["binance", "coinbase"] as const) {
    it.scopedLive(
      `reaches active on the ${adapter} simulator; the stream holds the transitions in order; the rebuild equals the status key; stop releases the lock`,
      () =>
        Effect.gen(function* () {
          const w = yield* world(adapter)
          const { runner, lifecycle } = yield* w.node("node-a")
          const started = yield* runner.start("operator start")
          assert.include(["starting", "warming"], started.connectionState)
          const active = yield* runner.awaitActive
          assert.strictEqual(active.connectionState, "active")
          assert.strictEqual(active.symbolCount, w.symbols.length)
          assert.isNotNull(active.lockEpoch)
          assert.isNotNull(active.connectedAt)

          // The heartbeat keeps the key fresh and the live stream fills the cache.
          yield* waitFor("a heartbeat", Effect.map(lifecycle.status, (s) => s.lastHeartbeat !== null))
          const key = Option.getOrThrow(yield* w.get(StatusStore.StatusStore).get(w.row.id))
          assertSameStatus(yield* lifecycle.rebuild, key, "the projection rebuilt from the stream equals the status key")
          const cached = yield* w.get(CandleCache.CandleCache).count({ exchangeId: w.row.id, symbol: w.symbols[0]!, timeframe: "1d" })
          assert.isAtLeast(cached, 60, "warmup filled the daily series")

          const lease = yield* w.get(ExchangeLock.ExchangeLock).holder(w.row.id)
          assert.strictEqual(Option.getOrThrow(lease).holder.instanceId, "node-a")

          const stopped = yield* runner.stop("operator stop")
          assert.strictEqual(stopped.connectionState, "stopped")
          assert.isTrue(Option.isNone(yield* w.get(ExchangeLock.ExchangeLock).holder(w.row.id)), "the lock is free")

          const events = yield* eventsOf(w)
          assert.deepStrictEqual(
            events.filter((e) => e.type === "transition").map((e) => e.to),
            ["starting", "warming", "active", "stopping", "stopped"]
          )
          assert.deepStrictEqual(
            events.map((e) => e.type).filter((t) => t !== "transition"),
            ["lock_acquired", "warmup_started", "warmup_finished", "lock_released"]
          )
          const final = Option.getOrThrow(yield* w.get(StatusStore.StatusStore).get(w.row.id))
          assertSameStatus(yield* lifecycle.rebuild, final, "and after stopping")
        }),
      60_000
    )
  }

  for (const adapter of ["binance", "coinbase"] as const) {
    it.scopedLive(`${adapter}: a lost connection is reconnecting while it is down and active again once restored`, () =>
      Effect.gen(function* () {
        const w = yield* world(adapter)
        const a = yield* w.node("node-a")
        yield* a.runner.start("start")
        yield* a.runner.awaitActive
        yield* waitFor("the live stream connected", Effect.map(w.sim.stats, (s) => s.wsConnections > 0))
        // Past the subscribe frames (spaced 1/8 s on Coinbase): a drop during them is a failed connect, not a loss.
        yield* Effect.sleep("1 second")
        // The venue drops every connection and refuses new ones for a while.
        yield* w.sim.setFaults({ rejectConnections: true, dropConnections: true })
        yield* waitFor("reconnecting", Effect.map(a.lifecycle.status, (s) => s.connectionState === "reconnecting"))
        yield* Effect.sleep("1 second")
        assert.strictEqual((yield* a.lifecycle.status).connectionState, "reconnecting", "still down")
        yield* w.sim.setFaults({ rejectConnections: false })
        yield* waitFor("active again", Effect.map(a.lifecycle.status, (s) => s.connectionState === "active"), 30_000)
        const transitions = (yield* eventsOf(w)).filter((e) => e.type === "transition")
        assert.deepStrictEqual(
          transitions.map((e) => e.to),
          ["starting", "warming", "active", "reconnecting", "active"]
        )
        assert.include(transitions[3]!.message, "exchange connection lost")
        assert.include(transitions[4]!.message, "restored after")
        const key = Option.getOrThrow(yield* w.get(StatusStore.StatusStore).get(w.row.id))
        assertSameStatus(yield* a.lifecycle.rebuild, key, "the projection still equals the key")
      }),
      60_000
    )
  }

  it.scopedLive("a second instance is refused with the holder's hostname, IP and since; it ends stopped with lastError", () =>
    Effect.gen(function* () {
      const w = yield* world("binance")
      const a = yield* w.node("node-a")
      yield* a.runner.start("first")
      yield* a.runner.awaitActive
      const b = yield* w.node("node-b")
      const refused = yield* Effect.flip(b.runner.start("second"))
      assert.strictEqual(refused._tag, "StartFailed")
      assert.include(refused.message, "node-a")
      assert.include(refused.message, "host-of-node-a")
      assert.include(refused.message, "127.0.0.1")
      assert.match(refused.message, /since \d{4}-\d\d-\d\dT/)
      const status = yield* b.lifecycle.status
      assert.strictEqual(status.connectionState, "stopped")
      assert.include(status.lastError ?? "", "host-of-node-a")
      const denied = (yield* eventsOf(w)).filter((e) => e.type === "lock_denied")
      assert.strictEqual(denied.length, 1)
      assert.strictEqual(denied[0]!.instanceId, "node-b")
      assert.strictEqual((yield* a.lifecycle.status).connectionState, "active", "the holder is untouched")
      const key = Option.getOrThrow(yield* w.get(StatusStore.StatusStore).get(w.row.id))
      assert.strictEqual(key.instanceId, "node-a", "the refused instance never wrote the exchange's status key")
      assert.strictEqual(key.connectionState, "active")
    }),
    60_000
  )

  it.scopedLive("a holder that finds its lock taken at a newer epoch stops itself", () =>
    Effect.gen(function* () {
      const w = yield* world("binance")
      const a = yield* w.node("node-a")
      yield* a.runner.start("first")
      yield* a.runner.awaitActive
      const lock = w.get(ExchangeLock.ExchangeLock)
      const lease = Option.getOrThrow(yield* lock.holder(w.row.id))
      // Another instance got the lock after this one's lease was (as far as Redis knows) gone.
      yield* lock.release(w.row.id, "node-a", lease.epoch)
      const usurper = yield* lock.acquire(
        w.row.id,
        new ExchangeLock.LockHolder({ instanceId: "node-z", hostname: "elsewhere", ipAddress: null, connectedAt: null }),
        "30 seconds"
      )
      assert.isAbove(usurper.epoch, lease.epoch)
      const ended = yield* a.runner.ended
      assert.isTrue(Option.isSome(ended))
      yield* waitFor("node-a to stop", Effect.map(a.lifecycle.status, (s) => s.connectionState === "stopped"))
      const status = yield* a.lifecycle.status
      assert.include(status.lastError ?? "", "lost the lock")
      const after = Option.getOrThrow(yield* lock.holder(w.row.id))
      assert.strictEqual(after.holder.instanceId, "node-z", "the stale holder did not release the new lease")
    }),
    60_000
  )

  it.scopedLive("stop interrupts a warmup in progress and the lock is released", () =>
    Effect.gen(function* () {
      const w = yield* world("binance")
      const slowUniverse = Effect.as(Effect.sleep("30 seconds"), w.symbols)
      const a = yield* w.node("node-a", { universe: slowUniverse })
      yield* a.runner.start("start")
      const t0 = Date.now()
      const stopped = yield* a.runner.stop("changed my mind")
      assert.isBelow(Date.now() - t0, 5_000)
      assert.strictEqual(stopped.connectionState, "stopped")
      assert.isTrue(Option.isNone(yield* w.get(ExchangeLock.ExchangeLock).holder(w.row.id)))
      const exit = yield* Effect.exit(a.runner.awaitActive)
      assert.isTrue(Exit.isFailure(exit), "never became active")
      // It can be started again from stopped.
      const b = yield* w.node("node-b")
      yield* b.runner.start("again")
      assert.strictEqual((yield* b.runner.awaitActive).connectionState, "active")
    }),
    60_000
  )

  it.scopedLive("an empty symbol universe fails the start through stopping to stopped, with the reason", () =>
    Effect.gen(function* () {
      const w = yield* world("binance")
      const a = yield* w.node("node-a", { universe: Effect.succeed([]) })
      yield* a.runner.start("start")
      const error = yield* Effect.flip(a.runner.awaitActive)
      assert.include(error.message, "symbol universe is empty")
      yield* waitFor("stopped", Effect.map(a.lifecycle.status, (s) => s.connectionState === "stopped"))
      assert.include((yield* a.lifecycle.status).lastError ?? "", "symbol universe is empty")
      assert.isTrue(Option.isNone(yield* w.get(ExchangeLock.ExchangeLock).holder(w.row.id)))
    }),
    60_000
  )
})
