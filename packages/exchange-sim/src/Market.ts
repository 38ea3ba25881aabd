/**
 * The simulated market: a set of symbols and their candles at any sim time, computed on demand and
 * deterministically from the seed — a candle is a pure function of (seed, symbol, time), so any past can be
 * paged through without generating it first.
 *
 * Model: a daily anchor price per symbol follows a mean-reverting (AR(1)) walk in log space; each day is
 * filled with a Brownian bridge of 5-minute boundary prices. A 5-minute bar opens at its start boundary,
 * closes at its end boundary and extends beyond both by a random wiggle; volume, trade count and taker share
 * are drawn per bar. Illiquid symbols skip some 5-minute buckets entirely (no trades). Inside a bar, a
 * 300-step micro path (1 s per step) reaches the bar's high and low and spreads volume and trades, giving
 * the still-forming candle at any instant and 1-minute sub-bars. Every longer candle is the aggregate of the
 * 5-minute bars (or 1-minute sub-bars) it covers, over integer ticks and volume units, so aggregates are exact.
 *
 * Price scripts (`Scripts`) scale a symbol's unrounded 5-minute boundary prices by the script factor at each
 * boundary; bars, wiggles and micro paths are generated from the scaled boundaries as usual, so every price
 * the market serves follows the script while aggregates stay exact.
 */
import { Candle } from "@livermore/domain"
import { Either } from "effect"
import * as Decimal from "./internal/decimal.js"
import * as Hash from "./internal/hash.js"
import { Lru } from "./internal/lru.js"
import type { Interval } from "./Intervals.js"
import * as Intervals from "./Intervals.js"
import * as Scripts from "./Scripts.js"

const MINUTE = 60_000
/** The base bar length: 5 minutes. */
export const BASE_MS = 5 * MINUTE
const DAY = 86_400_000
const BARS_PER_DAY = DAY / BASE_MS
const MICRO = 300
/** Micro-path index stride per bar in the hash (≥ MICRO + 1). */
const MICRO_STRIDE = 512
const MICRO_MS = BASE_MS / MICRO
const MICRO_PER_MINUTE = MINUTE / MICRO_MS
/** Trade ids of the 5-minute bar `k` are `k × 1000 …`; a bar never has more than 999 trades. */
const TRADE_ID_STRIDE = 1000
const AR_CHUNK = 512
const AR_HISTORY = 1500
const AR_PHI = 0.99
const INDEX_OFFSET = 1_000_000
/** Quote volumes are integers in units of 10^-4 of the quote asset. */
export const QUOTE_DECIMALS = 4
/** Prices are in ticks of 10^-priceDecimals, base volumes in units of 10^-volumeDecimals; the two sum to this. */
const PRICE_PLUS_VOLUME_DECIMALS = 8

const Tag = {
  ar: 1,
  bridge: 2,
  empty: 3,
  high: 4,
  low: 5,
  trades: 6,
  volume: 7,
  taker: 8,
  weight: 9,
  micro: 10,
  extremeAt: 11,
  profile: 12
} as const

/** One simulated instrument, listed under both naming schemes. */
export interface SimSymbol {
  /** Position in the symbol list (0-based). */
  readonly index: number
  /** Base asset, e.g. `BTC`. */
  readonly base: string
  /** Binance symbol, e.g. `BTCUSDT`. */
  readonly binance: string
  /** Binance quote asset: `USDT`. */
  readonly binanceQuote: string
  /** Coinbase product id, e.g. `BTC-USD`. */
  readonly coinbase: string
  /** Coinbase quote currency: `USD`. */
  readonly coinbaseQuote: string
  /** Whether some 5-minute buckets have no trades (Binance: zero-trade klines; Coinbase: omitted buckets). */
  readonly illiquid: boolean
  /** Price tick is 10^-priceDecimals. */
  readonly priceDecimals: number
  /** Base volume step is 10^-volumeDecimals. */
  readonly volumeDecimals: number
  /** First sim time (ms) with candles, a UTC midnight. */
  readonly listedAt: number
  /** The price level the walk reverts to. */
  readonly referencePrice: number
}

/** A candle in integer units (see `SimSymbol`): prices in ticks, base volume in volume units, quote in 10^-4. */
export interface Bar {
  readonly openTime: number
  /** Exclusive end: `openTime` + the interval length. Binance's close time is this − 1. */
  readonly endTime: number
  /** Whether `endTime` had passed at the sim time it was computed for. */
  readonly closed: boolean
  readonly open: number
  readonly high: number
  readonly low: number
  readonly close: number
  readonly volume: number
  readonly quoteVolume: number
  readonly takerBaseVolume: number
  readonly takerQuoteVolume: number
  /** 0 for a bucket in which nothing traded (then open = high = low = close = the last traded price). */
  readonly trades: number
  /** First and last trade id; −1 when there were no trades. */
  readonly firstTradeId: number
  readonly lastTradeId: number
}

/** Rolling 24-hour statistics (aligned to 5-minute buckets) at one sim time. */
export interface Rolling24h {
  readonly openTime: number
  readonly closeTime: number
  readonly open: number
  readonly high: number
  readonly low: number
  readonly last: number
  /** Close of the last trade before the window. */
  readonly prevClose: number
  readonly volume: number
  readonly quoteVolume: number
  readonly trades: number
  readonly firstTradeId: number
  readonly lastTradeId: number
}

/** How the market is generated. */
export interface MarketOptions {
  readonly seed: number
  /** How many symbols, 1 … 1000. */
  readonly symbols: number
  /** Share of the symbols (the last ones of the list) that are illiquid, 0 … 1. */
  readonly illiquidRatio: number
  /** Probability that an illiquid symbol's 5-minute bucket has no trades. */
  readonly emptyBucketProbability: number
  /** Listing time of every symbol (floored to a UTC midnight): no candles before it. */
  readonly listedAt: number
}

/**
 * The simulated market. Every price method is a pure function of its arguments and the installed price scripts
 * (caches are an implementation detail, dropped for a symbol whenever its scripts change).
 */
export interface Market {
  readonly options: MarketOptions
  readonly symbols: ReadonlyArray<SimSymbol>
  /** Look up by Binance symbol (`BTCUSDT`, case-sensitive). */
  readonly bySymbol: (binance: string) => SimSymbol | undefined
  /** Look up by Coinbase product id (`BTC-USD`, case-sensitive). */
  readonly byProduct: (productId: string) => SimSymbol | undefined
  /** The open time of the first candle of `interval` (the bucket containing the listing time). */
  readonly firstOpenTime: (symbol: SimSymbol, interval: Interval) => number
  /**
   * The candle of `interval` opening at `openTime`, as it stands at sim time `now`: closed when its end has
   * passed, otherwise the still-forming candle. `undefined` when it opens after `now` or before the listing.
   */
  readonly candle: (symbol: SimSymbol, interval: Interval, openTime: number, now: number) => Bar | undefined
  /** Rolling 24 h statistics at `now`. */
  readonly rolling24h: (symbol: SimSymbol, now: number) => Rolling24h
  /** Approximate 52-week low and high (ticks) at `now`. */
  readonly yearRange: (symbol: SimSymbol, now: number) => { readonly low: number; readonly high: number }
  /** The installed price scripts, oldest first. */
  readonly scripts: () => ReadonlyArray<Scripts.Script>
  /**
   * Install a price script (validated like `POST /__sim/script`): from then on every price of its symbol at or
   * after `script.from` is scaled by the script's factor; earlier prices do not change. Fails when the script
   * is malformed, names no symbol of this market, or would take the symbol's scripts beyond
   * `Scripts.MAX_LOG_FACTOR`. Returns every installed script.
   */
  readonly addScript: (script: Scripts.Script) => Either.Either<ReadonlyArray<Scripts.Script>, Scripts.ScriptError>
  /** Remove every price script (prices return to the unscripted market). */
  readonly clearScripts: () => void
  /** The factor the scripts apply to `symbol`'s prices at sim time `time` (exactly 1 when none applies). */
  readonly priceFactor: (symbol: SimSymbol, time: number) => number
}

const knownAssets: ReadonlyArray<readonly [string, number]> = [
  ["BTC", 60_000],
  ["ETH", 3_000],
  ["SOL", 150],
  ["XRP", 0.6],
  ["DOGE", 0.15],
  ["ADA", 0.45],
  ["AVAX", 30],
  ["LINK", 15],
  ["DOT", 7],
  ["LTC", 80],
  ["BCH", 400],
  ["UNI", 8],
  ["ATOM", 8],
  ["XLM", 0.11],
  ["ETC", 25],
  ["FIL", 5],
  ["APT", 9],
  ["NEAR", 5],
  ["ARB", 1],
  ["OP", 2],
  ["ICP", 10],
  ["HBAR", 0.08],
  ["AAVE", 100],
  ["MKR", 2_500],
  ["SUI", 1.2],
  ["INJ", 25],
  ["RENDER", 7],
  ["GRT", 0.2],
  ["ALGO", 0.18],
  ["SAND", 0.4],
  ["MANA", 0.4],
  ["AXS", 7],
  ["CRV", 0.5],
  ["LDO", 2],
  ["COMP", 55],
  ["SNX", 2.5],
  ["SHIB", 0.000022],
  ["EGLD", 35],
  ["FLOW", 0.8],
  ["ZEC", 30],
  ["DASH", 28],
  ["XTZ", 0.9],
  ["CHZ", 0.1],
  ["ENS", 20],
  ["IMX", 1.8],
  ["QNT", 90],
  ["BAT", 0.22],
  ["ZRX", 0.4],
  ["YFI", 7_000],
  ["SUSHI", 1],
  ["ANKR", 0.04],
  ["STX", 2],
  ["FET", 1.5],
  ["ROSE", 0.1],
  ["KSM", 30],
  ["CELO", 0.7],
  ["BAND", 1.5],
  ["STORJ", 0.5],
  ["SKL", 0.05],
  ["AUDIO", 0.2]
]

interface Profile {
  readonly logTicks: number
  readonly sigmaDay: number
  readonly sigma5: number
  /** Typical quote notional per 5 minutes. */
  readonly liquidity: number
  readonly maxTrades: number
  readonly emptyProbability: number
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x))

/** Fold `x` into [lo, hi] by reflecting at the bounds (a path that overshoots bounces instead of sticking). */
const reflect = (x: number, lo: number, hi: number): number => {
  const width = hi - lo
  if (width <= 0) return lo
  const m = (((x - lo) % (2 * width)) + 2 * width) % (2 * width)
  return lo + (m <= width ? m : 2 * width - m)
}

/** Mutable OHLCV accumulator over bars and micro-path ranges. */
class Acc {
  open = 0
  high = 0
  low = 0
  close = 0
  volume = 0
  quote = 0
  takerBase = 0
  takerQuote = 0
  trades = 0
  first = -1
  last = -1

  addBar(b: Bar): void {
    if (b.trades === 0) return
    this.add(b.open, b.high, b.low, b.close, b.volume, b.quoteVolume, b.takerBaseVolume, b.takerQuoteVolume, b.trades, b.firstTradeId, b.lastTradeId)
  }

  add(
    open: number,
    high: number,
    low: number,
    close: number,
    volume: number,
    quote: number,
    takerBase: number,
    takerQuote: number,
    trades: number,
    first: number,
    last: number
  ): void {
    if (this.trades === 0) {
      this.open = open
      this.high = high
      this.low = low
      this.first = first
    } else {
      if (high > this.high) this.high = high
      if (low < this.low) this.low = low
    }
    this.close = close
    this.volume += volume
    this.quote += quote
    this.takerBase += takerBase
    this.takerQuote += takerQuote
    this.trades += trades
    this.last = last
  }

  copy(): Acc {
    const c = new Acc()
    c.open = this.open
    c.high = this.high
    c.low = this.low
    c.close = this.close
    c.volume = this.volume
    c.quote = this.quote
    c.takerBase = this.takerBase
    c.takerQuote = this.takerQuote
    c.trades = this.trades
    c.first = this.first
    c.last = this.last
    return c
  }

  toBar(openTime: number, endTime: number, closed: boolean, flatPrice: () => number): Bar {
    if (this.trades === 0) {
      const p = flatPrice()
      return {
        openTime,
        endTime,
        closed,
        open: p,
        high: p,
        low: p,
        close: p,
        volume: 0,
        quoteVolume: 0,
        takerBaseVolume: 0,
        takerQuoteVolume: 0,
        trades: 0,
        firstTradeId: -1,
        lastTradeId: -1
      }
    }
    return {
      openTime,
      endTime,
      closed,
      open: this.open,
      high: this.high,
      low: this.low,
      close: this.close,
      volume: this.volume,
      quoteVolume: this.quote,
      takerBaseVolume: this.takerBase,
      takerQuoteVolume: this.takerQuote,
      trades: this.trades,
      firstTradeId: this.first,
      lastTradeId: this.last
    }
  }
}

/** The micro path of one non-empty 5-minute bar: prices and cumulative amounts at each 1 s step (0 … 300). */
interface Path {
  readonly k: number
  readonly price: Float64Array
  readonly trades: Float64Array
  readonly volume: Float64Array
  readonly quote: Float64Array
  readonly takerBase: Float64Array
  readonly takerQuote: Float64Array
}

const emptyBar = (k: number): Bar => ({
  openTime: k * BASE_MS,
  endTime: (k + 1) * BASE_MS,
  closed: true,
  open: 0,
  high: 0,
  low: 0,
  close: 0,
  volume: 0,
  quoteVolume: 0,
  takerBaseVolume: 0,
  takerQuoteVolume: 0,
  trades: 0,
  firstTradeId: -1,
  lastTradeId: -1
})

const assetName = (index: number): readonly [string, number | undefined] => {
  const known = knownAssets[index]
  if (known !== undefined) return known
  return [`SIM${String(index + 1).padStart(3, "0")}`, undefined]
}

/** Build the market. */
export const make = (options: MarketOptions): Market => {
  const seed = options.seed | 0
  const listedAt = Math.floor(options.listedAt / DAY) * DAY
  const listK = listedAt / BASE_MS
  const illiquidCount =
    options.symbols >= 2 && options.illiquidRatio > 0 ? Math.max(1, Math.round(options.symbols * options.illiquidRatio)) : 0

  const profiles: Array<Profile> = []
  const symbols: Array<SimSymbol> = []
  for (let index = 0; index < options.symbols; index++) {
    const [base, knownPrice] = assetName(index)
    const u = (tag: number) => Hash.uniform(seed, index, Tag.profile, tag)
    const referencePrice = knownPrice ?? 10 ** (-2 + 5 * u(1))
    const digits = Math.floor(Math.log10(referencePrice))
    const priceDecimals = clamp(5 - digits, 2, 8)
    const illiquid = index >= options.symbols - illiquidCount
    const sigmaDay = 0.025 + 0.035 * u(2)
    const liquidity = illiquid ? 10 ** (2.5 + u(3)) : index === 0 ? 3_000_000 : 10 ** (3.8 + 1.8 * u(3))
    profiles.push({
      logTicks: Math.log(referencePrice * 10 ** priceDecimals),
      sigmaDay,
      sigma5: sigmaDay / Math.sqrt(BARS_PER_DAY),
      liquidity,
      maxTrades: illiquid ? 20 : Math.round(80 + 900 * u(4)),
      emptyProbability: illiquid ? options.emptyBucketProbability : 0
    })
    symbols.push({
      index,
      base,
      binance: `${base}USDT`,
      binanceQuote: "USDT",
      coinbase: `${base}-USD`,
      coinbaseQuote: "USD",
      illiquid,
      priceDecimals,
      volumeDecimals: PRICE_PLUS_VOLUME_DECIMALS - priceDecimals,
      listedAt,
      referencePrice
    })
  }
  const byBinance = new Map(symbols.map((s) => [s.binance, s]))
  const byCoinbase = new Map(symbols.map((s) => [s.coinbase, s]))
  const profileOf = (s: SimSymbol): Profile => profiles[s.index]!

  // ---- price scripts: a log offset per symbol, the sum of its scripts' offsets ----
  const installed: Array<{ readonly script: Scripts.Script; readonly symbol: SimSymbol }> = []
  const scriptsOf = new Map<number, ReadonlyArray<Scripts.Script>>()
  const firstFrom = new Map<number, number>()
  const priceFactor = (s: SimSymbol, t: number): number => {
    const from = firstFrom.get(s.index)
    if (from === undefined || t <= from) return 1
    let offset = 0
    for (const script of scriptsOf.get(s.index)!) offset += Scripts.offsetAt(script, t)
    return Math.exp(offset)
  }

  // ---- daily anchors: AR(1) in log space, computed in chunks of days ----
  const chunks = new Lru<number, Float64Array>(4096)
  const anchor = (s: SimSymbol, day: number): number => {
    const c = Math.floor(day / AR_CHUNK)
    const arr = chunks.getOrCompute(s.index * 100_000 + c, () => {
      const sigma = profileOf(s).sigmaDay
      const out = new Float64Array(AR_CHUNK)
      let x = 0
      let weight = 1
      for (let i = 0; i < AR_HISTORY; i++) {
        x += weight * sigma * Hash.normal(seed, s.index, Tag.ar, c * AR_CHUNK - i + INDEX_OFFSET)
        weight *= AR_PHI
      }
      out[0] = x
      for (let j = 1; j < AR_CHUNK; j++) {
        x = AR_PHI * x + sigma * Hash.normal(seed, s.index, Tag.ar, c * AR_CHUNK + j + INDEX_OFFSET)
        out[j] = x
      }
      return out
    })
    return arr[day - c * AR_CHUNK]!
  }

  // ---- 5-minute boundary prices: a Brownian bridge between consecutive daily anchors ----
  const days = new Lru<number, Float64Array>(8192)
  const dayPrices = (s: SimSymbol, day: number): Float64Array =>
    days.getOrCompute(s.index * 1_000_000 + day, () => {
      const p = profileOf(s)
      const a = anchor(s, day)
      const b = anchor(s, day + 1)
      const walk = new Float64Array(BARS_PER_DAY + 1)
      for (let j = 1; j <= BARS_PER_DAY; j++) {
        walk[j] = walk[j - 1]! + p.sigma5 * Hash.normal(seed, s.index, Tag.bridge, day * BARS_PER_DAY + j)
      }
      const drift = b - a - walk[BARS_PER_DAY]!
      // Unrounded (ticks): a script scales them before they are rounded.
      const out = new Float64Array(BARS_PER_DAY + 1)
      for (let j = 0; j <= BARS_PER_DAY; j++) out[j] = Math.exp(p.logTicks + a + walk[j]! + (j / BARS_PER_DAY) * drift)
      return out
    })
  /** The unscripted boundary price (ticks) at the start of the 5-minute bar `k`. */
  const rawBoundaryPrice = (s: SimSymbol, k: number): number => {
    const day = Math.floor(k / BARS_PER_DAY)
    return Math.max(1, Math.round(dayPrices(s, day)[k - day * BARS_PER_DAY]!))
  }
  /** The boundary price (ticks) at the start of the 5-minute bar `k`, scripts applied before rounding. */
  const boundaryPrice = (s: SimSymbol, k: number): number => {
    const factor = priceFactor(s, k * BASE_MS)
    if (factor === 1) return rawBoundaryPrice(s, k)
    const day = Math.floor(k / BARS_PER_DAY)
    return Math.max(1, Math.round(dayPrices(s, day)[k - day * BARS_PER_DAY]! * factor))
  }

  // ---- 5-minute bars ----
  const bars = new Lru<number, Bar>(100_000)
  const baseBar = (s: SimSymbol, k: number): Bar => {
    const key = s.index * 1e10 + k
    const hit = bars.get(key)
    if (hit !== undefined) return hit
    const bar = computeBaseBar(s, k)
    bars.set(key, bar)
    return bar
  }
  function computeBaseBar(s: SimSymbol, k: number): Bar {
    if (k < listK) return emptyBar(k)
    const p = profileOf(s)
    let bar: Bar
    if (p.emptyProbability > 0 && Hash.uniform(seed, s.index, Tag.empty, k) < p.emptyProbability) {
      bar = emptyBar(k)
    } else {
      // The bar's wiggle beyond its boundaries, proportional to its price level.
      const wiggle = (open: number, close: number) => {
        const scale = p.sigma5 * Math.max(open, close) * 0.6
        return {
          high: Math.max(open, close) + Math.round(Math.abs(Hash.normal(seed, s.index, Tag.high, k)) * scale),
          low: Math.max(1, Math.min(open, close) - Math.round(Math.abs(Hash.normal(seed, s.index, Tag.low, k)) * scale))
        }
      }
      const rawOpen = rawBoundaryPrice(s, k)
      const rawClose = rawBoundaryPrice(s, k + 1)
      const raw = wiggle(rawOpen, rawClose)
      const open = boundaryPrice(s, k)
      const close = boundaryPrice(s, k + 1)
      const { high, low } = open === rawOpen && close === rawClose ? raw : wiggle(open, close)
      const trades = 5 + Math.floor(Hash.uniform(seed, s.index, Tag.trades, k) * p.maxTrades)
      const notional = p.liquidity * Math.exp(0.6 * Hash.normal(seed, s.index, Tag.volume, k) - 0.18)
      // Base volume is drawn at the unscripted price (a script moves prices, not the amounts traded); the
      // quote volume is that volume at the bar's (scripted) prices.
      const rawVwap = (rawOpen + raw.high + raw.low + rawClose) / 4
      const volume = Math.max(5, Math.round((notional * 10 ** PRICE_PLUS_VOLUME_DECIMALS) / rawVwap))
      const vwap = (open + high + low + close) / 4
      const quoteVolume = Math.round((volume * vwap) / 10 ** (PRICE_PLUS_VOLUME_DECIMALS - QUOTE_DECIMALS))
      const takerShare = 0.35 + 0.3 * Hash.uniform(seed, s.index, Tag.taker, k)
      bar = {
        openTime: k * BASE_MS,
        endTime: (k + 1) * BASE_MS,
        closed: true,
        open,
        high,
        low,
        close,
        volume,
        quoteVolume,
        takerBaseVolume: Math.floor(volume * takerShare),
        takerQuoteVolume: Math.floor(quoteVolume * takerShare),
        trades,
        firstTradeId: k * TRADE_ID_STRIDE,
        lastTradeId: k * TRADE_ID_STRIDE + trades - 1
      }
    }
    return bar
  }

  const paths = new Lru<number, Path>(1024)
  const pathOf = (s: SimSymbol, bar: Bar): Path => {
    const k = bar.openTime / BASE_MS
    return paths.getOrCompute(s.index * 1e10 + k, () => {
      const price = new Float64Array(MICRO + 1)
      const walk = new Float64Array(MICRO + 1)
      for (let i = 1; i <= MICRO; i++) walk[i] = walk[i - 1]! + Hash.normal(seed, s.index, Tag.micro, k * MICRO_STRIDE + i)
      const amp = Math.max(1, (bar.high - bar.low) / 4) * 0.35 * Math.sqrt(30 / MICRO)
      price[0] = bar.open
      price[MICRO] = bar.close
      for (let i = 1; i < MICRO; i++) {
        const x = bar.open + ((bar.close - bar.open) * i) / MICRO + (walk[i]! - (walk[MICRO]! * i) / MICRO) * amp
        price[i] = reflect(Math.round(x), bar.low, bar.high)
      }
      const highAt = 1 + Math.floor(Hash.uniform(seed, s.index, Tag.extremeAt, k * 2) * (MICRO - 1))
      let lowAt = 1 + Math.floor(Hash.uniform(seed, s.index, Tag.extremeAt, k * 2 + 1) * (MICRO - 1))
      if (lowAt === highAt) lowAt = (highAt % (MICRO - 1)) + 1
      price[highAt] = bar.high
      price[lowAt] = bar.low

      const cumulative = new Float64Array(MICRO + 1)
      for (let i = 1; i <= MICRO; i++) {
        cumulative[i] = cumulative[i - 1]! + 0.25 + Hash.uniform(seed, s.index, Tag.weight, k * MICRO_STRIDE + i)
      }
      const total = cumulative[MICRO]!
      const trades = new Float64Array(MICRO + 1)
      const volume = new Float64Array(MICRO + 1)
      const quote = new Float64Array(MICRO + 1)
      const takerBase = new Float64Array(MICRO + 1)
      const takerQuote = new Float64Array(MICRO + 1)
      for (let i = 1; i <= MICRO; i++) {
        const w = cumulative[i]! / total
        // Every 1-minute block gets at least one trade and one volume unit on its first step, so a 1-minute
        // sub-bar with price movement always has trades.
        const blocks = Math.ceil(i / MICRO_PER_MINUTE)
        trades[i] = Math.floor((bar.trades - 5) * w) + blocks
        volume[i] = Math.floor((bar.volume - 5) * w) + blocks
        quote[i] = Math.floor(bar.quoteVolume * w)
        takerBase[i] = Math.floor(bar.takerBaseVolume * w)
        takerQuote[i] = Math.floor(bar.takerQuoteVolume * w)
      }
      return { k, price, trades, volume, quote, takerBase, takerQuote }
    })
  }

  /** Add the micro steps (a, b] of a 5-minute bar: the range's open is the price at step a. */
  const addRange = (acc: Acc, s: SimSymbol, bar: Bar, a: number, b: number): void => {
    if (bar.trades === 0 || b <= a) return
    if (a === 0 && b === MICRO) {
      acc.addBar(bar)
      return
    }
    const p = pathOf(s, bar)
    const trades = p.trades[b]! - p.trades[a]!
    if (trades === 0) return
    let high = p.price[a]!
    let low = high
    for (let i = a + 1; i <= b; i++) {
      const x = p.price[i]!
      if (x > high) high = x
      if (x < low) low = x
    }
    const firstId = p.k * TRADE_ID_STRIDE + p.trades[a]!
    acc.add(
      p.price[a]!,
      high,
      low,
      p.price[b]!,
      p.volume[b]! - p.volume[a]!,
      p.quote[b]! - p.quote[a]!,
      p.takerBase[b]! - p.takerBase[a]!,
      p.takerQuote[b]! - p.takerQuote[a]!,
      trades,
      firstId,
      firstId + trades - 1
    )
  }

  /** The last traded price before the 5-minute bar `k` (for zero-trade candles). */
  const lastTradedBefore = (s: SimSymbol, k: number): number => {
    const stop = Math.max(listK, k - 20_000)
    for (let j = k - 1; j >= stop; j--) {
      const bar = baseBar(s, j)
      if (bar.trades > 0) return bar.close
    }
    return boundaryPrice(s, Math.max(k, listK))
  }

  const daily = new Lru<number, Bar>(100_000)
  const dailyBar = (s: SimSymbol, day: number): Bar =>
    daily.getOrCompute(s.index * 1_000_000 + day, () => {
      const acc = new Acc()
      const k0 = day * BARS_PER_DAY
      // Computed without the bar cache: a long daily backfill would only evict bars that are used again.
      for (let k = k0; k < k0 + BARS_PER_DAY; k++) acc.addBar(computeBaseBar(s, k))
      return acc.toBar(day * DAY, (day + 1) * DAY, true, () => lastTradedBefore(s, k0))
    })

  /** Accumulate the closed stretch [from, to) (both multiples of a minute, to ≤ now). */
  const accumulateClosed = (acc: Acc, s: SimSymbol, from: number, to: number): void => {
    let t = from
    while (t < to) {
      if (t % DAY === 0 && t + DAY <= to) {
        acc.addBar(dailyBar(s, t / DAY))
        t += DAY
      } else if (t % BASE_MS === 0 && t + BASE_MS <= to) {
        acc.addBar(baseBar(s, t / BASE_MS))
        t += BASE_MS
      } else {
        const k = Math.floor(t / BASE_MS)
        const a = ((t - k * BASE_MS) / MINUTE) * MICRO_PER_MINUTE
        addRange(acc, s, baseBar(s, k), a, a + MICRO_PER_MINUTE)
        t += MINUTE
      }
    }
  }

  const forming = new Lru<string, { readonly to: number; readonly acc: Acc }>(20_000)

  const candle = (s: SimSymbol, iv: Interval, openTime: number, now: number): Bar | undefined => {
    const endTime = openTime + iv.ms
    if (openTime > now || endTime <= listedAt) return undefined
    const from = Math.max(openTime, listedAt)
    const flat = () => lastTradedBefore(s, Math.floor(from / BASE_MS))
    if (endTime <= now) {
      if (iv.ms === DAY && openTime % DAY === 0) return dailyBar(s, openTime / DAY)
      if (iv.ms === BASE_MS && openTime % BASE_MS === 0) {
        const bar = baseBar(s, openTime / BASE_MS)
        return bar.trades > 0 ? bar : { ...bar, ...flatBar(flat()) }
      }
      const acc = new Acc()
      accumulateClosed(acc, s, from, endTime)
      return acc.toBar(openTime, endTime, true, flat)
    }
    // Still forming: the closed children (memoised per candle) plus the child containing `now`, in part.
    const child = iv.ms % BASE_MS === 0 ? BASE_MS : MINUTE
    const closedTo = Math.max(from, Math.floor(now / child) * child)
    const key = `${s.index}|${openTime}|${iv.ms}`
    const memo = forming.get(key)
    let acc: Acc
    if (memo !== undefined && memo.to <= closedTo) {
      acc = memo.acc.copy()
      accumulateClosed(acc, s, memo.to, closedTo)
    } else {
      acc = new Acc()
      accumulateClosed(acc, s, from, closedTo)
    }
    forming.set(key, { to: closedTo, acc: acc.copy() })
    const k = Math.floor(now / BASE_MS)
    const step = Math.min(MICRO - 1, Math.floor((now - k * BASE_MS) / MICRO_MS))
    const a = child === BASE_MS ? 0 : ((closedTo - k * BASE_MS) / MINUTE) * MICRO_PER_MINUTE
    if (closedTo < endTime) addRange(acc, s, baseBar(s, k), a, step)
    return acc.toBar(openTime, endTime, false, flat)
  }

  const rollingMemo = new Map<number, { readonly k: number; readonly acc: Acc }>()
  const rollingAt = new Map<number, { readonly now: number; readonly value: Rolling24h }>()
  const rolling24h = (s: SimSymbol, now: number): Rolling24h => {
    const cached = rollingAt.get(s.index)
    if (cached !== undefined && cached.now === now) return cached.value
    const k = Math.floor(now / BASE_MS)
    const startK = k - BARS_PER_DAY + 1
    let memo = rollingMemo.get(s.index)
    if (memo === undefined || memo.k !== k) {
      const acc = new Acc()
      for (let j = Math.max(startK, listK); j < k; j++) acc.addBar(baseBar(s, j))
      memo = { k, acc }
      rollingMemo.set(s.index, memo)
    }
    const acc = memo.acc.copy()
    const step = Math.min(MICRO - 1, Math.floor((now - k * BASE_MS) / MICRO_MS))
    if (k >= listK) addRange(acc, s, baseBar(s, k), 0, step)
    const prevClose = lastTradedBefore(s, startK)
    const bar = acc.toBar(now - DAY, now, false, () => lastTradedBefore(s, k + 1))
    const value: Rolling24h = {
      openTime: now - DAY,
      closeTime: now,
      open: bar.open,
      high: bar.high,
      low: bar.low,
      last: bar.close,
      prevClose,
      volume: bar.volume,
      quoteVolume: bar.quoteVolume,
      trades: bar.trades,
      firstTradeId: bar.firstTradeId,
      lastTradeId: bar.lastTradeId
    }
    rollingAt.set(s.index, { now, value })
    return value
  }

  const anchorRanges = new Map<number, { readonly today: number; readonly low: number; readonly high: number }>()
  const yearRange = (s: SimSymbol, now: number): { readonly low: number; readonly high: number } => {
    const today = Math.floor(now / DAY)
    let range = anchorRanges.get(s.index)
    if (range === undefined || range.today !== today) {
      const first = Math.max(Math.floor(listedAt / DAY), today - 364)
      const p = profileOf(s)
      let low = Number.POSITIVE_INFINITY
      let high = 0
      for (let d = first; d <= today; d++) {
        const x = Math.round(Math.exp(p.logTicks + anchor(s, d)) * priceFactor(s, d * DAY))
        if (x < low) low = x
        if (x > high) high = x
      }
      range = { today, low, high }
      anchorRanges.set(s.index, range)
    }
    const { low, high } = range
    const day = rolling24h(s, now)
    return { low: Math.max(1, Math.min(low, day.low)), high: Math.max(high, day.high) }
  }

  /** Forget everything memoised for `s` that a price depends on (its scripts changed). */
  const forget = (s: SimSymbol): void => {
    bars.deleteWhere((key) => Math.floor(key / 1e10) === s.index)
    paths.deleteWhere((key) => Math.floor(key / 1e10) === s.index)
    daily.deleteWhere((key) => Math.floor(key / 1_000_000) === s.index)
    forming.deleteWhere((key) => key.startsWith(`${s.index}|`))
    rollingMemo.delete(s.index)
    rollingAt.delete(s.index)
    anchorRanges.delete(s.index)
  }

  const reindex = (): void => {
    scriptsOf.clear()
    firstFrom.clear()
    for (const { script, symbol } of installed) {
      scriptsOf.set(symbol.index, [...(scriptsOf.get(symbol.index) ?? []), script])
      firstFrom.set(symbol.index, Math.min(firstFrom.get(symbol.index) ?? script.from, script.from))
    }
  }

  const addScript = (input: Scripts.Script): Either.Either<ReadonlyArray<Scripts.Script>, Scripts.ScriptError> =>
    Either.flatMap(Scripts.decode(input), (script) => {
      const symbol = byBinance.get(script.symbol) ?? byCoinbase.get(script.symbol)
      if (symbol === undefined) {
        return Either.left(
          new Scripts.ScriptError({
            message:
              `symbol: ${script.symbol} is not a simulated symbol ` +
              "(expected a Binance symbol such as BTCUSDT or a Coinbase product id such as BTC-USD)"
          })
        )
      }
      const reach = (scriptsOf.get(symbol.index) ?? []).reduce(
        (x, other) => x + Scripts.maxAbsOffset(other),
        Scripts.maxAbsOffset(script)
      )
      if (reach > Scripts.MAX_LOG_FACTOR) {
        return Either.left(
          new Scripts.ScriptError({
            message:
              `legs: the scripts of ${symbol.binance} would move its price by up to a factor of exp(${reach.toFixed(3)}); ` +
              `at most a factor of 100 is allowed (summed largest |offset| ≤ ${Scripts.MAX_LOG_FACTOR.toFixed(3)})`
          })
        )
      }
      installed.push({ script, symbol })
      reindex()
      forget(symbol)
      return Either.right(installed.map((x) => x.script))
    })

  const clearScripts = (): void => {
    const affected = new Set(installed.map((x) => x.symbol))
    installed.length = 0
    reindex()
    for (const s of affected) forget(s)
  }

  return {
    options: { ...options, listedAt },
    symbols,
    bySymbol: (binance) => byBinance.get(binance),
    byProduct: (productId) => byCoinbase.get(productId),
    firstOpenTime: (_s, iv) => Intervals.openTimeOf(iv, listedAt),
    candle,
    rolling24h,
    yearRange,
    scripts: () => installed.map((x) => x.script),
    addScript,
    clearScripts,
    priceFactor
  }
}

const flatBar = (price: number) => ({ open: price, high: price, low: price, close: price })

/** A price in ticks as a decimal string with the symbol's decimals, or padded to `width` fraction digits. */
export const formatPrice = (s: SimSymbol, ticks: number, width?: number): string =>
  width === undefined ? Decimal.format(ticks, s.priceDecimals) : Decimal.formatFixed(ticks, s.priceDecimals, width)

/** A base volume in volume units as a decimal string. */
export const formatVolume = (s: SimSymbol, units: number, width?: number): string =>
  width === undefined ? Decimal.format(units, s.volumeDecimals) : Decimal.formatFixed(units, s.volumeDecimals, width)

/** A quote volume (units of 10^-4) as a decimal string. */
export const formatQuote = (units: number, width?: number): string =>
  width === undefined ? Decimal.format(units, QUOTE_DECIMALS) : Decimal.formatFixed(units, QUOTE_DECIMALS, width)

/** A price in ticks as a number. */
export const priceNumber = (s: SimSymbol, ticks: number): number => Decimal.toNumber(ticks, s.priceDecimals)

/** A base volume in volume units as a number. */
export const volumeNumber = (s: SimSymbol, units: number): number => Decimal.toNumber(units, s.volumeDecimals)

/**
 * A bar as the domain's `Candle` (numbers). `synthetic` is false: the sim published it (a zero-trade Binance
 * kline is a published candle, not a gap fill).
 */
export const toCandle = (s: SimSymbol, bar: Bar): Candle.Candle =>
  new Candle.Candle({
    openTime: bar.openTime,
    open: priceNumber(s, bar.open),
    high: priceNumber(s, bar.high),
    low: priceNumber(s, bar.low),
    close: priceNumber(s, bar.close),
    volume: volumeNumber(s, bar.volume),
    closed: bar.closed,
    synthetic: false
  })

/**
 * The candles of `interval` whose open time lies in [from, to] (inclusive) as they stand at `now`, oldest
 * first, at most `limit` of them: from `from` forward, or, with `newest`, the newest ones up to `to`.
 * Candles before the listing or opening after `now` do not exist.
 */
export const range = (
  market: Market,
  s: SimSymbol,
  iv: Interval,
  from: number,
  to: number,
  now: number,
  limit: number,
  newest: boolean
): ReadonlyArray<Bar> => {
  const first = Math.max(Intervals.ceilOpenTime(iv, from), market.firstOpenTime(s, iv))
  const last = Math.min(Intervals.openTimeOf(iv, to), Intervals.openTimeOf(iv, now))
  if (last < first || limit <= 0) return []
  const count = Math.floor((last - first) / iv.ms) + 1
  const start = newest && count > limit ? last - (limit - 1) * iv.ms : first
  const out: Array<Bar> = []
  for (let t = start; t <= last && out.length < limit; t += iv.ms) {
    const bar = market.candle(s, iv, t, now)
    if (bar !== undefined) out.push(bar)
  }
  return out
}
