/**
 * The part of a node that serves one exchange: the exchange row, its adapter, the lifecycle, the runner, and the
 * control server answering commands on `channel:control:{instanceId}`. Optional takeover and autostart happen
 * once everything is up, so a refused start still leaves a node that answers commands.
 */
import { FetchHttpClient } from "@effect/platform"
import { ExchangeLock, InstanceRegistry } from "@livermore/cache"
import { Control, type Exchange, Status } from "@livermore/domain"
import {
  AlertOutbox,
  ControlChannel,
  ExchangeRunner,
  Lifecycle,
  NodeIdentity,
  Notifier,
  SymbolUniverse,
  WarmupPlan
} from "@livermore/engine"
import { ExchangesRepo } from "@livermore/store"
import { Clock, type Context, DateTime, Duration, Effect, Layer, Option, Schedule, Schema } from "effect"
import * as Adapters from "./Adapters.js"
import type { NodeSettings } from "./NodeSettings.js"
import { PublicCatalogSync } from "@livermore/public-api"
import { version } from "./Version.js"

const encodeStatus = Schema.encodeSync(Status.InstanceStatus)
const encodeStats = Schema.encodeSync(WarmupPlan.Stats)

/** A command's result data: JSON, with the status and warmup stats in their wire form. */
const infoData = (info: ExchangeRunner.RunnerInfo) => ({
  status: encodeStatus(info.status),
  paused: info.paused,
  symbols: info.symbols,
  lastWarmup: info.lastWarmup === null ? null : encodeStats(info.lastWarmup)
})

/** What each control command does on this node (domain.md §5). */
export const handler =
  (
    runner: Context.Tag.Service<ExchangeRunner.ExchangeRunner>,
    /** Asks the holder of the lock to let go (a `start` with `takeover`); returns a line for the log. */
    takeOver: Effect.Effect<string, ExchangeRunner.StartFailed>
  ) =>
  (command: Control.Command): Effect.Effect<unknown, ExchangeRunner.StartFailed | ExchangeRunner.NotApplicable> => {
    switch (command._tag) {
      case "start": {
        const start = Effect.map(runner.start(`start by ${command.issuedBy}`), encodeStatus)
        return command.takeover === true
          ? takeOver.pipe(
              Effect.tap((line) => Effect.logInfo(`Takeover for ${command.issuedBy}: ${line}`)),
              Effect.zipRight(start)
            )
          : start
      }
      case "stop":
        return Effect.map(runner.stop(`stop by ${command.issuedBy}: ${command.reason}`), encodeStatus)
      case "pause":
        return Effect.map(runner.pause, infoData)
      case "resume":
        return Effect.map(runner.resume, infoData)
      case "reload-settings":
        return Effect.map(runner.reloadSymbols, infoData)
      case "force-backfill":
        return Effect.map(runner.backfill(command.symbols, command.timeframes), encodeStats)
      case "clear-cache":
        return Effect.map(runner.clearCache(command.symbols), (series) => ({ clearedSeries: series }))
      case "switch-mode":
        // A mode is a different set of layers (domain.md §9): swapping them under a live process would drop
        // connections mid-flight. Refused with how to do it instead, never silently ignored.
        return Effect.flatMap(runner.info, (info) =>
          Effect.fail(
            new ExchangeRunner.NotApplicable({
              command: "switch-mode",
              state: info.status.connectionState,
              reason: `the mode is chosen at start: restart the node with --mode ${command.mode} (or LIVERMORE_MODE=${command.mode})`
            })
          )
        )
      case "status":
        return Effect.map(runner.info, infoData)
    }
  }

/** Whether the exchange's lock became free within `wait` (polled). */
const awaitLockFree = (exchangeId: Exchange.ExchangeId, wait: Duration.Duration) =>
  Effect.gen(function* () {
    const lock = yield* ExchangeLock.ExchangeLock
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(wait)
    while (Option.isSome(yield* lock.holder(exchangeId))) {
      if ((yield* Clock.currentTimeMillis) > deadline) return false
      yield* Effect.sleep("250 millis")
    }
    return true
  })

/**
 * Take the exchange over from the instance holding it: ask it to `stop` over the control channel, then wait
 * (bounded) until the lock is free. Returns a line for the log.
 */
export const takeover = (settings: NodeSettings, identity: NodeIdentity.Identity) =>
  Effect.gen(function* () {
    const runner = yield* ExchangeRunner.ExchangeRunner
    const lock = yield* ExchangeLock.ExchangeLock
    const { exchangeId, exchangeName } = (yield* runner.info).status
    const lease = yield* lock.holder(exchangeId)
    if (Option.isNone(lease)) return "the exchange was free: nothing to take over"
    const holder = lease.value.holder
    const stop = new Control.Stop({
      id: crypto.randomUUID(),
      issuedAt: yield* DateTime.now,
      issuedBy: identity.instanceId,
      reason: `takeover by ${identity.instanceId} on ${identity.hostname}`
    })
    yield* Effect.logInfo(`Takeover: asking ${holder.instanceId} on ${holder.hostname} to stop`)
    const asked = yield* Effect.either(ControlChannel.send(holder.instanceId, stop, { resultTimeout: settings.takeoverWait }))
    if (asked._tag === "Left") {
      // A holder that cannot answer (dead, partitioned) still frees the lock when its lease expires.
      yield* Effect.logWarning(`Takeover: ${holder.instanceId} did not confirm the stop: ${asked.left.message}; waiting for its lease`)
    }
    const free = yield* awaitLockFree(exchangeId, settings.takeoverWait)
    if (!free) {
      return yield* Effect.fail(
        new ExchangeRunner.StartFailed({
          exchange: exchangeName,
          reason: `takeover: ${holder.instanceId} on ${holder.hostname} still holds the lock after ${Duration.format(settings.takeoverWait)}`
        })
      )
    }
    return `took over from ${holder.instanceId} on ${holder.hostname}`
  })

/** How a node's exchange part may differ from the stored row (the demo points `sim_binance` at its own simulator). */
export interface LayerOptions {
  readonly patchRow?: ((row: Exchange.Exchange) => Exchange.Exchange) | undefined
  /** Live pipeline tunables (the demo widens the staleness grace for its fast clock). */
  readonly pipeline?: ExchangeRunner.Options["pipeline"]
}

/**
 * Where fired alerts go: stored in `alert_history` and delivered to the webhooks of `LIVERMORE_DISCORD_WEBHOOK_URLS`
 * and `LIVERMORE_WEBHOOK_URLS` (none configured: stored only).
 */
export const outboxLayer = AlertOutbox.layer().pipe(
  Layer.provide(Notifier.layerConfig.pipe(Layer.provide(FetchHttpClient.layer)))
)

/** The runner, lifecycle and control server for the exchange named in the settings. */
export const layer = (settings: NodeSettings, exchangeName: string, layerOptions: LayerOptions = {}) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const stored = yield* (yield* ExchangesRepo.ExchangesRepo).byName(exchangeName)
      const exchange = layerOptions.patchRow === undefined ? stored : layerOptions.patchRow(stored)
      const identity = yield* NodeIdentity.NodeIdentity
      // Tier 2 is the positions of the user the instance runs for (domain.md §7).
      const adminUserId =
        identity.adminEmail === null ? null : (yield* NodeIdentity.adminByEmail(identity.adminEmail)).id
      const universe = SymbolUniverse.refresh({
        topN: settings.topN,
        userId: adminUserId,
        quoteAssets: settings.quoteAssets.length === 0 ? undefined : settings.quoteAssets
      }).pipe(
        // The public API lists the shared symbols from the catalog: keep it in step with each refresh.
        Effect.tap(() => PublicCatalogSync.syncSymbols(exchange.id)),
        Effect.map((u) => u.all)
      )
      const adapter = Adapters.layerFor(exchange).pipe(Layer.provide(FetchHttpClient.layer))
      const lifecycle = Lifecycle.layer({
        exchangeId: exchange.id,
        exchangeName: exchange.name,
        instanceId: identity.instanceId,
        hostname: identity.hostname,
        ipAddress: identity.ipAddress,
        ipSource: identity.ipSource,
        adminEmail: identity.adminEmail,
        adminDisplayName: identity.adminDisplayName,
        mode: settings.mode,
        version,
        symbolCount: 0,
        statusTtl: settings.statusTtl,
        writeStatus: "lock-holder"
      })
      const runnerLayer = ExchangeRunner.layer({
        holder: new ExchangeLock.LockHolder({
          instanceId: identity.instanceId,
          hostname: identity.hostname,
          ipAddress: identity.ipAddress,
          connectedAt: null
        }),
        heartbeatInterval: settings.heartbeatInterval,
        lockTtl: settings.statusTtl,
        pipeline: { staleGrace: settings.staleGrace, ...layerOptions.pipeline },
        universe
      })
      const control = Layer.scopedDiscard(
        Effect.gen(function* () {
          const runner = yield* ExchangeRunner.ExchangeRunner
          const takeOver = takeover(settings, identity).pipe(
            Effect.catchTag("CacheError", (error) =>
              Effect.fail(new ExchangeRunner.StartFailed({ exchange: exchange.name, reason: `takeover: ${error.message}` }))
            )
          )
          const context = yield* Effect.context<Effect.Effect.Context<typeof takeOver>>()
          yield* ControlChannel.serve(identity.instanceId, handler(runner, Effect.provide(takeOver, context)))
          yield* Effect.logInfo(
            `Serving ${exchange.name} (id ${exchange.id}) as instance ${identity.instanceId}; control channel ${ControlChannel.commandChannel(identity.instanceId)}`
          )
          // Announced on every heartbeat, idle or not: an admin finds this instance to send it `start`.
          const registry = yield* InstanceRegistry.InstanceRegistry
          yield* Effect.forkScoped(
            Effect.flatMap(runner.info, (info) => registry.announce(info.status, settings.statusTtl)).pipe(
              Effect.catchAll((error) => Effect.logWarning(`Could not announce this instance: ${error.message}`)),
              Effect.repeat(Schedule.spaced(settings.heartbeatInterval))
            )
          )
          yield* Effect.addFinalizer(() => Effect.ignore(registry.withdraw(identity.instanceId)))
          if (!settings.autostart) return
          // In the background: the node must come up (HTTP, control) even while the takeover waits or warmup runs.
          yield* Effect.forkScoped(
            Effect.gen(function* () {
              if (settings.takeover) yield* Effect.logInfo(`Takeover: ${yield* takeover(settings, identity)}`)
              yield* runner.start("autostart")
              const active = yield* runner.awaitActive
              yield* Effect.logInfo(`${exchange.name} active: ${active.symbolCount} symbols`)
            }).pipe(Effect.catchAll((error) => Effect.logError(`Autostart of ${exchange.name} failed: ${error.message}`)))
          )
        })
      )
      return control.pipe(
        Layer.provideMerge(runnerLayer),
        Layer.provideMerge(lifecycle),
        Layer.provideMerge(Layer.merge(adapter, outboxLayer))
      )
    })
  )
