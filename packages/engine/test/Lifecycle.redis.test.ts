/**
 * The Lifecycle scenarios against a real Redis at REDIS_URL (default redis://127.0.0.1:6379), under a namespace
 * unique to this run that is deleted afterwards. If no Redis answers, every test fails with how to start one.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { CacheConfig, CacheServices, Keys, RedisClient } from "@livermore/cache"
import { Effect, Layer, ManagedRuntime, Option } from "effect"
import * as Lifecycle from "../src/Lifecycle.js"
import { freshPrefix, redisLayer } from "./redisNamespace.js"
import { type Env, expiry, fixedWalk, happyPath, invalidTransition, randomWalk } from "./scenarios.js"
import { freshBase } from "./support.js"

const prefix = freshPrefix("engine")

const Live = CacheServices.layerRedis.pipe(
  Layer.provideMerge(CacheConfig.layer()),
  Layer.provideMerge(redisLayer("engine", prefix))
)

describe("Lifecycle on Redis", () => {
  // Built once, when the first test needs it; each test awaits the build, so a missing Redis fails every test.
  const runtime = ManagedRuntime.make(Live)
  afterAll(() => runtime.dispose(), 30_000)
  const test = <A, E>(name: string, body: Effect.Effect<A, E, Env | RedisClient.RedisClient>) =>
    it.live(name, () => body.pipe(Effect.provide(runtime)), 15_000)

  test("appends the happy path in order; the status key equals the rebuilt projection", happyPath)

  test("an invalid transition fails typed and appends nothing", invalidTransition)

  test("the status key expires after its TTL without heartbeats", expiry((duration) => Effect.sleep(duration)))

  test("a walk through a reconnect, an error, a stop and a restart stays consistent", randomWalk(fixedWalk))

  test("writes the status and the stream under the domain.md §4 keys, with a TTL on the status", Effect.gen(function* () {
    const redis = yield* RedisClient.RedisClient
    const base = freshBase()
    const lifecycle = yield* Lifecycle.make({ ...base, statusTtl: "10 seconds" })
    yield* lifecycle.transition("starting", "start")
    const statusKey = redis.key(Keys.status(base.exchangeId))
    const logKey = redis.key(Keys.networkLog(base.exchangeName))
    assert.strictEqual(statusKey, `${prefix}exchange:${base.exchangeId}:status`)
    assert.strictEqual(logKey, `${prefix}logs:network:${base.exchangeName}`)
    assert.strictEqual(yield* redis.use("test.raw", (r) => r.type(logKey)), "stream")
    const ttl = yield* redis.use("test.raw", (r) => r.pttl(statusKey))
    assert.isAbove(ttl, 0)
    assert.isAtMost(ttl, 10_000)
    assert.isTrue(Option.isNone(yield* lifecycle.lockEpoch))
    yield* lifecycle.lockAcquired(9, "took the lock")
    assert.deepStrictEqual(yield* lifecycle.lockEpoch, Option.some(9), "the hook the lock owner renews with")
  }))
})
