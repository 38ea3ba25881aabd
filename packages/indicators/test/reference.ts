/**
 * An independent reference for MACD-V, written straight from the formulas of domain.md §2 as whole-array
 * computations (one array per quantity, one entry per bar). It shares no code with `src/` and is meant to be
 * read against the domain contract line by line; the tests use it as the oracle for golden series.
 */

/** One closed candle as the indicator sees it. */
export interface Bar {
  readonly high: number
  readonly low: number
  readonly close: number
  readonly synthetic: boolean
}

/** The seven stages of domain.md §2. */
export type RefStage = "oversold" | "overbought" | "ranging" | "rallying" | "rebounding" | "retracing" | "reversing"

/** Every quantity of the indicator at every bar; `undefined` where the quantity is not defined at that bar. */
export interface Reference {
  /** True range; undefined for synthetic candles (they have none). */
  readonly tr: ReadonlyArray<number | undefined>
  readonly ema12: ReadonlyArray<number | undefined>
  readonly ema26: ReadonlyArray<number | undefined>
  /** Informative ATR(26): carried through synthetic candles once seeded. */
  readonly atr: ReadonlyArray<number | undefined>
  readonly macdV: ReadonlyArray<number | undefined>
  /** Signal at the bars that have a value (undefined at bars without one). */
  readonly signal: ReadonlyArray<number | undefined>
  readonly histogram: ReadonlyArray<number | undefined>
  /** Consecutive bars up to this one whose value is strictly inside ±50. */
  readonly rangeBound: ReadonlyArray<number>
  readonly stage: ReadonlyArray<RefStage | undefined>
  /** Observed (non-synthetic) candles up to and including this bar. */
  readonly nEff: ReadonlyArray<number>
  /** Bars from the first to the latest observed candle, both included; 0 before any. */
  readonly spanBars: ReadonlyArray<number>
}

const mean = (xs: ReadonlyArray<number>): number => xs.reduce((sum, x) => sum + x, 0) / xs.length

/** EMA(n) of `xs`: the simple average of the first n at index n − 1, then α·x + (1 − α)·EMA with α = 2/(n+1). */
export const ema = (xs: ReadonlyArray<number>, n: number): Array<number | undefined> => {
  const out: Array<number | undefined> = xs.map(() => undefined)
  if (xs.length < n) return out
  const alpha = 2 / (n + 1)
  let value = mean(xs.slice(0, n))
  out[n - 1] = value
  for (let t = n; t < xs.length; t++) {
    value = alpha * xs[t]! + (1 - alpha) * value
    out[t] = value
  }
  return out
}

/** TR[0] = high − low; afterwards max(high − low, |high − prevClose|, |low − prevClose|); none for synthetic. */
export const trueRanges = (bars: ReadonlyArray<Bar>): Array<number | undefined> =>
  bars.map((bar, t) => {
    if (bar.synthetic) return undefined
    if (t === 0) return bar.high - bar.low
    const prevClose = bars[t - 1]!.close
    return Math.max(bar.high - bar.low, Math.abs(bar.high - prevClose), Math.abs(bar.low - prevClose))
  })

/** Informative ATR(n): seeded with the mean of the first n observed TRs, Wilder-smoothed on observed bars only. */
export const informativeAtr = (tr: ReadonlyArray<number | undefined>, n: number): Array<number | undefined> => {
  const out: Array<number | undefined> = []
  const seen: Array<number> = []
  let atr: number | undefined
  for (const range of tr) {
    if (range !== undefined) {
      seen.push(range)
      if (atr !== undefined) atr = (atr * (n - 1) + range) / n
      else if (seen.length === n) atr = mean(seen)
    }
    out.push(atr)
  }
  return out
}

/** The stage by the table of domain.md §2, conditions written out in full, first match wins. */
export const stageOf = (m: number, s: number, rangeBound: number): RefStage => {
  if (m < -150) return "oversold"
  if (m > 150 && m > s) return "overbought"
  if (-50 < m && m < 50 && rangeBound >= 20) return "ranging"
  if (50 < m && m <= 150 && m > s) return "rallying"
  if (m > s) return "rebounding"
  if (m >= -50 && m <= s) return "retracing"
  if (-150 <= m && m < -50 && m <= s) return "reversing"
  throw new Error(`no stage covers m = ${m}, s = ${s}`)
}

/** Every quantity of MACD-V over `bars`. */
export const compute = (bars: ReadonlyArray<Bar>): Reference => {
  const closes = bars.map((bar) => bar.close)
  const ema12 = ema(closes, 12)
  const ema26 = ema(closes, 26)
  const tr = trueRanges(bars)
  const atr = informativeAtr(tr, 26)

  const macdV = bars.map((_, t) => {
    const fast = ema12[t]
    const slow = ema26[t]
    const range = atr[t]
    if (fast === undefined || slow === undefined || range === undefined || !(range > 0)) return undefined
    return ((fast - slow) / range) * 100
  })

  // The signal is an EMA(9) of the defined values only: compute it on the compacted list, then put it back.
  const definedAt = macdV.flatMap((m, t) => (m === undefined ? [] : [t]))
  const compactSignal = ema(
    definedAt.map((t) => macdV[t]!),
    9
  )
  const signal: Array<number | undefined> = bars.map(() => undefined)
  definedAt.forEach((t, k) => {
    signal[t] = compactSignal[k]
  })
  const histogram = bars.map((_, t) => {
    const m = macdV[t]
    const s = signal[t]
    return m === undefined || s === undefined ? undefined : m - s
  })

  const rangeBound: Array<number> = []
  macdV.forEach((m, t) => {
    rangeBound.push(m !== undefined && m > -50 && m < 50 ? (t === 0 ? 0 : rangeBound[t - 1]!) + 1 : 0)
  })
  const stage = bars.map((_, t) => {
    const m = macdV[t]
    const s = signal[t]
    return m === undefined || s === undefined ? undefined : stageOf(m, s, rangeBound[t]!)
  })

  const nEff: Array<number> = []
  const spanBars: Array<number> = []
  let observed = 0
  let first: number | undefined
  let last: number | undefined
  bars.forEach((bar, t) => {
    if (!bar.synthetic) {
      observed += 1
      first ??= t
      last = t
    }
    nEff.push(observed)
    spanBars.push(first === undefined || last === undefined ? 0 : last - first + 1)
  })

  return { tr, ema12, ema26, atr, macdV, signal, histogram, rangeBound, stage, nEff, spanBars }
}

/** A deterministic PRNG (mulberry32): the golden series are the same on every run and machine. */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A piece of a scripted series. */
export type Segment =
  /** Observed candles of a random walk: the close moves by up to ±`volatility` (relative) each bar. */
  | { readonly kind: "walk"; readonly bars: number; readonly volatility?: number }
  /** Observed candles of a steady trend: the close moves by `drift` (relative) each bar, plus a little noise. */
  | { readonly kind: "trend"; readonly bars: number; readonly drift: number }
  /** Gap-filled candles: open = high = low = close = the previous close (domain.md §1). */
  | { readonly kind: "synthetic"; readonly bars: number }
  /** Observed candles that trade at a single price: high = low = close (`price`, default the previous close). */
  | { readonly kind: "flat"; readonly bars: number; readonly price?: number }

/** Build a series from segments, starting from `start`, with a seeded PRNG. */
export const series = (seed: number, start: number, segments: ReadonlyArray<Segment>): Array<Bar> => {
  const random = prng(seed)
  const out: Array<Bar> = []
  let close = start
  const candle = (next: number, wick: number): Bar => {
    const open = close
    const high = Math.max(open, next) * (1 + wick * random())
    const low = Math.min(open, next) * (1 - wick * random())
    close = next
    return { high, low, close: next, synthetic: false }
  }
  for (const segment of segments) {
    for (let i = 0; i < segment.bars; i++) {
      switch (segment.kind) {
        case "walk": {
          const volatility = segment.volatility ?? 0.01
          out.push(candle(close * (1 + volatility * (2 * random() - 1)), volatility / 2))
          break
        }
        case "trend":
          out.push(candle(close * (1 + segment.drift + 0.002 * (2 * random() - 1)), 0.002))
          break
        case "synthetic":
          out.push({ high: close, low: close, close, synthetic: true })
          break
        case "flat": {
          const price = segment.price ?? close
          close = price
          out.push({ high: price, low: price, close: price, synthetic: false })
          break
        }
      }
    }
  }
  return out
}
