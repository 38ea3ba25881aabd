import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as ExchangeSim from "../src/ExchangeSim.js"
import * as Intervals from "../src/Intervals.js"
import * as Market from "../src/Market.js"
import * as Scripts from "../src/Scripts.js"
import { arr, Client, DAY, FIVE_MINUTES, get, HOUR, MINUTE, post, rec, START, withSim } from "./support.js"

/** The default market of `ExchangeSim` (seed 1, 50 symbols). */
const options = {
  seed: 1,
  symbols: 50,
  illiquidRatio: 0.2,
  emptyBucketProbability: 0.35,
  listedAt: Date.UTC(2019, 0, 1)
} as const

const iv = (name: string) => Intervals.binance.get(name)!
const FROM = Math.floor(START / FIVE_MINUTES) * FIVE_MINUTES
/** The crash-and-recovery legs this package recommends for MACD-V tests (see README). */
const CRASH: ReadonlyArray<Scripts.Leg> = [
  { bars: 24, drift: -0.012 },
  { bars: 20, drift: 0.015 }
]
const CRASH_BARS = 44

const scripted = (script: Scripts.Script): Market.Market => {
  const m = Market.make(options)
  const added = m.addScript(script)
  if (Either.isLeft(added)) throw new Error(added.left.message)
  return m
}

const aggregateOf = (bars: ReadonlyArray<Market.Bar>) => {
  const traded = bars.filter((b) => b.trades > 0)
  return {
    open: traded[0]!.open,
    high: Math.max(...traded.map((b) => b.high)),
    low: Math.min(...traded.map((b) => b.low)),
    close: traded.at(-1)!.close,
    volume: traded.reduce((s, b) => s + b.volume, 0),
    quoteVolume: traded.reduce((s, b) => s + b.quoteVolume, 0),
    trades: traded.reduce((s, b) => s + b.trades, 0)
  }
}

const pick = (b: Market.Bar) => ({
  open: b.open,
  high: b.high,
  low: b.low,
  close: b.close,
  volume: b.volume,
  quoteVolume: b.quoteVolume,
  trades: b.trades
})

/** MACD-V = (EMA12 − EMA26) / ATR26 × 100: EMAs seeded with the SMA, Wilder's ATR with the SMA of the first 26 TRs. */
const macdV = (bars: ReadonlyArray<{ readonly high: number; readonly low: number; readonly close: number }>) => {
  const values: Array<number> = []
  let fast = 0
  let slow = 0
  let atr = 0
  let fastSum = 0
  let slowSum = 0
  let trSum = 0
  let previous = 0
  bars.forEach(({ high, low, close }, i) => {
    if (i < 12) {
      fastSum += close
      if (i === 11) fast = fastSum / 12
    } else fast = (2 / 13) * close + (11 / 13) * fast
    if (i < 26) {
      slowSum += close
      if (i === 25) slow = slowSum / 26
    } else slow = (2 / 27) * close + (25 / 27) * slow
    const tr = i === 0 ? high - low : Math.max(high - low, Math.abs(high - previous), Math.abs(low - previous))
    if (i < 26) {
      trSum += tr
      if (i === 25) atr = trSum / 26
    } else atr = (atr * 25 + tr) / 26
    previous = close
    values.push(i >= 25 && atr > 0 ? ((fast - slow) / atr) * 100 : Number.NaN)
  })
  return values
}

const request = async (method: string, url: string, body?: string) => {
  const response = await fetch(url, { method, ...(body === undefined ? {} : { body }) })
  return { status: response.status, body: JSON.parse(await response.text()) as unknown }
}

describe("Price scripts (Market)", () => {
  it("a scripted symbol's 5m closes follow the drift; before `from` nothing changes; afterwards the new level holds", () => {
    const plain = Market.make(options)
    const m = scripted({ symbol: "ETHUSDT", from: FROM, legs: CRASH })
    const s = m.bySymbol("ETHUSDT")!
    const now = FROM + 200 * FIVE_MINUTES
    const before = Market.range(m, s, iv("5m"), FROM - 100 * FIVE_MINUTES, FROM - FIVE_MINUTES, now, 1000, false)
    assert.deepStrictEqual(before, Market.range(plain, s, iv("5m"), FROM - 100 * FIVE_MINUTES, FROM - FIVE_MINUTES, now, 1000, false))
    const bars = Market.range(m, s, iv("5m"), FROM - FIVE_MINUTES, now - FIVE_MINUTES, now, 1000, false)
    const base = Market.range(plain, s, iv("5m"), FROM - FIVE_MINUTES, now - FIVE_MINUTES, now, 1000, false)
    assert.strictEqual(bars.length, 201)
    // The first scripted bar opens where the unscripted one does (the factor is 1 at `from`).
    assert.strictEqual(bars[1]!.open, base[1]!.open)
    let offset = 0
    for (let k = 1; k < bars.length; k++) {
      const bar = bars[k]!
      const raw = base[k]!
      const drift = k <= 24 ? -0.012 : k <= CRASH_BARS ? 0.015 : 0
      offset += drift
      // Bar to bar: the close ratio is exp(drift) times the unscripted one (up to the rounding to ticks).
      const ratio = bar.close / bars[k - 1]!.close / (raw.close / base[k - 1]!.close)
      assert.approximately(ratio, Math.exp(drift), 2e-5, `bar ${k}`)
      // Level: close = unscripted close × exp(offset) before rounding.
      assert.approximately(bar.close, raw.close * Math.exp(offset), 2, `bar ${k}`)
      assert.strictEqual(bar.open, bars[k - 1]!.close)
      assert.isAtLeast(bar.high, Math.max(bar.open, bar.close))
      assert.isAtMost(bar.low, Math.min(bar.open, bar.close))
      // Amounts traded do not change; the quote volume is that volume at the scripted prices.
      assert.deepStrictEqual(
        [bar.volume, bar.trades, bar.takerBaseVolume, bar.firstTradeId, bar.lastTradeId],
        [raw.volume, raw.trades, raw.takerBaseVolume, raw.firstTradeId, raw.lastTradeId]
      )
      assert.approximately(bar.quoteVolume / raw.quoteVolume, Math.exp(offset), 0.02)
    }
    assert.approximately(offset, Scripts.finalOffset({ symbol: "ETHUSDT", from: FROM, legs: CRASH }), 1e-12)
    assert.strictEqual(m.priceFactor(s, FROM), 1)
    assert.approximately(m.priceFactor(s, FROM + 24 * FIVE_MINUTES), Math.exp(-0.288), 1e-12)
    assert.approximately(m.priceFactor(s, FROM + 24 * FIVE_MINUTES + 150_000), Math.exp(-0.288 + 0.0075), 1e-12)
    assert.approximately(m.priceFactor(s, now + 30 * DAY), Math.exp(0.012), 1e-12)
    // Ticker prices follow: the rolling 24 h statistics are those of the scripted bars.
    const at = FROM + 30 * FIVE_MINUTES
    const r = m.rolling24h(s, at)
    const day = Market.range(m, s, iv("5m"), at - 287 * FIVE_MINUTES, at - FIVE_MINUTES, at, 1000, false)
    assert.strictEqual(r.low, Math.min(...day.map((b) => b.low)))
    assert.strictEqual(r.last, bars[30]!.close)
    assert.isBelow(r.low, plain.rolling24h(s, at).low)
  })

  it("unscripted symbols are unchanged", () => {
    const plain = Market.make(options)
    const m = scripted({ symbol: "BTC-USD", from: FROM, legs: CRASH })
    const now = FROM + 60 * FIVE_MINUTES + 77_000
    for (const s of [m.symbols[1]!, m.symbols[2]!, m.symbols[45]!]) {
      for (const name of ["1m", "5m", "1h", "1d"]) {
        assert.deepStrictEqual(
          Market.range(m, s, iv(name), now - 300 * iv(name).ms, now, now, 1000, false),
          Market.range(plain, s, iv(name), now - 300 * iv(name).ms, now, now, 1000, false),
          `${s.binance} ${name}`
        )
      }
      assert.deepStrictEqual(m.rolling24h(s, now), plain.rolling24h(s, now))
      assert.deepStrictEqual(m.yearRange(s, now), plain.yearRange(s, now))
      assert.strictEqual(m.priceFactor(s, now), 1)
    }
    const btc = m.bySymbol("BTCUSDT")!
    assert.notDeepEqual(m.candle(btc, iv("5m"), FROM + 20 * FIVE_MINUTES, now), plain.candle(btc, iv("5m"), FROM + 20 * FIVE_MINUTES, now))
  })

  it("aggregates stay exact: 1m → 5m → 1h → 1d over the scripted span, forming candles included", () => {
    const m = scripted({ symbol: "SOLUSDT", from: FROM, legs: CRASH })
    const s = m.bySymbol("SOLUSDT")!
    const now = FROM + 3 * DAY
    const hourFrom = Math.floor(FROM / HOUR) * HOUR
    for (let open = hourFrom; open < FROM + (CRASH_BARS + 12) * FIVE_MINUTES; open += HOUR) {
      const children = Market.range(m, s, iv("5m"), open, open + HOUR - 1, now, 12, false)
      assert.deepStrictEqual(pick(m.candle(s, iv("1h"), open, now)!), aggregateOf(children), `1h at ${open}`)
    }
    for (let open = FROM; open < FROM + CRASH_BARS * FIVE_MINUTES; open += 7 * FIVE_MINUTES) {
      const minutes = Market.range(m, s, iv("1m"), open, open + FIVE_MINUTES - 1, now, 5, false)
      assert.deepStrictEqual(pick(m.candle(s, iv("5m"), open, now)!), aggregateOf(minutes), `5m at ${open}`)
    }
    const day = Math.floor(FROM / DAY) * DAY
    assert.deepStrictEqual(
      pick(m.candle(s, iv("1d"), day, now)!),
      aggregateOf(Market.range(m, s, iv("1h"), day, day + DAY - 1, now, 24, false))
    )
    assert.deepStrictEqual(
      pick(m.candle(s, iv("1d"), day, now)!),
      aggregateOf(Market.range(m, s, iv("5m"), day, day + DAY - 1, now, 288, false))
    )
    // A forming hour in the middle of the crash grows into the closed one, continuously.
    const open = hourFrom + HOUR
    let previous: Market.Bar | undefined
    for (let t = open; t <= open + HOUR; t += 2 * MINUTE + 7_000) {
      const bar = m.candle(s, iv("1h"), open, t)!
      if (previous !== undefined && previous.trades > 0) {
        assert.strictEqual(bar.open, previous.open)
        assert.isAtLeast(bar.high, previous.high)
        assert.isAtMost(bar.low, previous.low)
        // No jump: the last price moves by at most a few bar ranges between two samples 2 min apart.
        assert.isBelow(Math.abs(bar.close - previous.close) / previous.close, 0.05)
      }
      const five = m.candle(s, iv("5m"), Intervals.openTimeOf(iv("5m"), t), t)!
      assert.strictEqual(bar.close, five.close)
      previous = bar
    }
    assert.deepStrictEqual(pick(m.candle(s, iv("1h"), open, open + HOUR)!), pick(m.candle(s, iv("1h"), open, now)!))
  })

  it("a script added at runtime drops memoised prices, is deterministic, and clears back to the plain market", () => {
    const now = FROM + 40 * FIVE_MINUTES + 123_456
    // The crash, then a rally that triples the price (so later days' anchors, hence the 52-week high, move too).
    const script: Scripts.Script = { symbol: "LINKUSDT", from: FROM, legs: [...CRASH, { bars: 12, drift: 0.1 }] }
    const later = FROM + 3 * DAY
    const snapshot = (m: Market.Market) => {
      const s = m.bySymbol("LINKUSDT")!
      return {
        fives: Market.range(m, s, iv("5m"), now - 500 * FIVE_MINUTES, now, now, 1000, false),
        ones: Market.range(m, s, iv("1m"), now - 300 * MINUTE, now, now, 1000, false),
        hours: Market.range(m, s, iv("1h"), now - 100 * HOUR, now, now, 1000, false),
        days: Market.range(m, s, iv("1d"), now - 30 * DAY, now, now, 1000, false),
        rolling: m.rolling24h(s, now),
        year: m.yearRange(s, now),
        day: m.candle(s, iv("1d"), Math.floor(FROM / DAY) * DAY, later),
        yearLater: m.yearRange(s, later)
      }
    }
    const plain = snapshot(Market.make(options))
    const fresh = snapshot(scripted(script))
    // Warm every cache of `m` with the unscripted market, then script it.
    const m = Market.make(options)
    assert.deepStrictEqual(snapshot(m), plain)
    assert.isTrue(Either.isRight(m.addScript(script)))
    // The 52-week range of the last query (memoised per symbol) is not served stale either.
    assert.deepStrictEqual(m.yearRange(m.bySymbol("LINKUSDT")!, later), fresh.yearLater)
    const after = snapshot(m)
    assert.deepStrictEqual(after, fresh)
    assert.notDeepEqual(after.fives.at(-1), plain.fives.at(-1))
    assert.notDeepEqual(after.day, plain.day)
    assert.isAbove(after.yearLater.high, plain.yearLater.high)
    // Only times after `from` moved.
    const cut = after.fives.findIndex((b) => b.openTime === FROM)
    assert.deepStrictEqual(after.fives.slice(0, cut), plain.fives.slice(0, cut))
    assert.notDeepEqual(after.fives.slice(cut + 1), plain.fives.slice(cut + 1))
    assert.deepStrictEqual(m.scripts(), [script])
    m.clearScripts()
    assert.deepStrictEqual(m.scripts(), [])
    assert.deepStrictEqual(snapshot(m), plain)

    // A dip over a past midnight shows only in the daily anchors: it reaches the (memoised) 52-week range.
    const dip: Scripts.Script = {
      symbol: "LINK-USD",
      from: FROM,
      legs: [
        { bars: 12, drift: -1 / 12 },
        { bars: 288, drift: 0 },
        { bars: 12, drift: 1 / 12 }
      ]
    }
    const link = m.bySymbol("LINKUSDT")!
    const plainYear = m.yearRange(link, later)
    assert.isTrue(Either.isRight(m.addScript(dip)))
    const year = m.yearRange(link, later)
    assert.isBelow(year.low, plainYear.low)
    assert.deepStrictEqual(year, scripted(dip).yearRange(link, later))
  })

  it("scripts on one symbol add up; names of either venue; malformed or oversized scripts are refused", () => {
    const m = Market.make(options)
    const s = m.bySymbol("DOGEUSDT")!
    assert.isTrue(Either.isRight(m.addScript({ symbol: "DOGEUSDT", from: FROM, legs: [{ bars: 10, drift: -0.01 }] })))
    assert.isTrue(Either.isRight(m.addScript({ symbol: "DOGE-USD", from: FROM + 5 * FIVE_MINUTES, legs: [{ bars: 10, drift: 0.02 }] })))
    assert.approximately(m.priceFactor(s, FROM + 5 * FIVE_MINUTES), Math.exp(-0.05), 1e-12)
    assert.approximately(m.priceFactor(s, FROM + 10 * FIVE_MINUTES), Math.exp(-0.1 + 0.1), 1e-12)
    assert.approximately(m.priceFactor(s, FROM + DAY), Math.exp(-0.1 + 0.2), 1e-12)
    assert.strictEqual(m.scripts().length, 2)
    const refused = (input: unknown) => {
      const result = Either.flatMap(Scripts.decode(input), (script) => m.addScript(script))
      assert.isTrue(Either.isLeft(result), JSON.stringify(input))
      return Either.isLeft(result) ? result.left.message : ""
    }
    const legs = [{ bars: 1, drift: 0 }]
    assert.match(refused({ symbol: "BTCUSDT", from: FROM + 1, legs }), /^from: must be a multiple of 5 minutes/)
    assert.match(refused({ symbol: "NOPEUSDT", from: FROM, legs }), /^symbol: NOPEUSDT is not a simulated symbol/)
    assert.match(refused({ symbol: "btcusdt", from: FROM, legs }), /not a simulated symbol/)
    assert.match(refused({ symbol: "BTCUSDT", from: FROM, legs: [] }), /^legs: must hold at least one leg/)
    assert.match(refused({ symbol: "BTCUSDT", from: FROM, legs: [{ bars: 0, drift: 0 }] }), /^legs\.0\.bars: /)
    assert.match(refused({ symbol: "BTCUSDT", from: FROM, legs: [{ bars: 1.5, drift: 0 }] }), /^legs\.0\.bars: /)
    assert.match(refused({ symbol: "BTCUSDT", from: FROM, legs: [{ bars: 1, drift: Number.POSITIVE_INFINITY }] }), /^legs\.0\.drift: /)
    assert.match(refused({ symbol: "BTCUSDT", from: FROM, legs, extra: 1 }), /^extra: is unexpected/)
    assert.match(refused({ symbol: "BTCUSDT", from: FROM }), /^legs: is missing/)
    assert.match(refused([]), /must be an object/)
    assert.match(refused({ symbol: "BTCUSDT", from: FROM, legs: [{ bars: 500, drift: -0.01 }] }), /at most a factor of 100/)
    // The bound counts every script of the symbol.
    assert.match(refused({ symbol: "DOGEUSDT", from: FROM, legs: [{ bars: 100, drift: 0.044 }] }), /DOGEUSDT .*factor of 100/)
    // A direct call is validated too (a typed caller can still pass an unaligned `from`).
    const direct = m.addScript({ symbol: "BTCUSDT", from: 7, legs })
    assert.isTrue(Either.isLeft(direct))
    assert.strictEqual(m.scripts().length, 2)
  })

  it("MACD-V of a scripted crash falls below −200, then recovers above −150 (default seed, liquid and illiquid symbols)", () => {
    const WARMUP = 100
    for (const name of ["BTCUSDT", "ETHUSDT", "SOLUSDT", "AVAXUSDT", "LTCUSDT", "SNXUSDT", "XTZUSDT"]) {
      for (const from of [FROM, FROM + 13 * HOUR + 35 * MINUTE, FROM + 9 * DAY + 5 * MINUTE]) {
        const m = scripted({ symbol: name, from, legs: CRASH })
        const s = m.bySymbol(name)!
        const now = from + (CRASH_BARS + 1) * FIVE_MINUTES
        const bars = Market.range(m, s, iv("5m"), from - WARMUP * FIVE_MINUTES, from + (CRASH_BARS - 1) * FIVE_MINUTES, now, 1000, false)
        assert.strictEqual(bars.length, WARMUP + CRASH_BARS)
        const values = macdV(bars.map((b) => Market.toCandle(s, b)))
        const fall = values.slice(WARMUP, WARMUP + 24)
        const recovery = values.slice(WARMUP + 24)
        const bottom = Math.min(...fall)
        assert.isBelow(bottom, -200, `${name} from ${new Date(from).toISOString()}: fall reaches ${bottom}`)
        assert.isAbove(Math.max(...recovery), -150, `${name} from ${new Date(from).toISOString()}: recovery`)
        // The reversal happens in the recovery leg: below −150 at its start, above it later.
        assert.isBelow(recovery[0]!, -150)
      }
    }
  })
})

describe("Price scripts (server)", () => {
  it.scopedLive("GET/POST/DELETE /__sim/script; malformed bodies are 400 with a reason and change nothing", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const url = `${sim.url}/__sim/script`
      const endpoints = arr(rec((await get(`${sim.url}/__sim`)).body).endpoints)
      for (const e of ["GET /__sim/script", "POST /__sim/script", "DELETE /__sim/script"]) assert.include(endpoints, e)
      assert.deepStrictEqual((await get(url)).body, [])
      const script = { symbol: "BTC-USD", from: FROM, legs: [{ bars: 24, drift: -0.012 }, { bars: 20, drift: 0.015 }] }
      const created = await post(url, script)
      assert.strictEqual(created.status, 200)
      assert.deepStrictEqual(created.body, [script])
      const bad: ReadonlyArray<readonly [string, RegExp]> = [
        ["{not json", /body is not JSON/],
        ["", /symbol: is missing/],
        ["[]", /must be an object/],
        [JSON.stringify({ ...script, from: FROM + 1000 }), /from: must be a multiple of 5 minutes/],
        [JSON.stringify({ ...script, from: "2024-01-10T12:00:00Z" }), /from: /],
        [JSON.stringify({ ...script, symbol: "NOPE-USD" }), /symbol: NOPE-USD is not a simulated symbol/],
        [JSON.stringify({ ...script, legs: [] }), /legs: must hold at least one leg/],
        [JSON.stringify({ ...script, legs: [{ bars: 0, drift: 0.1 }] }), /legs\.0\.bars/],
        [JSON.stringify({ ...script, legs: [{ bars: 3, drift: "0.1" }] }), /legs\.0\.drift/],
        [JSON.stringify({ ...script, legs: [{ bars: 3, drift: 0.1, extra: true }] }), /legs\.0\.extra: is unexpected/],
        [JSON.stringify({ ...script, speed: 2 }), /speed: is unexpected/],
        [JSON.stringify({ ...script, legs: [{ bars: 288, drift: -0.02 }] }), /factor of 100/]
      ]
      for (const [body, message] of bad) {
        const response = await request("POST", url, body)
        assert.strictEqual(response.status, 400, body)
        assert.match(String(rec(response.body).error), message, body)
      }
      assert.deepStrictEqual((await get(url)).body, [script])
      const second = { symbol: "ETHUSDT", from: FROM + FIVE_MINUTES, legs: [{ bars: 3, drift: 0.01 }] }
      assert.deepStrictEqual((await post(url, second)).body, [script, second])
      assert.deepStrictEqual(await Effect.runPromise(sim.scripts), [script, second])
      // Reset clears faults and counters, not the market's scripts.
      await post(`${sim.url}/__sim/reset`, {})
      assert.strictEqual(arr((await get(url)).body).length, 2)
      const cleared = await request("DELETE", url)
      assert.deepStrictEqual([cleared.status, cleared.body], [200, []])
      assert.deepStrictEqual((await get(url)).body, [])
    })
  )

  it.scopedLive("REST history equals the WS-delivered closed candles of a scripted bar, on both venues", () =>
    withSim({ startTime: FROM + 4 * MINUTE, speed: 0 }, async (sim) => {
      const plain = Market.make(sim.market.options)
      const btc = sim.market.bySymbol("BTCUSDT")!
      const binance = await Client.open(`${sim.binance.streamUrl}?streams=btcusdt@kline_5m/btcusdt@kline_1m/btcusdt@kline_1h`)
      const coinbase = await Client.open(sim.coinbase.wsUrl)
      coinbase.send({ type: "subscribe", channel: "candles", product_ids: ["BTC-USD"] })
      await binance.waitFor((m) => rec(rec(m).data).e === "kline")
      // Installed at run time, from the current bar on: the forming bar and everything after it move.
      const script = { symbol: "BTCUSDT", from: FROM, legs: [{ bars: 6, drift: -0.02 }] }
      assert.strictEqual((await post(`${sim.url}/__sim/script`, script)).status, 200)
      await Effect.runPromise(sim.setClock({ speed: 300 }))
      const second = FROM + FIVE_MINUTES
      const isFinal = (interval: string, t: number) => (m: unknown) => {
        const k = rec(rec(rec(m).data).k ?? {})
        return k.i === interval && k.t === t && k.x === true
      }
      // Both venues have published the final state of `second` once the bucket after it has begun.
      await binance.waitFor(isFinal("5m", second), 8000)
      await coinbase.waitFor((m) => JSON.stringify(m).includes(`"start":"${(second + FIVE_MINUTES) / 1000}"`), 8000)
      await Effect.runPromise(sim.setClock({ speed: 0 }))
      for (const open of [FROM, second]) {
        const k = rec(rec(rec(await binance.waitFor(isFinal("5m", open))).data).k)
        const row = arr(arr((await get(`${sim.url}/api/v3/klines?symbol=BTCUSDT&interval=5m&startTime=${open}&limit=1`)).body)[0])
        assert.deepStrictEqual([k.o, k.h, k.l, k.c, k.v, k.n, k.q], [row[1], row[2], row[3], row[4], row[5], row[8], row[7]])
        // The bar really is scripted: its close is the unscripted one × exp(−0.02 × bars elapsed).
        const raw = plain.candle(btc, iv("5m"), open, open + FIVE_MINUTES)!
        const bars = (open - FROM) / FIVE_MINUTES + 1
        assert.approximately(Number(k.c), Market.priceNumber(btc, raw.close) * Math.exp(-0.02 * bars), 0.01)
        // Its 1m closed klines aggregate to it, as delivered.
        const minutes = binance.messages
          .map((m) => rec(rec(rec(m).data).k ?? {}))
          .filter((x) => x.i === "1m" && x.x === true && Number(x.t) >= open && Number(x.t) < open + FIVE_MINUTES)
        if (open === second) {
          assert.strictEqual(minutes.length, 5)
          assert.deepStrictEqual([minutes[0]!.o, minutes[4]!.c], [k.o, k.c])
        }
        // Coinbase: the last WS update of the bucket equals its REST candle, at the same prices as Binance.
        const last = coinbase.messages
          .filter((m) => rec(m).channel === "candles")
          .flatMap((m) => arr(rec(arr(rec(m).events)[0]).candles).map(rec))
          .filter((x) => x.start === String(open / 1000))
          .at(-1)!
        const candle = rec(
          arr(
            rec(
              (
                await get(
                  `${sim.coinbase.restUrl}/market/products/BTC-USD/candles?start=${open / 1000}&end=${open / 1000}&granularity=FIVE_MINUTE`
                )
              ).body
            ).candles
          )[0]
        )
        assert.deepStrictEqual(
          [last.open, last.high, last.low, last.close, last.volume],
          [candle.open, candle.high, candle.low, candle.close, candle.volume]
        )
        assert.deepStrictEqual(
          [candle.open, candle.high, candle.low, candle.close].map(Number),
          [k.o, k.h, k.l, k.c].map(Number)
        )
      }
      // The hour as REST aggregates it from the scripted bars equals its 5m klines' aggregate; tickers follow too.
      const now = sim.clock.now()
      const hour = Math.floor(now / HOUR) * HOUR
      const h = arr(arr((await get(`${sim.url}/api/v3/klines?symbol=BTCUSDT&interval=1h&startTime=${hour}&limit=1`)).body)[0])
      const fives = arr((await get(`${sim.url}/api/v3/klines?symbol=BTCUSDT&interval=5m&startTime=${hour}&limit=12`)).body).map(arr)
      assert.deepStrictEqual([h[1], h[4]], [fives[0]![1], fives.at(-1)![4]])
      assert.strictEqual(Math.max(...fives.map((f) => Number(f[2]))), Number(h[2]))
      assert.strictEqual(Math.min(...fives.map((f) => Number(f[3]))), Number(h[3]))
      const ticker = rec((await get(`${sim.url}/api/v3/ticker/24hr?symbol=BTCUSDT`)).body)
      assert.strictEqual(ticker.lastPrice, fives.at(-1)![4])
      const product = rec((await get(`${sim.coinbase.restUrl}/market/products/BTC-USD`)).body)
      assert.strictEqual(Number(product.price), Number(ticker.lastPrice))
      binance.close()
      coinbase.close()
    })
  )

  it.scopedLive("the `scripts` option installs scripts at start; sim.script / sim.clearScripts work programmatically", () =>
    withSim(
      {
        startTime: FROM + (CRASH_BARS + 5) * FIVE_MINUTES,
        speed: 0,
        scripts: [{ symbol: "ETH-USD", from: FROM, legs: [{ bars: 24, drift: -0.012 }, { bars: 20, drift: 0.015 }] }]
      },
      async (sim) => {
        const plain = Market.make(sim.market.options)
        const eth = sim.market.bySymbol("ETHUSDT")!
        const bottom = FROM + 23 * FIVE_MINUTES
        const rows = arr((await get(`${sim.url}/api/v3/klines?symbol=ETHUSDT&interval=5m&startTime=${bottom}&limit=1`)).body)
        const raw = plain.candle(eth, iv("5m"), bottom, sim.clock.now())!
        assert.approximately(Number(arr(rows[0])[4]) / Market.priceNumber(eth, raw.close), Math.exp(-0.288), 1e-5)
        assert.strictEqual((await Effect.runPromise(sim.scripts)).length, 1)
        const later = { symbol: "SOLUSDT", from: FROM + 100 * FIVE_MINUTES, legs: [{ bars: 1, drift: 0.5 }] }
        assert.strictEqual((await Effect.runPromise(sim.script(later))).length, 2)
        const error = await Effect.runPromise(Effect.flip(sim.script({ ...later, symbol: "NOPE" })))
        assert.strictEqual(error._tag, "ScriptError")
        assert.match(error.message, /NOPE is not a simulated symbol/)
        await Effect.runPromise(sim.clearScripts)
        assert.deepStrictEqual((await get(`${sim.url}/__sim/script`)).body, [])
        const restored = arr((await get(`${sim.url}/api/v3/klines?symbol=ETHUSDT&interval=5m&startTime=${bottom}&limit=1`)).body)
        assert.strictEqual(Number(arr(restored[0])[4]), Market.priceNumber(eth, raw.close))
      }
    )
  )

  it.effect("an invalid `scripts` option fails make with SimError InvalidOptions", () =>
    Effect.gen(function* () {
      const legs = [{ bars: 1, drift: 0.01 }]
      const unknown = yield* Effect.flip(Effect.scoped(ExchangeSim.make({ startTime: START, scripts: [{ symbol: "NOPE", from: FROM, legs }] })))
      assert.strictEqual(unknown.reason, "InvalidOptions")
      assert.match(unknown.message, /scripts\.0: symbol: NOPE is not a simulated symbol/)
      const unaligned = yield* Effect.flip(Effect.scoped(ExchangeSim.make({ startTime: START, scripts: [{ symbol: "BTCUSDT", from: FROM + 1, legs }] })))
      assert.strictEqual(unaligned.reason, "InvalidOptions")
      assert.match(unaligned.message, /scripts\.0\.from: must be a multiple of 5 minutes/)
    })
  )
})
