/**
 * Binance stream decoding benchmark: decoded messages per second for each kind of text frame, through the path the
 * live socket takes for every frame (`BinanceParse.frameFromText`: JSON.parse, the `Frame` Schema, then the domain
 * candle or ticker). The peer is `JSON.parse` alone on the same frames, the floor any decoder pays, timed in
 * alternating rounds of the same run. Frames are generated deterministically from the documented formats
 * (exchanges.md §1.2–§1.4), combined-stream wrapped as on `/stream`. Prints a table and writes
 * bench-results/exchange-binance-decode.json.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { Either } from "effect"
import * as BinanceParse from "../src/BinanceParse.js"

/** mulberry32, seed fixed: the same frames on every run. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = prng(20260105)
const int = (below: number) => Math.floor(random() * below)

/** 50 USDT pairs with a plausible price each, from BTC down to sub-cent coins (8-decimal strings reach them). */
const bases: ReadonlyArray<readonly [string, number]> = [
  ["BTC", 93_000], ["ETH", 3_200], ["BNB", 690], ["SOL", 190], ["XRP", 2.1], ["DOGE", 0.32], ["ADA", 0.9],
  ["TRX", 0.25], ["AVAX", 38], ["LINK", 21], ["DOT", 6.8], ["MATIC", 0.45], ["LTC", 105], ["BCH", 430],
  ["SHIB", 0.0000212], ["UNI", 13.5], ["ATOM", 6.4], ["XLM", 0.42], ["ETC", 27], ["FIL", 5.1], ["APT", 8.9],
  ["ARB", 0.74], ["OP", 1.9], ["NEAR", 5.2], ["INJ", 22], ["AAVE", 340], ["SUI", 4.3], ["PEPE", 0.0000181],
  ["TIA", 5.5], ["SEI", 0.45], ["RUNE", 4.7], ["ALGO", 0.38], ["HBAR", 0.28], ["VET", 0.046], ["ICP", 10.2],
  ["GRT", 0.21], ["FET", 1.35], ["RNDR", 7.1], ["IMX", 1.3], ["STX", 1.6], ["MKR", 1_700], ["LDO", 1.8],
  ["SAND", 0.6], ["MANA", 0.55], ["AXS", 6.9], ["EGLD", 34], ["THETA", 2.1], ["FLOW", 0.8], ["KAVA", 0.48],
  ["WIF", 2.2]
]
const symbols = bases.map(([base, price]) => ({ symbol: `${base}USDT`, price }))

/** The timeframes Livermore keeps, as Binance intervals, with their length in ms. */
const intervals: ReadonlyArray<readonly [string, number]> = [
  ["5m", 300_000], ["15m", 900_000], ["1h", 3_600_000], ["4h", 14_400_000], ["1d", 86_400_000]
]

/** Binance sends prices and quantities as 8-decimal strings (`"37000.10000000"`). */
const dec = (n: number) => n.toFixed(8)
const T0 = Date.UTC(2026, 0, 5)
const combined = (stream: string, data: unknown) => JSON.stringify({ stream, data })
const pick = <A>(items: ReadonlyArray<A>): A => items[int(items.length)]!

/** A `<symbol>@kline_<interval>` frame (§1.3): forming (`x:false`) or the final update (`x:true`); 3 % zero-trade. */
const klineFrame = (closed: boolean): string => {
  const { symbol, price } = pick(symbols)
  const [interval, ms] = pick(intervals)
  const t = T0 + int(200) * ms
  const E = closed ? t + ms + int(1500) : t + 1 + int(ms - 1)
  const open = price * (1 + (random() - 0.5) * 0.02)
  const empty = !closed && random() < 0.03
  const close = empty ? open : open * (1 + (random() - 0.5) * 0.01)
  const high = empty ? open : Math.max(open, close) * (1 + random() * 0.004)
  const low = empty ? open : Math.min(open, close) * (1 - random() * 0.004)
  const volume = empty ? 0 : (1 + random() * 5_000) * (1_000 / Math.max(price, 1))
  const trades = empty ? 0 : 1 + int(20_000)
  const first = empty ? -1 : 3_200_000_000 + int(100_000_000)
  const taker = random()
  return combined(`${symbol.toLowerCase()}@kline_${interval}`, {
    e: "kline",
    E,
    s: symbol,
    k: {
      t,
      T: t + ms - 1,
      s: symbol,
      i: interval,
      f: first,
      L: empty ? -1 : first + trades - 1,
      o: dec(open),
      c: dec(close),
      h: dec(high),
      l: dec(low),
      v: dec(volume),
      n: trades,
      x: closed,
      q: dec(volume * (open + close) / 2),
      V: dec(volume * taker),
      Q: dec(volume * taker * close),
      B: "0"
    }
  })
}

/** A `<symbol>@ticker` frame (§1.4): every documented field, best bid and ask included. */
const tickerFrame = (): string => {
  const { symbol, price } = pick(symbols)
  const E = T0 + int(86_400_000)
  const last = price * (1 + (random() - 0.5) * 0.02)
  const open = price * (1 + (random() - 0.5) * 0.05)
  const volume = (10_000 + random() * 1_000_000) * (1_000 / Math.max(price, 1))
  const spread = price * 0.00001
  const firstTrade = 3_100_000_000 + int(100_000_000)
  const trades = 100_000 + int(5_000_000)
  return combined(`${symbol.toLowerCase()}@ticker`, {
    e: "24hrTicker",
    E,
    s: symbol,
    p: dec(last - open),
    P: ((last / open - 1) * 100).toFixed(3),
    w: dec((last + open) / 2),
    x: dec(open * 0.9999),
    c: dec(last),
    Q: dec(random() * 2),
    b: dec(last - spread),
    B: dec(random() * 10),
    a: dec(last + spread),
    A: dec(random() * 10),
    o: dec(open),
    h: dec(Math.max(last, open) * 1.02),
    l: dec(Math.min(last, open) * 0.98),
    v: dec(volume),
    q: dec(volume * last),
    O: E - 86_400_000,
    C: E,
    F: firstTrade,
    L: firstTrade + trades - 1,
    n: trades
  })
}

/** A `<symbol>@miniTicker` frame (§1.4): no top of book. */
const miniTickerFrame = (): string => {
  const { symbol, price } = pick(symbols)
  const last = price * (1 + (random() - 0.5) * 0.02)
  const open = price * (1 + (random() - 0.5) * 0.05)
  const volume = (10_000 + random() * 1_000_000) * (1_000 / Math.max(price, 1))
  return combined(`${symbol.toLowerCase()}@miniTicker`, {
    e: "24hrMiniTicker",
    E: T0 + int(86_400_000),
    s: symbol,
    c: dec(last),
    o: dec(open),
    h: dec(Math.max(last, open) * 1.02),
    l: dec(Math.min(last, open) * 0.98),
    v: dec(volume),
    q: dec(volume * last)
  })
}

const FRAMES = 5_000
const generate = (make: () => string): ReadonlyArray<string> => Array.from({ length: FRAMES }, make)

interface Kind {
  readonly name: string
  readonly frames: ReadonlyArray<string>
  /** What a correct decode of every frame yields. */
  readonly expect: "Candle" | "Ticker"
}

const kinds: ReadonlyArray<Kind> = [
  { name: "kline, forming (x:false)", frames: generate(() => klineFrame(false)), expect: "Candle" },
  { name: "kline, closed (x:true)", frames: generate(() => klineFrame(true)), expect: "Candle" },
  { name: "24hrTicker (@ticker)", frames: generate(tickerFrame), expect: "Ticker" },
  { name: "24hrMiniTicker (@miniTicker)", frames: generate(miniTickerFrame), expect: "Ticker" }
]
// What a 50-symbol × 5-timeframe subscription with tickers delivers: per symbol every 2 s, 5 kline frames
// (about 1 % of them final) and 2 `@ticker` frames.
const mixed: ReadonlyArray<string> = generate(() => {
  const r = random() * 7
  return r < 5 ? klineFrame(random() < 0.01) : tickerFrame()
})

const EXCHANGE = "binance"

/** Every frame must decode, to the expected event: a bench of a failing decoder measures error paths. */
const verify = (frames: ReadonlyArray<string>, expect: Kind["expect"] | "Any") => {
  for (const text of frames) {
    const result = BinanceParse.frameFromText(EXCHANGE, text)
    if (Either.isLeft(result)) throw new Error(`frame did not decode: ${result.left.message}\n${text}`)
    const frame = result.right
    if (frame._tag !== "Event" || (expect !== "Any" && frame.event._tag !== expect)) {
      throw new Error(`frame decoded to ${JSON.stringify(frame)}, expected a ${expect} event\n${text}`)
    }
  }
}
for (const kind of kinds) verify(kind.frames, kind.expect)
verify(mixed, "Any")

// Results are folded into this so the engine cannot drop the work as dead code.
let checksum = 0

/** The socket's per-frame work up to the domain event (`BinanceSocket.onText` before it enters Effect). */
const decodeAll = (frames: ReadonlyArray<string>) => {
  for (const text of frames) {
    const result = BinanceParse.frameFromText(EXCHANGE, text)
    if (Either.isLeft(result) || result.right._tag !== "Event") throw new Error("decode failed")
    const event = result.right.event
    checksum += event._tag === "Candle" ? event.candle.close : event._tag === "Ticker" ? event.ticker.price : 0
  }
}

/** The floor: `JSON.parse` of the same text and nothing else. */
const parseAll = (frames: ReadonlyArray<string>) => {
  for (const text of frames) {
    const json = JSON.parse(text) as { readonly stream: string }
    checksum += json.stream.length
  }
}

interface Figure {
  /** Messages (frames) per second, median of the rounds. */
  readonly perSecond: number
  /** Nanoseconds per message, median of the rounds. */
  readonly nsPerMessage: number
}

interface Row {
  readonly name: string
  readonly frames: number
  readonly bytesPerFrame: number
  readonly decode: Figure
  readonly jsonParse: Figure
  /** Decode time over JSON.parse time per message, same run. */
  readonly ratio: number
}

const ROUNDS = 9

const timeRound = (run: (frames: ReadonlyArray<string>) => void, frames: ReadonlyArray<string>): number => {
  const started = process.hrtime.bigint()
  run(frames)
  return Number(process.hrtime.bigint() - started) / frames.length
}

const median = (samples: Array<number>): Figure => {
  samples.sort((x, y) => x - y)
  const nsPerMessage = samples[Math.floor(samples.length / 2)]!
  return { perSecond: 1e9 / nsPerMessage, nsPerMessage }
}

/** Decode and JSON.parse in alternating rounds (which goes first alternates too), medians of each. */
const measure = (name: string, frames: ReadonlyArray<string>): Row => {
  const decode: Array<number> = []
  const parse: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      parse.push(timeRound(parseAll, frames))
      decode.push(timeRound(decodeAll, frames))
    } else {
      decode.push(timeRound(decodeAll, frames))
      parse.push(timeRound(parseAll, frames))
    }
  }
  const bytes = frames.reduce((sum, text) => sum + Buffer.byteLength(text), 0)
  const d = median(decode)
  const p = median(parse)
  return { name, frames: frames.length, bytesPerFrame: bytes / frames.length, decode: d, jsonParse: p, ratio: d.nsPerMessage / p.nsPerMessage }
}

const started = Date.now()
// Warm-up on every kind before any is timed, so no row runs with code specialised to its shape alone.
for (let i = 0; i < 3; i++) {
  for (const kind of kinds) {
    decodeAll(kind.frames)
    parseAll(kind.frames)
  }
}
const rows: ReadonlyArray<Row> = [
  ...kinds.map((kind) => measure(kind.name, kind.frames)),
  measure("mixed: 5 kline : 2 @ticker (1 % of klines closed)", mixed)
]
const seconds = (Date.now() - started) / 1000
if (!Number.isFinite(checksum)) throw new Error("checksum is not finite")

const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: n < 100 ? 1 : 0 })
console.log(
  `Binance stream decoding — BinanceParse.frameFromText per combined-stream text frame; ${FRAMES.toLocaleString("en-US")} frames per kind, ` +
    `${symbols.length} symbols × ${intervals.length} intervals; median of ${ROUNDS} rounds after warm-up; node ${process.version}`
)
console.log("")
console.log("| frame kind | bytes/frame | decoded msg/s | ns/msg | JSON.parse msg/s | JSON.parse ns/msg | decode ÷ JSON.parse |")
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for (const row of rows) {
  console.log(
    `| ${row.name} | ${fmt(row.bytesPerFrame)} | ${fmt(row.decode.perSecond)} | ${fmt(row.decode.nsPerMessage)} | ` +
      `${fmt(row.jsonParse.perSecond)} | ${fmt(row.jsonParse.nsPerMessage)} | ${row.ratio.toFixed(1)}× |`
  )
}
console.log("")
console.log(`decode ÷ JSON.parse is measured in this run (alternating rounds); timed part took ${seconds.toFixed(1)} s`)

const out = path.resolve(import.meta.dirname, "../../../bench-results")
mkdirSync(out, { recursive: true })
writeFileSync(
  path.join(out, "exchange-binance-decode.json"),
  `${JSON.stringify({ at: new Date().toISOString(), node: process.version, decoder: "BinanceParse.frameFromText", peer: "JSON.parse", rounds: ROUNDS, rows }, null, 2)}\n`
)
