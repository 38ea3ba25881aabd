import { assert, describe, it } from "@effect/vitest"
import { arr, DAY, FIVE_MINUTES, get, HOUR, post, rec, START, units8, withSim } from "./support.js"

type Row = readonly [number, string, string, string, string, string, number, string, number, string, string, string]

const rows = (body: unknown): ReadonlyArray<Row> => arr(body).map((row) => arr(row) as unknown as Row)

/** Aggregate klines that had trades (zero-trade klines carry no price information of their own). */
const aggregate = (children: ReadonlyArray<Row>) => {
  const traded = children.filter((r) => r[8] > 0)
  return {
    open: traded[0]![1],
    high: traded.map((r) => r[2]).reduce((a, b) => (units8(a) >= units8(b) ? a : b)),
    low: traded.map((r) => r[3]).reduce((a, b) => (units8(a) <= units8(b) ? a : b)),
    close: traded.at(-1)![4],
    volume: traded.reduce((sum, r) => sum + units8(r[5]), 0n),
    quote: traded.reduce((sum, r) => sum + units8(r[7]), 0n),
    trades: traded.reduce((sum, r) => sum + r[8], 0)
  }
}

describe("Binance REST", () => {
  it.scopedLive("klines: window rules, limits, the open kline last", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const base = `${sim.url}/api/v3/klines?symbol=BTCUSDT&interval=5m`
      const now = sim.clock.now()
      const currentOpen = Math.floor(now / FIVE_MINUTES) * FIVE_MINUTES

      // No start/end: the most recent `limit`, the still-open kline last.
      const recent = rows((await get(`${base}&limit=5`)).body)
      assert.strictEqual(recent.length, 5)
      assert.strictEqual(recent[4]![0], currentOpen)
      assert.strictEqual(recent[4]![6], currentOpen + FIVE_MINUTES - 1)
      assert.deepStrictEqual(
        recent.map((r) => r[0]),
        [4, 3, 2, 1, 0].map((i) => currentOpen - i * FIVE_MINUTES)
      )
      assert.strictEqual(recent[0]!.length, 12)
      assert.strictEqual(typeof recent[0]![1], "string")
      assert.match(recent[0]![1], /^\d+\.\d{8}$/)
      assert.strictEqual(recent[0]![11], "0")

      // Default limit 500.
      assert.strictEqual(rows((await get(base)).body).length, 500)

      // Only endTime: the newest up to endTime (inclusion by open time).
      const end = currentOpen - 10 * FIVE_MINUTES + 1234
      const upTo = rows((await get(`${base}&endTime=${end}&limit=3`)).body)
      assert.deepStrictEqual(
        upTo.map((r) => r[0]),
        [12, 11, 10].map((i) => currentOpen - i * FIVE_MINUTES)
      )

      // Both: from startTime forward, never past endTime; an unaligned start rounds up.
      const from = currentOpen - 20 * FIVE_MINUTES - 1
      const both = rows((await get(`${base}&startTime=${from}&endTime=${currentOpen - 18 * FIVE_MINUTES}&limit=1000`)).body)
      assert.deepStrictEqual(
        both.map((r) => r[0]),
        [20, 19, 18].map((i) => currentOpen - i * FIVE_MINUTES)
      )

      // A future endTime is capped at now.
      const future = rows((await get(`${base}&startTime=${currentOpen - FIVE_MINUTES}&endTime=${now + DAY}`)).body)
      assert.deepStrictEqual(
        future.map((r) => r[0]),
        [currentOpen - FIVE_MINUTES, currentOpen]
      )
    })
  )

  it.scopedLive("klines: 30 days of 5m pages of 1000, contiguous, ending at the open kline", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const now = sim.clock.now()
      let startTime = now - 30 * DAY
      const seen: Array<number> = []
      let requests = 0
      for (;;) {
        const page = rows((await get(`${sim.url}/api/v3/klines?symbol=ETHUSDT&interval=5m&startTime=${startTime}&limit=1000`)).body)
        requests++
        for (const row of page) seen.push(row[0])
        if (page.length < 1000) break
        startTime = page.at(-1)![0] + FIVE_MINUTES
      }
      assert.strictEqual(requests, 9)
      // An unaligned start rounds up to the next open time.
      assert.strictEqual(seen.length, 30 * 288)
      for (let i = 1; i < seen.length; i++) assert.strictEqual(seen[i]! - seen[i - 1]!, FIVE_MINUTES)
      assert.strictEqual(seen.at(-1), Math.floor(now / FIVE_MINUTES) * FIVE_MINUTES)
      const stats = rec((await get(sim.statsUrl)).body)
      assert.strictEqual(rec(stats.rest)["GET /api/v3/klines"], 9)
    })
  )

  it.scopedLive("klines: 1h and 1d are the aggregates of their 5m and 1h klines; illiquid symbols have zero-trade klines", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const illiquid = sim.market.symbols.filter((s) => s.illiquid)
      assert.isAbove(illiquid.length, 0)
      const now = sim.clock.now()
      const dayStart = Math.floor(now / DAY) * DAY - 2 * DAY
      for (const symbol of ["BTCUSDT", illiquid[0]!.binance]) {
        const url = (interval: string, limit: number) =>
          `${sim.url}/api/v3/klines?symbol=${symbol}&interval=${interval}&startTime=${dayStart}&limit=${limit}`
        const fives = rows((await get(url("5m", 1000))).body)
        const hours = rows((await get(url("1h", 48))).body)
        const days = rows((await get(url("1d", 2))).body)
        assert.strictEqual(hours.length, 48)
        for (const hour of hours) {
          const children = fives.filter((r) => r[0] >= hour[0] && r[0] < hour[0] + HOUR)
          assert.strictEqual(children.length, 12)
          const agg = aggregate(children)
          assert.deepStrictEqual(
            [hour[1], hour[2], hour[3], hour[4], units8(hour[5]), units8(hour[7]), hour[8]],
            [agg.open, agg.high, agg.low, agg.close, agg.volume, agg.quote, agg.trades]
          )
        }
        for (const day of days) {
          const agg = aggregate(hours.filter((r) => r[0] >= day[0] && r[0] < day[0] + DAY))
          assert.deepStrictEqual(
            [day[1], day[2], day[3], day[4], units8(day[5]), day[8]],
            [agg.open, agg.high, agg.low, agg.close, agg.volume, agg.trades]
          )
        }
        const empty = fives.filter((r) => r[8] === 0)
        if (symbol === "BTCUSDT") assert.strictEqual(empty.length, 0)
        else {
          assert.isAbove(empty.length, 10)
          for (const zero of empty) {
            const previous = fives.find((r) => r[0] === zero[0] - FIVE_MINUTES)
            assert.deepStrictEqual([zero[2], zero[3], zero[4], zero[5]], [zero[1], zero[1], zero[1], "0.00000000"])
            if (previous !== undefined) assert.strictEqual(zero[1], previous[4])
          }
        }
      }
    })
  )

  it.scopedLive("klines: Binance error codes for bad parameters, never a crash", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const k = `${sim.url}/api/v3/klines`
      const cases: ReadonlyArray<readonly [string, number]> = [
        ["?interval=5m", -1102],
        ["?symbol=BTCUSDT", -1102],
        ["?symbol=NOPEUSDT&interval=5m", -1121],
        ["?symbol=btcusdt&interval=5m", -1100],
        ["?symbol=BTCUSDT&interval=7m", -1120],
        ["?symbol=BTCUSDT&interval=5m&limit=1001", -1130],
        ["?symbol=BTCUSDT&interval=5m&limit=0", -1130],
        ["?symbol=BTCUSDT&interval=5m&startTime=abc", -1100],
        ["?symbol=BTCUSDT&interval=5m&startTime=2000&endTime=1000", -1023],
        ["?symbol=BTCUSDT&interval=5m&foo=1", -1104],
        ["?symbol=BTCUSDT&symbol=ETHUSDT&interval=5m", -1101]
      ]
      for (const [query, code] of cases) {
        const response = await get(k + query)
        assert.strictEqual(response.status, 400, query)
        assert.strictEqual(rec(response.body).code, code, query)
        assert.isString(rec(response.body).msg)
        assert.isNotNull(response.headers.get("x-mbx-used-weight-1m"))
      }
      assert.deepStrictEqual((await get(`${k}?symbol=NOPE&interval=5m`)).body, { code: -1121, msg: "Invalid symbol." })
      // Before the listing there is nothing.
      assert.deepStrictEqual((await get(`${k}?symbol=BTCUSDT&interval=5m&endTime=1000000`)).body, [])
    })
  )

  it.scopedLive("weights: X-MBX-USED-WEIGHT-1M counts, 429 + Retry-After, then 418 when ignored; reset clears", () =>
    // An hour-long weight window, so the test never straddles a window boundary.
    withSim({ startTime: START, speed: 0, binance: { weightPerMinute: 10, weightWindowMs: 3_600_000, banAfterRejected: 2 } }, async (sim) => {
      const k = `${sim.url}/api/v3/klines?symbol=BTCUSDT&interval=1h&limit=1`
      for (const expected of [2, 4, 6, 8, 10]) {
        const response = await get(k)
        assert.strictEqual(response.status, 200)
        assert.strictEqual(response.headers.get("x-mbx-used-weight-1m"), String(expected))
      }
      const limited = await get(k)
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(rec(limited.body).code, -1003)
      const retryAfter = Number(limited.headers.get("retry-after"))
      assert.isAtLeast(retryAfter, 1)
      assert.isAtMost(retryAfter, 3600)
      assert.strictEqual((await get(k)).status, 429)
      assert.strictEqual((await get(k)).status, 429)
      const banned = await get(k)
      assert.strictEqual(banned.status, 418)
      assert.strictEqual(rec(banned.body).code, -1003)
      assert.strictEqual(banned.headers.get("retry-after"), "120")
      const stillBanned = await get(`${sim.url}/api/v3/time`)
      assert.strictEqual(stillBanned.status, 418)
      assert.isAtMost(Number(stillBanned.headers.get("retry-after")), 120)
      const stats = rec((await get(sim.statsUrl)).body)
      assert.strictEqual(stats.rateLimited, 3)
      assert.strictEqual(stats.banned, 2)
      assert.strictEqual((await post(`${sim.url}/__sim/reset`, {})).status, 200)
      const again = await get(k)
      assert.strictEqual(again.status, 200)
      assert.strictEqual(again.headers.get("x-mbx-used-weight-1m"), "2")
    })
  )

  it.scopedLive("exchangeInfo, ticker/24hr and time with their weights", () =>
    withSim({ startTime: START, speed: 0, symbols: 30, binance: { weightWindowMs: 3_600_000 } }, async (sim) => {
      const info = await get(`${sim.url}/api/v3/exchangeInfo`)
      assert.strictEqual(info.headers.get("x-mbx-used-weight-1m"), "20")
      const body = rec(info.body)
      const symbols = arr(body.symbols).map(rec)
      assert.strictEqual(symbols.length, 30)
      assert.deepStrictEqual(
        [symbols[0]!.symbol, symbols[0]!.status, symbols[0]!.baseAsset, symbols[0]!.quoteAsset],
        ["BTCUSDT", "TRADING", "BTC", "USDT"]
      )
      assert.deepStrictEqual(rec(arr(body.rateLimits)[0]), {
        rateLimitType: "REQUEST_WEIGHT",
        interval: "MINUTE",
        intervalNum: 60,
        limit: 6000
      })
      const one = await get(`${sim.url}/api/v3/exchangeInfo?symbol=ETHUSDT`)
      assert.strictEqual(arr(rec(one.body).symbols).length, 1)

      const ticker = await get(`${sim.url}/api/v3/ticker/24hr?symbol=BTCUSDT`)
      assert.strictEqual(ticker.headers.get("x-mbx-used-weight-1m"), "42")
      const t = rec(ticker.body)
      assert.strictEqual(t.symbol, "BTCUSDT")
      assert.match(String(t.quoteVolume), /^\d+\.\d{8}$/)
      assert.strictEqual(t.closeTime, sim.clock.now())
      const all = await get(`${sim.url}/api/v3/ticker/24hr`)
      assert.strictEqual(all.headers.get("x-mbx-used-weight-1m"), "122")
      assert.strictEqual(arr(all.body).length, 30)
      const some = await get(`${sim.url}/api/v3/ticker/24hr?symbols=${encodeURIComponent('["BTCUSDT","ETHUSDT"]')}&type=MINI`)
      assert.strictEqual(arr(some.body).length, 2)
      assert.isUndefined(rec(arr(some.body)[0]).bidPrice)

      assert.deepStrictEqual((await get(`${sim.url}/api/v3/time`)).body, { serverTime: sim.clock.now() })
      const stats = rec(rec((await get(sim.statsUrl)).body).rest)
      assert.strictEqual(stats["GET /api/v3/exchangeInfo"], 2)
      assert.strictEqual(stats["GET /api/v3/ticker/24hr"], 3)
      assert.strictEqual(stats["GET /api/v3/time"], 1)
    })
  )
})
