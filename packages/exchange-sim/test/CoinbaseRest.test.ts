import { assert, describe, it } from "@effect/vitest"
import { arr, FIVE_MINUTES, get, HOUR, rec, START, withSim } from "./support.js"

const seconds = (ms: number) => String(Math.floor(ms / 1000))

describe("Coinbase REST", () => {
  it.scopedLive("candles: newest first, seconds as strings, the same values as Binance klines", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const now = sim.clock.now()
      const end = Math.floor(now / FIVE_MINUTES) * FIVE_MINUTES
      const start = end - 49 * FIVE_MINUTES
      const url = `${sim.coinbase.restUrl}/market/products/BTC-USD/candles?start=${seconds(start)}&end=${seconds(end)}&granularity=FIVE_MINUTE`
      const candles = arr(rec((await get(url)).body).candles).map(rec)
      assert.strictEqual(candles.length, 50)
      assert.deepStrictEqual(Object.keys(candles[0]!).sort(), ["close", "high", "low", "open", "start", "volume"])
      for (let i = 0; i < candles.length; i++) {
        assert.strictEqual(candles[i]!.start, seconds(end - i * FIVE_MINUTES))
        for (const value of Object.values(candles[i]!)) assert.isString(value)
      }
      const klines = arr(
        (await get(`${sim.url}/api/v3/klines?symbol=BTCUSDT&interval=5m&startTime=${start}&endTime=${end}`)).body
      ).map(arr)
      const oldest = candles.at(-1)!
      assert.strictEqual(Number(oldest.open), Number(klines[0]![1]))
      assert.strictEqual(Number(oldest.high), Number(klines[0]![2]))
      assert.strictEqual(Number(oldest.volume), Number(klines[0]![5]))

      // Hourly and four-hourly (FOUR_HOUR is served; see README) match Binance too.
      for (const [granularity, interval, ms] of [
        ["ONE_HOUR", "1h", HOUR],
        ["FOUR_HOUR", "4h", 4 * HOUR]
      ] as const) {
        const from = Math.floor(now / ms) * ms - 10 * ms
        const cb = arr(
          rec(
            (
              await get(
                `${sim.coinbase.restUrl}/market/products/ETH-USD/candles?start=${seconds(from)}&end=${seconds(now)}&granularity=${granularity}`
              )
            ).body
          ).candles
        ).map(rec)
        const bn = arr(
          (await get(`${sim.url}/api/v3/klines?symbol=ETHUSDT&interval=${interval}&startTime=${from}`)).body
        ).map(arr)
        assert.strictEqual(cb.length, 11)
        assert.deepStrictEqual(
          cb.map((c) => [Number(c.start) * 1000, Number(c.open), Number(c.close), Number(c.low)]).reverse(),
          bn.map((k) => [k[0], Number(k[1]), Number(k[4]), Number(k[3])])
        )
      }
    })
  )

  it.scopedLive("candles: empty buckets of an illiquid product are omitted (Binance has zero-trade klines there)", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const symbol = sim.market.symbols.find((s) => s.illiquid)!
      const end = Math.floor(sim.clock.now() / FIVE_MINUTES) * FIVE_MINUTES - FIVE_MINUTES
      const start = end - 299 * FIVE_MINUTES
      const candles = arr(
        rec(
          (
            await get(
              `${sim.coinbase.restUrl}/market/products/${symbol.coinbase}/candles?start=${seconds(start)}&end=${seconds(end)}&granularity=FIVE_MINUTE`
            )
          ).body
        ).candles
      ).map(rec)
      const klines = arr(
        (await get(`${sim.url}/api/v3/klines?symbol=${symbol.binance}&interval=5m&startTime=${start}&endTime=${end}`)).body
      ).map(arr)
      assert.strictEqual(klines.length, 300)
      const traded = klines.filter((k) => k[8] !== 0).map((k) => seconds(Number(k[0])))
      assert.isBelow(candles.length, 300)
      assert.isAbove(candles.length, 100)
      assert.deepStrictEqual(candles.map((c) => c.start), traded.reverse())
    })
  )

  it.scopedLive("candles: more than 350 implied → 400; exactly 350 → 200; bad arguments → INVALID_ARGUMENT", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const end = Math.floor(sim.clock.now() / FIVE_MINUTES) * FIVE_MINUTES
      const base = `${sim.coinbase.restUrl}/market/products/BTC-USD/candles`
      const ok = await get(`${base}?start=${seconds(end - 349 * FIVE_MINUTES)}&end=${seconds(end)}&granularity=FIVE_MINUTE`)
      assert.strictEqual(ok.status, 200)
      assert.strictEqual(arr(rec(ok.body).candles).length, 350)
      const tooMany = await get(`${base}?start=${seconds(end - 350 * FIVE_MINUTES)}&end=${seconds(end)}&granularity=FIVE_MINUTE`)
      assert.strictEqual(tooMany.status, 400)
      assert.strictEqual(rec(tooMany.body).error, "INVALID_ARGUMENT")
      assert.match(String(rec(tooMany.body).message), /number of candles requested should be less than 350/)
      const smallLimit = await get(`${base}?start=${seconds(end - 20 * FIVE_MINUTES)}&end=${seconds(end)}&granularity=FIVE_MINUTE&limit=10`)
      assert.strictEqual(smallLimit.status, 400)
      for (const query of [
        `?end=${seconds(end)}&granularity=FIVE_MINUTE`,
        `?start=abc&end=${seconds(end)}&granularity=FIVE_MINUTE`,
        `?start=${seconds(end - HOUR)}&end=${seconds(end)}`,
        `?start=${seconds(end - HOUR)}&end=${seconds(end)}&granularity=THREE_MINUTE`,
        `?start=${seconds(end)}&end=${seconds(end - HOUR)}&granularity=FIVE_MINUTE`,
        `?start=${seconds(end - HOUR)}&end=${seconds(end)}&granularity=FIVE_MINUTE&limit=351`
      ]) {
        const response = await get(base + query)
        assert.strictEqual(response.status, 400, query)
        assert.strictEqual(rec(response.body).error, "INVALID_ARGUMENT", query)
      }
      const unknown = await get(`${sim.coinbase.restUrl}/market/products/NOPE-USD/candles?start=1&end=2&granularity=ONE_DAY`)
      assert.strictEqual(unknown.status, 400)
    })
  )

  it.scopedLive("products: list, one, unknown", () =>
    withSim({ startTime: START, speed: 0, symbols: 12 }, async (sim) => {
      const list = rec((await get(`${sim.coinbase.restUrl}/market/products`)).body)
      assert.strictEqual(list.num_products, 12)
      const products = arr(list.products).map(rec)
      const btc = products[0]!
      assert.deepStrictEqual(
        [btc.product_id, btc.base_currency_id, btc.quote_currency_id, btc.status, btc.product_type],
        ["BTC-USD", "BTC", "USD", "online", "SPOT"]
      )
      assert.match(String(btc.volume_24h), /^\d+\.\d+$/)
      assert.match(String(btc.approximate_quote_24h_volume), /^\d+\.\d+$/)
      const paged = rec((await get(`${sim.coinbase.restUrl}/market/products?limit=5&offset=10`)).body)
      assert.strictEqual(arr(paged.products).length, 2)
      const some = rec((await get(`${sim.coinbase.restUrl}/market/products?product_ids=ETH-USD&product_ids=SOL-USD`)).body)
      assert.deepStrictEqual(
        arr(some.products).map((p) => rec(p).product_id),
        ["ETH-USD", "SOL-USD"]
      )
      const one = await get(`${sim.coinbase.restUrl}/market/products/ETH-USD`)
      assert.strictEqual(rec(one.body).product_id, "ETH-USD")
      const missing = await get(`${sim.coinbase.restUrl}/market/products/NOPE-USD`)
      assert.strictEqual(missing.status, 404)
      assert.strictEqual(rec(missing.body).error, "NOT_FOUND")
      const stats = rec(rec((await get(sim.statsUrl)).body).rest)
      assert.strictEqual(stats["GET /api/v3/brokerage/market/products"], 3)
      assert.strictEqual(stats["GET /api/v3/brokerage/market/products/{product_id}"], 2)
    })
  )

  it.scopedLive("rate limit: more than N requests in a second → 429 rate_limit_exceeded", () =>
    withSim({ startTime: START, speed: 0, coinbase: { requestsPerSecond: 3 } }, async (sim) => {
      const url = `${sim.coinbase.restUrl}/market/products/BTC-USD`
      const responses = await Promise.all(Array.from({ length: 10 }, () => get(url)))
      const limited = responses.filter((r) => r.status === 429)
      // At most 3 per sliding second; a loaded machine may spread the burst, so only bound it.
      assert.isAtLeast(limited.length, 1)
      assert.isAtLeast(responses.filter((r) => r.status === 200).length, 3)
      assert.strictEqual(rec(limited[0]!.body).error, "rate_limit_exceeded")
      assert.strictEqual(rec((await get(sim.statsUrl)).body).rateLimited, limited.length)
    })
  )
})
