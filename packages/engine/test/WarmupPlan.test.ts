import { assert, describe, it } from "@effect/vitest"
import { Candle, Market, Timeframe } from "@livermore/domain"
import { FastCheck as fc, Schema } from "effect"
import * as WarmupPlan from "../src/WarmupPlan.js"

const BTC = Schema.decodeSync(Market.SymbolId)("BTCUSDT")
const ETH = Schema.decodeSync(Market.SymbolId)("ETHUSDT")
/** 2024-01-11 00:02 UTC: two minutes into a candle of every timeframe. */
const NOW = Date.UTC(2024, 0, 11, 0, 2)

const holding = (timeframe: Timeframe.Timeframe, closed: ReadonlyArray<number>, held = closed.length): WarmupPlan.Holding => ({
  symbol: BTC,
  timeframe,
  held,
  closed
})

const full = (timeframe: Timeframe.Timeframe, min = 60) => {
  const { from, to } = WarmupPlan.window(timeframe, NOW, min)
  return Timeframe.openTimesBetween(timeframe, from, to)
}

describe("WarmupPlan.window", () => {
  it("ends at the last closed boundary and spans minCandles", () => {
    for (const tf of Timeframe.all) {
      const { from, to } = WarmupPlan.window(tf, NOW)
      assert.strictEqual(to, Timeframe.lastClosedOpenTime(tf, NOW))
      assert.strictEqual(Timeframe.countBetween(tf, from, to), 60)
    }
    assert.strictEqual(WarmupPlan.window("1d", NOW).to, Date.UTC(2024, 0, 10))
  })
})

describe("WarmupPlan.entryFor", () => {
  const d = Timeframe.durationMs["5m"]
  const { from: W, to: B } = WarmupPlan.window("5m", NOW)

  it("skips a sufficient pair, even when it holds more than needed", () => {
    assert.isUndefined(WarmupPlan.entryFor(holding("5m", full("5m")), NOW))
    assert.isUndefined(WarmupPlan.entryFor(holding("5m", full("5m"), 500), NOW))
  })

  it("empty: nothing cached fetches the window", () => {
    assert.deepStrictEqual(
      WarmupPlan.entryFor(holding("5m", []), NOW),
      new WarmupPlan.Entry({ symbol: BTC, timeframe: "5m", from: W, to: B, reason: "empty" })
    )
  })

  it("stale: only from the candle after the newest cached one to the boundary", () => {
    const held = Timeframe.openTimesBetween("5m", W - 100 * d, B - 3 * d)
    const inWindow = held.filter((t) => t >= W)
    const entry = WarmupPlan.entryFor(holding("5m", inWindow, held.length), NOW)
    assert.deepStrictEqual(entry, new WarmupPlan.Entry({ symbol: BTC, timeframe: "5m", from: B - 2 * d, to: B, reason: "stale" }))
  })

  it("stale: a cache holding only candles older than the window fetches the window", () => {
    const entry = WarmupPlan.entryFor(holding("5m", [], 40), NOW)
    assert.deepStrictEqual(entry, new WarmupPlan.Entry({ symbol: BTC, timeframe: "5m", from: W, to: B, reason: "stale" }))
  })

  it("stale with a short run behind it also fetches the older missing part", () => {
    const inWindow = Timeframe.openTimesBetween("5m", W + 10 * d, B - d)
    const entry = WarmupPlan.entryFor(holding("5m", inWindow), NOW)
    assert.deepStrictEqual(entry, new WarmupPlan.Entry({ symbol: BTC, timeframe: "5m", from: W, to: B, reason: "stale" }))
  })

  it("short: only the missing older range", () => {
    const inWindow = Timeframe.openTimesBetween("5m", W + 20 * d, B)
    const entry = WarmupPlan.entryFor(holding("5m", inWindow), NOW)
    assert.deepStrictEqual(entry, new WarmupPlan.Entry({ symbol: BTC, timeframe: "5m", from: W, to: W + 19 * d, reason: "short" }))
  })

  it("gap: only the hole", () => {
    const inWindow = full("5m").filter((t) => t < W + 30 * d || t > W + 33 * d)
    const entry = WarmupPlan.entryFor(holding("5m", inWindow), NOW)
    assert.deepStrictEqual(
      entry,
      new WarmupPlan.Entry({ symbol: BTC, timeframe: "5m", from: W + 30 * d, to: W + 33 * d, reason: "gap" })
    )
  })

  it("a forming candle at the boundary's successor does not count; minCandles is configurable", () => {
    assert.isUndefined(WarmupPlan.entryFor(holding("1h", full("1h", 10)), NOW, 10))
    assert.strictEqual(WarmupPlan.entryFor(holding("1h", full("1h", 10)), NOW, 11)?.reason, "short")
  })
})

describe("WarmupPlan.plan", () => {
  it("scans per symbol, largest timeframe first, and schedules nothing on a complete fresh cache", () => {
    const pairs = WarmupPlan.pairs([BTC, ETH], ["5m", "1h", "1d", "15m", "4h"])
    assert.deepStrictEqual(
      pairs.map((p) => `${p.symbol}/${p.timeframe}`),
      ["BTCUSDT/1d", "BTCUSDT/4h", "BTCUSDT/1h", "BTCUSDT/15m", "BTCUSDT/5m", "ETHUSDT/1d", "ETHUSDT/4h", "ETHUSDT/1h", "ETHUSDT/15m", "ETHUSDT/5m"]
    )
    const fresh = WarmupPlan.plan(
      pairs.map((p) => ({ ...p, held: 60, closed: full(p.timeframe) })),
      NOW
    )
    assert.deepStrictEqual(fresh, { totalPairs: 10, skippedPairs: 10, entries: [] })
    const cold = WarmupPlan.plan(
      pairs.map((p) => ({ ...p, held: 0, closed: [] })),
      NOW
    )
    assert.strictEqual(cold.entries.length, 10)
    assert.isTrue(cold.entries.every((e) => e.reason === "empty"))
  })

  const timeframe = fc.constantFrom(...Timeframe.all)
  const arbitraryHolding = fc
    .record({
      timeframe,
      min: fc.integer({ min: 1, max: 80 }),
      keep: fc.array(fc.boolean(), { minLength: 80, maxLength: 80 }),
      older: fc.nat(5),
      offset: fc.integer({ min: 0, max: 86_400_000 * 3 })
    })
    .map(({ timeframe, min, keep, older, offset }) => {
      const now = NOW + offset
      const { from, to } = WarmupPlan.window(timeframe, now, min)
      const closed = Timeframe.openTimesBetween(timeframe, from, to).filter((_, i) => keep[i] === true)
      return { now, min, holding: holding(timeframe, closed, closed.length + older) }
    })

  it.prop("fetching the scheduled range makes every pair sufficient, and ranges stay inside the window", [arbitraryHolding], ([h]) => {
    const entry = WarmupPlan.entryFor(h.holding, h.now, h.min)
    if (entry === undefined) return
    const { from, to } = WarmupPlan.window(h.holding.timeframe, h.now, h.min)
    assert.isTrue(from <= entry.from && entry.from <= entry.to && entry.to <= to)
    assert.isTrue(Timeframe.isAligned(entry.timeframe, entry.from) && Timeframe.isAligned(entry.timeframe, entry.to))
    // Only the missing range: both ends of it were missing.
    assert.notInclude(h.holding.closed, entry.from)
    assert.notInclude(h.holding.closed, entry.to)
    const fetched = Timeframe.openTimesBetween(entry.timeframe, entry.from, entry.to)
    const after = { ...h.holding, held: h.holding.held + fetched.length, closed: [...new Set([...h.holding.closed, ...fetched])] }
    assert.isUndefined(WarmupPlan.entryFor(after, h.now, h.min))
  })

  it.prop("a pair is skipped exactly when the window is complete", [arbitraryHolding], ([h]) => {
    const { from, to } = WarmupPlan.window(h.holding.timeframe, h.now, h.min)
    const complete = Timeframe.openTimesBetween(h.holding.timeframe, from, to).every((t) => h.holding.closed.includes(t))
    assert.strictEqual(WarmupPlan.entryFor(h.holding, h.now, h.min) === undefined, complete)
  })
})

describe("WarmupPlan stats math", () => {
  it("percentComplete", () => {
    assert.strictEqual(WarmupPlan.percentComplete(0, 0), 100)
    assert.strictEqual(WarmupPlan.percentComplete(0, 4), 0)
    assert.strictEqual(WarmupPlan.percentComplete(1, 3), 33.3)
    assert.strictEqual(WarmupPlan.percentComplete(2, 3), 66.6)
    assert.strictEqual(WarmupPlan.percentComplete(9999, 10000), 99.9)
    assert.strictEqual(WarmupPlan.percentComplete(3, 3), 100)
  })

  it("etaSeconds", () => {
    assert.isNull(WarmupPlan.etaSeconds(5000, 0, 4))
    assert.strictEqual(WarmupPlan.etaSeconds(4000, 2, 4), 4)
    assert.strictEqual(WarmupPlan.etaSeconds(1000, 3, 4), 1)
    assert.strictEqual(WarmupPlan.etaSeconds(1000, 4, 4), 0)
    assert.strictEqual(WarmupPlan.etaSeconds(0, 0, 0), 0)
  })

  it.prop("percent is monotone in done and within 0–100", [fc.nat(1000), fc.nat(1000)], ([a, b]) => {
    const scheduled = Math.max(a, b, 1)
    const lo = Math.min(a, b)
    const hi = Math.max(a, b)
    const p = WarmupPlan.percentComplete(lo, scheduled)
    assert.isTrue(p >= 0 && p <= WarmupPlan.percentComplete(hi, scheduled) && WarmupPlan.percentComplete(hi, scheduled) <= 100)
    assert.strictEqual(WarmupPlan.percentComplete(hi, scheduled) === 100, hi === scheduled)
  })
})

describe("WarmupPlan.fillEmpty", () => {
  const d = Timeframe.durationMs["5m"]
  const t0 = Date.UTC(2024, 0, 10)
  const real = (openTime: number, close: number) =>
    new Candle.Candle({ openTime, open: close, high: close + 1, low: close - 1, close, volume: 3, closed: true, synthetic: false })

  it("fills empty intervals from the previous close, including trailing ones up to `to`", () => {
    const out = WarmupPlan.fillEmpty("5m", { from: t0, to: t0 + 5 * d }, [real(t0 + d, 10), real(t0 + 3 * d, 12)], 9)
    assert.deepStrictEqual(
      out.map((c) => [c.openTime - t0, c.close, c.synthetic]),
      [[0, 9, true], [d, 10, false], [2 * d, 10, true], [3 * d, 12, false], [4 * d, 12, true], [5 * d, 12, true]]
    )
    assert.isTrue(out.every((c) => c.closed))
    assert.strictEqual(out[0]?.volume, 0)
  })

  it("never invents candles before the first real one without a previous close", () => {
    const out = WarmupPlan.fillEmpty("5m", { from: t0, to: t0 + 3 * d }, [real(t0 + 2 * d, 10)], undefined)
    assert.deepStrictEqual(out.map((c) => c.openTime - t0), [2 * d, 3 * d])
    assert.deepStrictEqual(WarmupPlan.fillEmpty("5m", { from: t0, to: t0 + 3 * d }, [], undefined), [])
  })

  it("drops candles outside the range and forming ones", () => {
    const forming = new Candle.Candle({ ...real(t0 + d, 5), closed: false })
    const out = WarmupPlan.fillEmpty("5m", { from: t0, to: t0 + d }, [real(t0 - d, 1), real(t0, 2), forming, real(t0 + 2 * d, 3)], undefined)
    assert.deepStrictEqual(out.map((c) => [c.openTime - t0, c.synthetic]), [[0, false], [d, true]])
  })
})
