/**
 * MACD-V benchmark: incremental updates per second, the cost of recomputing from a window on every close
 * (what a naive implementation does), and the `trading-signals` streaming EMA/ATR chain on the same candles.
 * Prints a table with the ratios measured in this run and writes bench-results/indicators-macdv.json.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { ATR, EMA } from "trading-signals"
import * as MacdV from "../src/MacdV.js"

interface Bar {
  readonly high: number
  readonly low: number
  readonly close: number
  readonly synthetic: boolean
}

/** A deterministic random walk with occasional synthetic stretches (mulberry32, seed fixed). */
const series = (length: number, seed: number): ReadonlyArray<Bar> => {
  let a = seed >>> 0
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const out: Array<Bar> = []
  let close = 30_000
  let quietFor = 0
  for (let i = 0; i < length; i++) {
    if (quietFor === 0 && random() < 0.01) quietFor = 1 + Math.floor(random() * 6)
    if (quietFor > 0) {
      quietFor--
      out.push({ high: close, low: close, close, synthetic: true })
      continue
    }
    const open = close
    close = Math.max(1, open * (1 + (random() - 0.5) * 0.01))
    const high = Math.max(open, close) * (1 + random() * 0.003)
    const low = Math.min(open, close) * (1 - random() * 0.003)
    out.push({ high, low, close, synthetic: false })
  }
  return out
}

interface Figure {
  readonly name: string
  /** Candles processed per second (median of the rounds). */
  readonly perSecond: number
  /** Nanoseconds per candle (median). */
  readonly nsPerCandle: number
}

/** Median over `rounds` timed runs after one warm-up; `run` returns how many candles it processed. */
const measure = (name: string, rounds: number, run: () => number): Figure => {
  run()
  const samples: Array<number> = []
  let sink = 0
  for (let r = 0; r < rounds; r++) {
    const started = process.hrtime.bigint()
    const candles = run()
    const elapsedNs = Number(process.hrtime.bigint() - started)
    samples.push(elapsedNs / candles)
    sink += candles
  }
  if (sink === 0) throw new Error("nothing measured")
  samples.sort((x, y) => x - y)
  const nsPerCandle = samples[Math.floor(samples.length / 2)]!
  return { name, perSecond: 1e9 / nsPerCandle, nsPerCandle }
}

const candles = series(1_000_000, 42)
// Results are folded into this so the engine cannot drop the work as dead code.
let checksum = 0

const incremental = measure("livermore incremental (Accumulator.push)", 7, () => {
  const acc = MacdV.Accumulator.from(MacdV.initial)
  for (const candle of candles) acc.push(candle)
  checksum += Number.isNaN(acc.macdV) ? 0 : acc.macdV
  return candles.length
})

const incrementalWithReading = measure("livermore push + reading", 7, () => {
  const acc = MacdV.Accumulator.from(MacdV.initial)
  for (const candle of candles) {
    const r = acc.push(candle).reading()
    if (r._tag === "Value") checksum += r.histogram ?? 0
  }
  return candles.length
})

const pureStep = measure("livermore pure step (State → State, JSON-ready)", 5, () => {
  let state = MacdV.initial
  for (const candle of candles) state = MacdV.step(state, candle)
  checksum += state.macdV ?? 0
  return candles.length
})

const tradingSignals = measure("trading-signals EMA12/EMA26/ATR26/EMA9 chain", 7, () => {
  const fast = new EMA(MacdV.FAST)
  const slow = new EMA(MacdV.SLOW)
  const atr = new ATR(MacdV.ATR_PERIOD)
  const signal = new EMA(MacdV.SIGNAL)
  for (const candle of candles) {
    const f = fast.update(candle.close, false)
    const s = slow.update(candle.close, false)
    const a = atr.update(candle, false)
    if (slow.isStable && a !== null && a > 0) {
      const m = ((f - s) / a) * 100
      checksum += signal.update(m, false)
    }
  }
  return candles.length
})

/** Recompute the whole window from scratch on every close, as a stateless implementation must. */
const naive = (window: number): Figure => {
  const closes = 20_000
  return measure(`naive recompute, ${window}-candle window`, 5, () => {
    for (let end = window; end < window + closes; end++) {
      const acc = MacdV.Accumulator.from(MacdV.initial)
      for (let i = end - window; i < end; i++) acc.push(candles[i]!)
      checksum += acc.reading()._tag === "Value" ? acc.macdV : 0
    }
    return closes
  })
}
const naive60 = naive(60)
const naive300 = naive(300)

const rows = [incremental, incrementalWithReading, pureStep, tradingSignals, naive60, naive300]
const ratio = (x: Figure) => incremental.perSecond / x.perSecond

const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: n < 100 ? 1 : 0 })
console.log(`MACD-V benchmark — ${candles.length.toLocaleString("en-US")} candles (1% of them start a synthetic stretch), node ${process.version}`)
console.log("")
console.log("| case | candles/s | ns/candle | incremental step is × faster |")
console.log("| --- | ---: | ---: | ---: |")
for (const row of rows) {
  console.log(`| ${row.name} | ${fmt(row.perSecond)} | ${fmt(row.nsPerCandle)} | ${row === incremental ? "—" : `${ratio(row).toFixed(1)}×`} |`)
}
console.log("")
console.log(`ratio to trading-signals (same run): ${ratio(tradingSignals).toFixed(2)}× (goal ≥ 3×)`)
console.log(
  `  with a reading built after every candle: ${(incrementalWithReading.perSecond / tradingSignals.perSecond).toFixed(2)}×`
)
if (!Number.isFinite(checksum)) throw new Error("checksum is not finite")

const out = path.resolve(import.meta.dirname, "../../../bench-results")
mkdirSync(out, { recursive: true })
writeFileSync(
  path.join(out, "indicators-macdv.json"),
  `${JSON.stringify({ at: new Date().toISOString(), node: process.version, rows, ratioToTradingSignals: ratio(tradingSignals) }, null, 2)}\n`
)
