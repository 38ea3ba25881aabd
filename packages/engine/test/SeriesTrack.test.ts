import { assert, describe, it } from "@effect/vitest"
import { Candle, Exchange, Market, Timeframe } from "@livermore/domain"
import { AlertRules, MacdV } from "@livermore/indicators"
import * as IndicatorRecord from "../src/IndicatorRecord.js"
import { SeriesTrack } from "../src/SeriesTrack.js"

const FIVE = Timeframe.durationMs["5m"]
const T0 = Date.UTC(2024, 0, 10)
const GRACE = 30_000
const series = { exchangeId: Exchange.ExchangeId.make(1), symbol: Market.SymbolId.make("BTCUSDT"), timeframe: "5m" as const }

/** A falling-then-rising path, so levels and reversals fire somewhere in it. */
const priceAt = (i: number): number => (i < 80 ? 100 + Math.sin(i / 5) : i < 110 ? 100 - (i - 80) * 1.5 : 55 + (i - 110) * 2)

const candle = (i: number): Candle.Candle => {
  const close = priceAt(i)
  const open = i === 0 ? close : priceAt(i - 1)
  return new Candle.Candle({
    openTime: T0 + i * FIVE,
    open,
    high: Math.max(open, close) + 0.2,
    low: Math.min(open, close) - 0.2,
    close,
    volume: 1,
    closed: true,
    synthetic: false
  })
}
const candles = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => candle(from + k))
/** "Now" just after candle i closed. */
const justAfter = (i: number) => T0 + (i + 1) * FIVE + 1_000

/** Every alert the rules give over candles [0, n), with the index of the candle. */
const expectedAlerts = (n: number) => {
  let state = AlertRules.initial
  const acc = new MacdV.Accumulator()
  const out: Array<{ i: number; label: string; value: number }> = []
  for (let i = 0; i < n; i++) {
    const c = candle(i)
    acc.push(c)
    const result = AlertRules.evaluate(state, { reading: acc.reading(), candleOpenTime: c.openTime, closeTime: c.openTime + FIVE, price: c.close })
    state = result.state
    for (const fired of result.fired) out.push({ i, label: fired.label, value: fired.value })
  }
  return out
}

describe("SeriesTrack.classify", () => {
  it("applies the next candle, drops a replay, holds what follows a hole", () => {
    const track = new SeriesTrack(series)
    assert.strictEqual(track.classify(candle(0)), "next")
    track.apply(candle(0), justAfter(0), GRACE, true)
    assert.strictEqual(track.classify(candle(0)), "duplicate")
    assert.strictEqual(track.classify(candle(1)), "next")
    track.apply(candle(1), justAfter(1), GRACE, true)
    assert.strictEqual(track.classify(candle(4)), "gap")
    assert.deepStrictEqual(track.missing(), { from: candle(2).openTime, to: candle(3).openTime })
    track.repairing = true
    assert.strictEqual(track.classify(candle(5)), "held")
    assert.deepStrictEqual([...track.pending.keys()], [candle(4).openTime, candle(5).openTime])
    // Nothing is ready until the hole is filled; then the held candles follow in order.
    assert.deepStrictEqual(track.ready(), [])
    track.apply(candle(2), justAfter(5), GRACE, true)
    track.apply(candle(3), justAfter(5), GRACE, true)
    assert.deepStrictEqual(
      track.ready().map((c) => c.openTime),
      [candle(4).openTime, candle(5).openTime]
    )
  })

  it("reports the range up to a target when nothing is held, and none when already there", () => {
    const track = new SeriesTrack(series)
    assert.isUndefined(track.missing(candle(5).openTime), "no history: nothing to repair from")
    track.apply(candle(0), justAfter(0), GRACE, true)
    assert.deepStrictEqual(track.missing(candle(3).openTime), { from: candle(1).openTime, to: candle(3).openTime })
    assert.isUndefined(track.missing(candle(0).openTime))
  })
})

describe("SeriesTrack.apply", () => {
  it("gives the indicators package's numbers and alerts, candle by candle", () => {
    const track = new SeriesTrack(series)
    const fired: Array<{ i: number; label: string; value: number }> = []
    for (let i = 0; i < 140; i++) {
      for (const f of track.apply(candle(i), justAfter(i), GRACE, true)) fired.push({ i, label: f.label, value: f.value })
    }
    assert.deepStrictEqual(track.accumulator.state(), MacdV.fold(candles(0, 140)))
    const expected = expectedAlerts(140)
    assert.isAbove(expected.length, 1, "the path must fire something, or this test proves nothing")
    assert.deepStrictEqual(fired, expected)
  })

  it("fires nothing for candles too old to be news, but advances the rules exactly the same", () => {
    const live = new SeriesTrack(series)
    const late = new SeriesTrack(series)
    let lateFired = 0
    for (let i = 0; i < 140; i++) {
      live.apply(candle(i), justAfter(i), GRACE, true)
      lateFired += late.apply(candle(i), justAfter(i) + 2 * FIVE, GRACE, true).length
    }
    assert.strictEqual(lateFired, 0)
    assert.deepStrictEqual(late.alerts, live.alerts)
  })

  it("counts a candle fresh up to 2 × timeframe + grace after it opened, and a series stale beyond", () => {
    const track = new SeriesTrack(series)
    const open = candle(0).openTime
    assert.isTrue(track.isFresh(open, open + 2 * FIVE + GRACE, GRACE))
    assert.isFalse(track.isFresh(open, open + 2 * FIVE + GRACE + 1, GRACE))
    assert.isFalse(track.isStale(open + 10 * FIVE, GRACE), "no history is not stale")
    track.apply(candle(0), justAfter(0), GRACE, true)
    assert.isFalse(track.isStale(open + 2 * FIVE + GRACE, GRACE))
    assert.isTrue(track.isStale(open + 2 * FIVE + GRACE + 1, GRACE))
  })
})

describe("SeriesTrack.prime", () => {
  const recordAfter = (n: number) => {
    const track = new SeriesTrack(series)
    for (let i = 0; i < n; i++) track.apply(candle(i), justAfter(i), GRACE, true)
    return IndicatorRecord.make({
      series,
      accumulator: track.accumulator,
      alerts: track.alerts,
      lastOpenTime: track.lastOpenTime,
      stale: false,
      now: justAfter(n - 1)
    })
  }

  it("recomputes from the newest contiguous run of the cache when nothing is stored, firing nothing", () => {
    const track = new SeriesTrack(series)
    const cached = [...candles(0, 10), ...candles(20, 120)]
    const { primed, fired } = track.prime(undefined, cached, justAfter(119), GRACE)
    assert.deepStrictEqual(primed, { _tag: "Recomputed", applied: 100 })
    assert.deepStrictEqual(fired, [])
    assert.deepStrictEqual(track.accumulator.state(), MacdV.fold(candles(20, 120)))
    assert.strictEqual(track.lastOpenTime, candle(119).openTime)
  })

  it("resumes a stored state and applies the cached candles after it, firing the fresh ones", () => {
    const track = new SeriesTrack(series)
    const { primed, fired } = track.prime(recordAfter(100), candles(0, 140), justAfter(139), GRACE)
    assert.deepStrictEqual(primed, { _tag: "Resumed", applied: 40 })
    assert.deepStrictEqual(track.accumulator.state(), MacdV.fold(candles(0, 140)))
    const fresh = expectedAlerts(140).filter((a) => a.i >= 100 && justAfter(139) - candle(a.i).openTime <= 2 * FIVE + GRACE)
    assert.deepStrictEqual(
      fired.map((f) => f.label),
      fresh.map((a) => a.label)
    )
  })

  it("holds the candles beyond a hole after the stored state for repair", () => {
    const track = new SeriesTrack(series)
    const cached = [...candles(0, 105), ...candles(108, 112)]
    const { primed } = track.prime(recordAfter(100), cached, justAfter(111), GRACE)
    assert.deepStrictEqual(primed, { _tag: "Resumed", applied: 5 })
    assert.deepStrictEqual(track.missing(), { from: candle(105).openTime, to: candle(107).openTime })
    assert.strictEqual(track.pending.size, 4)
  })

  it("recomputes when the cache no longer reaches back to the stored state", () => {
    const track = new SeriesTrack(series)
    const { primed } = track.prime(recordAfter(50), candles(60, 130), justAfter(129), GRACE)
    assert.deepStrictEqual(primed, { _tag: "Recomputed", applied: 70 })
    assert.deepStrictEqual(track.accumulator.state(), MacdV.fold(candles(60, 130)))
  })

  it("forgets a repair interrupted with the previous stream", () => {
    const track = new SeriesTrack(series)
    track.apply(candle(0), justAfter(0), GRACE, true)
    track.classify(candle(3))
    track.repairing = true
    track.prime(recordAfter(1), candles(0, 1), justAfter(3), GRACE)
    assert.isFalse(track.repairing)
    assert.strictEqual(track.pending.size, 0)
  })
})
