import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc, Schema } from "effect"
import * as AlertRules from "../src/AlertRules.js"
import type * as MacdV from "../src/MacdV.js"

const MINUTE = 60_000
const T0 = Date.UTC(2026, 0, 5, 12)

const validity = (bars: number): MacdV.Validity => ({ seeded: true, nEff: bars, spanBars: bars, bars })

/** A reading with value `macdV`; the signal is set so that the histogram is `histogram` (none by default). */
const value = (macdV: number, options: { readonly histogram?: number; readonly bars?: number } = {}): MacdV.Reading => ({
  _tag: "Value",
  macdV,
  signal: options.histogram === undefined ? undefined : macdV - options.histogram,
  histogram: options.histogram,
  stage: undefined,
  validity: validity(options.bars ?? 100)
})

const noValue = (bars = 100): MacdV.Reading => ({ _tag: "NoValue", reason: "No price movement", validity: validity(bars) })

interface Candle {
  readonly reading: MacdV.Reading
  /** Close time (ms). */
  readonly at: number
}

const input = ({ reading, at }: Candle, i: number): AlertRules.Input => ({
  reading,
  candleOpenTime: at - 5 * MINUTE,
  closeTime: at,
  price: 1000 + i
})

/** The labels fired on each candle, and the final state. */
const run = (candles: ReadonlyArray<Candle>, from: AlertRules.State = AlertRules.initial) => {
  let state = from
  const fired = candles.map((candle, i) => {
    const result = AlertRules.evaluate(state, input(candle, i))
    state = result.state
    return result.fired.map((f) => f.label as string)
  })
  return { state, fired }
}

/** Candles five minutes apart, starting at T0. */
const every5m = (readings: ReadonlyArray<MacdV.Reading>): Array<Candle> =>
  readings.map((reading, i) => ({ reading, at: T0 + i * 5 * MINUTE }))

/** The labels fired by one candle after a remembered value `previous`. */
const cross = (previous: number, reading: MacdV.Reading): ReadonlyArray<string> => run(every5m([value(previous), reading])).fired[1]!

describe("level crossings", () => {
  it("falling from −140 to −260 in one candle fires level_-150, level_-200, level_-250, in that order", () => {
    const [first, second] = every5m([value(-140), value(-260)])
    const before = AlertRules.evaluate(AlertRules.initial, input(first!, 0))
    assert.deepStrictEqual(before.fired, [])
    const after = AlertRules.evaluate(before.state, input(second!, 1))
    assert.deepStrictEqual(
      after.fired.map((f) => ({ ...f })),
      ["level_-150", "level_-200", "level_-250"].map((label) => ({
        label,
        kind: "level",
        value: -260,
        price: 1001,
        candleOpenTime: second!.at - 5 * MINUTE
      }))
    )
  })

  it("rising from 140 to 260 fires level_+150, level_+200, level_+250, in that order", () => {
    assert.deepStrictEqual(cross(140, value(260)), ["level_+150", "level_+200", "level_+250"])
  })

  it("counts a level from previous ≥ L to current < L (and ≤ / > upwards), exactly at the boundaries", () => {
    assert.deepStrictEqual(cross(-150, value(-150.5)), ["level_-150"]) // previous exactly at the level
    assert.deepStrictEqual(cross(-149, value(-150)), []) // current exactly at the level: not below it
    assert.deepStrictEqual(cross(-150, value(-150)), [])
    assert.deepStrictEqual(cross(-200, value(-250)), ["level_-200"])
    assert.deepStrictEqual(cross(-149.999, value(-150.001)), ["level_-150"])
    assert.deepStrictEqual(cross(150, value(150.5)), ["level_+150"])
    assert.deepStrictEqual(cross(149, value(150)), [])
    assert.deepStrictEqual(cross(200, value(250)), ["level_+200"])
    // Levels repeat every 50 without bound.
    assert.deepStrictEqual(cross(-1000, value(-1101)), ["level_-1000", "level_-1050", "level_-1100"])
    assert.deepStrictEqual(cross(1000, value(1101)), ["level_+1000", "level_+1050", "level_+1100"])
  })

  it("a swing through zero fires only the levels on the side it reaches, in the direction of travel", () => {
    assert.deepStrictEqual(cross(320, value(-210)), ["level_-150", "level_-200"])
    assert.deepStrictEqual(cross(-320, value(210)), ["level_+150", "level_+200"])
    // Moving back towards zero crosses nothing.
    assert.deepStrictEqual(cross(-260, value(-140)), [])
    assert.deepStrictEqual(cross(260, value(140)), [])
  })

  it("the same level fires again only 5 minutes of candle time after it last fired", () => {
    const candles: Array<Candle> = [
      { reading: value(-140), at: T0 },
      { reading: value(-160), at: T0 + MINUTE }, // fires at T0 + 1m
      { reading: value(-140), at: T0 + 2 * MINUTE },
      { reading: value(-160), at: T0 + 6 * MINUTE - 1 }, // 4m59.999s later: cooling down
      { reading: value(-140), at: T0 + 6 * MINUTE - 1 },
      { reading: value(-160), at: T0 + 6 * MINUTE }, // exactly 5 minutes after it fired (not after it was held back)
      { reading: value(-140), at: T0 + 7 * MINUTE },
      { reading: value(-210), at: T0 + 8 * MINUTE } // -150 cooling, -200 is another label
    ]
    assert.deepStrictEqual(run(candles).fired, [[], ["level_-150"], [], [], [], ["level_-150"], [], ["level_-200"]])
  })

  it("bullish levels have the same cooldown", () => {
    const candles: Array<Candle> = [
      { reading: value(140), at: T0 },
      { reading: value(160), at: T0 + 5 * MINUTE },
      { reading: value(140), at: T0 + 6 * MINUTE },
      { reading: value(160), at: T0 + 10 * MINUTE - 1 },
      { reading: value(140), at: T0 + 10 * MINUTE - 1 },
      { reading: value(160), at: T0 + 10 * MINUTE }
    ]
    assert.deepStrictEqual(run(candles).fired, [[], ["level_+150"], [], [], [], ["level_+150"]])
  })

  it.prop(
    "a path that stays within ±150 fires nothing, whatever the histogram (mid-range −50..50 included)",
    [
      fc.array(
        fc.record({
          m: fc.oneof(fc.double({ min: -150, max: 150, noNaN: true }), fc.constantFrom(-150, -50, 0, 50, 150)),
          h: fc.option(fc.double({ min: -500, max: 500, noNaN: true }), { nil: undefined })
        }),
        { maxLength: 60 }
      )
    ],
    ([path]) => {
      const readings = path.map(({ m, h }) => (h === undefined ? value(m) : value(m, { histogram: h })))
      assert.isTrue(run(every5m(readings)).fired.every((labels) => labels.length === 0))
    }
  )
})

describe("reversals", () => {
  // Each case: the value was already there on the previous candle, so no level is crossed.
  const reversal = (m: number, histogram: number) => cross(m, value(m, { histogram }))

  it("from oversold: m < −150 and histogram > 5% of |m|", () => {
    assert.deepStrictEqual(reversal(-200, 10.001), ["reversal_oversold"])
    assert.deepStrictEqual(reversal(-200, 200 * 0.05), []) // exactly 5%: not above it
    assert.deepStrictEqual(reversal(-200, 8), []) // 4%
    assert.deepStrictEqual(reversal(-200, -50), [])
    assert.deepStrictEqual(reversal(-150, 100), []) // −150 is not below −150
    assert.deepStrictEqual(reversal(-150.01, 100), ["reversal_oversold"])
  })

  it("from overbought: m > 150 and histogram < −3% of |m|", () => {
    assert.deepStrictEqual(reversal(200, -6.001), ["reversal_overbought"])
    assert.deepStrictEqual(reversal(200, -(200 * 0.03)), []) // exactly 3%
    assert.deepStrictEqual(reversal(200, -5), [])
    assert.deepStrictEqual(reversal(200, 50), [])
    assert.deepStrictEqual(reversal(150, -100), [])
    assert.deepStrictEqual(reversal(150.01, -100), ["reversal_overbought"])
  })

  it("the buffers are asymmetric: a histogram of 4% of |m| fires from overbought but not from oversold", () => {
    assert.deepStrictEqual(reversal(200, -8), ["reversal_overbought"])
    assert.deepStrictEqual(reversal(-200, 8), [])
  })

  it("no histogram (signal not yet defined), no reversal", () => {
    assert.deepStrictEqual(cross(-300, value(-300)), [])
    assert.deepStrictEqual(cross(300, value(300)), [])
  })

  it("reversals of either kind are at least 5 minutes of candle time apart; levels are not held back by them", () => {
    const candles: Array<Candle> = [
      { reading: value(-200), at: T0 },
      { reading: value(-200, { histogram: 20 }), at: T0 + MINUTE }, // fires
      { reading: value(-200, { histogram: 20 }), at: T0 + 3 * MINUTE },
      { reading: value(200, { histogram: -20 }), at: T0 + 6 * MINUTE - 1 }, // the other kind, still too soon
      { reading: value(200, { histogram: -20 }), at: T0 + 6 * MINUTE }, // exactly 5 minutes after the last one
      { reading: value(-160, { histogram: 20 }), at: T0 + 7 * MINUTE } // levels fire, the reversal waits
    ]
    assert.deepStrictEqual(run(candles).fired, [
      [],
      ["reversal_oversold"],
      [],
      ["level_+150"],
      ["reversal_overbought"],
      ["level_-150"]
    ])
  })

  it("a crossing candle that also turns can fire levels and a reversal together", () => {
    assert.deepStrictEqual(cross(-140, value(-210, { histogram: 15 })), ["level_-150", "level_-200", "reversal_oversold"])
  })
})

describe("trust, memory and state", () => {
  it("nothing fires before 60 candles, but the first trusted candle compares with the value remembered before it", () => {
    const { fired, state } = run(
      every5m([
        value(-100, { bars: 57 }),
        value(-300, { bars: 58, histogram: 100 }), // would cross −150…−250 and turn: not yet trusted
        value(-140, { bars: 59 }),
        value(-160, { bars: 60 }) // trusted: crosses −150 from the remembered −140
      ])
    )
    assert.deepStrictEqual(fired, [[], [], [], ["level_-150"]])
    assert.deepStrictEqual(Object.keys(state.levelFiredAt), ["level_-150"])
    assert.isNull(state.reversalFiredAt)
  })

  it("an untrusted candle leaves no cooldown behind", () => {
    const { fired } = run(
      every5m([
        value(-140, { bars: 58 }),
        value(-160, { bars: 59 }), // not fired, so not cooling down either
        value(-140, { bars: 60 }),
        value(-160, { bars: 61 })
      ])
    )
    assert.deepStrictEqual(fired, [[], [], [], ["level_-150"]])
  })

  it("bars without a value neither fire nor reset the remembered value", () => {
    const first = run(every5m([value(-140)]))
    const afterGap = run(every5m([noValue(), noValue(30)]), first.state)
    assert.deepStrictEqual(afterGap.state, first.state)
    assert.deepStrictEqual(run(every5m([value(-140), noValue(), noValue(), value(-160)])).fired, [[], [], [], ["level_-150"]])
  })

  it("a fresh rule state remembers its first value: no crossing from nothing, but a reversal needs no previous value", () => {
    assert.deepStrictEqual(run(every5m([value(-300)])).fired, [[]])
    assert.deepStrictEqual(run(every5m([value(-300, { histogram: 30 })])).fired, [["reversal_oversold"]])
  })

  it("the rule state round-trips through its Schema and JSON, and evaluation resumes identically", () => {
    const encode = Schema.encodeSync(AlertRules.State)
    const decode = Schema.decodeUnknownSync(AlertRules.State)
    const head = every5m([value(-140), value(-260, { histogram: 30 }), value(155)])
    const tail = every5m([value(-160), value(-210), value(250, { histogram: -20 })]).map((c) => ({ ...c, at: c.at + 20 * MINUTE }))
    const { state } = run(head)
    assert.isAbove(Object.keys(state.levelFiredAt).length, 0)
    assert.isNotNull(state.reversalFiredAt)
    const restored = decode(JSON.parse(JSON.stringify(encode(state))))
    assert.deepStrictEqual(restored, state)
    assert.deepStrictEqual(run(tail, restored), run(tail, state))
    assert.throws(() => decode({ ...encode(state), lastValue: Number.NaN }))
  })

  it("levelFiredAt keeps only labels still cooling down", () => {
    const { state, fired } = run([
      { reading: value(-140), at: T0 },
      { reading: value(-1000), at: T0 + MINUTE }
    ])
    assert.strictEqual(fired[1]!.length, 17) // −150 … −950
    assert.strictEqual(Object.keys(state.levelFiredAt).length, 17)
    const soon = run([{ reading: value(-990), at: T0 + 6 * MINUTE - 1 }], state).state
    assert.strictEqual(Object.keys(soon.levelFiredAt).length, 17)
    const later = run([{ reading: value(-990), at: T0 + 6 * MINUTE }], state).state
    assert.deepStrictEqual(later.levelFiredAt, {})
  })
})

describe("rules against a model of domain.md §3", () => {
  const LEVEL_COOLDOWN = 5 * MINUTE
  const REVERSAL_COOLDOWN = 5 * MINUTE

  /** A direct transcription of §3: which labels fire on each candle, and which labels are still cooling down. */
  const model = (candles: ReadonlyArray<Candle>) => {
    let last: number | undefined
    const levelAt = new Map<string, number>()
    let reversalAt: number | undefined
    return candles.map(({ reading, at }) => {
      const fired: Array<string> = []
      if (reading._tag === "Value") {
        const m = reading.macdV
        if (reading.validity.bars >= 60) {
          const fire = (label: string) => {
            const then = levelAt.get(label)
            if (then === undefined || at - then >= LEVEL_COOLDOWN) {
              fired.push(label)
              levelAt.set(label, at)
            }
          }
          if (last !== undefined) {
            for (let level = -150; level >= Math.min(last, m) - 50; level -= 50) if (last >= level && m < level) fire(`level_${level}`)
            for (let level = 150; level <= Math.max(last, m) + 50; level += 50) if (last <= level && m > level) fire(`level_+${level}`)
          }
          const h = reading.histogram
          if (h !== undefined && (reversalAt === undefined || at - reversalAt >= REVERSAL_COOLDOWN)) {
            const label =
              m < -150 && h > Math.abs(m) * 0.05
                ? "reversal_oversold"
                : m > 150 && h < -(Math.abs(m) * 0.03)
                  ? "reversal_overbought"
                  : undefined
            if (label !== undefined) {
              fired.push(label)
              reversalAt = at
            }
          }
        }
        last = m
      }
      const cooling = [...levelAt].filter(([, then]) => at - then < LEVEL_COOLDOWN).map(([label]) => label)
      return { fired, cooling }
    })
  }

  const candles = fc
    .tuple(
      // Bars behind the first candle: from well before trust to already trusted (then nothing is remembered yet).
      fc.integer({ min: 40, max: 70 }),
      fc.array(
        fc.record({
          m: fc.option(
            fc.oneof(
              fc.integer({ min: -12, max: 12 }).map((k) => k * 50),
              fc.double({ min: -650, max: 650, noNaN: true }),
              fc.double({ min: -160, max: 160, noNaN: true })
            ),
            { nil: undefined, freq: 8 }
          ),
          h: fc.option(fc.double({ min: -60, max: 60, noNaN: true }), { nil: undefined }),
          gap: fc.constantFrom(1, 2, 3, 4, 5, 5, 5, 10).map((minutes) => minutes * MINUTE)
        }),
        { maxLength: 120 }
      )
    )
    .map(([firstBars, path]) => {
      let at = T0
      return path.map(({ m, h, gap }, i): Candle => {
        at += gap
        const bars = firstBars + i
        const reading =
          m === undefined ? noValue(bars) : h === undefined ? value(m, { bars }) : value(m, { bars, histogram: h })
        return { reading, at }
      })
    })

  it.prop("evaluate fires exactly what the model fires, and keeps exactly the labels still cooling down", [candles], ([path]) => {
    const expected = model(path)
    let state = AlertRules.initial
    path.forEach((candle, i) => {
      const result = AlertRules.evaluate(state, input(candle, i))
      state = result.state
      assert.deepStrictEqual(
        result.fired.map((f) => f.label as string),
        expected[i]!.fired,
        `candle ${i}`
      )
      if (candle.reading._tag === "Value" && candle.reading.validity.bars >= 60) {
        assert.deepStrictEqual(Object.keys(state.levelFiredAt).sort(), [...expected[i]!.cooling].sort(), `cooling at candle ${i}`)
      }
    })
  })
})
