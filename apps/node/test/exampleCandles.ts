/**
 * Deterministic, realistic-looking hourly BTC-USD candles: a seeded random walk through a rally, a sell-off and a
 * quiet stretch, with a two-hour gap filled by synthetic candles. It generates apps/node/examples/btc-usd-1h.csv:
 *
 *   pnpm exec tsx apps/node/test/exampleCandles.ts > apps/node/examples/btc-usd-1h.csv
 */
import { fileURLToPath } from "node:url"

/** One candle as the example file holds it. */
export interface ExampleCandle {
  readonly openTime: number
  readonly open: number
  readonly high: number
  readonly low: number
  readonly close: number
  readonly volume: number
  readonly synthetic: boolean
}

/** mulberry32: a small seeded generator, so the file is the same on every machine. */
const uniform = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const HOUR = 3_600_000
const cents = (x: number): number => Math.round(x * 100) / 100

/** The index of the first of the two synthetic candles. */
export const GAP_AT = 70

/** `count` hourly candles from 2024-03-04T00:00:00Z. */
export const btcUsd1h = (count = 120, seed = 20240304): ReadonlyArray<ExampleCandle> => {
  const next = uniform(seed)
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())
  const start = Date.UTC(2024, 2, 4)
  const candles: Array<ExampleCandle> = []
  let close = 63_000
  for (let i = 0; i < count; i++) {
    const openTime = start + i * HOUR
    if (i === GAP_AT || i === GAP_AT + 1) {
      candles.push({ openTime, open: close, high: close, low: close, close, volume: 0, synthetic: true })
      continue
    }
    const drift = i < 45 ? 0.0025 : i < 85 ? -0.003 : 0
    const open = close
    close = cents(open * Math.exp(drift + 0.006 * normal()))
    // Rounding the wicks after the body keeps low ≤ min(open, close) and high ≥ max(open, close).
    const high = cents(Math.max(open, close) + Math.abs(normal()) * open * 0.003)
    const low = cents(Math.min(open, close) - Math.abs(normal()) * open * 0.003)
    const volume = Math.round((300 + 900 * next()) * 10_000) / 10_000
    candles.push({ openTime, open, high, low, close, volume, synthetic: false })
  }
  return candles
}

/** The CSV text of `candles`: the canonical header plus `synthetic`, numbers as `String` writes them. */
export const toCsv = (candles: ReadonlyArray<ExampleCandle>): string =>
  "openTime,open,high,low,close,volume,synthetic\n" +
  candles
    .map((c) => `${c.openTime},${c.open},${c.high},${c.low},${c.close},${c.volume},${c.synthetic ? 1 : 0}\n`)
    .join("")

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(toCsv(btcUsd1h()))
