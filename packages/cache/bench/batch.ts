/**
 * Batch throughput of the live hot path, run by hand (`npx tsx packages/cache/bench/batch.ts` from the repo root)
 * against real Redis (REDIS_URL, default redis://127.0.0.1:6379, under a fresh key prefix removed at the end):
 *
 * - **Encoding** a candle to JSON: the Effect-based `encodeJson` per candle (as `upsertMany` does) against the
 *   precompiled synchronous `jsonEncoder` the batch path uses, with plain `JSON.stringify` as the floor.
 * - **`CandleCache.upsertBatch`** of 5,000 distinct series × 1 candle per batch, one batch at a time: candles/s
 *   and ms per batch, for forming-candle updates (same openTime every batch) and for new candles (the openTime
 *   advances every batch); then with two batches in flight (the next one encodes while Redis runs the previous
 *   one: the caller's choice, see the README); then, for scale, 5,000 candles through `upsert` one at a time.
 *
 * Performance is reported, not asserted: the process fails only on an error. Prints a table.
 */
import { Candle, Exchange, Market } from "@livermore/domain"
import { Config, Effect, Layer } from "effect"
import * as CacheConfig from "../src/CacheConfig.js"
import * as CandleCache from "../src/CandleCache.js"
import { encodeJson, jsonEncoder } from "../src/internal/codec.js"
import * as Keys from "../src/Keys.js"
import * as RedisClient from "../src/RedisClient.js"

/** Distinct series per batch. */
const SERIES = 5_000
/** Batches per scenario (after one warm-up batch). */
const BATCHES = 40
/** Candles of the encoder comparison, and how many times each encoder runs over them (the best run counts). */
const ENCODE_CANDLES = 50_000
const ENCODE_ROUNDS = 7

const FIVE_MINUTES = 300_000
const T0 = Date.UTC(2024, 0, 11)

const candle = (openTime: number, i: number, closed: boolean): Candle.Candle => {
  const close = 100 + (i % 97) + 0.25
  return new Candle.Candle({
    openTime,
    open: close - 0.5,
    high: close + 1,
    low: close - 1,
    close,
    volume: 3.5 + i,
    closed,
    synthetic: false
  })
}

const encoders = Effect.sync(() => {
  const candles = Array.from({ length: ENCODE_CANDLES }, (_, i) => candle(T0 + i * FIVE_MINUTES, i, true))
  const encode = jsonEncoder(Candle.Candle)
  const variants: Record<string, () => void> = {
    "encodeJson (an Effect per candle)": () => {
      Effect.runSync(Effect.forEach(candles, (c) => encodeJson(Candle.Candle, c, "bench", "key")))
    },
    "jsonEncoder (precompiled, synchronous)": () => {
      for (const c of candles) encode(c, "bench", "key")
    },
    "JSON.stringify alone (no validation)": () => {
      for (const c of candles) JSON.stringify(c)
    }
  }
  const best: Record<string, number> = {}
  for (let round = 0; round < ENCODE_ROUNDS; round++) {
    for (const [name, run] of Object.entries(variants)) {
      const start = performance.now()
      run()
      best[name] = Math.min(best[name] ?? Number.POSITIVE_INFINITY, performance.now() - start)
    }
  }
  return Object.entries(best).map(([name, ms]) => ({ name, usPerCandle: (ms * 1000) / ENCODE_CANDLES }))
})

const seriesList: ReadonlyArray<Keys.SeriesKey> = Array.from({ length: SERIES }, (_, i) => ({
  exchangeId: Exchange.ExchangeId.make(1),
  symbol: Market.SymbolId.make(`BENCH${i}-USD`),
  timeframe: "5m" as const
}))

const batchAt = (openTime: (batch: number) => number, batch: number): ReadonlyArray<CandleCache.SeriesCandle> =>
  seriesList.map((series, i) => ({ series, candle: candle(openTime(batch), i + batch, false) }))

const timeBatches = (name: string, openTime: (batch: number) => number) =>
  Effect.gen(function* () {
    const cache = yield* CandleCache.CandleCache
    yield* cache.upsertBatch(batchAt(openTime, -1))
    const batches = Array.from({ length: BATCHES }, (_, b) => batchAt(openTime, b))
    const perBatch: Array<number> = []
    const start = performance.now()
    for (const batch of batches) {
      const began = performance.now()
      yield* cache.upsertBatch(batch)
      perBatch.push(performance.now() - began)
    }
    const seconds = (performance.now() - start) / 1000
    perBatch.sort((a, b) => a - b)
    return {
      name,
      candlesPerSecond: Math.round((BATCHES * SERIES) / seconds),
      medianMs: perBatch[Math.floor(perBatch.length / 2)]!,
      worstMs: perBatch[perBatch.length - 1]!
    }
  })

const twoInFlight = Effect.gen(function* () {
  const cache = yield* CandleCache.CandleCache
  const batches = Array.from({ length: BATCHES }, (_, b) => batchAt(() => T0, 1_000 + b))
  const start = performance.now()
  yield* Effect.forEach(batches, (batch) => cache.upsertBatch(batch), { concurrency: 2, discard: true })
  const seconds = (performance.now() - start) / 1000
  return { name: "forming updates, two batches in flight", candlesPerSecond: Math.round((BATCHES * SERIES) / seconds) }
})

const oneByOne = Effect.gen(function* () {
  const cache = yield* CandleCache.CandleCache
  const batch = batchAt(() => T0 + 10_000 * FIVE_MINUTES, 0)
  const start = performance.now()
  yield* Effect.forEach(batch, ({ series, candle }) => cache.upsert(series, candle), { discard: true })
  const seconds = (performance.now() - start) / 1000
  return { name: `upsert one at a time (${SERIES} candles)`, candlesPerSecond: Math.round(SERIES / seconds) }
})

const deleteNamespace = Effect.gen(function* () {
  const redis = yield* RedisClient.RedisClient
  let cursor = "0"
  do {
    const [next, keys] = yield* redis.use("bench.cleanup", (r) =>
      r.scan(cursor, "MATCH", `${Keys.escapeGlob(redis.prefix)}*`, "COUNT", 1000)
    )
    if (keys.length > 0) yield* redis.use("bench.cleanup", (r) => r.unlink(...keys))
    cursor = next
  } while (cursor !== "0")
})

const main = Effect.gen(function* () {
  const encoding = yield* encoders
  console.log("\nEncoding one candle to JSON (best of %d runs over %d candles)", ENCODE_ROUNDS, ENCODE_CANDLES)
  console.table(encoding.map(({ name, usPerCandle }) => ({ encoder: name, "µs/candle": usPerCandle.toFixed(2) })))

  const results = [
    yield* timeBatches("forming updates (same openTime each batch)", () => T0),
    yield* timeBatches("new candles (openTime advances each batch)", (batch) => T0 + (batch + 1) * FIVE_MINUTES)
  ]
  const others = [yield* twoInFlight, yield* oneByOne]
  console.log("\nCandleCache.upsertBatch, %d distinct series × 1 candle per batch, %d batches", SERIES, BATCHES)
  console.table(
    results.map(({ name, candlesPerSecond, medianMs, worstMs }) => ({
      scenario: name,
      "candles/s": candlesPerSecond,
      "median ms/batch": medianMs.toFixed(1),
      "worst ms/batch": worstMs.toFixed(1)
    }))
  )
  console.table(others.map(({ name, candlesPerSecond }) => ({ scenario: name, "candles/s": candlesPerSecond })))
}).pipe(Effect.ensuring(Effect.ignore(deleteNamespace)))

const Live = Layer.unwrapEffect(
  Effect.map(Config.string("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379")), (url) =>
    CandleCache.layerRedis.pipe(
      Layer.provideMerge(
        Layer.merge(RedisClient.layer({ url, keyPrefix: `livermore-bench:${crypto.randomUUID()}:` }), CacheConfig.layer())
      )
    )
  )
)

Effect.runPromise(main.pipe(Effect.provide(Live))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
