import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc, Schema } from "effect"
import * as MacdV from "../src/MacdV.js"
import * as Stage from "../src/Stage.js"
import * as Reference from "./reference.js"

type Bar = Reference.Bar

// The reference follows domain.md's literal forms (seed sums left to right, α·x + (1 − α)·EMA, (ATR·25 + TR)/26),
// so today it usually agrees to the last bit. The comparison still allows 1e-9 relative (absolute below 1) so that
// it pins the formulas, not one order of floating-point operations: e + α·(x − e) is the same EMA and differs in
// the last bits.
const TOLERANCE = 1e-9

const near = (actual: number | null | undefined, expected: number | undefined, what: string): void => {
  if (expected === undefined) {
    assert.isTrue(actual === null || actual === undefined, `${what}: expected no value, got ${actual}`)
    return
  }
  if (typeof actual !== "number") {
    assert.fail(`${what}: expected ${expected}, got ${actual}`)
  }
  assert.isAtMost(
    Math.abs(actual - expected),
    TOLERANCE * Math.max(1, Math.abs(actual), Math.abs(expected)),
    `${what}: ${actual} vs ${expected}`
  )
}

/** The state and the reading after every bar, stepping one candle at a time. */
const trace = (bars: ReadonlyArray<Bar>) => {
  const states: Array<MacdV.State> = []
  let state = MacdV.initial
  for (const bar of bars) {
    state = MacdV.step(state, bar)
    states.push(state)
  }
  return { states, readings: states.map(MacdV.reading) }
}

/** The first bar at which each quantity is defined, in the implementation. */
const seedingBars = (bars: ReadonlyArray<Bar>) => {
  const { states, readings } = trace(bars)
  return {
    ema12: states.findIndex((s) => s.fastEma !== null),
    ema26: states.findIndex((s) => s.slowEma !== null),
    atr: states.findIndex((s) => s.atr !== null),
    value: readings.findIndex((r) => r._tag === "Value"),
    signal: readings.findIndex((r) => r._tag === "Value" && r.signal !== undefined)
  }
}

/** The same, in the reference. */
const referenceSeedingBars = (bars: ReadonlyArray<Bar>) => {
  const ref = Reference.compute(bars)
  const first = (xs: ReadonlyArray<number | undefined>) => xs.findIndex((x) => x !== undefined)
  return {
    ema12: first(ref.ema12),
    ema26: first(ref.ema26),
    atr: first(ref.atr),
    value: first(ref.macdV),
    signal: first(ref.signal)
  }
}

/** Every quantity at every bar, implementation against reference. */
const assertMatchesReference = (bars: ReadonlyArray<Bar>): void => {
  const ref = Reference.compute(bars)
  const { states, readings } = trace(bars)
  assert.deepStrictEqual(MacdV.batch(bars), readings)
  for (let t = 0; t < bars.length; t++) {
    const state = states[t]!
    const reading = readings[t]!
    near(state.fastEma, ref.ema12[t], `EMA12 at bar ${t}`)
    near(state.slowEma, ref.ema26[t], `EMA26 at bar ${t}`)
    near(state.atr, ref.atr[t], `ATR at bar ${t}`)
    near(state.macdV, ref.macdV[t], `MACD-V at bar ${t}`)
    assert.deepStrictEqual(
      reading.validity,
      { seeded: ref.atr[t] !== undefined, nEff: ref.nEff[t]!, spanBars: ref.spanBars[t]!, bars: t + 1 },
      `validity at bar ${t}`
    )
    const m = ref.macdV[t]
    if (m === undefined) {
      assert.deepStrictEqual(
        reading,
        {
          _tag: "NoValue",
          reason: ref.atr[t] === undefined ? "Low trading activity" : "No price movement",
          validity: reading.validity
        },
        `reading at bar ${t}`
      )
      continue
    }
    if (reading._tag !== "Value") {
      assert.fail(`bar ${t}: expected a value, got ${reading.reason}`)
    }
    near(reading.macdV, m, `reading at bar ${t}`)
    near(reading.signal, ref.signal[t], `signal at bar ${t}`)
    near(reading.histogram, ref.histogram[t], `histogram at bar ${t}`)
    assert.strictEqual(reading.stage, ref.stage[t], `stage at bar ${t}`)
  }
}

const macdVOf = (reading: MacdV.Reading): number | undefined => (reading._tag === "Value" ? reading.macdV : undefined)

const observed = (high: number, low: number, close: number): Bar => ({ high, low, close, synthetic: false })
const flat = (price: number): Bar => ({ high: price, low: price, close: price, synthetic: false })
const gapFill = (price: number): Bar => ({ high: price, low: price, close: price, synthetic: true })
const repeat = <A>(n: number, a: A): Array<A> => Array.from({ length: n }, () => a)

describe("MACD-V seeding bars", () => {
  const walk = Reference.series(1, 100, [{ kind: "walk", bars: 200 }])

  it("with no synthetic candles: EMA12 from bar 11, EMA26, ATR and MACD-V from bar 25, the signal from bar 33", () => {
    const expected = { ema12: 11, ema26: 25, atr: 25, value: 25, signal: 33 }
    assert.deepStrictEqual(seedingBars(walk), expected)
    assert.deepStrictEqual(referenceSeedingBars(walk), expected)

    const { states, readings } = trace(walk)
    // Once defined, always defined on a series that keeps moving.
    assert.isTrue(states.slice(11).every((s) => s.fastEma !== null))
    assert.isTrue(states.slice(25).every((s) => s.slowEma !== null && s.atr !== null))
    assert.isTrue(readings.slice(33).every((r) => r._tag === "Value" && r.signal !== undefined && r.stage !== undefined))
    // Before the signal: a value without signal, histogram or stage.
    for (const r of readings.slice(25, 33)) {
      assert.deepInclude(r, { _tag: "Value", signal: undefined, histogram: undefined, stage: undefined })
    }
    // Before ATR: "Low trading activity", not seeded, every candle counted.
    readings.slice(0, 25).forEach((r, t) => {
      assert.deepStrictEqual(r, {
        _tag: "NoValue",
        reason: "Low trading activity",
        validity: { seeded: false, nEff: t + 1, spanBars: t + 1, bars: t + 1 }
      })
    })
    assert.deepStrictEqual(readings[25]!.validity, { seeded: true, nEff: 26, spanBars: 26, bars: 26 })
  })

  it("k synthetic candles before ATR seeds delay ATR, the value and the signal by k bars, not the EMAs", () => {
    // Synthetic at bars 3, 10 and 11 (k = 3).
    const bars = Reference.series(2, 100, [
      { kind: "walk", bars: 3 },
      { kind: "synthetic", bars: 1 },
      { kind: "walk", bars: 6 },
      { kind: "synthetic", bars: 2 },
      { kind: "walk", bars: 60 }
    ])
    assert.deepStrictEqual(
      bars.flatMap((b, t) => (b.synthetic ? [t] : [])),
      [3, 10, 11]
    )
    const expected = { ema12: 11, ema26: 25, atr: 28, value: 28, signal: 36 }
    assert.deepStrictEqual(seedingBars(bars), expected)
    assert.deepStrictEqual(referenceSeedingBars(bars), expected)

    const { readings } = trace(bars)
    assert.deepStrictEqual(readings[27], {
      _tag: "NoValue",
      reason: "Low trading activity",
      validity: { seeded: false, nEff: 25, spanBars: 28, bars: 28 }
    })
    assert.deepStrictEqual(readings[28]!.validity, { seeded: true, nEff: 26, spanBars: 29, bars: 29 })
    assertMatchesReference(bars)
  })

  it("an ATR of 0 (26 flat observed candles) gives 'No price movement' from bar 25 until prices move at bar 30", () => {
    const bars = [...repeat(30, flat(50)), ...Reference.series(3, 50, [{ kind: "walk", bars: 80 }])]
    const expected = { ema12: 11, ema26: 25, atr: 25, value: 30, signal: 38 }
    assert.deepStrictEqual(seedingBars(bars), expected)
    assert.deepStrictEqual(referenceSeedingBars(bars), expected)

    const { states, readings } = trace(bars)
    for (let t = 25; t < 30; t++) {
      assert.strictEqual(states[t]!.atr, 0)
      assert.deepStrictEqual(readings[t], {
        _tag: "NoValue",
        reason: "No price movement",
        validity: { seeded: true, nEff: t + 1, spanBars: t + 1, bars: t + 1 }
      })
    }
    assert.deepInclude(readings[24], { _tag: "NoValue", reason: "Low trading activity" })
    const first = readings[30]!
    assert.isTrue(first._tag === "Value" && Number.isFinite(first.macdV) && first.signal === undefined)
    assertMatchesReference(bars)
  })
})

describe("MACD-V by hand", () => {
  it("TR[0] is high − low, later bars take the gap from the previous close, synthetic candles carry ATR", () => {
    const bars = [
      observed(11, 9, 10), // TR 2: no previous close
      observed(15, 14, 14.5), // TR max(1, |15 − 10|, |14 − 10|) = 5
      observed(12, 11, 11.5), // TR max(1, |12 − 14.5|, |11 − 14.5|) = 3.5
      ...repeat(23, flat(11.5)), // TR 0, bars 3..25
      observed(12.5, 11.9, 12), // bar 26: TR max(0.6, 1, 0.4) = 1
      gapFill(12), // bar 27: no TR
      observed(12.1, 11.9, 12) // bar 28: TR 0.2
    ]
    const { states } = trace(bars)
    assert.strictEqual(states[24]!.atr, null)
    const atr25 = 10.5 / 26
    const atr26 = (atr25 * 25 + 1) / 26
    near(states[25]!.atr, atr25, "ATR at bar 25")
    near(states[26]!.atr, atr26, "ATR at bar 26")
    assert.strictEqual(states[27]!.atr, states[26]!.atr)
    near(states[28]!.atr, (atr26 * 25 + 0.2) / 26, "ATR at bar 28")
    assert.deepStrictEqual(MacdV.validity(states[28]!), { seeded: true, nEff: 28, spanBars: 29, bars: 29 })
    assertMatchesReference(bars)
  })

  it("a first candle that is synthetic has no TR, and the next candle's TR uses its close", () => {
    const bars = [gapFill(10), observed(13, 12, 12.5), ...repeat(25, flat(12.5))]
    const { states } = trace(bars)
    assert.strictEqual(states[25]!.atr, null)
    // TR at bar 1 is max(1, |13 − 10|, |12 − 10|) = 3, not its own range 1.
    near(states[26]!.atr, 3 / 26, "ATR at bar 26")
    assert.deepStrictEqual(MacdV.validity(states[0]!), { seeded: false, nEff: 0, spanBars: 0, bars: 1 })
    assert.deepStrictEqual(MacdV.validity(states[26]!), { seeded: true, nEff: 26, spanBars: 26, bars: 27 })
    assertMatchesReference(bars)
  })

  it("EMAs seed with the SMA at index n − 1: closes 1, 2, 3, … give EMA12 6.5 at bar 11 and 7.5 at bar 12", () => {
    const bars = Array.from({ length: 40 }, (_, t) => observed(t + 1.5, t + 0.5, t + 1))
    const { states } = trace(bars)
    assert.strictEqual(states[10]!.fastEma, null)
    near(states[11]!.fastEma, 6.5, "EMA12 at bar 11")
    near(states[12]!.fastEma, 7.5, "EMA12 at bar 12")
    assert.strictEqual(states[24]!.slowEma, null)
    near(states[25]!.slowEma, 13.5, "EMA26 at bar 25")
    near(states[26]!.slowEma, 14.5, "EMA26 at bar 26")
  })

  it("a steady trend of +1 a bar keeps EMA12 − EMA26 at 7 (lags 5.5 and 12.5), so MACD-V = 700 / ATR", () => {
    // Wicks of ±0.5: TR[0] = 1, then max(1, 1.5, 0.5) = 1.5, so ATR(26) = (1 + 25·1.5) / 26 at bar 25, → 1.5.
    const bars = Array.from({ length: 300 }, (_, t) => observed(t + 1.5, t + 0.5, t + 1))
    const { readings } = trace(bars)
    const at = (t: number) => macdVOf(readings[t]!) ?? Number.NaN
    near(at(25), (7 / (38.5 / 26)) * 100, "MACD-V at bar 25")
    near(at(26), (7 / ((38.5 / 26) * (25 / 26) + 1.5 / 26)) * 100, "MACD-V at bar 26")
    // Closed form: ATR(t) = 1.5 + (38.5/26 − 1.5)·(25/26)^(t − 25).
    for (const t of [40, 100, 299]) near(at(t), 700 / (1.5 + (38.5 / 26 - 1.5) * (25 / 26) ** (t - 25)), `MACD-V at bar ${t}`)
    assertMatchesReference(bars)
  })
})

describe("MACD-V against the reference", () => {
  it("a random walk with an early synthetic candle and a long synthetic run: ATR and counters carry through", () => {
    const bars = Reference.series(4, 100, [
      { kind: "walk", bars: 3 },
      { kind: "synthetic", bars: 1 }, // bar 3
      { kind: "walk", bars: 6 },
      { kind: "synthetic", bars: 2 }, // bars 10, 11
      { kind: "walk", bars: 60 }, // bars 12..71
      { kind: "synthetic", bars: 40 }, // bars 72..111
      { kind: "walk", bars: 60 } // bars 112..171
    ])
    assertMatchesReference(bars)

    const { states, readings } = trace(bars)
    const before = states[71]!
    for (let t = 72; t <= 111; t++) {
      assert.strictEqual(states[t]!.atr, before.atr, `ATR carried at bar ${t}`)
      assert.deepStrictEqual(MacdV.validity(states[t]!), { seeded: true, nEff: 69, spanBars: 72, bars: t + 1 })
      assert.strictEqual(readings[t]!._tag, "Value", `value through the gap at bar ${t}`)
    }
    // The EMAs keep moving through the gap (synthetic closes count for them).
    assert.notStrictEqual(states[111]!.slowEma, states[72]!.slowEma)
    assert.deepStrictEqual(MacdV.validity(states[112]!), { seeded: true, nEff: 70, spanBars: 113, bars: 113 })
  })

  it("a flat stretch lets ATR decay by 25/26 a bar while values stay defined, then prices move again", () => {
    const bars = Reference.series(5, 100, [
      { kind: "walk", bars: 80 },
      { kind: "flat", bars: 150 }, // bars 80..229
      { kind: "walk", bars: 80 }
    ])
    assertMatchesReference(bars)
    const { states, readings } = trace(bars)
    for (let t = 81; t < 230; t++) {
      near(states[t]!.atr, (states[t - 1]!.atr ?? Number.NaN) * (25 / 26), `ATR decay at bar ${t}`)
      assert.strictEqual(readings[t]!._tag, "Value")
    }
  })

  it("random walks of several seeds, volatilities and gaps match bar for bar", () => {
    for (const seed of [11, 12, 13, 14, 15]) {
      const bars = Reference.series(seed, 10 ** (seed - 13), [
        { kind: "walk", bars: 30, volatility: 0.02 },
        { kind: "synthetic", bars: seed },
        { kind: "trend", bars: 40, drift: 0.01 },
        { kind: "walk", bars: 20, volatility: 0.001 },
        { kind: "synthetic", bars: 3 * seed },
        { kind: "trend", bars: 60, drift: -0.008 },
        { kind: "walk", bars: 60 }
      ])
      assertMatchesReference(bars)
    }
  })
})

describe("MACD-V in a long flat market", () => {
  // Floating-point EMAs of a constant close settle a few ulps apart, while ATR keeps decaying: without a floor on
  // ATR the value grows without bound (|value| > 150 after ~700 flat bars, Infinity after ~19,000, which the
  // state Schema then refuses to encode).
  const bars = Reference.series(3, 100, [
    { kind: "walk", bars: 100 },
    { kind: "flat", bars: 20_000 }
  ])
  const readings = MacdV.batch(bars)

  it("follows the reference at first, then the value decays towards 0 and never turns into noise", () => {
    const ref = Reference.compute(bars)
    for (let t = 100; t < 300; t++) near(macdVOf(readings[t]!), ref.macdV[t], `bar ${t}`)
    readings.slice(300).forEach((r, i) => {
      if (r._tag === "Value") assert.isBelow(Math.abs(r.macdV), 1, `bar ${300 + i}`)
      else assert.strictEqual(r.reason, "No price movement", `bar ${300 + i}`)
    })
  })

  it("ends with 'No price movement' once ATR is negligible next to the price (domain.md §2: ATR = 0)", () => {
    assert.deepStrictEqual(readings[readings.length - 1], {
      _tag: "NoValue",
      reason: "No price movement",
      validity: { seeded: true, nEff: 20_100, spanBars: 20_100, bars: 20_100 }
    })
    // Nothing unbounded reached the state either: it still encodes (its Schema refuses non-finite numbers).
    assert.doesNotThrow(() => Schema.encodeSync(MacdV.State)(MacdV.fold(bars)))
    // …and recovers as soon as prices move again.
    const after = MacdV.batch(
      [observed(101, 99.5, 100.5), observed(101, 100, 100.8)],
      MacdV.fold(bars)
    )
    assert.isTrue(after.every((r) => r._tag === "Value" && Number.isFinite(r.macdV)))
  })

  it("bars without a value end a ranging streak: it counts again from the next value", () => {
    // Ranging before the flat stretch ran out of values; then candles with wide wicks and an unchanged close
    // bring ATR back while the value stays near 0.
    const last = bars[bars.length - 1]!.close
    const wicks = repeat(25, observed(last * 1.01, last * 0.99, last))
    const resumed = MacdV.batch(wicks, MacdV.fold(bars))
    const stages = resumed.map((r) => (r._tag === "Value" && Math.abs(r.macdV) < 50 ? r.stage : "out of range"))
    assert.isFalse(stages.slice(0, 19).includes("ranging"), stages.join())
    assert.deepStrictEqual(stages.slice(19), repeat(6, "ranging"))
  })
})

describe("Stages", () => {
  it("are reached in the order of domain.md §2, first match wins", () => {
    const cases: ReadonlyArray<readonly [m: number, s: number, rangeBound: number, stage: Stage.Stage]> = [
      [-160, -200, 0, "oversold"], // m > s, still oversold
      [-160, -100, 0, "oversold"],
      [-150.0001, 0, 0, "oversold"],
      [160, 100, 0, "overbought"],
      [160, 170, 0, "retracing"], // m > 150 but m ≤ s
      [160, 160, 0, "retracing"],
      [40, 30, 20, "ranging"], // ranging beats rebounding after 20 bars…
      [40, 30, 19, "rebounding"], // …not after 19
      [-40, -30, 20, "ranging"], // and beats retracing
      [-40, -30, 19, "retracing"],
      [-49.99, -100, 35, "ranging"],
      [100, 90, 0, "rallying"],
      [150, 140, 0, "rallying"], // 150 is still rallying, not overbought
      [50, 40, 0, "rebounding"], // 50 is not above 50
      [100, 110, 0, "retracing"],
      [-100, -110, 0, "rebounding"],
      [-150, -160, 0, "rebounding"],
      [-50, -40, 0, "retracing"], // m ≥ −50
      [-50.0001, -40, 0, "reversing"],
      [-100, -90, 0, "reversing"],
      [-100, -100, 0, "reversing"],
      [-150, -140, 0, "reversing"]
    ]
    for (const [m, s, n, stage] of cases) {
      assert.strictEqual(Stage.classify(m, s, n), stage, `m = ${m}, s = ${s}, ${n} bars in range`)
      assert.strictEqual(Reference.stageOf(m, s, n), stage, `reference: m = ${m}, s = ${s}`)
    }
    assert.strictEqual(Stage.RANGING_BARS, 20)
    assert.deepStrictEqual(new Set(cases.map(([, , , stage]) => stage)), new Set(Stage.Stage.literals))
  })

  const edgy = fc.oneof(
    fc.constantFrom(-200, -150, -149.99, -50, -49.99, 0, 49.99, 50, 50.01, 150, 150.01, 200),
    fc.double({ min: -400, max: 400, noNaN: true })
  )
  it.prop(
    "classify agrees with the table of domain.md §2 on consistent inputs",
    [edgy, edgy, fc.integer({ min: 1, max: 40 })],
    ([m, s, streak]) => {
      // A bar outside ±50 ends any streak, so its count is 0; inside, the count includes the bar.
      const n = Stage.isRangeBound(m) ? streak : 0
      assert.strictEqual(Stage.classify(m, s, n), Reference.stageOf(m, s, n))
    }
  )

  it("all seven stages come out of the indicator itself on a scripted market", () => {
    const bars = Reference.series(7, 100, [
      { kind: "walk", bars: 60, volatility: 0.003 },
      { kind: "flat", bars: 40 },
      { kind: "walk", bars: 30, volatility: 0.002 },
      { kind: "trend", bars: 30, drift: 0.004 },
      { kind: "trend", bars: 20, drift: -0.004 },
      { kind: "trend", bars: 40, drift: -0.006 },
      { kind: "trend", bars: 30, drift: 0.005 },
      { kind: "walk", bars: 60, volatility: 0.004 }
    ])
    const seen = new Set(MacdV.batch(bars).flatMap((r) => (r._tag === "Value" && r.stage !== undefined ? [r.stage] : [])))
    assert.deepStrictEqual(seen, new Set(Stage.Stage.literals))
    assertMatchesReference(bars)
  })
})
