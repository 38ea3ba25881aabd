/**
 * The lifecycle of the one exchange this instance serves (domain.md §5): owns the connection state, appends
 * every transition, error, lock event and warmup start/finish to `logs:network:{exchangeName}`, and writes the
 * status projection — those events, plus the last heartbeat, plus the instance facts — to
 * `exchange:{exchangeId}:status` with a TTL.
 *
 * A heartbeat is not an event: it only rewrites the status key (refreshing its TTL and `lastHeartbeat`). At one
 * beat per 10 s per exchange, logging it would bury the transitions an operator reads the stream for under
 * 8,640 lines a day; the rebuild takes the last heartbeat as its second input instead.
 */
import { type CacheError as CacheErrors, EventLog, StatusStore } from "@livermore/cache"
import { Lifecycle as Domain, Status } from "@livermore/domain"
import { Context, DateTime, Duration, Effect, Either, Exit, Layer, Option, SynchronizedRef } from "effect"
import * as StatusProjection from "./StatusProjection.js"

type CacheError = CacheErrors.CacheError

/** What `make` needs: the facts of the status that are not events, and the status TTL. */
export interface Options extends StatusProjection.ProjectionBase {
  /**
   * How long the status key lives without a heartbeat or transition. Default 30 seconds (domain.md §5); the
   * heartbeat interval (default 10 s) must be well below it.
   */
  readonly statusTtl?: Duration.DurationInput | undefined
  /**
   * When the status key is written. `always` (default): on every record. `lock-holder`: only from the moment this
   * instance takes the lock until its run ends — the key belongs to the instance serving the exchange, so an
   * instance refused the lock records its attempt in the log but never overwrites the holder's status.
   */
  readonly writeStatus?: "always" | "lock-holder" | undefined
}

/** The status TTL when `Options.statusTtl` is left out. */
export const defaultStatusTtl: Duration.Duration = Duration.seconds(30)

/** The lifecycle of one exchange served by this instance. */
export class Lifecycle extends Context.Tag("@livermore/engine/Lifecycle")<
  Lifecycle,
  {
    /** The facts the projection starts from. */
    readonly base: StatusProjection.ProjectionBase
    /** The current status (the projection of everything recorded so far). */
    readonly status: Effect.Effect<Status.InstanceStatus>
    /**
     * Move to `to`: rejected with `InvalidTransition` (nothing appended, nothing written) unless the state
     * machine allows it from the current state; otherwise the event is appended, the state committed, and the
     * status written. If only the status write fails, the state is committed (the log is the truth) and the
     * `CacheError` returned; the next write repairs the key.
     */
    readonly transition: (
      to: Domain.ConnectionState,
      message: string
    ) => Effect.Effect<Status.InstanceStatus, Domain.InvalidTransition | CacheError>
    /** Record an error (sets `lastError`). */
    readonly recordError: (message: string) => Effect.Effect<Status.InstanceStatus, CacheError>
    /**
     * Set `lastHeartbeat` to now and rewrite the status, refreshing its TTL; nothing is appended. Renewing the
     * lock is not done here: whoever holds the lock renews it with the epoch from `lockEpoch` on the same interval.
     */
    readonly heartbeat: Effect.Effect<Status.InstanceStatus, CacheError>
    /** Change the symbol count (a fact of the instance, not an event) and rewrite the status. */
    readonly setSymbolCount: (count: number) => Effect.Effect<Status.InstanceStatus, CacheError>
    /** Record how many series are stale (a fact of the status, not an event). */
    readonly setStaleSeries: (count: number) => Effect.Effect<Status.InstanceStatus, CacheError>
    /** Record that this instance took the lock at `epoch`; later events carry the epoch. */
    readonly lockAcquired: (epoch: number, message: string) => Effect.Effect<Status.InstanceStatus, CacheError>
    /** Record that the lock was held elsewhere. */
    readonly lockDenied: (message: string) => Effect.Effect<Status.InstanceStatus, CacheError>
    /** Record that this instance released (or lost) the lock. */
    readonly lockReleased: (message: string) => Effect.Effect<Status.InstanceStatus, CacheError>
    /** Record the start or end of the warmup. */
    readonly warmup: (phase: "started" | "finished", message: string) => Effect.Effect<Status.InstanceStatus, CacheError>
    /** The epoch of the lock this instance holds, for the lock owner's renewal. */
    readonly lockEpoch: Effect.Effect<Option.Option<number>>
    /** The status rebuilt from the event log and the last heartbeat; equals the status key while it is live. */
    readonly rebuild: Effect.Effect<Status.InstanceStatus, CacheError>
  }
>() {}

/**
 * Rebuild the status of `base`'s instance from the whole `logs:network:{exchangeName}` stream, folding only the
 * events of its exchange and instance, then setting the last heartbeat (null when there was none).
 */
export const rebuild = (
  base: StatusProjection.ProjectionBase,
  lastHeartbeat: DateTime.Utc | null
): Effect.Effect<Status.InstanceStatus, CacheError, EventLog.EventLog> =>
  Effect.gen(function* () {
    const log = yield* EventLog.EventLog
    const entries = yield* log.range(base.exchangeName)
    return StatusProjection.withHeartbeat(
      StatusProjection.project(
        entries.map((entry) => entry.event),
        base
      ),
      lastHeartbeat
    )
  }).pipe(Effect.withSpan("Lifecycle.rebuild"))

type EventType = Domain.EventType

/** The service over the event log and status store of the environment. */
export const make = (
  options: Options
): Effect.Effect<Context.Tag.Service<Lifecycle>, never, EventLog.EventLog | StatusStore.StatusStore> =>
  Effect.gen(function* () {
    const log = yield* EventLog.EventLog
    const store = yield* StatusStore.StatusStore
    const { statusTtl, writeStatus, ...initialBase } = options
    const onlyWhileHolding = writeStatus === "lock-holder"
    /** This run took the lock (reset when a new run starts): the status key is this instance's to write. */
    let holding = false
    const put = (status: Status.InstanceStatus) =>
      onlyWhileHolding && !holding ? Effect.void : store.put(status, ttl)
    let base: StatusProjection.ProjectionBase = initialBase
    const ttl = statusTtl === undefined ? defaultStatusTtl : Duration.decode(statusTtl)
    const ref = yield* SynchronizedRef.make(StatusProjection.initial(base))

    const eventOf = (
      status: Status.InstanceStatus,
      type: EventType,
      message: string,
      extra: { readonly to?: Domain.ConnectionState; readonly lockEpoch?: number } = {}
    ) =>
      Effect.map(DateTime.now, (at) => {
        const lockEpoch = extra.lockEpoch ?? status.lockEpoch
        return new Domain.LifecycleEvent({
          type,
          exchangeId: base.exchangeId,
          instanceId: base.instanceId,
          ...(extra.to === undefined ? {} : { from: status.connectionState, to: extra.to }),
          at,
          message,
          ...(lockEpoch === null ? {} : { lockEpoch })
        })
      })

    /**
     * Under the ref's lock: build the event (or reject), append it, commit the projection, write the status.
     * A failed append changes nothing; a failed status write still commits (see `transition`).
     */
    const record = <E>(
      build: (status: Status.InstanceStatus) => Effect.Effect<Domain.LifecycleEvent, E>
    ): Effect.Effect<Status.InstanceStatus, E | CacheError> =>
      SynchronizedRef.modifyEffect(ref, (status) =>
        Effect.gen(function* () {
          const event = yield* build(status)
          const next = yield* Either.match(StatusProjection.step(status, event), {
            // Unreachable from here: `build` validated the transition against the same state.
            onLeft: (error) => Effect.die(error),
            onRight: Effect.succeed
          })
          yield* log.append(base.exchangeName, event)
          if (event.type === "transition" && event.to === "starting") holding = false
          if (event.type === "lock_acquired") holding = true
          const written = yield* Effect.exit(put(next))
          return [Exit.as(written, next), next] as const
        })
      ).pipe(Effect.flatten)

    /** Rewrite the status with `change` applied, appending nothing. */
    const rewrite = (change: (status: Status.InstanceStatus) => Effect.Effect<Status.InstanceStatus>) =>
      SynchronizedRef.modifyEffect(ref, (status) =>
        Effect.gen(function* () {
          const next = yield* change(status)
          const written = yield* Effect.exit(put(next))
          return [Exit.as(written, next), next] as const
        })
      ).pipe(Effect.flatten)

    const simple = (type: EventType, lockEpoch?: number) => (message: string) =>
      record((status) => eventOf(status, type, message, lockEpoch === undefined ? {} : { lockEpoch }))

    return Lifecycle.of({
      get base() {
        return base
      },
      status: SynchronizedRef.get(ref),
      transition: (to, message) =>
        record((status) =>
          Effect.flatMap(Domain.transition(status.connectionState, to), () => eventOf(status, "transition", message, { to }))
        ).pipe(
          Effect.withSpan("Lifecycle.transition", { attributes: { exchange: base.exchangeName, to } })
        ),
      recordError: (message) => simple("error")(message).pipe(Effect.withSpan("Lifecycle.recordError")),
      heartbeat: rewrite((status) =>
        Effect.map(DateTime.now, (at) => StatusProjection.withHeartbeat(status, at))
      ).pipe(Effect.withSpan("Lifecycle.heartbeat")),
      setSymbolCount: (count) =>
        rewrite((status) =>
          Effect.sync(() => {
            base = { ...base, symbolCount: count }
            return new Status.InstanceStatus({ ...status, symbolCount: count })
          })
        ).pipe(Effect.withSpan("Lifecycle.setSymbolCount", { attributes: { count } })),
      setStaleSeries: (count) =>
        rewrite((status) =>
          Effect.sync(() => {
            base = { ...base, staleSeries: count }
            return new Status.InstanceStatus({ ...status, staleSeries: count })
          })
        ).pipe(Effect.withSpan("Lifecycle.setStaleSeries", { attributes: { count } })),
      lockAcquired: (epoch, message) => simple("lock_acquired", epoch)(message).pipe(Effect.withSpan("Lifecycle.lockAcquired")),
      lockDenied: (message) => simple("lock_denied")(message).pipe(Effect.withSpan("Lifecycle.lockDenied")),
      lockReleased: (message) => simple("lock_released")(message).pipe(Effect.withSpan("Lifecycle.lockReleased")),
      warmup: (phase, message) =>
        simple(phase === "started" ? "warmup_started" : "warmup_finished")(message).pipe(Effect.withSpan("Lifecycle.warmup")),
      lockEpoch: Effect.map(SynchronizedRef.get(ref), (status) => Option.fromNullable(status.lockEpoch)),
      rebuild: Effect.flatMap(SynchronizedRef.get(ref), (status) =>
        rebuild(base, status.lastHeartbeat).pipe(Effect.provideService(EventLog.EventLog, log))
      )
    })
  })

/** The service for the exchange described by `options`. */
export const layer = (options: Options): Layer.Layer<Lifecycle, never, EventLog.EventLog | StatusStore.StatusStore> =>
  Layer.effect(Lifecycle, make(options))
