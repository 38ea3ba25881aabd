/**
 * The status projection (domain.md §5): a pure fold of one instance's lifecycle events, plus the instance facts
 * that are not events, into the `InstanceStatus` kept at `exchange:{exchangeId}:status`.
 */
import type { Exchange, Mode } from "@livermore/domain"
import { Lifecycle, Status } from "@livermore/domain"
import { type DateTime, Either } from "effect"

/** What the status says about an instance that no event records: identity, host, admin, mode, version. */
export interface ProjectionBase {
  readonly exchangeId: Exchange.ExchangeId
  readonly exchangeName: Exchange.ExchangeName
  /** One process run of a node; the projection folds only this instance's events. */
  readonly instanceId: string
  readonly hostname: string
  /** Public IP detected at start, or a local address when none answered (`ipSource: "local"`). */
  readonly ipAddress: string | null
  readonly ipSource: Status.IpSource | null
  readonly adminEmail: string | null
  readonly adminDisplayName: string | null
  readonly mode: Mode.Mode
  readonly version: string
  /** Symbols served; not evented yet, so a fact of the base. */
  readonly symbolCount: number
  /** Stale series (see `Status.InstanceStatus.staleSeries`); a fact of the base like `symbolCount`. Default 0. */
  readonly staleSeries?: number | undefined
}

/** The status before any event: `idle`, nothing connected, no heartbeat, no error, no lock. */
export const initial = (base: ProjectionBase): Status.InstanceStatus =>
  new Status.InstanceStatus({
    exchangeId: base.exchangeId,
    exchangeName: base.exchangeName,
    instanceId: base.instanceId,
    connectionState: "idle",
    connectedAt: null,
    lastHeartbeat: null,
    symbolCount: base.symbolCount,
    staleSeries: base.staleSeries ?? 0,
    adminEmail: base.adminEmail,
    adminDisplayName: base.adminDisplayName,
    ipAddress: base.ipAddress,
    ipSource: base.ipSource,
    hostname: base.hostname,
    lastError: null,
    lockEpoch: null,
    mode: base.mode,
    version: base.version
  })

/** Whether an event belongs to the instance and exchange of `status`. */
export const concerns = (status: Status.InstanceStatus, event: Lifecycle.LifecycleEvent): boolean =>
  event.exchangeId === status.exchangeId && event.instanceId === status.instanceId

const fresh = (status: Status.InstanceStatus): Status.InstanceStatus =>
  new Status.InstanceStatus({
    ...status,
    connectionState: "idle",
    connectedAt: null,
    lastHeartbeat: null,
    lastError: null,
    lockEpoch: null
  })

/**
 * Apply one event, rejecting a transition the state machine does not allow from the current state.
 *
 * - `transition` (needs `to`; `from`, when present, must equal the current state): sets `connectionState`.
 *   Entering `starting` clears `lastError`. Entering `active` from `warming` sets `connectedAt` to the event
 *   time; `active ⇄ reconnecting` keeps it (it reads "serving since"; reconnects are in the log). Entering
 *   `stopped` clears it. A transition from `idle` while the projection is elsewhere starts a new run (a
 *   process that died without stopping and came back under the same instance id): the projection restarts
 *   from its initial value first.
 * - `error`: sets `lastError` to the message.
 * - `lock_acquired`: sets `lockEpoch` (when the event carries one); `lock_released` clears it.
 * - `heartbeat`: sets `lastHeartbeat` to the event time. The `Lifecycle` service no longer appends these (a
 *   heartbeat only refreshes the key, see `withHeartbeat`); older streams may still hold them.
 * - `lock_denied`, `warmup_started`, `warmup_finished`: no change to the status.
 *
 * Events of another exchange or instance leave the status unchanged.
 */
export const step = (
  status: Status.InstanceStatus,
  event: Lifecycle.LifecycleEvent
): Either.Either<Status.InstanceStatus, Lifecycle.InvalidTransition> => {
  if (!concerns(status, event)) return Either.right(status)
  switch (event.type) {
    case "transition": {
      const to = event.to
      if (to === undefined) return Either.right(status)
      const current = event.from === "idle" && status.connectionState !== "idle" ? fresh(status) : status
      const from = current.connectionState
      if (event.from !== undefined && event.from !== from) {
        return Either.left(new Lifecycle.InvalidTransition({ from, to }))
      }
      return Either.map(Lifecycle.transition(from, to), (next) =>
        new Status.InstanceStatus({
          ...current,
          connectionState: next,
          connectedAt:
            next === "stopped" || next === "starting"
              ? null
              : next === "active" && from === "warming"
                ? event.at
                : current.connectedAt,
          lastError: next === "starting" ? null : current.lastError
        })
      )
    }
    case "error":
      return Either.right(new Status.InstanceStatus({ ...status, lastError: event.message }))
    case "lock_acquired":
      return Either.right(
        event.lockEpoch === undefined ? status : new Status.InstanceStatus({ ...status, lockEpoch: event.lockEpoch })
      )
    case "lock_released":
      return Either.right(new Status.InstanceStatus({ ...status, lockEpoch: null }))
    case "heartbeat":
      return Either.right(new Status.InstanceStatus({ ...status, lastHeartbeat: event.at }))
    case "lock_denied":
    case "warmup_started":
    case "warmup_finished":
      return Either.right(status)
  }
}

/**
 * Apply one event; a transition that `step` rejects is skipped (the status stays as it was). The `Lifecycle`
 * service never appends one, so only a foreign or corrupt writer can produce it, and skipping keeps a rebuild
 * deterministic. Use `step` to see the rejection.
 */
export const apply = (status: Status.InstanceStatus, event: Lifecycle.LifecycleEvent): Status.InstanceStatus =>
  Either.getOrElse(step(status, event), () => status)

/** The status with its last heartbeat set (the heartbeat is not an event: it only refreshes the key). */
export const withHeartbeat = (status: Status.InstanceStatus, lastHeartbeat: DateTime.Utc | null): Status.InstanceStatus =>
  new Status.InstanceStatus({ ...status, lastHeartbeat })

/** Fold events, oldest first, from the initial status of `base`. */
export const project = (events: Iterable<Lifecycle.LifecycleEvent>, base: ProjectionBase): Status.InstanceStatus => {
  let status = initial(base)
  for (const event of events) status = apply(status, event)
  return status
}
