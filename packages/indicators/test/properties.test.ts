import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc, Schema } from "effect"
import * as MacdV from "../src/MacdV.js"
import * as Reference from "./reference.js"

type Bar = Reference.Bar

interface Move {
  /** Relative change of the close. */
  readonly move: number
  /** Relative wicks above and below the body. */
  readonly up: number
  readonly down: number
}

type Piece =
  | { readonly kind: "walk"; readonly steps: ReadonlyArray<Move> }
  | { readonly kind: "synthetic"; readonly bars: number }
  | { readonly kind: "flat"; readonly bars: number }

const build = (start: number, pieces: ReadonlyArray<Piece>): Array<Bar> => {
  const out: Array<Bar> = []
  let close = start
  for (const piece of pieces) {
    if (piece.kind === "walk") {
      for (const { move, up, down } of piece.steps) {
        const next = close * (1 + move)
        out.push({ high: Math.max(close, next) * (1 + up), low: Math.min(close, next) * (1 - down), close: next, synthetic: false })
        close = next
      }
    } else {
      for (let i = 0; i < piece.bars; i++) out.push({ high: close, low: close, close, synthetic: piece.kind === "synthetic" })
    }
  }
  return out
}

const pieces = (move: fc.Arbitrary<number>, wick: fc.Arbitrary<number>, maxRun: number) =>
  fc.array(
    fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant("walk" as const),
          steps: fc.array(fc.record({ move, up: wick, down: wick }), { minLength: 1, maxLength: 80 })
        })
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("synthetic" as const), bars: fc.integer({ min: 1, max: maxRun }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("flat" as const), bars: fc.integer({ min: 1, max: maxRun }) }) }
    ),
    { minLength: 1, maxLength: 8 }
  )

const start = fc.double({ min: 1e-6, max: 1e6, noNaN: true })

/** Random series with synthetic and flat stretches; moves may be arbitrarily small. */
const series = fc
  .tuple(
    start,
    pieces(fc.double({ min: -0.05, max: 0.05, noNaN: true }), fc.double({ min: 0, max: 0.03, noNaN: true }), 60)
  )
  .map(([from, ps]) => build(from, ps))

const encode = Schema.encodeSync(MacdV.State)
const decode = Schema.decodeUnknownSync(MacdV.State)
const throughJson = (state: MacdV.State): MacdV.State => decode(JSON.parse(JSON.stringify(encode(state))))

const numbersOf = (reading: MacdV.Reading): Array<number | undefined> => [
  ...(reading._tag === "Value" ? [reading.macdV, reading.signal, reading.histogram] : []),
  reading.validity.nEff,
  reading.validity.spanBars,
  reading.validity.bars
]

describe("MACD-V properties", () => {
  it.prop("batch = step one candle at a time = step with the state through JSON after every candle", [series], ([bars]) => {
    const batched = MacdV.batch(bars)
    const stepped: Array<MacdV.Reading> = []
    const resumed: Array<MacdV.Reading> = []
    const accumulated: Array<MacdV.Reading> = []
    let state = MacdV.initial
    let saved = MacdV.initial
    const acc = new MacdV.Accumulator()
    for (const bar of bars) {
      // Frozen: stepping must not write to the state it was given.
      state = MacdV.step(Object.freeze(state), bar)
      stepped.push(MacdV.reading(state))
      saved = throughJson(MacdV.step(saved, bar))
      resumed.push(MacdV.reading(saved))
      accumulated.push(acc.push(bar).reading())
    }
    assert.deepStrictEqual(stepped, batched)
    assert.deepStrictEqual(resumed, batched)
    assert.deepStrictEqual(accumulated, batched)
    assert.deepStrictEqual(saved, state)
    assert.deepStrictEqual(MacdV.fold(bars), state)
    assert.deepStrictEqual(acc.state(), state)
  })

  it.prop("the state round-trips through its Schema and JSON losslessly", [series], ([bars]) => {
    let state = MacdV.initial
    for (const bar of bars) {
      state = MacdV.step(state, bar)
      assert.deepStrictEqual(decode(encode(state)), state)
      assert.deepStrictEqual(throughJson(state), state)
    }
  })

  it("the state Schema refuses what JSON cannot carry or a state cannot hold", () => {
    const state = encode(MacdV.fold(Reference.series(1, 100, [{ kind: "walk", bars: 40 }])))
    assert.throws(() => decode({ ...state, atr: Number.POSITIVE_INFINITY }))
    assert.throws(() => decode({ ...state, macdV: Number.NaN }))
    assert.throws(() => decode({ ...state, bars: -1 }))
    assert.throws(() => decode({ ...state, observed: 2.5 }))
    assert.doesNotThrow(() => decode(state))
  })

  it.prop("no reading holds NaN or ±Infinity, even after very long flat stretches", [series, fc.integer({ min: 0, max: 2000 })], ([bars, flatBars]) => {
    const last = bars.at(-1)?.close ?? 1
    const all = [...bars, ...Array.from({ length: flatBars }, () => ({ high: last, low: last, close: last, synthetic: false }))]
    let state = MacdV.initial
    for (const [t, reading] of MacdV.batch(all).entries()) {
      for (const x of numbersOf(reading)) if (x !== undefined) assert.isTrue(Number.isFinite(x), `bar ${t}: ${x}`)
      state = MacdV.step(state, all[t]!)
    }
    // A state that cannot be encoded could not be saved.
    assert.doesNotThrow(() => encode(state))
  })

  it.prop(
    "after 400 flat observed bars the value has decayed below 1 or there is none (no rounding noise blown up)",
    [series, fc.integer({ min: 400, max: 1500 })],
    ([bars, flatBars]) => {
      const last = bars.at(-1)?.close ?? 1
      const all = [...bars, ...Array.from({ length: flatBars }, () => ({ high: last, low: last, close: last, synthetic: false }))]
      MacdV.batch(all)
        .slice(bars.length + 400)
        .forEach((r, i) => {
          if (r._tag === "Value") assert.isBelow(Math.abs(r.macdV), 1, `flat bar ${400 + i}`)
          else assert.strictEqual(r.reason, "No price movement")
        })
    }
  )

  it.prop(
    "resuming from a state saved at any bar gives the same readings as one uninterrupted run",
    [series, fc.nat()],
    ([bars, at]) => {
      const split = at % (bars.length + 1)
      const whole = MacdV.batch(bars)
      const saved = throughJson(MacdV.fold(bars.slice(0, split)))
      assert.deepStrictEqual(MacdV.batch(bars.slice(split), saved), whole.slice(split))
      // The same candle on the same state always gives the same next state.
      const bar = bars[split] ?? bars[0]!
      assert.deepStrictEqual(MacdV.step(saved, bar), MacdV.step(throughJson(saved), bar))
    }
  )

  // Moves quantised to 1e-4 (like a price tick), and flat runs short enough that ATR stays far above the
  // resolution floor, so the plain formulas of the reference apply on every bar.
  const ticked = fc
    .tuple(
      start,
      pieces(
        fc.integer({ min: -500, max: 500 }).map((k) => k / 10_000),
        fc.integer({ min: 0, max: 300 }).map((k) => k / 10_000),
        25
      )
    )
    .map(([from, ps]) => build(from, ps))

  it.prop("random series agree with the reference on every bar", [ticked], ([bars]) => {
    const ref = Reference.compute(bars)
    const rel = (a: number | null | undefined, b: number | undefined, floor: number, what: string): void => {
      if (b === undefined) {
        assert.isTrue(a === null || a === undefined, `${what}: ${a}`)
        return
      }
      if (typeof a !== "number") {
        assert.fail(`${what}: expected ${b}, got ${a}`)
      }
      assert.isAtMost(Math.abs(a - b), 1e-9 * Math.max(floor, Math.abs(a), Math.abs(b)), `${what}: ${a} vs ${b}`)
    }
    let state = MacdV.initial
    bars.forEach((bar, t) => {
      state = MacdV.step(state, bar)
      rel(state.fastEma, ref.ema12[t], 0, `EMA12 at ${t}`)
      rel(state.slowEma, ref.ema26[t], 0, `EMA26 at ${t}`)
      rel(state.atr, ref.atr[t], 0, `ATR at ${t}`)
      const reading = MacdV.reading(state)
      assert.deepStrictEqual(reading.validity, {
        seeded: ref.atr[t] !== undefined,
        nEff: ref.nEff[t]!,
        spanBars: ref.spanBars[t]!,
        bars: t + 1
      })
      if (reading._tag === "NoValue") {
        assert.strictEqual(ref.macdV[t], undefined, `value at ${t}`)
        assert.strictEqual(reading.reason, ref.atr[t] === undefined ? "Low trading activity" : "No price movement")
        return
      }
      rel(reading.macdV, ref.macdV[t], 1, `MACD-V at ${t}`)
      rel(reading.signal, ref.signal[t], 1, `signal at ${t}`)
      rel(reading.histogram, ref.histogram[t], 1, `histogram at ${t}`)
      assert.strictEqual(reading.stage, ref.stage[t], `stage at ${t}`)
    })
  })
})
