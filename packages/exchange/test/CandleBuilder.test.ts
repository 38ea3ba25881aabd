import { assert, describe, it } from "@effect/vitest"
import { Candle, Timeframe } from "@livermore/domain"
import { FastCheck as fc, Schema } from "effect"
import * as CandleBuilder from "../src/CandleBuilder.js"

const M5 = Timeframe.durationMs["5m"]
const H1 = Timeframe.durationMs["1h"]
const DAY = Timeframe.durationMs["1d"]
/** 2024-03-01 00:00 UTC. */
const T0 = Date.UTC(2024, 2, 1)

/** A closed candle at `openTime` whose prices are derived from `i`, so every part is distinguishable. */
const bar = (openTime: number, i: number, synthetic = false): Candle.Candle =>
  synthetic
    ? Candle.synthetic(openTime, 100 + i)
    : new Candle.Candle({
        openTime,
        open: 100 + i,
        high: 102 + i + (i % 3),
        low: 99 + i - (i % 2),
        close: 100.5 + i,
        volume: 1 + (i % 4),
        closed: true,
        synthetic: false
      })

/** `n` consecutive base candles from `from`. */
const series = (from: number, n: number, interval = M5) => Array.from({ length: n }, (_, i) => bar(from + i * interval, i))

const feed = (state: CandleBuilder.State, candles: ReadonlyArray<Candle.Candle>) => {
  const outputs: Array<CandleBuilder.Output> = []
  let current = state
  for (const candle of candles) {
    const [next, out] = CandleBuilder.step(current, candle)
    current = next
    outputs.push(...out)
  }
  return { state: current, outputs }
}

const built = (outputs: ReadonlyArray<CandleBuilder.Output>, timeframe: Timeframe.Timeframe) =>
  outputs.flatMap((o) => (o._tag === "Built" && o.timeframe === timeframe ? [o.candle] : []))

const incomplete = (outputs: ReadonlyArray<CandleBuilder.Output>, timeframe?: Timeframe.Timeframe) =>
  outputs.flatMap((o) =>
    o._tag === "Incomplete" && (timeframe === undefined || o.timeframe === timeframe)
      ? [{ openTime: o.openTime, missing: o.missing }]
      : []
  )

const live = () => CandleBuilder.initial("5m", ["15m", "1h", "4h", "1d"])

describe("CandleBuilder.step (5m → 15m, 1h, 4h, 1d)", () => {
  it("a full day of 5m candles builds 96 × 15m, 24 × 1h, 6 × 4h and 1 × 1d, with OHLCV of their parts", () => {
    const day = series(T0, 288)
    const { outputs, state } = feed(live(), day)
    assert.strictEqual(built(outputs, "15m").length, 96)
    assert.strictEqual(built(outputs, "1h").length, 24)
    assert.strictEqual(built(outputs, "4h").length, 6)
    assert.strictEqual(built(outputs, "1d").length, 1)
    assert.deepStrictEqual(incomplete(outputs), [])
    assert.deepStrictEqual(state.buckets, {})

    const hour = built(outputs, "1h")[1]!
    const parts = day.slice(12, 24)
    assert.strictEqual(hour.openTime, T0 + H1)
    assert.strictEqual(hour.open, parts[0]!.open)
    assert.strictEqual(hour.close, parts[11]!.close)
    assert.strictEqual(hour.high, Math.max(...parts.map((c) => c.high)))
    assert.strictEqual(hour.low, Math.min(...parts.map((c) => c.low)))
    assert.strictEqual(hour.volume, parts.reduce((v, c) => v + c.volume, 0))
    assert.isTrue(hour.closed)
    assert.isFalse(hour.synthetic)
  })

  it("emits a bucket exactly when its last base candle arrives, smallest timeframe first", () => {
    const day = series(T0, 288)
    const { state } = feed(live(), day.slice(0, 2))
    const [afterThird, atQuarter] = CandleBuilder.step(state, day[2]!)
    assert.deepStrictEqual(
      atQuarter.map((o) => o._tag === "Built" && [o.timeframe, o.candle.openTime]),
      [["15m", T0]]
    )
    const { state: beforeMidnight } = feed(afterThird, day.slice(3, 287))
    const [, atMidnight] = CandleBuilder.step(beforeMidnight, day[287]!)
    assert.deepStrictEqual(
      atMidnight.map((o) => o._tag === "Built" && o.timeframe),
      ["15m", "1h", "4h", "1d"]
    )
  })

  it("a missing base candle makes every bucket containing it Incomplete (never Built), naming what is missing", () => {
    const hole = T0 + 10 * H1 + M5 // 10:05
    const day = series(T0, 288).filter((c) => c.openTime !== hole)
    const { outputs } = feed(live(), day)
    assert.deepStrictEqual(incomplete(outputs), [
      { openTime: T0 + 10 * H1, missing: [hole] }, // 15m 10:00, reported at 10:10
      { openTime: T0 + 10 * H1, missing: [hole] }, // 1h 10:00
      { openTime: T0 + 8 * H1, missing: [hole] }, // 4h 08:00
      { openTime: T0, missing: [hole] } // 1d
    ])
    assert.strictEqual(built(outputs, "15m").length, 95)
    assert.strictEqual(built(outputs, "1h").length, 23)
    assert.isFalse(built(outputs, "1h").some((c) => c.openTime === T0 + 10 * H1))
    assert.strictEqual(built(outputs, "4h").length, 5)
    assert.strictEqual(built(outputs, "1d").length, 0)
  })

  it("a bucket whose closing candle never came is reported when the next bucket starts", () => {
    const candles = series(T0, 6).filter((c) => c.openTime !== T0 + 2 * M5) // 00:10 missing
    const { outputs, state } = feed(CandleBuilder.initial("5m", ["15m"]), candles)
    assert.deepStrictEqual(incomplete(outputs), [{ openTime: T0, missing: [T0 + 2 * M5] }])
    assert.deepStrictEqual(
      built(outputs, "15m").map((c) => c.openTime),
      [T0 + 15 * 60_000]
    )
    assert.deepStrictEqual(state.buckets, {})
  })

  it("buckets skipped entirely by a jump are reported too", () => {
    const before = bar(T0, 0)
    const after = bar(T0 + 45 * 60_000, 1) // 00:45: 00:05 … 00:40 never came
    const { outputs } = feed(CandleBuilder.initial("5m", ["15m"]), [before, after])
    assert.deepStrictEqual(incomplete(outputs), [
      { openTime: T0, missing: [T0 + M5, T0 + 2 * M5] },
      { openTime: T0 + 15 * 60_000, missing: [T0 + 3 * M5, T0 + 4 * M5, T0 + 5 * M5] },
      { openTime: T0 + 30 * 60_000, missing: [T0 + 6 * M5, T0 + 7 * M5, T0 + 8 * M5] }
    ])
  })

  it("starting mid-bucket: the first bucket lacks its leading candles and is reported, not built", () => {
    const { outputs } = feed(CandleBuilder.initial("5m", ["15m"]), series(T0 + M5, 5))
    assert.deepStrictEqual(incomplete(outputs), [{ openTime: T0, missing: [T0] }])
    assert.deepStrictEqual(
      built(outputs, "15m").map((c) => c.openTime),
      [T0 + 3 * M5]
    )
  })

  it("synthetic parts count as present; the result is synthetic only if every part is", () => {
    const allSynthetic = [0, 1, 2].map((i) => bar(T0 + i * M5, 0, true))
    const mixed = [bar(T0 + 3 * M5, 1), bar(T0 + 4 * M5, 1, true), bar(T0 + 5 * M5, 1, true)]
    const { outputs } = feed(CandleBuilder.initial("5m", ["15m"]), [...allSynthetic, ...mixed])
    const [first, second] = built(outputs, "15m")
    assert.isTrue(first?.synthetic)
    assert.strictEqual(first?.volume, 0)
    assert.isFalse(second?.synthetic)
    assert.strictEqual(second?.open, mixed[0]!.open)
    assert.strictEqual(second?.close, 101)
  })

  it("skips forming, unaligned and out-of-order candles without changing the state", () => {
    const { state } = feed(live(), series(T0, 2))
    const forming = new Candle.Candle({ ...bar(T0 + 2 * M5, 2), closed: false })
    const unaligned = bar(T0 + 2 * M5 + 1, 2)
    const duplicate = bar(T0 + M5, 9)
    for (const [candle, reason] of [
      [forming, "not-closed"],
      [unaligned, "not-aligned"],
      [duplicate, "out-of-order"]
    ] as const) {
      const [next, outputs] = CandleBuilder.step(state, candle)
      assert.strictEqual(next, state)
      assert.deepStrictEqual(
        outputs.map((o) => o._tag === "Skipped" && o.reason),
        [reason]
      )
    }
  })

  it("the state round-trips through its Schema as JSON mid-bucket and carries on identically", () => {
    const day = series(T0, 288)
    const { state } = feed(live(), day.slice(0, 100))
    const json = JSON.stringify(Schema.encodeSync(CandleBuilder.State)(state))
    const restored = Schema.decodeUnknownSync(CandleBuilder.State)(JSON.parse(json))
    assert.deepStrictEqual(feed(restored, day.slice(100)).outputs, feed(state, day.slice(100)).outputs)
  })

  it("initial rejects targets that are not whole multiples of the base", () => {
    assert.throws(() => CandleBuilder.initial("1h", ["15m"]), /15m cannot be built from whole 1h/)
    assert.throws(() => CandleBuilder.initial("5m", ["5m"]))
    assert.deepStrictEqual(CandleBuilder.initial("1h", ["1d", "4h"]).targets, ["4h", "1d"])
  })
})

describe("CandleBuilder.aggregate (history)", () => {
  it("builds 4h from 1h over a range, in any input order, the later duplicate winning", () => {
    const hours = series(T0, 24, H1)
    const repaired = new Candle.Candle({ ...hours[5]!, high: 500, close: 400 })
    const result = CandleBuilder.aggregate([...hours].reverse().concat([repaired]), T0, T0 + DAY - 1, {
      base: "1h",
      target: "4h"
    })
    assert.strictEqual(result.candles.length, 6)
    assert.deepStrictEqual(result.incomplete, [])
    const second = result.candles[1]!
    assert.strictEqual(second.openTime, T0 + 4 * H1)
    assert.strictEqual(second.open, hours[4]!.open)
    assert.strictEqual(second.high, 500)
    assert.strictEqual(second.close, hours[7]!.close)
  })

  it("a bucket with any missing or forming base candle is reported, including one with no candles at all", () => {
    const hours = series(T0, 12, H1).filter((c) => c.openTime !== T0 + 6 * H1)
    const forming = new Candle.Candle({ ...bar(T0 + 2 * H1, 2), closed: false })
    const result = CandleBuilder.aggregate(
      hours.map((c) => (c.openTime === forming.openTime ? forming : c)),
      T0,
      T0 + 15 * H1,
      { base: "1h", target: "4h" }
    )
    assert.deepStrictEqual(
      result.candles.map((c) => c.openTime),
      [T0 + 8 * H1]
    )
    assert.deepStrictEqual(
      result.incomplete.map((i) => [i.openTime, i.missing]),
      [
        [T0, [T0 + 2 * H1]],
        [T0 + 4 * H1, [T0 + 6 * H1]],
        [T0 + 12 * H1, [T0 + 12 * H1, T0 + 13 * H1, T0 + 14 * H1, T0 + 15 * H1]]
      ]
    )
  })

  it("rounds unaligned bounds inwards", () => {
    const result = CandleBuilder.aggregate(series(T0, 48, H1), T0 + 1, T0 + DAY + 1, { base: "1h", target: "4h" })
    assert.strictEqual(result.candles[0]?.openTime, T0 + 4 * H1)
    assert.strictEqual(result.candles.at(-1)?.openTime, T0 + DAY)
  })

  // Random 5m series with holes and synthetic stretches.
  const gappy = fc.array(fc.record({ present: fc.boolean(), synthetic: fc.boolean() }), {
    minLength: 1,
    maxLength: 700
  })

  it.prop("batch = incremental: same Built candles and same Incomplete buckets", [gappy], ([slots]) => {
    const candles = slots.flatMap((slot, i) =>
      slot.present || i === 0 ? [bar(T0 + i * M5, i, slot.synthetic && i > 0)] : []
    )
    const last = candles.at(-1)!.openTime
    const { outputs } = feed(live(), candles)
    for (const target of ["15m", "1h", "4h", "1d"] as const) {
      // Up to the last bucket the incremental builder has finished (the one containing `last` may still be open).
      const closesAtLast = Timeframe.closingAt(last + M5).includes(target)
      const to = closesAtLast ? last : Timeframe.floor(target, last) - 1
      const batch = CandleBuilder.aggregate(candles, T0, to, { base: "5m", target })
      assert.deepStrictEqual(built(outputs, target), batch.candles, target)
      assert.deepStrictEqual(
        incomplete(outputs, target),
        batch.incomplete.map((i) => ({ openTime: i.openTime, missing: i.missing })),
        target
      )
    }
  })
})
