import { describe, it } from "@effect/vitest"
import { CacheConfig, CacheServices } from "@livermore/cache"
import { Effect, Layer, TestClock } from "effect"
import { expiry, fixedWalk, happyPath, invalidTransition, randomWalk } from "./scenarios.js"
import { ops } from "./support.js"

const Memory = CacheServices.layerMemory.pipe(Layer.provideMerge(CacheConfig.layer()))

// Fresh memory stores per test, on the TestClock.
describe("Lifecycle on the memory layers", () => {
  it.effect("appends the happy path in order; the status key equals the rebuilt projection", () =>
    happyPath.pipe(Effect.provide(Memory))
  )

  it.effect("an invalid transition fails typed and appends nothing", () => invalidTransition.pipe(Effect.provide(Memory)))

  it.effect("the status key expires after its TTL without heartbeats", () =>
    expiry((duration) => TestClock.adjust(duration)).pipe(Effect.provide(Memory))
  )

  it.effect("events carry the TestClock time", () =>
    Effect.gen(function* () {
      yield* TestClock.adjust("1 hour")
      yield* happyPath
    }).pipe(Effect.provide(Memory))
  )

  it.effect.prop("any operation sequence: the status key equals the rebuilt projection", [ops], ([operations]) =>
    randomWalk(operations).pipe(Effect.provide(Memory))
  )

  it.effect("a fixed walk through a reconnect, an error, a stop and a restart stays consistent", () =>
    randomWalk(fixedWalk).pipe(Effect.provide(Memory))
  )
})
