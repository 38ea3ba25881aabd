import { assert, describe, it } from "@effect/vitest"
import { Lifecycle, Status } from "@livermore/domain"
import { DateTime, Either, Equal, Schema } from "effect"
import * as StatusProjection from "../src/StatusProjection.js"
import { freshBase, type Op, ops, target } from "./support.js"

const base = freshBase()
const encode = Schema.encodeSync(Status.InstanceStatus)

const at = (ms: number) => DateTime.unsafeMake(ms)

const ev = (
  type: Lifecycle.EventType,
  ms: number,
  extra: { readonly from?: Lifecycle.ConnectionState; readonly to?: Lifecycle.ConnectionState; readonly lockEpoch?: number; readonly message?: string; readonly instanceId?: string } = {}
) =>
  new Lifecycle.LifecycleEvent({
    type,
    exchangeId: base.exchangeId,
    instanceId: extra.instanceId ?? base.instanceId,
    ...(extra.from === undefined ? {} : { from: extra.from }),
    ...(extra.to === undefined ? {} : { to: extra.to }),
    at: at(ms),
    message: extra.message ?? type,
    ...(extra.lockEpoch === undefined ? {} : { lockEpoch: extra.lockEpoch })
  })

const go = (from: Lifecycle.ConnectionState, to: Lifecycle.ConnectionState, ms: number) => ev("transition", ms, { from, to })

const happyPath = [
  go("idle", "starting", 1_000),
  ev("lock_acquired", 1_100, { lockEpoch: 7 }),
  go("starting", "warming", 2_000),
  ev("warmup_started", 2_100),
  ev("warmup_finished", 2_900),
  go("warming", "active", 3_000),
  ev("heartbeat", 4_000, { lockEpoch: 7 }),
  go("active", "reconnecting", 5_000),
  go("reconnecting", "active", 6_000),
  ev("error", 6_500, { message: "socket closed" }),
  go("active", "stopping", 7_000),
  ev("lock_released", 7_100, { lockEpoch: 7 }),
  go("stopping", "stopped", 8_000)
]

/** Turn random operations into the event sequence the Lifecycle service would append. */
const eventsOf = (operations: ReadonlyArray<Op>): Array<Lifecycle.LifecycleEvent> => {
  let state: Lifecycle.ConnectionState = "idle"
  const events: Array<Lifecycle.LifecycleEvent> = []
  operations.forEach((op, i) => {
    const ms = 1_000 * (i + 1)
    if (op._tag === "transition") {
      const to = target(state, op.pick)
      events.push(go(state, to, ms))
      state = to
    } else if (op._tag === "error") events.push(ev("error", ms, { message: op.message }))
    else if (op._tag === "lockAcquired") events.push(ev("lock_acquired", ms, { lockEpoch: op.epoch }))
    else if (op._tag === "lockReleased") events.push(ev("lock_released", ms))
    else if (op._tag === "heartbeat") events.push(ev("heartbeat", ms))
    else events.push(ev("warmup_started", ms))
  })
  return events
}

describe("StatusProjection", () => {
  it("starts idle with the base facts", () => {
    const status = StatusProjection.project([], base)
    assert.strictEqual(status.connectionState, "idle")
    assert.strictEqual(status.exchangeName, base.exchangeName)
    assert.strictEqual(status.symbolCount, 25)
    assert.isNull(status.connectedAt)
    assert.isNull(status.lastHeartbeat)
    assert.isNull(status.lockEpoch)
    assert.isNull(status.lastError)
  })

  it("follows the happy path: connectedAt kept across reconnecting, cleared on stopped; lastError kept", () => {
    const states: Array<Status.InstanceStatus> = [StatusProjection.initial(base)]
    for (const event of happyPath) states.push(StatusProjection.apply(states[states.length - 1]!, event))
    const after = (i: number) => states[i + 1]!
    assert.strictEqual(after(0).connectionState, "starting")
    assert.strictEqual(after(1).lockEpoch, 7)
    assert.isNull(after(2).connectedAt)
    assert.strictEqual(after(5).connectionState, "active")
    assert.strictEqual(DateTime.toEpochMillis(after(5).connectedAt!), 3_000)
    assert.strictEqual(DateTime.toEpochMillis(after(6).lastHeartbeat!), 4_000)
    assert.strictEqual(after(7).connectionState, "reconnecting")
    assert.strictEqual(DateTime.toEpochMillis(after(8).connectedAt!), 3_000, "a reconnect keeps connectedAt")
    assert.strictEqual(after(9).lastError, "socket closed")
    assert.isNull(after(11).lockEpoch)
    const stopped = after(12)
    assert.strictEqual(stopped.connectionState, "stopped")
    assert.isNull(stopped.connectedAt)
    assert.strictEqual(stopped.lastError, "socket closed", "a stop keeps the error that caused it")
    assert.strictEqual(DateTime.toEpochMillis(stopped.lastHeartbeat!), 4_000)

    const restarted = StatusProjection.apply(stopped, go("stopped", "starting", 9_000))
    assert.strictEqual(restarted.connectionState, "starting")
    assert.isNull(restarted.lastError, "entering starting clears lastError")
  })

  it("rejects a transition the state machine forbids or whose from is stale; apply skips it", () => {
    const idle = StatusProjection.initial(base)
    const skipped = StatusProjection.step(idle, go("idle", "active", 1))
    assert.isTrue(Either.isLeft(skipped))
    if (Either.isLeft(skipped)) assert.deepStrictEqual([skipped.left.from, skipped.left.to], ["idle", "active"])
    const stale = StatusProjection.step(StatusProjection.project(happyPath.slice(0, 3), base), go("starting", "warming", 9))
    assert.isTrue(Either.isLeft(stale))
    assert.isTrue(Equal.equals(StatusProjection.apply(idle, go("idle", "active", 1)), idle))
  })

  it("ignores events of another instance", () => {
    const status = StatusProjection.project([go("idle", "starting", 1), ev("error", 2, { instanceId: "other" })], base)
    assert.isNull(status.lastError)
  })

  it("a transition from idle in another state starts a new run (same instance id after a crash)", () => {
    const crashed = StatusProjection.project(happyPath.slice(0, 7), base)
    assert.strictEqual(crashed.connectionState, "active")
    const again = StatusProjection.apply(crashed, go("idle", "starting", 99_000))
    assert.strictEqual(again.connectionState, "starting")
    assert.isNull(again.lockEpoch)
    assert.isNull(again.lastHeartbeat)
    assert.isNull(again.connectedAt)
  })

  it.prop("generated sequences are valid, and every prefix fold equals applying events one by one", [ops], ([operations]) => {
    const events = eventsOf(operations)
    let incremental = StatusProjection.initial(base)
    for (let k = 0; k < events.length; k++) {
      const stepped = StatusProjection.step(incremental, events[k]!)
      assert.isTrue(Either.isRight(stepped), "the generator only makes allowed transitions")
      if (Either.isRight(stepped)) incremental = stepped.right
      const folded = StatusProjection.project(events.slice(0, k + 1), base)
      assert.deepStrictEqual(encode(folded), encode(incremental))
      assert.isTrue(Equal.equals(folded, incremental))
    }
  })
})
