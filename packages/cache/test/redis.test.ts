/**
 * The conformance suite against a real Redis at REDIS_URL (default redis://127.0.0.1:6379), under a namespace
 * unique to this run that is deleted afterwards, plus what only Redis can show: exact key names, corrupt
 * stored data, raw messages, approximate trimming, connection handling.
 */
import { assert, describe } from "@effect/vitest"
import { Market, Ticker } from "@livermore/domain"
import { Chunk, Config, DateTime, Duration, Effect, Layer, Option, Schedule, Schema, Stream } from "effect"
import * as Bus from "../src/Bus.js"
import * as CacheConfig from "../src/CacheConfig.js"
import * as CacheServices from "../src/CacheServices.js"
import * as CandleCache from "../src/CandleCache.js"
import * as EventLog from "../src/EventLog.js"
import * as ExchangeLock from "../src/ExchangeLock.js"
import * as IndicatorStore from "../src/IndicatorStore.js"
import * as Pipeline from "../src/internal/pipeline.js"
import * as Script from "../src/internal/script.js"
import * as Keys from "../src/Keys.js"
import * as RedisClient from "../src/RedisClient.js"
import * as StatusStore from "../src/StatusStore.js"
import * as TickerCache from "../src/TickerCache.js"
import {
  assertCacheError,
  candleAt,
  conformance,
  event,
  failure,
  freshExchange,
  freshName,
  freshSeries,
  holderNamed,
  statusOf,
  t0,
  testCandleCacheSize
} from "./conformance.js"

const howToStart = `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no`

const redisUrl = Config.string("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379"))

const prefix = `livermore-test:${crypto.randomUUID()}:`

/** Delete every key of a namespace. */
const deleteNamespace = (redis: RedisClient.RedisClient["Type"]) =>
  Effect.gen(function* () {
    let cursor = "0"
    do {
      const [next, keys] = yield* redis.use("test.cleanup", (r) =>
        r.scan(cursor, "MATCH", `${Keys.escapeGlob(redis.prefix)}*`, "COUNT", 500)
      )
      if (keys.length > 0) yield* redis.use("test.cleanup", (r) => r.unlink(...keys))
      cursor = next
    } while (cursor !== "0")
  })

const Client = Layer.unwrapEffect(
  Effect.map(redisUrl, (url) => RedisClient.layer({ url, keyPrefix: prefix, connectTimeout: "3 seconds" }))
).pipe(
  Layer.mapError(
    (error) =>
      new Error(
        `The cache tests need a Redis server at REDIS_URL (default redis://127.0.0.1:6379), and none answered: ${error.message}\n` +
          `Start one with: ${howToStart}`
      )
  )
)

const Cleanup = Layer.scopedDiscard(
  Effect.flatMap(RedisClient.RedisClient, (redis) => Effect.addFinalizer(() => Effect.ignore(deleteNamespace(redis))))
)

const Live = CacheServices.layerRedis.pipe(
  Layer.provideMerge(Layer.mergeAll(CacheConfig.layer({ candleCacheSize: testCandleCacheSize }), Cleanup)),
  Layer.provideMerge(Client)
)

const Message = Schema.Struct({ n: Schema.Number })

const raw = <A>(f: (redis: RedisClient.Connection["redis"]) => Promise<A>) =>
  Effect.flatMap(RedisClient.RedisClient, (redis) => redis.use("test.raw", f))

const physical = (name: string) => Effect.map(RedisClient.RedisClient, (redis) => redis.key(name))

/** What `self` sent on the shared connection: pipelines, commands inside them, and commands sent on their own. */
interface Traffic {
  readonly pipelines: number
  readonly pipelined: number
  readonly direct: number
}

const trafficOf = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(RedisClient.RedisClient, ({ redis }) => {
    const traffic = { pipelines: 0, pipelined: 0, direct: 0 }
    const { pipeline, sendCommand } = redis
    return Effect.acquireUseRelease(
      Effect.sync(() => {
        redis.pipeline = (commands) => {
          traffic.pipelines++
          return pipeline.call(redis, commands)
        }
        // A pipeline hands its commands to sendCommand with its own stream; anything else is a command alone.
        redis.sendCommand = (command, stream) => {
          if (stream === undefined) traffic.direct++
          else traffic.pipelined++
          return sendCommand.call(redis, command, stream)
        }
      }),
      () => Effect.map(self, (result) => [result, traffic as Traffic] as const),
      () =>
        Effect.sync(() => {
          Reflect.deleteProperty(redis, "pipeline")
          Reflect.deleteProperty(redis, "sendCommand")
        })
    )
  })

conformance<RedisClient.RedisClient>("Redis layers", Live, (test) => {
  describe("Redis only", () => {
    test("writes exactly the domain.md §4 keys, under the namespace", () =>
      Effect.gen(function* () {
        const redis = yield* RedisClient.RedisClient
        assert.strictEqual(redis.prefix, prefix)
        const series = freshSeries("15m")
        const { exchangeId, symbol } = series
        yield* (yield* CandleCache.CandleCache).upsert(series, candleAt(t0, 10))
        yield* (yield* TickerCache.TickerCache).set(exchangeId, new Ticker.Ticker({ symbol, price: 1, volume24h: 1, time: 1 }))
        yield* (yield* IndicatorStore.IndicatorStore).set(series, Schema.Number, 1.5)
        yield* (yield* StatusStore.StatusStore).put(statusOf(exchangeId), "10 seconds")
        yield* (yield* ExchangeLock.ExchangeLock).acquire(exchangeId, holderNamed("instance-a"), "10 seconds")
        const name = freshName()
        yield* (yield* EventLog.EventLog).append(name, event(exchangeId, "hello"))

        const typeOf = (key: string) => raw((r) => r.type(prefix + key))
        const ttlOf = (key: string) => raw((r) => r.pttl(prefix + key))
        assert.strictEqual(yield* typeOf(`candles:${exchangeId}:BTC-USD:15m`), "zset")
        assert.strictEqual(yield* typeOf(`ticker:${exchangeId}:BTC-USD`), "string")
        assert.strictEqual(yield* typeOf(`indicator:${exchangeId}:BTC-USD:15m:macdv`), "string")
        assert.strictEqual(yield* typeOf(`exchange:${exchangeId}:status`), "string")
        assert.strictEqual(yield* typeOf(`exchange:${exchangeId}:lock`), "string")
        assert.strictEqual(yield* typeOf(`exchange:${exchangeId}:lock:epoch`), "string")
        assert.strictEqual(yield* typeOf(`logs:network:${name}`), "stream")
        assert.isAbove(yield* ttlOf(`exchange:${exchangeId}:status`), 0)
        assert.isAbove(yield* ttlOf(`exchange:${exchangeId}:lock`), 0)
        assert.strictEqual(yield* ttlOf(`exchange:${exchangeId}:lock:epoch`), -1, "the epoch counter never expires")
        assert.strictEqual(yield* raw((r) => r.exists(`candles:${exchangeId}:BTC-USD:15m`)), 0, "nothing outside the namespace")

        const member = (yield* raw((r) => r.zrange(prefix + Keys.candles(series), 0, -1, "WITHSCORES"))) as Array<string>
        assert.strictEqual(member[1], String(t0), "score = openTime")
        assert.deepStrictEqual(JSON.parse(member[0]!), {
          openTime: t0,
          open: 10,
          high: 11,
          low: 9,
          close: 10,
          volume: 2,
          closed: true,
          synthetic: false
        })
        const fields = yield* raw((r) => r.xrange(prefix + Keys.networkLog(name), "-", "+"))
        assert.deepStrictEqual(fields[0]![1], [
          "type",
          "transition",
          "exchangeId",
          String(exchangeId),
          "instanceId",
          "instance-a",
          "at",
          "2023-11-14T22:15:23.456Z",
          "message",
          "hello"
        ])
      })
    )

    test("a corrupt candle member is a typed Decode error on every read, never a crash", () =>
      Effect.gen(function* () {
        const cache = yield* CandleCache.CandleCache
        const notJson = freshSeries()
        yield* cache.upsert(notJson, candleAt(t0, 10))
        const key = yield* physical(Keys.candles(notJson))
        yield* raw((r) => r.zadd(key, t0 + 300_000, "{not json"))
        assertCacheError(yield* failure(cache.range(notJson, 0, Number.MAX_SAFE_INTEGER)), "Decode")
        assertCacheError(yield* failure(cache.recent(notJson, 5)), "Decode")
        assertCacheError(yield* failure(cache.latest(notJson)), "Decode")
        assertCacheError(yield* failure(cache.contiguousClosed(notJson)), "Decode")
        assert.strictEqual(yield* cache.count(notJson), 2)
        // Reads that do not reach the corrupt member still work.
        assert.strictEqual((yield* cache.range(notJson, t0, t0)).length, 1)

        const inconsistent = freshSeries()
        const bad = JSON.stringify({ ...candleAt(t0, 10), high: 1 })
        yield* raw((r) => r.zadd(`${prefix}${Keys.candles(inconsistent)}`, t0, bad))
        const error = yield* failure(cache.latest(inconsistent))
        assertCacheError(error, "Decode")
        assert.include(error.message, Keys.candles(inconsistent))

        // JSON that is not a candle object: each a Decode error, like the schema would give.
        const good = JSON.parse(JSON.stringify(candleAt(t0, 10))) as Record<string, unknown>
        for (const member of ["null", "[1,2]", "42", JSON.stringify({ ...good, open: "10" }), JSON.stringify({ ...good, closed: 1 }), JSON.stringify({ ...good, volume: undefined })]) {
          const misfit = freshSeries()
          yield* raw((r) => r.zadd(`${prefix}${Keys.candles(misfit)}`, t0, member))
          assertCacheError(yield* failure(cache.newestInRange(misfit, 0, Number.MAX_SAFE_INTEGER, 5)), "Decode")
        }
        // Fields the schema does not know are dropped, as a decode drops them.
        const extra = freshSeries()
        yield* raw((r) => r.zadd(`${prefix}${Keys.candles(extra)}`, t0, JSON.stringify({ ...good, secret: 1 })))
        const [read] = yield* cache.newestInRange(extra, 0, Number.MAX_SAFE_INTEGER, 5)
        assert.deepStrictEqual(Object.keys(read!).sort(), Object.keys(good).sort())
        assert.deepStrictEqual(read, candleAt(t0, 10))
      })
    )

    test("corrupt ticker, indicator, status and lock values are Decode errors", () =>
      Effect.gen(function* () {
        const series = freshSeries()
        const { exchangeId, symbol } = series
        yield* raw((r) => r.set(prefix + Keys.ticker(exchangeId, symbol), "[]"))
        yield* raw((r) => r.set(prefix + Keys.indicator(series), "nope"))
        yield* raw((r) => r.set(prefix + Keys.status(exchangeId), `{"exchangeId":${exchangeId}}`, "PX", 10_000))
        yield* raw((r) => r.set(prefix + Keys.lock(exchangeId), "garbage", "PX", 10_000))
        assertCacheError(yield* failure((yield* TickerCache.TickerCache).get(exchangeId, symbol)), "Decode")
        assertCacheError(yield* failure((yield* IndicatorStore.IndicatorStore).get(series, Schema.Number)), "Decode")
        const statuses = yield* StatusStore.StatusStore
        assertCacheError(yield* failure(statuses.get(exchangeId)), "Decode")
        assert.notInclude(
          (yield* statuses.list()).map((s) => s.exchangeId),
          exchangeId,
          "list leaves an undecodable status out instead of failing"
        )
        const lock = yield* ExchangeLock.ExchangeLock
        assertCacheError(yield* failure(lock.holder(exchangeId)), "Decode")
        const lost = yield* failure(lock.renew(exchangeId, "instance-a", 1, "1 second"))
        assert.strictEqual(lost._tag, "LockLost")
        assert.isFalse(yield* lock.release(exchangeId, "instance-a", 1))
      })
    )

    test("a raw non-JSON message on a channel is skipped; the subscriber connection closes with its scope", () =>
      Effect.gen(function* () {
        const bus = yield* Bus.Bus
        const channel = Keys.alertsChannel(freshExchange())
        const key = yield* physical(channel)
        const subscribers = raw((r) => r.pubsub("NUMSUB", key)).pipe(Effect.map((reply) => Number((reply as Array<unknown>)[1])))
        yield* Effect.scoped(
          Effect.gen(function* () {
            const messages = yield* bus.subscribe(channel, Message)
            assert.strictEqual(yield* subscribers, 1)
            yield* raw((r) => r.publish(key, "}{ not json"))
            yield* raw((r) => r.publish(key, JSON.stringify({ n: 5 })))
            const got = yield* messages.pipe(Stream.take(1), Stream.runCollect, Effect.timeout("3 seconds"))
            assert.deepStrictEqual(Chunk.toArray(got), [{ n: 5 }])
          })
        )
        const remaining = yield* subscribers.pipe(
          Effect.filterOrFail((n) => n === 0),
          Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.intersect(Schedule.recurs(50)))),
          Effect.orElse(() => subscribers)
        )
        assert.strictEqual(remaining, 0, "the subscriber connection was closed")
      })
    )

    test("a corrupt stream entry fails range but is skipped by tail", () =>
      Effect.gen(function* () {
        const log = yield* EventLog.EventLog
        const name = freshName()
        const exchangeId = freshExchange()
        const key = yield* physical(Keys.networkLog(name))
        const first = yield* log.append(name, event(exchangeId, "one"))
        yield* raw((r) => r.xadd(key, "*", "type", "transition", "exchangeId", "x"))
        yield* log.append(name, event(exchangeId, "two"))
        assertCacheError(yield* failure(log.range(name)), "Decode")
        const tailed = yield* log.tail(name, { fromId: first }).pipe(Stream.take(1), Stream.runCollect, Effect.timeout("5 seconds"))
        assert.deepStrictEqual(
          Chunk.toArray(tailed).map((entry) => entry.event.message),
          ["two"]
        )
      })
    )

    test("trim removes entries older than 90 days; append trims with MINID ~", () =>
      Effect.gen(function* () {
        const log = yield* EventLog.EventLog
        const name = freshName()
        const exchangeId = freshExchange()
        const key = yield* physical(Keys.networkLog(name))
        const now = Date.now()
        const old = now - Duration.toMillis(Duration.days(100))
        const fields = ["type", "heartbeat", "exchangeId", String(exchangeId), "instanceId", "i", "at", "2020-01-01T00:00:00Z", "message", "old"]
        // 250 entries 100 days old: more than two whole stream nodes (100 entries each by default), which is
        // what approximate trimming removes.
        yield* raw((r) => {
          const pipeline = r.pipeline()
          for (let i = 0; i < 250; i++) pipeline.xadd(key, `${old}-${i}`, ...fields)
          return pipeline.exec()
        })
        assert.strictEqual(yield* raw((r) => r.xlen(key)), 250)
        yield* log.append(name, event(exchangeId, "new"))
        const length = yield* raw((r) => r.xlen(key))
        assert.isAtMost(length, 51, "MINID ~ on append dropped the whole nodes older than 90 days")

        const removed = yield* log.trim(name, DateTime.unsafeMake(now - Duration.toMillis(Duration.days(90))))
        assert.strictEqual(removed, length - 1)
        assert.deepStrictEqual(
          (yield* log.range(name)).map((entry) => entry.event.message),
          ["new"]
        )
      })
    )

    test("each batch is one pipeline holding one command per key, and nothing else; an empty batch sends nothing", () =>
      Effect.gen(function* () {
        const cache = yield* CandleCache.CandleCache
        const tickers = yield* TickerCache.TickerCache
        const store = yield* IndicatorStore.IndicatorStore
        const bus = yield* Bus.Bus
        const [a, b, c] = [freshSeries(), freshSeries(), freshSeries("1h")]
        const none: Traffic = { pipelines: 0, pipelined: 0, direct: 0 }
        const batch = [
          { series: a, candle: candleAt(t0, 10) },
          { series: b, candle: candleAt(t0, 20) },
          { series: a, candle: candleAt(t0 + 300_000, 11) },
          { series: c, candle: candleAt(t0, 30) },
          { series: { ...a }, candle: candleAt(t0, 12) }
        ]
        yield* cache.upsertBatch(batch.slice(0, 1)) // the script is known to the server from here on
        const [, upserted] = yield* trafficOf(cache.upsertBatch(batch))
        assert.deepStrictEqual(upserted, { pipelines: 1, pipelined: 3, direct: 0 }, "one script call per series")
        assert.deepStrictEqual((yield* cache.recent(a, 5)).map((candle) => candle.close), [12, 11])

        const eth = Market.SymbolId.make("ETH-USD")
        const ticker = (symbol: Market.SymbolId, price: number) => new Ticker.Ticker({ symbol, price, volume24h: 1, time: 1 })
        const [, set] = yield* trafficOf(tickers.setMany(a.exchangeId, [ticker(a.symbol, 1), ticker(eth, 2), ticker(a.symbol, 3)]))
        assert.deepStrictEqual(set, { pipelines: 1, pipelined: 2, direct: 0 })

        const [, saved] = yield* trafficOf(store.setMany(Schema.Number, [[a, 1], [b, 2], [c, 3]]))
        assert.deepStrictEqual(saved, { pipelines: 1, pipelined: 3, direct: 0 })
        const [states, loaded] = yield* trafficOf(store.getMany([c, b, a, freshSeries()], Schema.Number))
        assert.deepStrictEqual(states, [Option.some(3), Option.some(2), Option.some(1), Option.none()])
        assert.deepStrictEqual(loaded, { pipelines: 1, pipelined: 4, direct: 0 })

        const channel = Keys.alertsChannel(a.exchangeId)
        const [, published] = yield* trafficOf(bus.publishBatch(Message, [[channel, { n: 1 }], [channel, { n: 2 }]]))
        assert.deepStrictEqual(published, { pipelines: 1, pipelined: 2, direct: 0 })

        const [, empty] = yield* trafficOf(
          Effect.all([
            cache.upsertBatch([]),
            tickers.setMany(a.exchangeId, []),
            store.setMany(Schema.Number, []),
            store.getMany([], Schema.Number),
            bus.publishBatch(Message, [])
          ])
        )
        assert.deepStrictEqual(empty, none)
      })
    )

    test("a script the server does not know is loaded once and only the refused calls are sent again", () =>
      Effect.gen(function* () {
        const redis = yield* RedisClient.RedisClient
        // A script no one else runs, so nothing can load it behind this test's back.
        const script = Script.make(`-- ${crypto.randomUUID()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`)
        const keys = [yield* physical(`counter:${freshExchange()}`), yield* physical(`counter:${freshExchange()}`)]
        const calls = [
          { key: keys[0]!, args: [1] },
          { key: keys[1]!, args: [10] },
          { key: keys[0]!, args: [100] }
        ]
        const [cold, coldTraffic] = yield* trafficOf(Pipeline.evalScripts(redis, "test.script", script, calls))
        assert.deepStrictEqual(cold, [1, 10, 101], "each call ran exactly once, in order")
        assert.deepStrictEqual(coldTraffic, { pipelines: 2, pipelined: 3 + 1 + 3, direct: 0 })
        const [warm, warmTraffic] = yield* trafficOf(Pipeline.evalScripts(redis, "test.script", script, calls))
        assert.deepStrictEqual(warm, [102, 20, 202])
        assert.deepStrictEqual(warmTraffic, { pipelines: 1, pipelined: 3, direct: 0 })
      })
    )

    test("upsertBatch after the script cache was emptied (as by a Redis restart) still writes every series", () =>
      Effect.gen(function* () {
        const cache = yield* CandleCache.CandleCache
        const series = [freshSeries(), freshSeries(), freshSeries()]
        yield* raw((r) => r.script("FLUSH"))
        const [, traffic] = yield* trafficOf(
          cache.upsertBatch(series.flatMap((s, i) => [0, 1].map((k) => ({ series: s, candle: candleAt(t0 + k * 300_000, 10 + i) }))))
        )
        // Two pipelines when the script was still missing; one if another client loaded it in between.
        assert.include([1, 2], traffic.pipelines)
        assert.strictEqual(traffic.direct, 0)
        for (const s of series) assert.strictEqual(yield* cache.count(s), 2)
      })
    )

    test("a series the store refuses fails the batch naming the first refused key; the other series are written", () =>
      Effect.gen(function* () {
        const cache = yield* CandleCache.CandleCache
        const [ok1, bad1, ok2, bad2] = [freshSeries(), freshSeries(), freshSeries(), freshSeries()]
        for (const bad of [bad1, bad2]) yield* raw((r) => r.set(prefix + Keys.candles(bad), "not a sorted set"))
        const error = yield* failure(
          cache.upsertBatch([ok1, bad1, ok2, bad2].map((series) => ({ series, candle: candleAt(t0, 10) })))
        )
        assertCacheError(error, "Backend")
        assert.strictEqual(error.op, "CandleCache.upsertBatch")
        assert.strictEqual(error.key, prefix + Keys.candles(bad1))
        assert.include(error.message, "WRONGTYPE")
        assert.strictEqual(yield* cache.count(ok1), 1)
        assert.strictEqual(yield* cache.count(ok2), 1)

        const store = yield* IndicatorStore.IndicatorStore
        yield* raw((r) => r.zadd(prefix + Keys.indicator(bad2), 1, "not a string"))
        const refused = yield* failure(store.getMany([ok1, bad2], Schema.Number))
        assertCacheError(refused, "Backend")
        assert.strictEqual(refused.key, prefix + Keys.indicator(bad2))
      })
    )

    test("publishOnce claims the namespaced key with its TTL", () =>
      Effect.gen(function* () {
        const bus = yield* Bus.Bus
        const exchangeId = freshExchange()
        const key = Keys.alertOnce(exchangeId, Market.SymbolId.make("BTC-USD"), "4h", "level_+300", t0)
        assert.isTrue(yield* bus.publishOnce(Keys.alertsChannel(exchangeId), Message, { n: 1 }, { key, ttl: "10 seconds" }))
        const ttl = yield* raw((r) => r.pttl(prefix + key))
        assert.isAbove(ttl, 9_000)
        assert.isAtMost(ttl, 10_000)
        assert.strictEqual(yield* raw((r) => r.exists(key)), 0, "nothing outside the namespace")
      })
    )

    test("StatusStore.list sees only its own namespace", () =>
      Effect.gen(function* () {
        const exchangeId = freshExchange()
        yield* (yield* StatusStore.StatusStore).put(statusOf(exchangeId), "10 seconds")
        const url = yield* redisUrl
        const elsewhere = yield* Effect.scoped(
          StatusStore.StatusStore.pipe(
            Effect.flatMap((store) => store.list()),
            Effect.provide(
              StatusStore.layerRedis.pipe(Layer.provide(RedisClient.layer({ url, keyPrefix: `${prefix}other:` })))
            )
          )
        )
        assert.deepStrictEqual(elsewhere, [])
        const here = (yield* (yield* StatusStore.StatusStore).list()).map((s) => s.exchangeId)
        assert.include(here, exchangeId)
      })
    )
  })
})
