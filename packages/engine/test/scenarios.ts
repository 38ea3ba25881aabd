/**
 * The Lifecycle behaviour every cache backing must show; `Lifecycle.test.ts` runs it over the memory layers on
 * the TestClock and over a real Redis on the live clock.
 */
import { assert } from "@effect/vitest"
import { EventLog, StatusStore } from "@livermore/cache"
import { Lifecycle as Domain, Status } from "@livermore/domain"
import { type Duration, Effect, Either, Option, Schema } from "effect"
import * as Lifecycle from "../src/Lifecycle.js"
import { freshBase, type Op, target } from "./support.js"

/** What the scenarios need from the environment. */
export type Env = EventLog.EventLog | StatusStore.StatusStore

const encode = Schema.encodeSync(Status.InstanceStatus)

/** Assert two statuses equal, with a readable diff of their encoded forms. */
export const assertSameStatus = (actual: Status.InstanceStatus, expected: Status.InstanceStatus, what: string): void =>
  assert.deepStrictEqual(encode(actual), encode(expected), what)

/** The status key, the rebuilt projection and the in-memory status all agree. */
export const assertConsistent = (lifecycle: Lifecycle.Lifecycle["Type"]) =>
  Effect.gen(function* () {
    const store = yield* StatusStore.StatusStore
    const stored = yield* store.get(lifecycle.base.exchangeId)
    assert.isTrue(Option.isSome(stored), "the status key is live")
    const key = Option.getOrThrow(stored)
    assertSameStatus(yield* lifecycle.rebuild, key, "the projection rebuilt from the stream equals the status key")
    assertSameStatus(yield* Lifecycle.rebuild(lifecycle.base, key.lastHeartbeat), key, "rebuild(base, heartbeat) agrees")
    assertSameStatus(yield* lifecycle.status, key, "the in-memory status agrees")
  })

const happy: ReadonlyArray<Domain.ConnectionState> = ["starting", "warming", "active", "stopping", "stopped"]

/** idle → starting → warming → active → stopping → stopped, appended in order; the key equals the rebuild. */
export const happyPath = Effect.gen(function* () {
  const base = freshBase()
  const lifecycle = yield* Lifecycle.make({ ...base, statusTtl: "30 seconds" })
  const log = yield* EventLog.EventLog
  let states: Array<Domain.ConnectionState> = ["idle"]
  for (const to of happy) {
    const status = yield* lifecycle.transition(to, `to ${to}`)
    assert.strictEqual(status.connectionState, to)
    states = [...states, to]
    if (to === "starting") yield* lifecycle.lockAcquired(3, "took the lock")
    if (to === "active") yield* lifecycle.heartbeat
    if (to === "stopping") yield* lifecycle.lockReleased("released the lock")
    yield* assertConsistent(lifecycle)
  }
  const events = (yield* log.range(base.exchangeName)).map((entry) => entry.event)
  const transitions = events.filter((event) => event.type === "transition")
  assert.deepStrictEqual(
    transitions.map((event) => [event.from, event.to]),
    happy.map((to, i) => [states[i], to])
  )
  assert.deepStrictEqual(
    events.map((event) => event.type),
    ["transition", "lock_acquired", "transition", "transition", "transition", "lock_released", "transition"],
    "a heartbeat refreshes the key but is not an event"
  )
  assert.deepStrictEqual(
    events.map((event) => event.lockEpoch),
    [undefined, 3, 3, 3, 3, 3, undefined],
    "events carry the epoch while the lock is held"
  )
  for (const event of events) {
    assert.strictEqual(event.exchangeId, base.exchangeId)
    assert.strictEqual(event.instanceId, base.instanceId)
  }
  const final = yield* lifecycle.status
  assert.strictEqual(final.connectionState, "stopped")
  assert.isNull(final.connectedAt)
  assert.isNull(final.lockEpoch)
  assert.isNotNull(final.lastHeartbeat)
})

/** An invalid transition fails with `InvalidTransition`, appends nothing and writes nothing. */
export const invalidTransition = Effect.gen(function* () {
  const base = freshBase()
  const lifecycle = yield* Lifecycle.make(base)
  const log = yield* EventLog.EventLog
  const store = yield* StatusStore.StatusStore

  const rejected = yield* Effect.either(lifecycle.transition("active", "skip ahead"))
  assert.isTrue(Either.isLeft(rejected))
  if (Either.isLeft(rejected)) {
    assert.instanceOf(rejected.left, Domain.InvalidTransition)
    if (rejected.left._tag === "InvalidTransition") assert.deepStrictEqual([rejected.left.from, rejected.left.to], ["idle", "active"])
  }
  assert.deepStrictEqual(yield* log.range(base.exchangeName), [])
  assert.isTrue(Option.isNone(yield* store.get(base.exchangeId)))
  assert.strictEqual((yield* lifecycle.status).connectionState, "idle")

  yield* lifecycle.transition("starting", "start")
  const again = yield* Effect.either(lifecycle.transition("stopped", "skip stopping"))
  assert.isTrue(Either.isLeft(again))
  assert.strictEqual((yield* log.range(base.exchangeName)).length, 1)
  assert.strictEqual((yield* lifecycle.status).connectionState, "starting")
  yield* assertConsistent(lifecycle)
})

/** The status key expires after its TTL without heartbeats; a heartbeat refreshes it. `wait` advances time. */
export const expiry = (wait: (duration: Duration.DurationInput) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const base = freshBase()
    const lifecycle = yield* Lifecycle.make({ ...base, statusTtl: "600 millis" })
    const store = yield* StatusStore.StatusStore
    const live = Effect.map(store.get(base.exchangeId), Option.isSome)
    yield* lifecycle.transition("starting", "start")
    yield* wait("400 millis")
    assert.isTrue(yield* live)
    yield* lifecycle.heartbeat
    yield* wait("400 millis")
    assert.isTrue(yield* live, "the heartbeat refreshed the TTL")
    yield* wait("400 millis")
    assert.isFalse(yield* live, "no heartbeat for longer than the TTL: the key is gone")
    assert.strictEqual((yield* lifecycle.status).connectionState, "starting", "the instance itself still knows")
    yield* lifecycle.heartbeat
    assert.isTrue(yield* live, "the next heartbeat writes it again")
    yield* assertConsistent(lifecycle)
  })

/** Drive the service through random operations; the status key always equals the rebuild. */
export const randomWalk = (operations: ReadonlyArray<Op>) =>
  Effect.gen(function* () {
    const lifecycle = yield* Lifecycle.make(freshBase())
    for (const op of operations) {
      switch (op._tag) {
        case "transition": {
          const from = (yield* lifecycle.status).connectionState
          yield* lifecycle.transition(target(from, op.pick), "walk")
          break
        }
        case "error":
          yield* lifecycle.recordError(op.message)
          break
        case "lockAcquired":
          yield* lifecycle.lockAcquired(op.epoch, "lock")
          break
        case "lockReleased":
          yield* lifecycle.lockReleased("unlock")
          break
        case "heartbeat":
          yield* lifecycle.heartbeat
          break
        case "warmup":
          yield* lifecycle.warmup("started", "warmup")
          break
      }
    }
    if (operations.length > 0) yield* assertConsistent(lifecycle)
  })

/** Start, lock, warm, serve, lose the connection, fail, stop, release, restart. */
export const fixedWalk: ReadonlyArray<Op> = [
  { _tag: "transition", pick: 0 },
  { _tag: "lockAcquired", epoch: 5 },
  { _tag: "transition", pick: 0 },
  { _tag: "warmup" },
  { _tag: "transition", pick: 0 },
  { _tag: "heartbeat" },
  { _tag: "transition", pick: 0 },
  { _tag: "error", message: "lost socket" },
  { _tag: "transition", pick: 1 },
  { _tag: "lockReleased" },
  { _tag: "transition", pick: 0 },
  { _tag: "transition", pick: 0 }
]
