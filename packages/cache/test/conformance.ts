/**
 * The one behavioural suite every backing of the cache services must pass. `memory.test.ts` runs it over the
 * memory layers and `redis.test.ts` over a real Redis; timings use short real TTLs so both can share it.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Alert, Candle, Exchange, Lifecycle, Market, Status, Ticker, Timeframe } from "@livermore/domain"
import {
  Chunk,
  DateTime,
  Duration,
  Effect,
  Either,
  Fiber,
  HashMap,
  type Layer,
  Logger,
  ManagedRuntime,
  Option,
  Schema,
  type Scope,
  Stream
} from "effect"
import * as Bus from "../src/Bus.js"
import * as CacheConfig from "../src/CacheConfig.js"
import type * as CacheError from "../src/CacheError.js"
import type * as CacheServices from "../src/CacheServices.js"
import * as CandleCache from "../src/CandleCache.js"
import * as EventLog from "../src/EventLog.js"
import * as ExchangeLock from "../src/ExchangeLock.js"
import * as IndicatorStore from "../src/IndicatorStore.js"
import * as InstanceRegistry from "../src/InstanceRegistry.js"
import * as Keys from "../src/Keys.js"
import * as PublicCatalog from "../src/PublicCatalog.js"
import * as StatusStore from "../src/StatusStore.js"
import * as TickerCache from "../src/TickerCache.js"

/** What the suite needs: every service plus the config it was built with (it reads the candle cap). */
export type Env = CacheServices.Services | CacheConfig.CacheConfig

/** Candle cap the suites configure, small enough to overflow in a test. */
export const testCandleCacheSize = 20

let next = 0
const runBase = 100_000 + Math.floor(Math.random() * 800_000)

/** A fresh exchange id, so tests sharing one store never see each other's keys. */
export const freshExchange = (): Exchange.ExchangeId => Exchange.ExchangeId.make(runBase + next++)

/** A fresh exchange name (for event logs). */
export const freshName = (): Exchange.ExchangeName => Exchange.ExchangeName.make(`test_${runBase}_${next++}`)

const btc = Market.SymbolId.make("BTC-USD")

/** A fresh series on `timeframe`. */
export const freshSeries = (timeframe: Timeframe.Timeframe = "5m"): Keys.SeriesKey => ({
  exchangeId: freshExchange(),
  symbol: btc,
  timeframe
})

/** An aligned open time far from the epoch. */
export const t0 = Timeframe.floor("1d", 1_700_000_000_000)
const fiveMinutes = Timeframe.durationMs["5m"]

/** A consistent candle closing at `close`. */
export const candleAt = (openTime: number, close: number, closed = true): Candle.Candle =>
  new Candle.Candle({ openTime, open: close, high: close + 1, low: close - 1, close, volume: 2, closed, synthetic: false })

const series5m = (count: number, options: { readonly skip?: ReadonlyArray<number>; readonly forming?: ReadonlyArray<number> } = {}) =>
  Array.from({ length: count }, (_, i) => i)
    .filter((i) => !options.skip?.includes(i))
    .map((i) => candleAt(t0 + i * fiveMinutes, 10 + i, !options.forming?.includes(i)))

const closes = (candles: ReadonlyArray<Candle.Candle>) => candles.map((c) => c.close)

/** An event of the network log. */
export const event = (
  exchangeId: Exchange.ExchangeId,
  message: string,
  extra: Partial<Pick<Lifecycle.LifecycleEvent, "type" | "from" | "to" | "lockEpoch">> = {}
): Lifecycle.LifecycleEvent =>
  new Lifecycle.LifecycleEvent({
    type: extra.type ?? "transition",
    exchangeId,
    instanceId: "instance-a",
    ...(extra.from === undefined ? {} : { from: extra.from }),
    ...(extra.to === undefined ? {} : { to: extra.to }),
    at: DateTime.unsafeMake(1_700_000_123_456),
    message,
    ...(extra.lockEpoch === undefined ? {} : { lockEpoch: extra.lockEpoch })
  })

const encodedEvent = Schema.encodeSync(Lifecycle.LifecycleEvent)
const encodedStatus = Schema.encodeSync(Status.InstanceStatus)

/** A status payload of `exchangeId`. */
export const statusOf = (
  exchangeId: Exchange.ExchangeId,
  connectionState: Lifecycle.ConnectionState = "active"
): Status.InstanceStatus =>
  new Status.InstanceStatus({
    exchangeId,
    exchangeName: Exchange.ExchangeName.make("sim_binance"),
    instanceId: "instance-a",
    connectionState,
    connectedAt: DateTime.unsafeMake(1_700_000_000_000),
    lastHeartbeat: DateTime.unsafeMake(1_700_000_010_000),
    symbolCount: 25,
    adminEmail: null,
    adminDisplayName: null,
    ipAddress: "127.0.0.1",
    ipSource: "local",
    hostname: "test-host",
    lastError: null,
    lockEpoch: 3,
    mode: "exchange",
    version: "0.0.0-test"
  })

/** A lock holder named `instanceId`. */
export const holderNamed = (instanceId: string): ExchangeLock.LockHolder =>
  new ExchangeLock.LockHolder({ instanceId, hostname: `${instanceId}.local`, ipAddress: "10.0.0.1", connectedAt: null })

/** The error of a failed effect, or a test failure when it succeeds. */
export const failure = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<E, never, R> =>
  Effect.flatMap(Effect.either(self), (result) =>
    Either.isLeft(result) ? Effect.succeed(result.left) : Effect.dieMessage("expected a failure, got a success")
  )

/** Assert a `CacheError` with the given reason. */
export const assertCacheError = (error: unknown, reason: CacheError.Reason): void => {
  assert.instanceOf(error, Error)
  const tagged = error as CacheError.CacheError
  assert.strictEqual(tagged._tag, "CacheError")
  assert.strictEqual(tagged.reason, reason, tagged.message)
}

const Message = Schema.Struct({ n: Schema.Number })

/** Encodes like `Message`, but refuses n ≤ 0: a value that fails to encode in the middle of a batch. */
const PositiveMessage = Schema.Struct({ n: Schema.Number.pipe(Schema.positive()) })

/** A candle the domain would refuse (high below close), built without validation: it fails to encode. */
const inconsistentCandle = (openTime: number): Candle.Candle =>
  new Candle.Candle({ openTime, open: 10, high: 9, low: 8, close: 10, volume: 1, closed: true, synthetic: false }, true)

/** Every candle of the series as its stored JSON, oldest first: what two series must share to be equal. */
const snapshot = (series: Keys.SeriesKey) =>
  Effect.flatMap(CandleCache.CandleCache, (cache) => cache.recent(series, 10_000)).pipe(
    Effect.map((candles) => candles.map((candle) => JSON.stringify(Schema.encodeSync(Candle.Candle)(candle))))
  )

/** Run `self`, collecting the warnings it logs (message and `key` annotation). */
const warningsOf = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const warnings: Array<{ readonly message: string; readonly key: string }> = []
    const collector = Logger.make(({ annotations, logLevel, message }) => {
      if (logLevel._tag !== "Warning") return
      const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
      warnings.push({ message: text, key: String(Option.getOrElse(HashMap.get(annotations, "key"), () => "")) })
    })
    const result = yield* Effect.provide(self, Logger.add(collector))
    return [result, warnings] as const
  })

const take = <A>(stream: Stream.Stream<A, CacheError.CacheError>, n: number) =>
  stream.pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toArray), Effect.timeout("3 seconds"))

const IndicatorState = Schema.Struct({
  ema: Schema.Number,
  seeded: Schema.Boolean,
  updatedAt: Schema.DateTimeUtc
})

/** Registers one test over the suite's services, on the live clock and with a Scope. */
export type Test<R> = <A, E>(name: string, body: () => Effect.Effect<A, E, R | Scope.Scope>, timeout?: number) => void

/**
 * Register the suite for one backing. `services` is built once, when the first test needs it, and shared by
 * all; `extra` adds tests only this backing can run, over the same services. Every test awaits the build, so
 * a backing that cannot start (Redis not running) fails each test with the build error rather than having
 * vitest report them skipped after a failed `beforeAll`.
 */
export const conformance = <R = never>(
  name: string,
  services: Layer.Layer<Env | R, unknown>,
  extra?: (test: Test<Env | R>) => void
): void => {
  describe(name, () => {
    const runtime = ManagedRuntime.make(services)
    afterAll(() => runtime.dispose(), 30_000)
    const test: Test<Env | R> = (title, body, timeout) =>
      it.scopedLive(title, () => body().pipe(Effect.provide(runtime)), timeout)

    describe("CandleCache", () => {
      test("an empty series has no candles", () =>
        Effect.gen(function* () {
          const cache = yield* CandleCache.CandleCache
          const series = freshSeries()
          assert.strictEqual(yield* cache.count(series), 0)
          assert.isTrue(Option.isNone(yield* cache.latest(series)))
          assert.deepStrictEqual(yield* cache.recent(series, 10), [])
          assert.deepStrictEqual(yield* cache.range(series, 0, Number.MAX_SAFE_INTEGER), [])
          assert.strictEqual(yield* cache.contiguousClosed(series), 0)
        })
      )

      test("upsert is idempotent per openTime: one member, the latest value", () =>
        Effect.gen(function* () {
          const cache = yield* CandleCache.CandleCache
          const series = freshSeries()
          yield* cache.upsert(series, candleAt(t0, 10, false))
          yield* cache.upsert(series, candleAt(t0, 11, true))
          assert.strictEqual(yield* cache.count(series), 1)
          const latest = Option.getOrThrow(yield* cache.latest(series))
          assert.strictEqual(latest.close, 11)
          assert.isTrue(latest.closed)

          yield* cache.upsertMany(series, [candleAt(t0, 12), candleAt(t0 + fiveMinutes, 13), candleAt(t0, 14)])
          assert.strictEqual(yield* cache.count(series), 2)
          assert.deepStrictEqual(closes(yield* cache.range(series, t0, t0 + fiveMinutes)), [14, 13])
          yield* cache.upsertMany(series, [])
          assert.strictEqual(yield* cache.count(series), 2)
        })
      )

      test("a closed candle is final: a later forming update for its open time never replaces it, a closed one does", () =>
        Effect.gen(function* () {
          const cache = yield* CandleCache.CandleCache
          const series = freshSeries()
          yield* cache.upsert(series, candleAt(t0, 11, true))
          yield* cache.upsert(series, candleAt(t0, 99, false))
          yield* cache.upsertMany(series, [candleAt(t0, 98, false), candleAt(t0 + fiveMinutes, 20, false)])
          yield* cache.upsertBatch([
            { series, candle: candleAt(t0, 97, false) },
            { series, candle: candleAt(t0 + fiveMinutes, 21, false) }
          ])
          const held = yield* cache.range(series, t0, t0 + fiveMinutes)
          assert.deepStrictEqual(
            held.map((c) => [c.close, c.closed]),
            [
              [11, true],
              [21, false]
            ]
          )
          yield* cache.upsertBatch([{ series, candle: candleAt(t0, 12, true) }])
          assert.strictEqual((yield* cache.range(series, t0, t0))[0]!.close, 12, "a corrected closed candle replaces it")
        })
      )

      test("keeps the newest candles up to the configured cap", () =>
        Effect.gen(function* () {
          const cache = yield* CandleCache.CandleCache
          const { candleCacheSize } = yield* CacheConfig.CacheConfig
          assert.strictEqual(candleCacheSize, testCandleCacheSize)
          const series = freshSeries()
          const overflow = 5
          yield* cache.upsertMany(series, series5m(candleCacheSize + overflow))
          assert.strictEqual(yield* cache.count(series), candleCacheSize)
          const kept = yield* cache.recent(series, 1_000)
          assert.strictEqual(kept.length, candleCacheSize)
          assert.strictEqual(kept[0]!.openTime, t0 + overflow * fiveMinutes)
          assert.strictEqual(kept[kept.length - 1]!.openTime, t0 + (candleCacheSize + overflow - 1) * fiveMinutes)

          // An older candle than the window is trimmed straight away; a newer one pushes out the oldest.
          yield* cache.upsert(series, candleAt(t0, 99))
          assert.strictEqual(yield* cache.count(series), candleCacheSize)
          assert.deepStrictEqual(yield* cache.range(series, t0, t0), [])
          yield* cache.upsert(series, candleAt(t0 + (candleCacheSize + overflow) * fiveMinutes, 7))
          assert.strictEqual(yield* cache.count(series), candleCacheSize)
          assert.strictEqual((yield* cache.recent(series, 1_000))[0]!.openTime, t0 + (overflow + 1) * fiveMinutes)
        })
      )

      test("range and recent return oldest first, whatever the insertion order", () =>
        Effect.gen(function* () {
          const cache = yield* CandleCache.CandleCache
          const series = freshSeries()
          const candles = series5m(6)
          yield* cache.upsertMany(series, [candles[3]!, candles[0]!, candles[5]!])
          yield* cache.upsert(series, candles[1]!)
          yield* cache.upsertMany(series, [candles[4]!, candles[2]!])

          assert.deepStrictEqual(closes(yield* cache.range(series, t0, t0 + 10 * fiveMinutes)), [10, 11, 12, 13, 14, 15])
          assert.deepStrictEqual(closes(yield* cache.range(series, t0 + fiveMinutes, t0 + 3 * fiveMinutes)), [11, 12, 13])
          assert.deepStrictEqual(closes(yield* cache.range(series, t0 + 3 * fiveMinutes, t0 + fiveMinutes)), [])
          assert.deepStrictEqual(closes(yield* cache.recent(series, 3)), [13, 14, 15])
          assert.deepStrictEqual(closes(yield* cache.recent(series, 100)), [10, 11, 12, 13, 14, 15])
          assert.deepStrictEqual(yield* cache.recent(series, 0), [])
          assert.strictEqual(Option.getOrThrow(yield* cache.latest(series)).close, 15)
          assertCacheError(yield* failure(cache.recent(series, -1)), "Argument")
        })
      )

      test("series are independent and clear empties only one", () =>
        Effect.gen(function* () {
          const cache = yield* CandleCache.CandleCache
          const fast = freshSeries("5m")
          const slow = { ...fast, timeframe: "1h" as const }
          yield* cache.upsertMany(fast, series5m(3))
          yield* cache.upsert(slow, candleAt(t0, 50))
          assert.strictEqual(yield* cache.count(fast), 3)
          assert.strictEqual(yield* cache.count(slow), 1)
          yield* cache.clear(fast)
          assert.strictEqual(yield* cache.count(fast), 0)
          assert.strictEqual(yield* cache.count(slow), 1)
        })
      )

      test("contiguousClosed counts back from the newest closed candle, stepping by the timeframe", () =>
        Effect.gen(function* () {
          const cache = yield* CandleCache.CandleCache
          const complete = freshSeries()
          yield* cache.upsertMany(complete, series5m(10))
          assert.strictEqual(yield* cache.contiguousClosed(complete), 10)
          // A forming candle on top does not count and does not break the run below it.
          yield* cache.upsert(complete, candleAt(t0 + 10 * fiveMinutes, 1, false))
          assert.strictEqual(yield* cache.contiguousClosed(complete), 10)
          assert.strictEqual(yield* cache.contiguousClosed(complete, { endingAt: t0 + 10 * fiveMinutes }), 0)
          assert.strictEqual(yield* cache.contiguousClosed(complete, { endingAt: t0 + 3 * fiveMinutes }), 4)
          assert.strictEqual(yield* cache.contiguousClosed(complete, { endingAt: t0 + 50 * fiveMinutes }), 0)

          const holed = freshSeries()
          yield* cache.upsertMany(holed, series5m(10, { skip: [4] }))
          assert.strictEqual(yield* cache.contiguousClosed(holed), 5)
          assert.strictEqual(yield* cache.contiguousClosed(holed, { endingAt: t0 + 4 * fiveMinutes }), 0)
          assert.strictEqual(yield* cache.contiguousClosed(holed, { endingAt: t0 + 3 * fiveMinutes }), 4)

          const formingInside = freshSeries()
          yield* cache.upsertMany(formingInside, series5m(6, { forming: [2] }))
          assert.strictEqual(yield* cache.contiguousClosed(formingInside), 3)

          const hourly = freshSeries("1h")
          const hour = Timeframe.durationMs["1h"]
          yield* cache.upsertMany(hourly, [0, 1, 2, 4, 5].map((i) => candleAt(t0 + i * hour, 20 + i)))
          assert.strictEqual(yield* cache.contiguousClosed(hourly), 2)
          assert.strictEqual(yield* cache.contiguousClosed(hourly, { endingAt: t0 + 2 * hour }), 3)
        })
      )
    })

    describe("CandleCache.upsertBatch", () => {
      test("equals upsert of every entry in order: grouped by series, later entries win, each series capped", () =>
        Effect.gen(function* () {
          const cache = yield* CandleCache.CandleCache
          const { candleCacheSize } = yield* CacheConfig.CacheConfig
          // Three series written by one batch, and their twins written by upsert one entry at a time.
          const pairs = [freshSeries("5m"), freshSeries("5m"), freshSeries("1h")].map((series) => ({
            batched: series,
            twin: { ...series, exchangeId: freshExchange() }
          }))
          const [a, b, c] = pairs as [(typeof pairs)[0], (typeof pairs)[0], (typeof pairs)[0]]
          const hour = Timeframe.durationMs["1h"]
          // Pre-existing candles stay (the batch inserts, it does not replace the series).
          for (const { batched, twin } of [a, b]) {
            yield* cache.upsert(batched, candleAt(t0 - fiveMinutes, 5))
            yield* cache.upsert(twin, candleAt(t0 - fiveMinutes, 5))
          }
          type Entry = readonly [pair: (typeof pairs)[0], candle: Candle.Candle]
          const entries: Array<Entry> = [
            [a, candleAt(t0, 10, false)],
            [b, candleAt(t0 + fiveMinutes, 21)],
            [a, candleAt(t0 + fiveMinutes, 11, false)],
            [b, candleAt(t0, 20)],
            [a, candleAt(t0, 12)], // replaces the forming candle above
            [a, candleAt(t0 + fiveMinutes, 13)]
          ]
          // More than the cap on c, out of order and with repeats, interleaved with the others.
          for (let i = candleCacheSize + 4; i >= 0; i--) {
            entries.push([c, candleAt(t0 + i * hour, 100 + i)])
            if (i % 5 === 0) entries.push([a, candleAt(t0 + fiveMinutes, 50 + i)])
            if (i % 3 === 0) entries.push([c, candleAt(t0 + (i + 1) * hour, 200 + i)])
          }
          entries.push([c, candleAt(t0 - hour, 1)]) // older than the window: trimmed at once
          // A copy of a series key is the same series.
          yield* cache.upsertBatch(entries.map(([pair, candle]) => ({ series: { ...pair.batched }, candle })))
          for (const [pair, candle] of entries) yield* cache.upsert(pair.twin, candle)

          for (const { batched, twin } of pairs) {
            assert.deepStrictEqual(yield* snapshot(batched), yield* snapshot(twin))
          }
          assert.deepStrictEqual(closes(yield* cache.recent(a.batched, 10)), [5, 12, 50])
          assert.isTrue(Option.getOrThrow(yield* cache.latest(a.batched)).closed)
          assert.deepStrictEqual(closes(yield* cache.recent(b.batched, 10)), [5, 20, 21])
          assert.strictEqual(yield* cache.count(c.batched), candleCacheSize)
          const kept = yield* cache.recent(c.batched, 1_000)
          // Hours 0 to cap + 5 were written; the newest `cap` remain.
          assert.strictEqual(kept[0]!.openTime, t0 + 6 * hour)
          assert.strictEqual(kept[kept.length - 1]!.openTime, t0 + (candleCacheSize + 5) * hour)
          // Hour 7 was written at i = 7 (107), then at i = 6 (206): the later entry wins.
          assert.strictEqual(kept.find((candle) => candle.openTime === t0 + 7 * hour)!.close, 206)
        })
      )

      test("a candle that does not encode fails the whole batch before anything is written", () =>
        Effect.gen(function* () {
          const cache = yield* CandleCache.CandleCache
          const good = freshSeries()
          const bad = freshSeries()
          const error = yield* failure(
            cache.upsertBatch([
              { series: good, candle: candleAt(t0, 10) },
              { series: bad, candle: inconsistentCandle(t0) },
              { series: good, candle: candleAt(t0 + fiveMinutes, 11) }
            ])
          )
          assertCacheError(error, "Encode")
          assert.strictEqual(error.op, "CandleCache.upsertBatch")
          assert.include(error.key, Keys.candles(bad))
          assert.strictEqual(yield* cache.count(good), 0)
          assert.strictEqual(yield* cache.count(bad), 0)

          yield* cache.upsertBatch([])
          yield* cache.upsertBatch([{ series: good, candle: candleAt(t0, 10) }])
          assert.strictEqual(yield* cache.count(good), 1)
        })
      )
    })

    describe("TickerCache", () => {
      test("stores the latest ticker per exchange and symbol", () =>
        Effect.gen(function* () {
          const tickers = yield* TickerCache.TickerCache
          const exchangeId = freshExchange()
          const eth = Market.SymbolId.make("ETH-USD")
          assert.isTrue(Option.isNone(yield* tickers.get(exchangeId, btc)))
          const first = new Ticker.Ticker({ symbol: btc, price: 100, volume24h: 5, bestBid: 99.5, time: 1 })
          const second = new Ticker.Ticker({ symbol: btc, price: 101, volume24h: 6, time: 2 })
          yield* tickers.set(exchangeId, first)
          yield* tickers.set(exchangeId, new Ticker.Ticker({ symbol: eth, price: 3, volume24h: 1, time: 1 }))
          assert.deepStrictEqual(Option.getOrThrow(yield* tickers.get(exchangeId, btc)), first)
          yield* tickers.set(exchangeId, second)
          assert.deepStrictEqual(Option.getOrThrow(yield* tickers.get(exchangeId, btc)), second)
          assert.strictEqual(Option.getOrThrow(yield* tickers.get(exchangeId, eth)).price, 3)
          assert.isTrue(Option.isNone(yield* tickers.get(freshExchange(), btc)))
        })
      )
    })

    describe("TickerCache.setMany", () => {
      test("stores every ticker of the batch; a later one for the same symbol wins", () =>
        Effect.gen(function* () {
          const tickers = yield* TickerCache.TickerCache
          const exchangeId = freshExchange()
          const other = freshExchange()
          const eth = Market.SymbolId.make("ETH-USD")
          const sol = Market.SymbolId.make("SOL-USD")
          yield* tickers.set(exchangeId, new Ticker.Ticker({ symbol: sol, price: 7, volume24h: 1, time: 1 }))
          const last = new Ticker.Ticker({ symbol: btc, price: 103, volume24h: 8, bestAsk: 104, time: 4 })
          yield* tickers.setMany(exchangeId, [
            new Ticker.Ticker({ symbol: btc, price: 101, volume24h: 6, time: 2 }),
            new Ticker.Ticker({ symbol: eth, price: 3, volume24h: 1, time: 2 }),
            last,
            new Ticker.Ticker({ symbol: eth, price: 4, volume24h: 2, time: 1 })
          ])
          assert.deepStrictEqual(Option.getOrThrow(yield* tickers.get(exchangeId, btc)), last)
          assert.strictEqual(Option.getOrThrow(yield* tickers.get(exchangeId, eth)).price, 4, "order decides, not time")
          assert.strictEqual(Option.getOrThrow(yield* tickers.get(exchangeId, sol)).price, 7, "untouched")
          assert.isTrue(Option.isNone(yield* tickers.get(other, btc)), "only the given exchange")
          yield* tickers.setMany(exchangeId, [])
          assert.strictEqual(Option.getOrThrow(yield* tickers.get(exchangeId, btc)).price, 103)
        })
      )

      test("a ticker that does not encode fails the whole batch before anything is written", () =>
        Effect.gen(function* () {
          const tickers = yield* TickerCache.TickerCache
          const exchangeId = freshExchange()
          const eth = Market.SymbolId.make("ETH-USD")
          const error = yield* failure(
            tickers.setMany(exchangeId, [
              new Ticker.Ticker({ symbol: btc, price: 1, volume24h: 1, time: 1 }),
              new Ticker.Ticker({ symbol: eth, price: -1, volume24h: 1, time: 1 }, true)
            ])
          )
          assertCacheError(error, "Encode")
          assert.include(error.key, Keys.ticker(exchangeId, eth))
          assert.isTrue(Option.isNone(yield* tickers.get(exchangeId, btc)))
        })
      )
    })

    describe("IndicatorStore", () => {
      test("round-trips a state through the caller's schema and removes it", () =>
        Effect.gen(function* () {
          const store = yield* IndicatorStore.IndicatorStore
          const series = freshSeries("1h")
          assert.isTrue(Option.isNone(yield* store.get(series, IndicatorState)))
          const state = { ema: 42.5, seeded: true, updatedAt: DateTime.unsafeMake(1_700_000_000_000) }
          yield* store.set(series, IndicatorState, state)
          const loaded = Option.getOrThrow(yield* store.get(series, IndicatorState))
          assert.strictEqual(loaded.ema, 42.5)
          assert.isTrue(loaded.seeded)
          assert.strictEqual(DateTime.toEpochMillis(loaded.updatedAt), 1_700_000_000_000)
          yield* store.remove(series)
          assert.isTrue(Option.isNone(yield* store.get(series, IndicatorState)))
        })
      )

      test("a state that does not fit the schema is a Decode error; a bad value an Encode error", () =>
        Effect.gen(function* () {
          const store = yield* IndicatorStore.IndicatorStore
          const series = freshSeries("4h")
          yield* store.set(series, IndicatorState, { ema: 1, seeded: false, updatedAt: DateTime.unsafeMake(0) })
          assertCacheError(yield* failure(store.get(series, Schema.Struct({ ema: Schema.String }))), "Decode")
          assertCacheError(yield* failure(store.set(series, Schema.Number.pipe(Schema.positive()), -1)), "Encode")
        })
      )

      test("setMany and getMany: many series at once, answered in the order asked; a later entry wins", () =>
        Effect.gen(function* () {
          const store = yield* IndicatorStore.IndicatorStore
          const [s1, s2, s3, missing] = [freshSeries("1h"), freshSeries("5m"), freshSeries("1d"), freshSeries("1h")]
          const at = (ema: number) => ({ ema, seeded: ema > 1, updatedAt: DateTime.unsafeMake(1_700_000_000_000 + ema) })
          yield* store.set(s3, IndicatorState, at(30))
          yield* store.setMany(IndicatorState, [
            [s1, at(1)],
            [s2, at(2)],
            [{ ...s1 }, at(11)]
          ])
          const got = yield* store.getMany([s2, missing, s1, s3, s2], IndicatorState)
          assert.deepStrictEqual(
            got.map(Option.map((state) => [state.ema, state.seeded, DateTime.toEpochMillis(state.updatedAt)])),
            [
              Option.some([2, true, 1_700_000_000_002]),
              Option.none(),
              Option.some([11, true, 1_700_000_000_011]),
              Option.some([30, true, 1_700_000_000_030]),
              Option.some([2, true, 1_700_000_000_002])
            ]
          )
          assert.strictEqual(Option.getOrThrow(yield* store.get(s1, IndicatorState)).ema, 11)
          assert.deepStrictEqual(yield* store.getMany([], IndicatorState), [])
          yield* store.setMany(IndicatorState, [])
        })
      )

      test("getMany answers none for a value that does not decode, with a warning naming its key", () =>
        Effect.gen(function* () {
          const store = yield* IndicatorStore.IndicatorStore
          const [fits, misfit] = [freshSeries("1h"), freshSeries("4h")]
          yield* store.set(fits, Schema.Struct({ ema: Schema.Number }), { ema: 1 })
          yield* store.set(misfit, Schema.Struct({ ema: Schema.String }), { ema: "one" })
          const [got, warnings] = yield* warningsOf(store.getMany([misfit, fits], Schema.Struct({ ema: Schema.Number })))
          assert.deepStrictEqual(got, [Option.none(), Option.some({ ema: 1 })])
          assert.strictEqual(warnings.length, 1)
          assert.include(warnings[0]!.key, Keys.indicator(misfit))
          assert.include(warnings[0]!.message, Keys.indicator(misfit))
          // `get` still reports it as an error.
          assertCacheError(yield* failure(store.get(misfit, Schema.Struct({ ema: Schema.Number }))), "Decode")
        })
      )

      test("setMany is all or nothing when a value does not encode", () =>
        Effect.gen(function* () {
          const store = yield* IndicatorStore.IndicatorStore
          const [first, second] = [freshSeries("1h"), freshSeries("1h")]
          const Positive = Schema.Number.pipe(Schema.positive())
          const error = yield* failure(
            store.setMany(Positive, [
              [first, 1],
              [second, -1]
            ])
          )
          assertCacheError(error, "Encode")
          assert.include(error.key, Keys.indicator(second))
          assert.deepStrictEqual(yield* store.getMany([first, second], Positive), [Option.none(), Option.none()])
        })
      )
    })

    describe("Bus", () => {
      test("a subscriber gets what is published right after subscribe returns, in order", () =>
        Effect.gen(function* () {
          const bus = yield* Bus.Bus
          const channel = Keys.alertsChannel(freshExchange())
          const messages = yield* bus.subscribe(channel, Message)
          yield* bus.publish(channel, Message, { n: 1 })
          yield* bus.publish(channel, Message, { n: 2 })
          yield* bus.publish(channel, Message, { n: 3 })
          const got = yield* messages.pipe(Stream.take(3), Stream.runCollect, Effect.timeout("3 seconds"))
          assert.deepStrictEqual(Chunk.toArray(got), [{ n: 1 }, { n: 2 }, { n: 3 }])
        })
      )

      test("a malformed message is skipped and the stream goes on", () =>
        Effect.gen(function* () {
          const bus = yield* Bus.Bus
          const channel = Keys.tickerChannel(freshExchange(), btc)
          const messages = yield* bus.subscribe(channel, Message)
          yield* bus.publish(channel, Message, { n: 1 })
          yield* bus.publish(channel, Schema.String, "not a message")
          yield* bus.publish(channel, Schema.Struct({ n: Schema.String }), { n: "two" })
          yield* bus.publish(channel, Message, { n: 2 })
          const got = yield* messages.pipe(Stream.take(2), Stream.runCollect, Effect.timeout("3 seconds"))
          assert.deepStrictEqual(Chunk.toArray(got), [{ n: 1 }, { n: 2 }])
        })
      )

      test("every subscriber of a channel gets each message; other channels stay apart", () =>
        Effect.gen(function* () {
          const bus = yield* Bus.Bus
          const exchangeId = freshExchange()
          const channel = Keys.candleCloseChannel({ exchangeId, symbol: btc, timeframe: "5m" })
          const other = Keys.candleCloseChannel({ exchangeId, symbol: btc, timeframe: "1h" })
          const first = yield* bus.subscribe(channel, Message)
          const second = yield* bus.subscribe(channel, Message)
          yield* bus.publish(other, Message, { n: 0 })
          yield* bus.publish(channel, Message, { n: 7 })
          const take1 = (s: Stream.Stream<{ readonly n: number }, CacheError.CacheError>) =>
            s.pipe(Stream.take(1), Stream.runCollect, Effect.map(Chunk.toArray), Effect.timeout("3 seconds"))
          assert.deepStrictEqual(yield* take1(first), [{ n: 7 }])
          assert.deepStrictEqual(yield* take1(second), [{ n: 7 }])
        })
      )

      test("publishing with nobody subscribed succeeds; a subscription ends with its scope", () =>
        Effect.gen(function* () {
          const bus = yield* Bus.Bus
          const channel = Keys.alertsChannel(freshExchange())
          yield* bus.publish(channel, Message, { n: 1 })
          const got = yield* Effect.scoped(
            Effect.gen(function* () {
              const messages = yield* bus.subscribe(channel, Message)
              yield* bus.publish(channel, Message, { n: 2 })
              return yield* messages.pipe(Stream.take(1), Stream.runCollect, Effect.timeout("3 seconds"))
            })
          )
          assert.deepStrictEqual(Chunk.toArray(got), [{ n: 2 }])
          yield* bus.publish(channel, Message, { n: 3 })
          const viaStream = yield* Bus.stream(channel, Message).pipe(
            Stream.take(1),
            Stream.runCollect,
            Effect.timeout("300 millis"),
            Effect.option
          )
          assert.isTrue(Option.isNone(viaStream), "a fresh subscription sees nothing published before it")
        })
      )
    })

    describe("Bus batches and once-only publication", () => {
      test("publishBatch delivers every message, in order, on each channel", () =>
        Effect.gen(function* () {
          const bus = yield* Bus.Bus
          const exchangeId = freshExchange()
          const one = Keys.alertsChannel(exchangeId)
          const two = Keys.indicatorChannel({ exchangeId, symbol: btc, timeframe: "5m" })
          const first = yield* bus.subscribe(one, Message)
          const second = yield* bus.subscribe(two, Message)
          yield* bus.publishBatch(Message, [
            [one, { n: 1 }],
            [two, { n: 2 }],
            [one, { n: 3 }],
            [two, { n: 4 }],
            [one, { n: 5 }],
            [one, { n: 1 }]
          ])
          assert.deepStrictEqual(yield* take(first, 4), [{ n: 1 }, { n: 3 }, { n: 5 }, { n: 1 }])
          assert.deepStrictEqual(yield* take(second, 2), [{ n: 2 }, { n: 4 }])
        })
      )

      test("publishBatch publishes nothing when one message does not encode; an empty batch is a no-op", () =>
        Effect.gen(function* () {
          const bus = yield* Bus.Bus
          const channel = Keys.alertsChannel(freshExchange())
          const messages = yield* bus.subscribe(channel, Message)
          const error = yield* failure(
            bus.publishBatch(PositiveMessage, [
              [channel, { n: 1 }],
              [channel, { n: -1 }],
              [channel, { n: 2 }]
            ])
          )
          assertCacheError(error, "Encode")
          assert.include(error.key, channel)
          yield* bus.publishBatch(PositiveMessage, [])
          yield* bus.publish(channel, Message, { n: 9 })
          assert.deepStrictEqual(yield* take(messages, 1), [{ n: 9 }])
        })
      )

      test("publishOnce publishes once per key within the TTL, and again once it expired", () =>
        Effect.gen(function* () {
          const bus = yield* Bus.Bus
          const exchangeId = freshExchange()
          const channel = Keys.alertsChannel(exchangeId)
          const claim = (label: string): Bus.Once => ({ key: Keys.alertOnce(exchangeId, btc, "5m", label, t0), ttl: "1 second" })
          const messages = yield* bus.subscribe(channel, Message)
          assert.isTrue(yield* bus.publishOnce(channel, Message, { n: 1 }, claim("level_+150")))
          assert.isFalse(yield* bus.publishOnce(channel, Message, { n: 2 }, claim("level_+150")))
          assert.isTrue(yield* bus.publishOnce(channel, Message, { n: 3 }, claim("level_+200")))
          // An encode failure claims nothing; an unbounded claim is refused.
          assertCacheError(yield* failure(bus.publishOnce(channel, PositiveMessage, { n: -4 }, claim("level_-150"))), "Encode")
          const forever: Bus.Once = { key: claim("level_-150").key, ttl: Duration.infinity }
          assertCacheError(yield* failure(bus.publishOnce(channel, Message, { n: -5 }, forever)), "Argument")
          assert.isTrue(yield* bus.publishOnce(channel, Message, { n: 4 }, claim("level_-150")))
          yield* Effect.sleep("1200 millis")
          assert.isTrue(yield* bus.publishOnce(channel, Message, { n: 5 }, claim("level_+150")))
          assert.isFalse(yield* bus.publishOnce(channel, Message, { n: 6 }, claim("level_+150")))
          assert.deepStrictEqual(yield* take(messages, 4), [{ n: 1 }, { n: 3 }, { n: 4 }, { n: 5 }])
          yield* bus.publish(channel, Message, { n: 7 })
          assert.deepStrictEqual(yield* take(messages, 1), [{ n: 7 }], "nothing else was published")
        })
      )

      test("of concurrent publishOnce calls with one key, exactly one publishes", () =>
        Effect.gen(function* () {
          const bus = yield* Bus.Bus
          const exchangeId = freshExchange()
          const channel = Keys.alertsChannel(exchangeId)
          const once: Bus.Once = { key: Keys.alertOnce(exchangeId, btc, "1h", "reversal_oversold", t0), ttl: "10 seconds" }
          const messages = yield* bus.subscribe(channel, Message)
          const results = yield* Effect.forEach(
            Array.from({ length: 20 }, (_, n) => n),
            (n) => bus.publishOnce(channel, Message, { n }, once),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(results.filter(Boolean).length, 1)
          const winner = results.indexOf(true)
          yield* bus.publish(channel, Message, { n: -1 })
          assert.deepStrictEqual(yield* take(messages, 2), [{ n: winner }, { n: -1 }])
        })
      )
    })

    describe("EventLog", () => {
      test("append returns growing ids; range reads back the events, bounded and counted", () =>
        Effect.gen(function* () {
          const log = yield* EventLog.EventLog
          const name = freshName()
          const exchangeId = freshExchange()
          assert.deepStrictEqual(yield* log.range(name), [])
          const events = [
            event(exchangeId, "starting", { from: "idle", to: "starting", lockEpoch: 4 }),
            event(exchangeId, "socket closed", { type: "error" }),
            event(exchangeId, "lock taken", { type: "lock_acquired", lockEpoch: 5 })
          ]
          const ids: Array<string> = []
          for (const e of events) ids.push(yield* log.append(name, e))
          const [id1, id2, id3] = ids as [string, string, string]
          assert.notStrictEqual(id1, id2)
          assert.isTrue(ids.every((id) => /^\d+-\d+$/.test(id)))

          const all = yield* log.range(name)
          assert.deepStrictEqual(
            all.map((entry) => entry.id),
            ids
          )
          assert.deepStrictEqual(
            all.map((entry) => encodedEvent(entry.event)),
            events.map((e) => encodedEvent(e))
          )
          assert.isUndefined(all[1]!.event.from)
          assert.isUndefined(all[1]!.event.lockEpoch)

          assert.deepStrictEqual(
            (yield* log.range(name, { count: 2 })).map((entry) => entry.id),
            [id1, id2]
          )
          assert.deepStrictEqual(
            (yield* log.range(name, { from: id2 })).map((entry) => entry.id),
            [id2, id3]
          )
          assert.deepStrictEqual(
            (yield* log.range(name, { to: id2 })).map((entry) => entry.id),
            [id1, id2]
          )
          assert.deepStrictEqual(
            (yield* log.range(name, { from: id2, to: id2 })).map((entry) => entry.id),
            [id2]
          )
          assert.deepStrictEqual(
            (yield* log.range(name, { count: 2, newestFirst: true })).map((entry) => entry.id),
            [id3, id2],
            "the latest entries, newest first"
          )
          assert.deepStrictEqual(
            (yield* log.range(name, { to: id2, newestFirst: true })).map((entry) => entry.id),
            [id2, id1]
          )
          assert.deepStrictEqual(
            (yield* log.range(name, { from: id2, count: 1, newestFirst: true })).map((entry) => entry.id),
            [id3]
          )
          assertCacheError(yield* failure(log.range(name, { from: "yesterday" })), "Argument")
          assertCacheError(yield* failure(log.range(name, { count: 0 })), "Argument")
        })
      )

      test("tail delivers entries after the given id, then new ones as they are appended", () =>
        Effect.gen(function* () {
          const log = yield* EventLog.EventLog
          const name = freshName()
          const exchangeId = freshExchange()
          const id1 = yield* log.append(name, event(exchangeId, "one"))
          const id2 = yield* log.append(name, event(exchangeId, "two"))
          const tail = yield* log.tail(name, { fromId: id1 }).pipe(
            Stream.take(3),
            Stream.runCollect,
            Effect.timeout("5 seconds"),
            Effect.fork
          )
          yield* Effect.sleep("50 millis")
          const id3 = yield* log.append(name, event(exchangeId, "three"))
          const id4 = yield* log.append(name, event(exchangeId, "four"))
          const got = Chunk.toArray(yield* Fiber.join(tail))
          assert.deepStrictEqual(
            got.map((entry) => entry.id),
            [id2, id3, id4]
          )
          assert.deepStrictEqual(
            got.map((entry) => entry.event.message),
            ["two", "three", "four"]
          )

          const replay = yield* log.tail(name, { fromId: "0" }).pipe(Stream.take(4), Stream.runCollect, Effect.timeout("5 seconds"))
          assert.strictEqual(Chunk.size(replay), 4)
          assertCacheError(yield* failure(Stream.runDrain(log.tail(name, { fromId: "latest" }))), "Argument")
        })
      )

      test("tail from $ sees only entries appended after it started", () =>
        Effect.gen(function* () {
          const log = yield* EventLog.EventLog
          const name = freshName()
          const exchangeId = freshExchange()
          yield* log.append(name, event(exchangeId, "before"))
          const tail = yield* log.tail(name, { fromId: "$" }).pipe(
            Stream.take(1),
            Stream.runCollect,
            Effect.timeout("5 seconds"),
            Effect.fork
          )
          yield* Effect.sleep("200 millis")
          yield* log.append(name, event(exchangeId, "after"))
          const got = Chunk.toArray(yield* Fiber.join(tail))
          assert.deepStrictEqual(
            got.map((entry) => entry.event.message),
            ["after"]
          )
        })
      )

      test("trim deletes the entries appended before a time", () =>
        Effect.gen(function* () {
          const log = yield* EventLog.EventLog
          const name = freshName()
          const exchangeId = freshExchange()
          yield* log.append(name, event(exchangeId, "old"))
          yield* Effect.sleep("30 millis")
          const cutoff = yield* DateTime.now
          yield* Effect.sleep("30 millis")
          yield* log.append(name, event(exchangeId, "new"))
          assert.strictEqual(yield* log.trim(name, cutoff), 1)
          assert.deepStrictEqual(
            (yield* log.range(name)).map((entry) => entry.event.message),
            ["new"]
          )
          assert.strictEqual(yield* log.trim(name, cutoff), 0)
          assert.strictEqual(yield* log.trim(freshName(), cutoff), 0)
        })
      )
    })

    describe("StatusStore", () => {
      test("put, get and list live statuses; they expire after their TTL", () =>
        Effect.gen(function* () {
          const store = yield* StatusStore.StatusStore
          const a = freshExchange()
          const b = freshExchange()
          assert.isTrue(Option.isNone(yield* store.get(a)))
          yield* store.put(statusOf(a, "warming"), "10 seconds")
          yield* store.put(statusOf(a, "active"), "10 seconds")
          yield* store.put(statusOf(b), "200 millis")
          assert.strictEqual(Option.getOrThrow(yield* store.get(a)).connectionState, "active")
          assert.deepStrictEqual(encodedStatus(Option.getOrThrow(yield* store.get(b))), encodedStatus(statusOf(b)))
          const listed = (yield* store.list()).filter((s) => s.exchangeId === a || s.exchangeId === b)
          assert.deepStrictEqual(
            listed.map((s) => s.exchangeId),
            [a, b]
          )

          yield* Effect.sleep("350 millis")
          assert.isTrue(Option.isNone(yield* store.get(b)))
          assert.isTrue(Option.isSome(yield* store.get(a)))
          const after = (yield* store.list()).map((s) => s.exchangeId)
          assert.include(after, a)
          assert.notInclude(after, b)

          yield* store.remove(a)
          assert.isTrue(Option.isNone(yield* store.get(a)))
        })
      )

      test("a put refreshes the TTL", () =>
        Effect.gen(function* () {
          const store = yield* StatusStore.StatusStore
          const a = freshExchange()
          yield* store.put(statusOf(a), "500 millis")
          yield* Effect.sleep("300 millis")
          yield* store.put(statusOf(a), "500 millis")
          yield* Effect.sleep("300 millis")
          assert.isTrue(Option.isSome(yield* store.get(a)))
        })
      )
    })

    describe("InstanceRegistry", () => {
      test("announce several instances of one exchange, list them, withdraw one; an unrenewed one expires", () =>
        Effect.gen(function* () {
          const registry = yield* InstanceRegistry.InstanceRegistry
          const exchangeId = freshExchange()
          const named = (instanceId: string, state: Lifecycle.ConnectionState) =>
            new Status.InstanceStatus({ ...statusOf(exchangeId, state), instanceId })
          const mine = () =>
            Effect.map(registry.list(), (all) =>
              all.filter((s) => s.exchangeId === exchangeId).map((s) => [s.instanceId, s.connectionState])
            )
          yield* registry.announce(named("b-standby", "idle"), "10 seconds")
          yield* registry.announce(named("a-holder", "warming"), "10 seconds")
          yield* registry.announce(named("a-holder", "active"), "10 seconds")
          yield* registry.announce(named("c-short", "stopped"), "200 millis")
          assert.deepStrictEqual(yield* mine(), [
            ["a-holder", "active"],
            ["b-standby", "idle"],
            ["c-short", "stopped"]
          ])
          yield* Effect.sleep("350 millis")
          yield* registry.withdraw("a-holder")
          assert.deepStrictEqual(yield* mine(), [["b-standby", "idle"]])
        })
      )
    })

    describe("ExchangeLock", () => {
      test("acquire, deny, renew and release only by the holder at its epoch", () =>
        Effect.gen(function* () {
          const lock = yield* ExchangeLock.ExchangeLock
          const exchangeId = freshExchange()
          assert.isTrue(Option.isNone(yield* lock.holder(exchangeId)))

          const a = yield* lock.acquire(exchangeId, holderNamed("instance-a"), "10 seconds")
          assert.strictEqual(a.exchangeId, exchangeId)
          assert.strictEqual(a.holder.instanceId, "instance-a")
          assert.isAtLeast(a.epoch, 1)
          const held = Option.getOrThrow(yield* lock.holder(exchangeId))
          assert.strictEqual(held.epoch, a.epoch)
          assert.strictEqual(held.holder.hostname, "instance-a.local")

          const denied = yield* failure(lock.acquire(exchangeId, holderNamed("instance-b"), "10 seconds"))
          assert.strictEqual(denied._tag, "LockHeldElsewhere")
          if (denied._tag === "LockHeldElsewhere") {
            assert.strictEqual(denied.holder.instanceId, "instance-a")
            assert.strictEqual(denied.epoch, a.epoch)
            assert.include(denied.message, "instance-a")
          }

          yield* lock.renew(exchangeId, "instance-a", a.epoch, "10 seconds")
          const notHolder = yield* failure(lock.renew(exchangeId, "instance-b", a.epoch, "10 seconds"))
          assert.strictEqual(notHolder._tag, "LockLost")
          const staleEpoch = yield* failure(lock.renew(exchangeId, "instance-a", a.epoch - 1, "10 seconds"))
          assert.strictEqual(staleEpoch._tag, "LockLost")
          if (staleEpoch._tag === "LockLost") assert.strictEqual(staleEpoch.current?.epoch, a.epoch)

          assert.isFalse(yield* lock.release(exchangeId, "instance-b", a.epoch))
          assert.isFalse(yield* lock.release(exchangeId, "instance-a", a.epoch + 1))
          assert.isTrue(Option.isSome(yield* lock.holder(exchangeId)))
          assert.isTrue(yield* lock.release(exchangeId, "instance-a", a.epoch))
          assert.isTrue(Option.isNone(yield* lock.holder(exchangeId)))
          assert.isFalse(yield* lock.release(exchangeId, "instance-a", a.epoch))

          const lostAfterRelease = yield* failure(lock.renew(exchangeId, "instance-a", a.epoch, "10 seconds"))
          assert.strictEqual(lostAfterRelease._tag, "LockLost")
          if (lostAfterRelease._tag === "LockLost") assert.isNull(lostAfterRelease.current)

          const b = yield* lock.acquire(exchangeId, holderNamed("instance-b"), "10 seconds")
          assert.isAbove(b.epoch, a.epoch)
          yield* lock.release(exchangeId, "instance-b", b.epoch)
          const again = yield* lock.acquire(exchangeId, holderNamed("instance-a"), "10 seconds")
          assert.isAbove(again.epoch, b.epoch)
          yield* lock.release(exchangeId, "instance-a", again.epoch)
        })
      )

      test("an unrenewed lock expires and frees itself; the stale holder is fenced out", () =>
        Effect.gen(function* () {
          const lock = yield* ExchangeLock.ExchangeLock
          const exchangeId = freshExchange()
          const a = yield* lock.acquire(exchangeId, holderNamed("instance-a"), "200 millis")
          yield* Effect.sleep("350 millis")
          assert.isTrue(Option.isNone(yield* lock.holder(exchangeId)))
          const b = yield* lock.acquire(exchangeId, holderNamed("instance-b"), "10 seconds")
          assert.isAbove(b.epoch, a.epoch)

          const fenced = yield* failure(lock.renew(exchangeId, "instance-a", a.epoch, "10 seconds"))
          assert.strictEqual(fenced._tag, "LockLost")
          if (fenced._tag === "LockLost") {
            assert.strictEqual(fenced.current?.holder.instanceId, "instance-b")
            assert.strictEqual(fenced.current?.epoch, b.epoch)
          }
          assert.isFalse(yield* lock.release(exchangeId, "instance-a", a.epoch))
          assert.strictEqual(Option.getOrThrow(yield* lock.holder(exchangeId)).holder.instanceId, "instance-b")
        })
      )

      test("renew extends the lease", () =>
        Effect.gen(function* () {
          const lock = yield* ExchangeLock.ExchangeLock
          const exchangeId = freshExchange()
          const a = yield* lock.acquire(exchangeId, holderNamed("instance-a"), "500 millis")
          yield* Effect.sleep("300 millis")
          yield* lock.renew(exchangeId, "instance-a", a.epoch, "500 millis")
          yield* Effect.sleep("300 millis")
          assert.strictEqual(Option.getOrThrow(yield* lock.holder(exchangeId)).epoch, a.epoch)
        })
      )
    })

    describe("CandleCache.newestInRange", () => {
      test("the newest `limit` candles of a range, oldest first; pages walk back without gaps", () =>
        Effect.gen(function* () {
          const cache = yield* CandleCache.CandleCache
          const series = freshSeries()
          const step = Timeframe.durationMs["5m"]
          const all = Array.from({ length: 12 }, (_, i) => candleAt(t0 + i * step, 100 + i, i < 11))
          yield* cache.upsertMany(series, all)
          const newest = yield* cache.newestInRange(series, 0, Number.MAX_SAFE_INTEGER, 5)
          assert.deepStrictEqual(newest.map((c) => c.openTime), all.slice(-5).map((c) => c.openTime))
          const bounded = yield* cache.newestInRange(series, t0 + 2 * step, t0 + 6 * step, 3)
          assert.deepStrictEqual(bounded.map((c) => c.close), [104, 105, 106])
          // Walking back page by page from the newest covers every candle once.
          const seen: Array<number> = []
          let upper = Number.MAX_SAFE_INTEGER
          for (;;) {
            const page = yield* cache.newestInRange(series, 0, upper, 5)
            if (page.length === 0) break
            seen.unshift(...page.map((c) => c.openTime))
            upper = page[0]!.openTime - 1
          }
          assert.deepStrictEqual(seen, all.map((c) => c.openTime))
          assert.deepStrictEqual(yield* cache.newestInRange(series, t0 + step, t0, 5), [])
        })
      )
    })

    describe("Bus.subscribePattern", () => {
      test("one subscription gets the messages of every matching channel with their channel, none of others", () =>
        Effect.gen(function* () {
          const bus = yield* Bus.Bus
          const exchangeId = freshExchange()
          const pattern = `channel:exchange:${exchangeId}:candle:close:*`
          const messages = yield* bus.subscribePattern(pattern, Message)
          const a = Keys.candleCloseChannel({ exchangeId, symbol: btc, timeframe: "5m" })
          const b = Keys.candleCloseChannel({ exchangeId, symbol: Market.SymbolId.make("ETH-USD"), timeframe: "1h" })
          yield* bus.publish(Keys.tickerChannel(exchangeId, btc), Message, { n: 0 })
          yield* bus.publish(a, Message, { n: 1 })
          yield* bus.publish(b, Schema.String, "not a message")
          yield* bus.publish(b, Message, { n: 2 })
          yield* bus.publishBatch(Message, [[a, { n: 3 }]])
          const got = yield* messages.pipe(Stream.take(3), Stream.runCollect, Effect.timeout("3 seconds"))
          assert.deepStrictEqual(Chunk.toArray(got), [
            { channel: a, value: { n: 1 } },
            { channel: b, value: { n: 2 } },
            { channel: a, value: { n: 3 } }
          ])
          assert.deepStrictEqual(Keys.parseCandleCloseChannel(b), { exchangeId, symbol: "ETH-USD", timeframe: "1h" })
        })
      )
    })

    describe("PublicCatalog", () => {
      const alertOf = (exchangeName: string, n: number) =>
        new Alert.Alert({
          exchangeId: Exchange.ExchangeId.make(1),
          exchangeName: Exchange.ExchangeName.make(exchangeName),
          symbol: btc,
          timeframe: "1h",
          label: Alert.levelLabelFor(-150),
          value: -151,
          price: 100 + n,
          candleOpenTime: t0 + n * Timeframe.durationMs["1h"],
          triggeredAt: DateTime.unsafeMake(t0 + n * 1000),
          details: new Alert.AlertDetails({ valuesByTimeframe: {}, bias: "bearish" })
        })

      test("exchanges and symbols are absent until projected, then read back", () =>
        Effect.gen(function* () {
          const catalog = yield* PublicCatalog.PublicCatalog
          const exchangeId = freshExchange()
          assert.isTrue(Option.isNone(yield* catalog.symbols(exchangeId)))
          const symbols = [
            { symbol: btc, baseAsset: "BTC", quoteAsset: "USD", liquidityGrade: "A" as const, rank: 1, quoteVolume24h: 5e8 }
          ]
          yield* catalog.putSymbols(exchangeId, symbols)
          assert.deepStrictEqual(Option.getOrThrow(yield* catalog.symbols(exchangeId)), symbols)
          const exchanges = [
            { id: exchangeId, name: freshName(), displayName: "Test", timeframes: ["5m" as const], isActive: true }
          ]
          yield* catalog.putExchanges(exchanges)
          assert.deepStrictEqual(Option.getOrThrow(yield* catalog.exchanges), exchanges)
        })
      )

      test("alert pages: newest first, filtered, cursor continues without repeats", () =>
        Effect.gen(function* () {
          const catalog = yield* PublicCatalog.PublicCatalog
          const mine = freshName()
          const other = freshName()
          for (let n = 0; n < 7; n++) {
            yield* catalog.appendAlert(alertOf(mine, n))
            yield* catalog.appendAlert(alertOf(other, n))
          }
          const matches = (a: Alert.Alert) => a.exchangeName === mine
          const first = yield* catalog.alertPage({ limit: 3, matches })
          assert.deepStrictEqual(first.alerts.map((e) => e.alert.price), [106, 105, 104])
          assert.isNotNull(first.next)
          const second = yield* catalog.alertPage({ before: first.next!, limit: 3, matches })
          assert.deepStrictEqual(second.alerts.map((e) => e.alert.price), [103, 102, 101])
          const last = yield* catalog.alertPage({ before: second.next!, limit: 3, matches })
          assert.deepStrictEqual(last.alerts.map((e) => e.alert.price), [100])
          assert.isNull(last.next)
        })
      )

      test("api keys: found by hash, removed, replaced wholesale; uses recorded", () =>
        Effect.gen(function* () {
          const catalog = yield* PublicCatalog.PublicCatalog
          const key = (id: number) => ({ id, keyHash: `${id}`.padStart(64, "a"), name: `k${id}`, prefix: "abcd1234" })
          yield* catalog.putApiKey(key(1).keyHash, key(1))
          yield* catalog.putApiKey(key(2).keyHash, key(2))
          assert.deepStrictEqual(Option.getOrThrow(yield* catalog.findApiKey(key(1).keyHash)), key(1))
          yield* catalog.removeApiKey(key(1).keyHash)
          assert.isTrue(Option.isNone(yield* catalog.findApiKey(key(1).keyHash)))
          yield* catalog.replaceApiKeys(new Map([[key(3).keyHash, key(3)]]))
          assert.isTrue(Option.isNone(yield* catalog.findApiKey(key(2).keyHash)))
          assert.deepStrictEqual(Option.getOrThrow(yield* catalog.findApiKey(key(3).keyHash)), key(3))
          yield* catalog.markApiKeyUsed(3, 1_700_000_000_123)
          assert.strictEqual((yield* catalog.apiKeysUsed).get(3), 1_700_000_000_123)
        })
      )
    })

    extra?.(test)
  })
}
