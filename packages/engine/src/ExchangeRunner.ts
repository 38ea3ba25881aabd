/**
 * Serving one exchange: the actor behind the lifecycle of domain.md §5. `start` takes the lock (or is refused
 * with the holder's identity), begins the heartbeat that renews status and lock, resolves the symbol universe,
 * runs the smart warmup and then keeps the live stream flowing into the cache; `stop` unwinds all of it and
 * releases the lock. Every step is recorded through `Lifecycle`, so the event log tells the whole story.
 *
 * Everything a run owns lives in one scope per run: closing it interrupts the warmup, the live stream and the
 * heartbeat, then releases the lock — the same way whether an operator stopped it, the lock was lost to a newer
 * epoch, or the exchange connection was given up.
 *
 * Commands are serialized (one at a time), except that `stop` can always interrupt a run that is still
 * starting or warming: the run itself is a fiber in the run's scope, never the caller's.
 */
import {
  type Bus,
  type CacheError as CacheErrors,
  CandleCache,
  ExchangeLock,
  type IndicatorStore,
  Keys,
  type PublicCatalog,
  type TickerCache
} from "@livermore/cache"
import type { Lifecycle as Domain, Market, Status, Timeframe } from "@livermore/domain"
import { ExchangeAdapter, type ExchangeError } from "@livermore/exchange"
import {
  Clock,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  Fiber,
  Layer,
  Option,
  Ref,
  Schedule,
  Scope
} from "effect"
import type * as AlertOutbox from "./AlertOutbox.js"
import type * as Ingest from "./Ingest.js"
import { JsonStore } from "./JsonStore.js"
import { Lifecycle } from "./Lifecycle.js"
import * as LivePipeline from "./LivePipeline.js"
import * as Metrics from "./Metrics.js"
import * as Warmup from "./Warmup.js"
import * as WarmupPlan from "./WarmupPlan.js"



type CacheError = CacheErrors.CacheError

/** Why a run could not come up. */
export class StartFailed extends Data.TaggedError("StartFailed")<{
  readonly exchange: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Cannot serve ${this.exchange}: ${this.reason}`
  }
}

/** A command that does not apply in the current state (e.g. `resume` while not paused). */
export class NotApplicable extends Data.TaggedError("NotApplicable")<{
  readonly command: string
  readonly state: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.command} does not apply in state ${this.state}: ${this.reason}`
  }
}

/** Tunables of a run; the defaults are domain.md §5's. */
export interface Options<R = never> {
  /** How often status and lock are refreshed. Default 10 seconds. */
  readonly heartbeatInterval?: Duration.DurationInput | undefined
  /** Lease length of the lock (the status TTL is the `Lifecycle`'s). Default 30 seconds. */
  readonly lockTtl?: Duration.DurationInput | undefined
  /** Timeframes served. Default: the exchange row's. */
  readonly timeframes?: ReadonlyArray<Timeframe.Timeframe> | undefined
  /** Resolves the symbols to serve at each start (the symbol universe). */
  readonly universe: Effect.Effect<ReadonlyArray<Market.SymbolId>, unknown, R>
  /** Passed to the warmup. */
  readonly warmup?: { readonly minCandles?: number | undefined; readonly concurrency?: number | undefined } | undefined
  /** Tunables of the live pipeline (staleness grace, repair concurrency, …); symbols and timeframes are the run's. */
  readonly pipeline?:
    | Omit<LivePipeline.Options, "symbols" | "timeframes" | "onConnection" | "onStaleCount">
    | undefined
  /** Who this instance is, as the lock shows it to anyone refused. */
  readonly holder: ExchangeLock.LockHolder
}

/** What the runner reports beyond the status. */
export interface RunnerInfo {
  readonly status: Status.InstanceStatus
  readonly paused: boolean
  readonly symbols: ReadonlyArray<Market.SymbolId>
  readonly lastWarmup: WarmupPlan.Stats | null
}

/** The actor serving this instance's exchange. */
export class ExchangeRunner extends Context.Tag("@livermore/engine/ExchangeRunner")<
  ExchangeRunner,
  {
    /**
     * Begin serving: returns once the lock is held and warmup has begun (a refused lock fails here, naming the
     * holder). Warmup and the move to `active` go on in the run's own fiber; `awaitActive` waits for them.
     */
    readonly start: (reason: string) => Effect.Effect<Status.InstanceStatus, StartFailed | NotApplicable>
    /** Wait until the current run is `active`; fails with why it ended if it never got there. */
    readonly awaitActive: Effect.Effect<Status.InstanceStatus, StartFailed | NotApplicable>
    /** Stop serving (interrupting a warmup in progress) and release the lock. A no-op when not serving. */
    readonly stop: (reason: string) => Effect.Effect<Status.InstanceStatus>
    /** Stop taking live data while keeping the lock (the exchange stays served by this instance). */
    readonly pause: Effect.Effect<RunnerInfo, NotApplicable>
    /** Fill the gap left by the pause from REST (smart warmup), then take live data again. */
    readonly resume: Effect.Effect<RunnerInfo, NotApplicable | StartFailed>
    /** Re-resolve the symbol universe; a changed set restarts the live stream (after warming the new pairs). */
    readonly reloadSymbols: Effect.Effect<RunnerInfo, NotApplicable | StartFailed>
    /** Run the smart warmup again for `symbols`/`timeframes` (all served ones by default). */
    readonly backfill: (
      symbols?: ReadonlyArray<Market.SymbolId>,
      timeframes?: ReadonlyArray<Timeframe.Timeframe>
    ) => Effect.Effect<WarmupPlan.Stats, NotApplicable | StartFailed>
    /** Delete the cached candles of `symbols` (all served ones by default); returns the series cleared. */
    readonly clearCache: (symbols?: ReadonlyArray<Market.SymbolId>) => Effect.Effect<number, NotApplicable | StartFailed>
    readonly info: Effect.Effect<RunnerInfo>
    /** Resolves when the current run ends (stop, lost lock, gave up reconnecting); `undefined` when not running. */
    readonly ended: Effect.Effect<Option.Option<Exit.Exit<void, StartFailed>>>
  }
>() {}

interface Run {
  readonly scope: Scope.CloseableScope
  /** The lock epoch held; changes only when a vanished lease is taken again. */
  epoch: number
  /** Completed when the run is active, or failed with why it never got there. */
  readonly active: Deferred.Deferred<void, StartFailed>
  /** Completed when the run is over, with why. */
  readonly ended: Deferred.Deferred<void, StartFailed>
  symbols: ReadonlyArray<Market.SymbolId>
  live: Fiber.RuntimeFiber<void, never> | undefined
  pipeline: LivePipeline.LivePipeline | undefined
  paused: boolean
}

type Env =
  | Lifecycle
  | ExchangeLock.ExchangeLock
  | ExchangeAdapter.ExchangeAdapter
  | CandleCache.CandleCache
  | TickerCache.TickerCache
  | IndicatorStore.IndicatorStore
  | Bus.Bus
  | AlertOutbox.AlertOutbox
  | PublicCatalog.PublicCatalog
  | JsonStore

const describe = (cause: unknown): string => {
  if (cause instanceof Error && cause.message !== "") return cause.message
  if (typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string") {
    return cause.message
  }
  return String(cause)
}

/** The runner over the services of the environment; its runs live in the layer's scope. */
export const make = <R = never>(
  options: Options<R>
): Effect.Effect<Context.Tag.Service<ExchangeRunner>, never, Env | R | Scope.Scope> =>
  Effect.gen(function* () {
    const universeNeeds = yield* Effect.context<R>()
    const universe = Effect.provide(options.universe, universeNeeds)
    const lifecycle = yield* Lifecycle
    const lock = yield* ExchangeLock.ExchangeLock
    const adapter = yield* ExchangeAdapter.ExchangeAdapter
    const candles = yield* CandleCache.CandleCache
    const context = yield* Effect.context<Env>()
    const layerScope = yield* Effect.scope
    // Runs live in a scope of their own, made now: the layer's `stop` finalizer (added after `make`) then runs
    // before any run scope closes, so a shutdown goes stopping → lock released → stopped, in that order.
    const runsScope = yield* Scope.fork(layerScope, ExecutionStrategy.sequential)
    const exchange = adapter.exchange
    const exchangeId = exchange.id
    const heartbeatInterval = Duration.decode(options.heartbeatInterval ?? Duration.seconds(10))
    const lockTtl = Duration.decode(options.lockTtl ?? Duration.seconds(30))
    const timeframes = options.timeframes ?? exchange.timeframes
    const mailbox = yield* Effect.makeSemaphore(1)
    const current = yield* Ref.make<Run | undefined>(undefined)
    const lastWarmup = yield* Ref.make<WarmupPlan.Stats | null>(null)

    const failure = (reason: string, cause?: unknown) => new StartFailed({ exchange: exchange.name, reason, cause })

    /**
     * Cache writes of the lifecycle must not take a run down: the log is the truth and the next write repairs.
     * A rejected transition means a race this actor lost (e.g. a reconnect reported while stopping): logged.
     */
    const note = <A>(effect: Effect.Effect<A, CacheError | Domain.InvalidTransition>): Effect.Effect<void> =>
      Effect.catchAll(Effect.asVoid(effect), (error) =>
        Effect.logWarning(`Lifecycle record failed: ${error.message}`)
      )

    const warm = (symbols: ReadonlyArray<Market.SymbolId>, frames: ReadonlyArray<Timeframe.Timeframe>) =>
      Warmup.run({ symbols, timeframes: frames, ...options.warmup }).pipe(
        Effect.tap((stats) => Ref.set(lastWarmup, stats)),
        Effect.mapError((error) => failure(`warmup: ${error.message}`, error)),
        Effect.provide(context)
      )

    /**
     * Connections of the live stream currently lost (an adapter may hold several): `active ⇄ reconnecting`
     * follows it, so the state says `reconnecting` while some part of the feed is being restored.
     */
    let connectionsDown = 0

    const onConnection = (event: Ingest.ConnectionEvent): Effect.Effect<void> => {
      switch (event._tag) {
        case "Disconnected":
          return Effect.gen(function* () {
            connectionsDown++
            if ((yield* lifecycle.status).connectionState !== "active") return
            yield* note(
              lifecycle.transition(
                "reconnecting",
                `exchange connection lost for ${event.symbols.length} symbol(s): ${event.reason}`
              )
            )
          })
        case "Reconnected":
          return Effect.gen(function* () {
            yield* Metrics.recordWsReconnect(exchange.name)
            const downMs = event.at - event.downSince
            const restored = `exchange connection restored after ${downMs} ms; repairing the gap from REST`
            if (connectionsDown === 0) {
              // A replacement announced by the server (no loss seen first): record the outage as it ends.
              yield* note(
                lifecycle.transition("reconnecting", `exchange connection lost for ${event.symbols.length} symbol(s)`)
              )
              return yield* note(lifecycle.transition("active", restored))
            }
            connectionsDown--
            if (connectionsDown === 0) yield* note(lifecycle.transition("active", restored))
          })
        case "Gap":
          return Effect.logWarning("Messages lost without a disconnect; repairing from REST").pipe(
            Effect.annotateLogs({ symbols: event.symbols.length, reason: event.reason })
          )
      }
    }

    let lastStaleCount = 0
    const onStaleCount = (count: number): Effect.Effect<void> =>
      count === lastStaleCount
        ? Effect.void
        : Effect.suspend(() => {
            lastStaleCount = count
            return note(lifecycle.setStaleSeries(count))
          })

    /** A pipeline over `symbols`, primed from the stored indicator states and the cache. */
    const preparePipeline = (symbols: ReadonlyArray<Market.SymbolId>) =>
      Effect.gen(function* () {
        const pipeline = yield* LivePipeline.make({
          ...options.pipeline,
          symbols,
          timeframes,
          onConnection,
          onStaleCount
        }).pipe(Effect.provide(context))
        const report = yield* pipeline.prime.pipe(
          Effect.mapError((error) => failure(`indicator state: ${error.message}`, error))
        )
        yield* Effect.logInfo(
          `Indicators ready for ${report.series} series: ${report.resumed} resumed, ${report.recomputed} recomputed from the cache, ${report.empty} without candles; ${report.alerts} alert(s) caught up`
        )
        return pipeline
      })

    /** The live stream of a run; giving up reconnecting ends the run with the reason. */
    const liveStream = (run: Run, pipeline: LivePipeline.LivePipeline): Effect.Effect<void> =>
      pipeline.run.pipe(
        Effect.catchAll((error: ExchangeError.ExchangeError) =>
          Effect.gen(function* () {
            if ((yield* lifecycle.status).connectionState === "active") {
              yield* note(lifecycle.transition("reconnecting", "exchange connection lost"))
            }
            yield* endRun(run, failure(`exchange connection given up: ${error.message}`, error))
          })
        )
      )

    const startLive = (run: Run, pipeline: LivePipeline.LivePipeline) =>
      Effect.gen(function* () {
        connectionsDown = 0
        run.pipeline = pipeline
        run.live = yield* Effect.forkIn(liveStream(run, pipeline), run.scope)
        run.paused = false
      })

    const stopLive = (run: Run) =>
      Effect.gen(function* () {
        const live = run.live
        run.live = undefined
        if (live !== undefined) yield* Fiber.interrupt(live)
      })

    /**
     * End `run` (from inside it: a lost lock, a given-up connection, a failed warmup): the teardown is forked
     * into the layer's scope so that closing the run's scope cannot interrupt the teardown itself.
     */
    const endRun = (run: Run, why: StartFailed): Effect.Effect<void> =>
      Effect.asVoid(Effect.forkIn(mailbox.withPermits(1)(teardown(run, why.reason, why)), layerScope))

    /** Under the mailbox: record the error, go through `stopping` to `stopped`, release everything. */
    const teardown = (run: Run, reason: string, why?: StartFailed): Effect.Effect<Status.InstanceStatus> =>
      Effect.gen(function* () {
        if ((yield* Ref.get(current)) !== run) return yield* lifecycle.status
        if (why !== undefined) yield* note(lifecycle.recordError(why.reason))
        yield* note(lifecycle.transition("stopping", reason))
        yield* Scope.close(run.scope, Exit.void)
        yield* note(lifecycle.transition("stopped", why === undefined ? "stopped" : `stopped: ${why.reason}`))
        yield* (why === undefined
          ? Effect.logInfo(`${exchange.name} stopped (${reason}); lock released`)
          : Effect.logWarning(`${exchange.name} stopped: ${why.reason}`))
        yield* Ref.set(current, undefined)
        const exit = why === undefined ? Exit.void : Exit.fail(why)
        yield* Deferred.done(run.active, why === undefined ? Exit.fail(failure(`stopped before active: ${reason}`)) : exit)
        yield* Deferred.done(run.ended, exit)
        return yield* lifecycle.status
      })

    const heartbeat = (run: Run): Effect.Effect<void> =>
      Effect.gen(function* () {
        yield* note(lifecycle.heartbeat)
        const renewed = yield* Effect.either(lock.renew(exchangeId, options.holder.instanceId, run.epoch, lockTtl))
        if (renewed._tag === "Right") return
        const error = renewed.left
        if (error._tag === "LockLost" && error.current === null) {
          // The lease vanished with nobody else holding it (a Redis restart lost every key, or beats were late
          // past the TTL): no other writer exists, so take it again rather than abandon a healthy feed.
          const retaken = yield* Effect.either(lock.acquire(exchangeId, options.holder, lockTtl))
          if (retaken._tag === "Right") {
            run.epoch = retaken.right.epoch
            yield* note(
              lifecycle.lockAcquired(run.epoch, `lock taken again at epoch ${run.epoch}: the previous lease had vanished`)
            )
            return
          }
        }
        if (error._tag === "LockLost") {
          // Fenced out: someone holds a newer epoch (or the lease expired). Serving on would mean two writers.
          yield* note(lifecycle.lockReleased(error.message))
          return yield* endRun(run, failure(error.message, error))
        }
        yield* Effect.logWarning(`Lock renewal failed, retrying at the next beat: ${error.message}`)
      }).pipe(Effect.repeat(Schedule.spaced(heartbeatInterval)), Effect.asVoid)

    /** The part of a run after the lock: symbols, warmup, active, live. Fails with why it could not come up. */
    const bringUp = (run: Run): Effect.Effect<void, StartFailed> =>
      Effect.gen(function* () {
        const symbols = yield* universe.pipe(
          Effect.mapError((error) => failure(`symbol universe: ${describe(error)}`, error))
        )
        if (symbols.length === 0) return yield* failure("the symbol universe is empty")
        run.symbols = symbols
        yield* note(lifecycle.setSymbolCount(symbols.length))
        yield* note(lifecycle.transition("warming", `warming ${symbols.length} symbols × ${timeframes.length} timeframes`))
        yield* note(lifecycle.warmup("started", `${symbols.length} symbols × ${timeframes.join(",")}`))
        const stats = yield* warm(symbols, timeframes)
        yield* note(
          lifecycle.warmup(
            "finished",
            `${stats.status}: ${stats.completedPairs} fetched, ${stats.skippedPairs} already cached, ${stats.failedPairs} failed`
          )
        )
        const pipeline = yield* preparePipeline(symbols)
        yield* note(lifecycle.transition("active", `serving ${symbols.length} symbols`))
        yield* startLive(run, pipeline)
        yield* Deferred.succeed(run.active, undefined)
      })

    const start = (reason: string): Effect.Effect<Status.InstanceStatus, StartFailed | NotApplicable> =>
      mailbox.withPermits(1)(
        Effect.gen(function* () {
          const state = (yield* lifecycle.status).connectionState
          if (state !== "idle" && state !== "stopped") {
            return yield* new NotApplicable({ command: "start", state, reason: "already serving" })
          }
          yield* note(lifecycle.transition("starting", reason))
          const acquired = yield* Effect.either(lock.acquire(exchangeId, options.holder, lockTtl))
          if (acquired._tag === "Left") {
            const error = acquired.left
            if (error._tag === "LockHeldElsewhere") yield* note(lifecycle.lockDenied(error.message))
            yield* note(lifecycle.recordError(error.message))
            yield* note(lifecycle.transition("stopping", "could not take the lock"))
            yield* note(lifecycle.transition("stopped", `stopped: ${error.message}`))
            return yield* failure(error.message, error)
          }
          const lease = acquired.right
          yield* note(lifecycle.lockAcquired(lease.epoch, `lock taken at epoch ${lease.epoch}`))
          const scope = yield* Scope.fork(runsScope, ExecutionStrategy.sequential)
          const run: Run = {
            scope,
            epoch: lease.epoch,
            active: yield* Deferred.make<void, StartFailed>(),
            ended: yield* Deferred.make<void, StartFailed>(),
            symbols: [],
            live: undefined,
            pipeline: undefined,
            paused: false
          }
          // Closing the run releases the lock last (finalizers run in reverse): nothing writes after the release.
          yield* Scope.addFinalizer(
            scope,
            Effect.gen(function* () {
              const released = yield* Effect.either(lock.release(exchangeId, options.holder.instanceId, run.epoch))
              if (released._tag === "Right" && released.right) {
                yield* note(lifecycle.lockReleased(`lock released (epoch ${run.epoch})`))
              }
            })
          )
          yield* Ref.set(current, run)
          yield* Effect.forkIn(heartbeat(run), scope)
          yield* Effect.forkIn(
            bringUp(run).pipe(Effect.catchAll((why) => Effect.andThen(Deferred.fail(run.active, why), endRun(run, why)))),
            scope
          )
          return yield* lifecycle.status
        })
      ).pipe(Effect.withSpan("ExchangeRunner.start", { attributes: { exchange: exchange.name } }))

    const awaitActive = Effect.gen(function* () {
      const run = yield* Ref.get(current)
      if (run === undefined) {
        const state = (yield* lifecycle.status).connectionState
        return yield* new NotApplicable({ command: "awaitActive", state, reason: "not serving" })
      }
      yield* Deferred.await(run.active)
      return yield* lifecycle.status
    })

    const stop = (reason: string): Effect.Effect<Status.InstanceStatus> =>
      Effect.gen(function* () {
        // Interrupt a bring-up first, outside the mailbox: a long warmup must not hold a stop back.
        const run = yield* Ref.get(current)
        if (run === undefined) return yield* lifecycle.status
        return yield* mailbox.withPermits(1)(teardown(run, reason))
      }).pipe(Effect.withSpan("ExchangeRunner.stop", { attributes: { exchange: exchange.name } }))

    const serving = (command: string) =>
      Effect.gen(function* () {
        const run = yield* Ref.get(current)
        const state = (yield* lifecycle.status).connectionState
        if (run === undefined || state !== "active") {
          return yield* new NotApplicable({ command, state, reason: "the exchange is not being served (active)" })
        }
        return run
      })

    const info: Effect.Effect<RunnerInfo> = Effect.gen(function* () {
      const run = yield* Ref.get(current)
      return {
        status: yield* lifecycle.status,
        paused: run?.paused ?? false,
        symbols: run?.symbols ?? [],
        lastWarmup: yield* Ref.get(lastWarmup)
      }
    })

    // Gauges follow the lifecycle and the adapter's counters; sampled, so a scrape is at most a second behind.
    const store = yield* JsonStore
    yield* Metrics.register(exchange.name, timeframes)
    const sampled = { requests: 0, rateLimited: 0, banned: 0 }
    const sample = Effect.gen(function* () {
      const status = yield* lifecycle.status
      yield* Metrics.setLifecycleState(exchange.name, status.connectionState)
      if (status.lastHeartbeat !== null) {
        const now = yield* Clock.currentTimeMillis
        yield* Metrics.setHeartbeatAge(exchange.name, Duration.millis(Math.max(0, now - status.lastHeartbeat.epochMillis)))
      }
      const rest = yield* adapter.restStats
      yield* Metrics.observeRestStats(exchange.name, sampled, rest)
      sampled.requests = rest.requests
      sampled.rateLimited = rest.rateLimited
      sampled.banned = rest.banned
      const stats = yield* Effect.option(store.get(Keys.warmupStats(exchangeId), WarmupPlan.Stats))
      if (Option.isSome(stats) && Option.isSome(stats.value)) yield* Metrics.setWarmupProgress(exchange.name, stats.value.value)
    })
    yield* Effect.forkScoped(sample.pipe(Effect.repeat(Schedule.spaced("1 second"))))

    return ExchangeRunner.of({
      start,
      awaitActive,
      stop,
      pause: mailbox.withPermits(1)(
        Effect.gen(function* () {
          const run = yield* serving("pause")
          if (run.paused) return yield* new NotApplicable({ command: "pause", state: "active", reason: "already paused" })
          yield* stopLive(run)
          run.paused = true
          return yield* info
        })
      ),
      resume: mailbox.withPermits(1)(
        Effect.gen(function* () {
          const run = yield* serving("resume")
          if (!run.paused) return yield* new NotApplicable({ command: "resume", state: "active", reason: "not paused" })
          yield* warm(run.symbols, timeframes)
          yield* startLive(run, yield* preparePipeline(run.symbols))
          return yield* info
        })
      ),
      reloadSymbols: mailbox.withPermits(1)(
        Effect.gen(function* () {
          const run = yield* serving("reload-settings")
          const symbols = yield* universe.pipe(
            Effect.mapError((error) => failure(`symbol universe: ${describe(error)}`, error))
          )
          const same = symbols.length === run.symbols.length && symbols.every((s, i) => s === run.symbols[i])
          if (same || symbols.length === 0) return yield* info
          const added = symbols.filter((s) => !run.symbols.includes(s))
          if (added.length > 0) yield* warm(added, timeframes)
          const wasLive = run.live !== undefined
          yield* stopLive(run)
          run.symbols = symbols
          yield* note(lifecycle.setSymbolCount(symbols.length))
          if (wasLive) yield* startLive(run, yield* preparePipeline(symbols))
          return yield* info
        })
      ),
      backfill: (symbols, frames) =>
        mailbox.withPermits(1)(
          Effect.gen(function* () {
            const run = yield* serving("force-backfill")
            return yield* warm(symbols ?? run.symbols, frames ?? timeframes)
          })
        ),
      clearCache: (symbols) =>
        mailbox.withPermits(1)(
          Effect.gen(function* () {
            const run = yield* serving("clear-cache")
            const chosen = symbols ?? run.symbols
            let cleared = 0
            for (const symbol of chosen) {
              for (const timeframe of timeframes) {
                yield* candles
                  .clear({ exchangeId, symbol, timeframe })
                  .pipe(Effect.mapError((error) => failure(`clear-cache: ${error.message}`, error)))
                cleared++
              }
            }
            return cleared
          })
        ),
      info,
      ended: Effect.gen(function* () {
        const run = yield* Ref.get(current)
        if (run === undefined) return Option.none()
        return Option.some(yield* Effect.exit(Deferred.await(run.ended)))
      })
    })
  })

/** The runner as a layer; stopping the layer stops a run in progress (and releases its lock). */
export const layer = <R = never>(options: Options<R>): Layer.Layer<ExchangeRunner, never, Env | R> =>
  Layer.scoped(
    ExchangeRunner,
    Effect.gen(function* () {
      const runner = yield* make(options)
      yield* Effect.addFinalizer(() => runner.stop("node shutting down"))
      return runner
    })
  )
