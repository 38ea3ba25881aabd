import { assert, describe, it } from "@effect/vitest"
import * as Intervals from "../src/Intervals.js"
import * as Market from "../src/Market.js"
import { DAY, FIVE_MINUTES, HOUR, MINUTE } from "./support.js"

const options = {
  seed: 7,
  symbols: 20,
  illiquidRatio: 0.2,
  emptyBucketProbability: 0.35,
  listedAt: Date.UTC(2019, 0, 1)
} as const

const iv = (name: string) => Intervals.binance.get(name)!
const now = Date.UTC(2025, 5, 3, 14, 27, 41)

const aggregateOf = (bars: ReadonlyArray<Market.Bar>) => {
  const traded = bars.filter((b) => b.trades > 0)
  return {
    open: traded[0]!.open,
    high: Math.max(...traded.map((b) => b.high)),
    low: Math.min(...traded.map((b) => b.low)),
    close: traded.at(-1)!.close,
    volume: traded.reduce((s, b) => s + b.volume, 0),
    quoteVolume: traded.reduce((s, b) => s + b.quoteVolume, 0),
    trades: traded.reduce((s, b) => s + b.trades, 0),
    firstTradeId: traded[0]!.firstTradeId,
    lastTradeId: traded.at(-1)!.lastTradeId
  }
}

const pick = (b: Market.Bar) => ({
  open: b.open,
  high: b.high,
  low: b.low,
  close: b.close,
  volume: b.volume,
  quoteVolume: b.quoteVolume,
  trades: b.trades,
  firstTradeId: b.firstTradeId,
  lastTradeId: b.lastTradeId
})

describe("Market", () => {
  it("is deterministic in the seed and independent of what was asked before", () => {
    const a = Market.make(options)
    const b = Market.make(options)
    const c = Market.make({ ...options, seed: 8 })
    const s = a.symbols[3]!
    const t = Math.floor(now / HOUR) * HOUR - 500 * HOUR
    // Warm `a` with unrelated history first: caching must not change any value.
    Market.range(a, s, iv("1d"), 0, now, now, 1000, true)
    assert.deepStrictEqual(a.candle(s, iv("1h"), t, now), b.candle(b.symbols[3]!, iv("1h"), t, now))
    assert.notDeepEqual(a.candle(s, iv("1h"), t, now), c.candle(c.symbols[3]!, iv("1h"), t, now))
    assert.deepStrictEqual(
      a.symbols.map((x) => x.binance).slice(0, 3),
      ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    )
    assert.deepStrictEqual(
      a.symbols.map((x) => x.coinbase).slice(0, 3),
      ["BTC-USD", "ETH-USD", "SOL-USD"]
    )
    assert.deepStrictEqual(
      a.symbols.filter((x) => x.illiquid).map((x) => x.index),
      [16, 17, 18, 19]
    )
  })

  it("every longer candle is the aggregate of its shorter ones (1m → 5m → 1h → 4h → 1d → 1w)", () => {
    const m = Market.make(options)
    for (const s of [m.symbols[0]!, m.symbols[19]!]) {
      const pairs: ReadonlyArray<readonly [string, string, number]> = [
        ["1m", "5m", 5],
        ["5m", "1h", 12],
        ["1h", "4h", 4],
        ["4h", "1d", 6],
        ["1d", "1w", 7],
        ["3m", "15m", 5]
      ]
      for (const [small, big, n] of pairs) {
        const bigIv = iv(big)
        for (let back = 2; back < 6; back++) {
          const open = Intervals.openTimeOf(bigIv, now) - back * bigIv.ms
          const parent = m.candle(s, bigIv, open, now)!
          const children = Array.from({ length: n }, (_, i) => m.candle(s, iv(small), open + i * iv(small).ms, now)!)
          if (parent.trades === 0) {
            assert.isTrue(children.every((c) => c.trades === 0))
            continue
          }
          assert.deepStrictEqual(pick(parent), aggregateOf(children), `${s.binance} ${small}→${big} at ${open}`)
        }
      }
    }
  })

  it("the forming candle grows into the closed one", () => {
    const m = Market.make(options)
    const s = m.symbols[1]!
    const open = Date.UTC(2025, 5, 3, 14, 0, 0)
    let previous: Market.Bar | undefined
    for (let t = open; t <= open + HOUR; t += 7 * MINUTE + 13_000) {
      const bar = m.candle(s, iv("1h"), open, Math.min(t, open + HOUR))!
      assert.strictEqual(bar.closed, t >= open + HOUR)
      if (previous !== undefined && previous.trades > 0) {
        assert.isAtLeast(bar.volume, previous.volume)
        assert.isAtLeast(bar.trades, previous.trades)
        assert.isAtLeast(bar.high, previous.high)
        assert.isAtMost(bar.low, previous.low)
        assert.strictEqual(bar.open, previous.open)
      }
      previous = bar
    }
    const final = m.candle(s, iv("1h"), open, open + HOUR)!
    const later = m.candle(s, iv("1h"), open, open + 5 * DAY)!
    assert.deepStrictEqual(final, later)
    assert.isTrue(final.closed)
    const domain = Market.toCandle(s, final)
    assert.strictEqual(domain.openTime, open)
    assert.isTrue(domain.low <= domain.open && domain.high >= domain.close)
  })

  it("illiquid symbols skip buckets (zero trades, flat at the last traded price); liquid ones never do", () => {
    const m = Market.make(options)
    const liquid = m.symbols[0]!
    const illiquid = m.symbols[19]!
    const from = Math.floor(now / FIVE_MINUTES) * FIVE_MINUTES - 2000 * FIVE_MINUTES
    const bars = (s: Market.SimSymbol) => Market.range(m, s, iv("5m"), from, now, now, 1000, false)
    assert.isTrue(bars(liquid).every((b) => b.trades > 0))
    const thin = bars(illiquid)
    const empty = thin.filter((b) => b.trades === 0)
    assert.isAbove(empty.length, 250)
    assert.isBelow(empty.length, 450)
    for (const e of empty) {
      const before = thin.filter((b) => b.openTime < e.openTime && b.trades > 0).at(-1)
      assert.deepStrictEqual([e.open, e.high, e.low, e.volume, e.firstTradeId, e.lastTradeId], [e.close, e.close, e.close, 0, -1, -1])
      if (before !== undefined) assert.strictEqual(e.close, before.close)
    }
  })

  it("nothing before the listing, nothing after now; prices and volumes are exact decimals", () => {
    const m = Market.make(options)
    const s = m.symbols[0]!
    assert.isUndefined(m.candle(s, iv("5m"), options.listedAt - FIVE_MINUTES, now))
    assert.isDefined(m.candle(s, iv("5m"), options.listedAt, now))
    assert.isUndefined(m.candle(s, iv("5m"), Math.floor(now / FIVE_MINUTES) * FIVE_MINUTES + FIVE_MINUTES, now))
    assert.strictEqual(Market.formatPrice(s, 1234567, 8), "12345.67000000")
    assert.strictEqual(Market.formatPrice(s, 5), "0.05")
    assert.strictEqual(Market.formatQuote(123, 8), "0.01230000")
    const r = m.rolling24h(s, now)
    assert.strictEqual(r.closeTime - r.openTime, DAY)
    assert.isAtMost(r.low, r.last)
    assert.isAtLeast(r.high, r.last)
  })
})
