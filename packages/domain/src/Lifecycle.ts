/** Instance lifecycle: states, the allowed transitions, and the events that record them (domain.md §5). */
import { Either, Schema } from "effect"
import { ExchangeId } from "./Exchange.js"

/** Connection state of an instance serving an exchange. */
export const ConnectionState = Schema.Literal(
  "idle",
  "starting",
  "warming",
  "active",
  "reconnecting",
  "stopping",
  "stopped"
).annotations({ identifier: "ConnectionState" })
export type ConnectionState = typeof ConnectionState.Type

export const states: ReadonlyArray<ConnectionState> = ConnectionState.literals

/**
 * Every allowed transition. The happy path is idle → starting → warming → active → stopping → stopped;
 * `active ⇄ reconnecting` while a lost connection is restored; `stopped → starting` restarts; a failure in
 * starting, warming or reconnecting goes to stopping (then stopped, with `lastError`).
 */
export const transitions: Readonly<Record<ConnectionState, ReadonlyArray<ConnectionState>>> = {
  idle: ["starting"],
  starting: ["warming", "stopping"],
  warming: ["active", "stopping"],
  active: ["reconnecting", "stopping"],
  reconnecting: ["active", "stopping"],
  stopping: ["stopped"],
  stopped: ["starting"]
}

/** A transition the state machine does not allow. */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  from: ConnectionState,
  to: ConnectionState
}) {
  override get message(): string {
    const allowed = transitions[this.from]
    return `Cannot go from ${this.from} to ${this.to}; from ${this.from} only ${allowed.join(" or ")} is allowed`
  }
}

/** Whether `from → to` is allowed. */
export const canTransition = (from: ConnectionState, to: ConnectionState): boolean => transitions[from].includes(to)

/** Validate `from → to`, returning the new state or the typed rejection. */
export const transition = (from: ConnectionState, to: ConnectionState): Either.Either<ConnectionState, InvalidTransition> =>
  canTransition(from, to) ? Either.right(to) : Either.left(new InvalidTransition({ from, to }))

/** The kinds of event in the network log. */
export const EventType = Schema.Literal(
  "transition",
  "error",
  "lock_acquired",
  "lock_denied",
  "lock_released",
  "warmup_started",
  "warmup_finished",
  "heartbeat"
).annotations({ identifier: "LifecycleEventType" })
export type EventType = typeof EventType.Type

/**
 * One entry of `logs:network:{exchangeName}`. `from`/`to` are set on transitions; `lockEpoch` on lock events
 * and on every event of an instance that holds the lock.
 */
export class LifecycleEvent extends Schema.Class<LifecycleEvent>("LifecycleEvent")({
  type: EventType,
  exchangeId: ExchangeId,
  instanceId: Schema.NonEmptyTrimmedString,
  from: Schema.optionalWith(ConnectionState, { exact: true }),
  to: Schema.optionalWith(ConnectionState, { exact: true }),
  /** When it happened, ISO-8601 UTC. */
  at: Schema.DateTimeUtc,
  message: Schema.String,
  lockEpoch: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { exact: true })
}) {}
