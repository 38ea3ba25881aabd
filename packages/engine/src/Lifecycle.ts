/**
 * The lifecycle of the one exchange this instance serves (domain.md §5): owns the connection state, appends
 * every transition, error, lock event and heartbeat to `logs:network:{exchangeName}`, and writes the status
 * projection of those events to `exchange:{exchangeId}:status` with a TTL.
 */
import { type CacheError as CacheErrors, EventLog, StatusStore } from "@livermore/cache"
import { Lifecycle as Domain, type Status } from "@livermore/domain"
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
     * Record a heartbeat (sets `lastHeartbeat`) and rewrite the status, refreshing its TTL. Renewing the lock is
     * not done here: whoever holds the lock renews it with the epoch from `lockEpoch` on the same interval.
     */
    readonly heartbeat: Effect.Effect<Status.InstanceStatus, CacheError>
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
    /** The status rebuilt from the event log alone; equals the status key while it is live. */
    readonly rebuild: Effect.Effect<Status.InstanceStatus, CacheError>
  }
>() {}

/**
 * Rebuild the status of `base`'s instance from the whole `logs:network:{exchangeName}` stream, folding only the
 * events of its exchange and instance.
 */
export const rebuild = (
  base: StatusProjection.ProjectionBase
): Effect.Effect<Status.InstanceStatus, CacheError, EventLog.EventLog> =>
  Effect.gen(function* () {
    const log = yield* EventLog.EventLog
    const entries = yield* log.range(base.exchangeName)
    return StatusProjection.project(
      entries.map((entry) => entry.event),
      base
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
    const { statusTtl, ...base } = options
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
          const written = yield* Effect.exit(store.put(next, ttl))
          return [Exit.as(written, next), next] as const
        })
      ).pipe(Effect.flatten)

    const simple = (type: EventType, lockEpoch?: number) => (message: string) =>
      record((status) => eventOf(status, type, message, lockEpoch === undefined ? {} : { lockEpoch }))

    return Lifecycle.of({
      base,
      status: SynchronizedRef.get(ref),
      transition: (to, message) =>
        record((status) =>
          Effect.flatMap(Domain.transition(status.connectionState, to), () => eventOf(status, "transition", message, { to }))
        ).pipe(
          Effect.withSpan("Lifecycle.transition", { attributes: { exchange: base.exchangeName, to } })
        ),
      recordError: (message) => simple("error")(message).pipe(Effect.withSpan("Lifecycle.recordError")),
      heartbeat: simple("heartbeat")("heartbeat").pipe(Effect.withSpan("Lifecycle.heartbeat")),
      lockAcquired: (epoch, message) => simple("lock_acquired", epoch)(message).pipe(Effect.withSpan("Lifecycle.lockAcquired")),
      lockDenied: (message) => simple("lock_denied")(message).pipe(Effect.withSpan("Lifecycle.lockDenied")),
      lockReleased: (message) => simple("lock_released")(message).pipe(Effect.withSpan("Lifecycle.lockReleased")),
      warmup: (phase, message) =>
        simple(phase === "started" ? "warmup_started" : "warmup_finished")(message).pipe(Effect.withSpan("Lifecycle.warmup")),
      lockEpoch: Effect.map(SynchronizedRef.get(ref), (status) => Option.fromNullable(status.lockEpoch)),
      rebuild: rebuild(base).pipe(Effect.provideService(EventLog.EventLog, log))
    })
  })

/** The service for the exchange described by `options`. */
export const layer = (options: Options): Layer.Layer<Lifecycle, never, EventLog.EventLog | StatusStore.StatusStore> =>
  Layer.effect(Lifecycle, make(options))
