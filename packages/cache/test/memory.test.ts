import { assert, describe, it } from "@effect/vitest"
import { Chunk, DateTime, Effect, Layer, Option, Schema, Stream, TestClock } from "effect"
import * as Bus from "../src/Bus.js"
import * as CacheConfig from "../src/CacheConfig.js"
import * as CacheServices from "../src/CacheServices.js"
import * as EventLog from "../src/EventLog.js"
import * as ExchangeLock from "../src/ExchangeLock.js"
import * as Keys from "../src/Keys.js"
import * as StatusStore from "../src/StatusStore.js"
import {
  conformance,
  event,
  failure,
  freshExchange,
  freshName,
  holderNamed,
  statusOf,
  testCandleCacheSize
} from "./conformance.js"

const Memory = CacheServices.layerMemory.pipe(
  Layer.provideMerge(CacheConfig.layer({ candleCacheSize: testCandleCacheSize }))
)

conformance("memory layers", Memory)

const MemoryDefaults = CacheServices.layerMemory.pipe(Layer.provideMerge(CacheConfig.layer()))

// Fresh stores per test, on the TestClock: expiry and retention without waiting.
describe("memory layers on the TestClock", () => {
  it.effect("a status disappears when its TTL passes", () =>
    Effect.gen(function* () {
      const store = yield* StatusStore.StatusStore
      const exchangeId = freshExchange()
      yield* store.put(statusOf(exchangeId), "30 seconds")
      yield* TestClock.adjust("29 seconds")
      assert.isTrue(Option.isSome(yield* store.get(exchangeId)))
      yield* TestClock.adjust("1 second")
      assert.isTrue(Option.isNone(yield* store.get(exchangeId)))
      assert.deepStrictEqual(yield* store.list(), [])
    }).pipe(Effect.provide(MemoryDefaults))
  )

  it.effect("a lock that is not renewed within its TTL frees itself", () =>
    Effect.gen(function* () {
      const lock = yield* ExchangeLock.ExchangeLock
      const exchangeId = freshExchange()
      const a = yield* lock.acquire(exchangeId, holderNamed("instance-a"), "30 seconds")
      yield* TestClock.adjust("20 seconds")
      yield* lock.renew(exchangeId, "instance-a", a.epoch, "30 seconds")
      yield* TestClock.adjust("20 seconds")
      assert.isTrue(Option.isSome(yield* lock.holder(exchangeId)))
      yield* TestClock.adjust("11 seconds")
      assert.isTrue(Option.isNone(yield* lock.holder(exchangeId)))
      const b = yield* lock.acquire(exchangeId, holderNamed("instance-b"), "30 seconds")
      assert.isAbove(b.epoch, a.epoch)
      assert.strictEqual(DateTime.toEpochMillis(b.acquiredAt), 51_000)
      const lost = yield* failure(lock.renew(exchangeId, "instance-a", a.epoch, "30 seconds"))
      assert.strictEqual(lost._tag, "LockLost")
    }).pipe(Effect.provide(MemoryDefaults))
  )

  it.scoped("a publishOnce claim lasts its TTL on the Clock, then the key can publish again", () =>
    Effect.gen(function* () {
      const bus = yield* Bus.Bus
      const Message = Schema.Struct({ n: Schema.Number })
      const channel = Keys.alertsChannel(freshExchange())
      const once: Bus.Once = { key: "alert:once:test", ttl: "1 hour" }
      const messages = yield* bus.subscribe(channel, Message)
      assert.isTrue(yield* bus.publishOnce(channel, Message, { n: 1 }, once))
      yield* TestClock.adjust("59 minutes")
      assert.isFalse(yield* bus.publishOnce(channel, Message, { n: 2 }, once))
      yield* TestClock.adjust("1 minute")
      assert.isTrue(yield* bus.publishOnce(channel, Message, { n: 3 }, once))
      const got = yield* messages.pipe(Stream.take(2), Stream.runCollect)
      assert.deepStrictEqual(Chunk.toArray(got), [{ n: 1 }, { n: 3 }])
    }).pipe(Effect.provide(MemoryDefaults))
  )

  it.effect("append trims entries older than the retention (90 days by default)", () =>
    Effect.gen(function* () {
      const log = yield* EventLog.EventLog
      const name = freshName()
      const exchangeId = freshExchange()
      yield* log.append(name, event(exchangeId, "old"))
      yield* TestClock.adjust("89 days")
      yield* log.append(name, event(exchangeId, "recent"))
      assert.strictEqual((yield* log.range(name)).length, 2)
      yield* TestClock.adjust("2 days")
      yield* log.append(name, event(exchangeId, "new"))
      assert.deepStrictEqual(
        (yield* log.range(name)).map((entry) => entry.event.message),
        ["recent", "new"]
      )
    }).pipe(Effect.provide(MemoryDefaults))
  )

  it.effect("retention is configurable", () =>
    Effect.gen(function* () {
      const log = yield* EventLog.EventLog
      const name = freshName()
      const exchangeId = freshExchange()
      yield* TestClock.adjust("10 days")
      yield* log.append(name, event(exchangeId, "old"))
      yield* TestClock.adjust("2 hours")
      yield* log.append(name, event(exchangeId, "new"))
      assert.deepStrictEqual(
        (yield* log.range(name)).map((entry) => entry.event.message),
        ["new"]
      )
      assert.strictEqual(yield* log.trim(name, DateTime.unsafeMake(Date.UTC(3000, 0, 1))), 1)
    }).pipe(Effect.provide(CacheServices.layerMemory.pipe(Layer.provide(CacheConfig.layer({ eventLogRetention: "1 hour" })))))
  )
})
