/** Shared pieces of the engine tests: a projection base, and random valid sequences of lifecycle operations. */
import { Exchange, Lifecycle } from "@livermore/domain"
import { FastCheck as fc } from "effect"
import type * as StatusProjection from "../src/StatusProjection.js"

let next = 0
const runBase = 100_000 + Math.floor(Math.random() * 800_000)

/** A projection base on a fresh exchange id and name, so tests sharing a store never see each other. */
export const freshBase = (instanceId = "instance-a"): StatusProjection.ProjectionBase => {
  const n = next++
  return {
    exchangeId: Exchange.ExchangeId.make(runBase + n),
    exchangeName: Exchange.ExchangeName.make(`engine_test_${runBase}_${n}`),
    instanceId,
    hostname: "test-host",
    ipAddress: "127.0.0.1",
    ipSource: "local",
    adminEmail: "admin@example.com",
    adminDisplayName: "Admin",
    mode: "exchange",
    version: "0.0.0-test",
    symbolCount: 25
  }
}

/** One thing the lifecycle can record; `transition` picks among the allowed next states by index. */
export type Op =
  | { readonly _tag: "transition"; readonly pick: number }
  | { readonly _tag: "error"; readonly message: string }
  | { readonly _tag: "lockAcquired"; readonly epoch: number }
  | { readonly _tag: "lockReleased" }
  | { readonly _tag: "heartbeat" }
  | { readonly _tag: "warmup" }

/** Random operations, weighted towards transitions. */
export const ops: fc.Arbitrary<ReadonlyArray<Op>> = fc.array(
  fc.oneof(
    { arbitrary: fc.nat(5).map((pick): Op => ({ _tag: "transition", pick })), weight: 5 },
    { arbitrary: fc.string({ maxLength: 12 }).map((message): Op => ({ _tag: "error", message })), weight: 1 },
    { arbitrary: fc.integer({ min: 1, max: 1_000 }).map((epoch): Op => ({ _tag: "lockAcquired", epoch })), weight: 1 },
    { arbitrary: fc.constant<Op>({ _tag: "lockReleased" }), weight: 1 },
    { arbitrary: fc.constant<Op>({ _tag: "heartbeat" }), weight: 1 },
    { arbitrary: fc.constant<Op>({ _tag: "warmup" }), weight: 1 }
  ),
  { maxLength: 40 }
)

/** The state a `transition` op moves to from `from`. */
export const target = (from: Lifecycle.ConnectionState, pick: number): Lifecycle.ConnectionState => {
  const allowed = Lifecycle.transitions[from]
  return allowed[pick % allowed.length]!
}
