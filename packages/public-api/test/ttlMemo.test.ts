import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import * as TtlMemo from "../src/internal/TtlMemo.js"

describe("TtlMemo", () => {
  it.live("a value is reused until its time to live, then looked up again", () =>
    Effect.gen(function* () {
      const memo = TtlMemo.make<number, never>({ timeToLiveMs: 100, capacity: 10 })
      let lookups = 0
      const lookup = () => Effect.sync(() => ++lookups)
      assert.strictEqual(yield* memo.get("a", lookup), 1)
      assert.strictEqual(yield* memo.get("a", lookup), 1)
      assert.strictEqual(yield* memo.get("b", lookup), 2)
      yield* Effect.sleep("150 millis")
      assert.strictEqual(yield* memo.get("a", lookup), 3)
      memo.clear()
      assert.strictEqual(yield* memo.get("a", lookup), 4)
    })
  )

  it.live("concurrent misses share one lookup; a failure is not kept", () =>
    Effect.gen(function* () {
      const memo = TtlMemo.make<string, string>({ timeToLiveMs: 10_000, capacity: 10 })
      let lookups = 0
      const gate = yield* Deferred.make<void>()
      const slow = () => Effect.zipRight(Deferred.await(gate), Effect.sync(() => `v${++lookups}`))
      const waiters = yield* Effect.forEach([1, 2, 3], () => Effect.fork(memo.get("k", slow)))
      yield* Effect.sleep("20 millis")
      yield* Deferred.succeed(gate, undefined)
      const values = yield* Effect.forEach(waiters, Fiber.join)
      assert.deepStrictEqual(values, ["v1", "v1", "v1"])
      assert.strictEqual(lookups, 1)

      const failing = TtlMemo.make<number, string>({ timeToLiveMs: 10_000, capacity: 10 })
      let attempts = 0
      const flaky = () => (++attempts === 1 ? Effect.fail("down") : Effect.succeed(attempts))
      assert.deepStrictEqual(yield* Effect.exit(failing.get("k", flaky)), Exit.fail("down"))
      assert.strictEqual(yield* failing.get("k", flaky), 2)
    })
  )

  it.live("an interrupted waiter does not interrupt the lookup the others share; the oldest entry goes past capacity", () =>
    Effect.gen(function* () {
      const memo = TtlMemo.make<string, never>({ timeToLiveMs: 10_000, capacity: 2 })
      const gate = yield* Deferred.make<void>()
      const slow = () => Effect.as(Deferred.await(gate), "shared")
      const first = yield* Effect.fork(memo.get("k", slow))
      const second = yield* Effect.fork(memo.get("k", slow))
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(first)
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(second), "shared")

      let lookups = 0
      const count = () => Effect.sync(() => `n${++lookups}`)
      yield* memo.get("x", count)
      yield* memo.get("y", count) // "k" (the oldest) goes
      assert.strictEqual(yield* memo.get("k", count), "n3")
      assert.strictEqual(yield* memo.get("y", count), "n2")
    })
  )
})
