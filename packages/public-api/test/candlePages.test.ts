/**
 * `CandlePages` on the real Redis: a page is reused within the TTL (so the cache is really in the path), a close
 * published for its series replaces it at once, unpublished writes show after the TTL, and a TTL of 0 reads
 * through every time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Bus, CacheConfig, CacheServices, CandleCache, Keys, RedisClient } from "@livermore/cache"
import { Candle, Exchange, Market } from "@livermore/domain"
import { Ingest } from "@livermore/engine"
import { Duration, Effect, Layer } from "effect"
import * as CandlePages from "../src/CandlePages.js"
import * as PublicApiConfig from "../src/PublicApiConfig.js"
import { cleanupNamespace, freshPrefix, redisUrl } from "./support.js"

const hour = 3_600_000
const t0 = Date.UTC(2026, 10, 21, 0, 0, 0)
const series = { exchangeId: Exchange.ExchangeId.make(1), symbol: Market.SymbolId.make("BTCUSDT"), timeframe: "1h" } as const

const candleAt = (openTime: number, close: number, closed: boolean) =>
  Candle.fromChecked({ openTime, open: 100, high: Math.max(100, close), low: Math.min(100, close), close, volume: 1, closed, synthetic: false })

const request: CandlePages.PageRequest = {
  ...series,
  from: 0,
  upper: Number.MAX_SAFE_INTEGER,
  limit: 10,
  cursorQuery: "binance|BTCUSDT|1h||",
  cursor: (openTime) => `cursor-${openTime}`
}

interface Page {
  readonly data: ReadonlyArray<{ readonly time: string; readonly close: number; readonly closed: boolean }>
  readonly meta: { readonly cursor: string | null; readonly hasMore: boolean; readonly count: number }
}

const read = Effect.gen(function* () {
  const pages = yield* CandlePages.CandlePages
  return JSON.parse(new TextDecoder().decode(yield* pages.get(request))) as Page
})

const pagesWith = (prefix: string, cacheTtl: Duration.Duration) =>
  CandlePages.layer.pipe(
    Layer.provide(PublicApiConfig.layer({ cacheTtl })),
    Layer.provideMerge(CacheServices.layerRedis),
    Layer.provide(CacheConfig.layer()),
    Layer.provide(RedisClient.layer({ url: redisUrl, keyPrefix: prefix, connectTimeout: "3 seconds" }))
  )

/** Poll `read` until `done` holds, for up to `within`. */
const readUntil = (done: (page: Page) => boolean, within: Duration.DurationInput) =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(within)
    for (;;) {
      const page = yield* read
      if (done(page) || Date.now() > deadline) return page
      yield* Effect.sleep("20 millis")
    }
  })

describe("CandlePages", () => {
  it.scopedLive("reuses a page within the TTL; a published close replaces it at once", () =>
    Effect.gen(function* () {
      const prefix = freshPrefix("pages")
      yield* cleanupNamespace(prefix)
      const context = yield* Layer.build(pagesWith(prefix, Duration.minutes(1)))
      yield* Effect.gen(function* () {
        const cache = yield* CandleCache.CandleCache
        const bus = yield* Bus.Bus
        yield* cache.upsertMany(series, [candleAt(t0, 101, true), candleAt(t0 + hour, 102, false)])
        const first = yield* read
        assert.deepStrictEqual(
          first.data.map((c) => [c.close, c.closed]),
          [
            [101, true],
            [102, false]
          ]
        )
        assert.deepStrictEqual(first.meta, { cursor: null, hasMore: false, count: 2 })

        // A forming update is not published: the copy (TTL 1 minute) is still served.
        yield* cache.upsert(series, candleAt(t0 + hour, 103, false))
        assert.strictEqual((yield* read).data[1]!.close, 102)

        // The close is written, then published, as the pipeline does: the next reads see it.
        const closed = candleAt(t0 + hour, 104, true)
        yield* cache.upsert(series, closed)
        yield* bus.publish(
          Keys.candleCloseChannel(series),
          Ingest.CandleClosed,
          new Ingest.CandleClosed({ ...series, candle: closed })
        )
        const after = yield* readUntil((page) => page.data[1]!.closed, "5 seconds")
        assert.deepStrictEqual(after.data[1], { ...after.data[1]!, close: 104, closed: true })

        // A close of another series leaves this page's copy alone.
        yield* cache.upsert(series, candleAt(t0 + 2 * hour, 105, false))
        yield* bus.publish(
          Keys.candleCloseChannel({ ...series, timeframe: "4h" }),
          Ingest.CandleClosed,
          new Ingest.CandleClosed({ ...series, timeframe: "4h", candle: candleAt(t0, 104, true) })
        )
        yield* Effect.sleep("200 millis")
        assert.strictEqual((yield* read).data.length, 2)
      }).pipe(Effect.provide(context))
    })
  )

  it.scopedLive("writes nobody publishes show after the TTL; a TTL of 0 reads through", () =>
    Effect.gen(function* () {
      const prefix = freshPrefix("pages-ttl")
      yield* cleanupNamespace(prefix)
      const short = yield* Layer.build(pagesWith(prefix, Duration.millis(300)))
      const off = yield* Layer.build(pagesWith(prefix, Duration.zero))
      const cache = CandleCache.CandleCache.pipe(Effect.provide(short))
      yield* Effect.flatMap(cache, (c) => c.upsert(series, candleAt(t0, 101, false)))
      assert.strictEqual((yield* Effect.provide(read, short)).data[0]!.close, 101)
      assert.strictEqual((yield* Effect.provide(read, off)).data[0]!.close, 101)

      yield* Effect.flatMap(cache, (c) => c.upsert(series, candleAt(t0, 102, false)))
      assert.strictEqual((yield* Effect.provide(read, off)).data[0]!.close, 102, "TTL 0 reads the cache every time")
      assert.strictEqual((yield* Effect.provide(read, short)).data[0]!.close, 101, "within the TTL, the copy")
      yield* Effect.sleep("400 millis")
      assert.strictEqual((yield* Effect.provide(read, short)).data[0]!.close, 102, "after the TTL, read again")
    })
  )

  it.scopedLive("more candles than the limit: the newest page and a cursor to the older ones", () =>
    Effect.gen(function* () {
      const prefix = freshPrefix("pages-cursor")
      yield* cleanupNamespace(prefix)
      const context = yield* Layer.build(pagesWith(prefix, Duration.seconds(1)))
      const cache = yield* Effect.provide(CandleCache.CandleCache, context)
      yield* cache.upsertMany(
        series,
        Array.from({ length: 12 }, (_, i) => candleAt(t0 + i * hour, 100 + i, true))
      )
      const page = yield* Effect.provide(read, context)
      assert.strictEqual(page.data.length, 10)
      assert.strictEqual(page.data[0]!.time, new Date(t0 + 2 * hour).toISOString())
      assert.deepStrictEqual(page.meta, { cursor: `cursor-${t0 + 2 * hour}`, hasMore: true, count: 10 })
    })
  )
})
