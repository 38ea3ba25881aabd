/**
 * Coinbase stream decoding benchmark: decoded messages per second for each kind of text frame, through the work
 * `CoinbaseSocket` does for every frame before its effects (`CoinbaseMessages.decodeServerMessage`, then
 * `CoinbaseParse.candle` / `CoinbaseParse.ticker` for each item of a subscribed product). The sequence and
 * heartbeat bookkeeping, the exchange clock and the candle tracker are not part of it. The peer is `JSON.parse`
 * alone on the same frames, the floor any decoder pays, timed in alternating rounds of the same run. Frames are
 * generated deterministically from the documented formats (exchanges.md §2.2–§2.4). Prints a table and writes
 * bench-results/exchange-coinbase-decode.json.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { type Candle, Market } from "@livermore/domain"
import { MarketEvent } from "@livermore/exchange"
import { Either } from "effect"
import * as Messages from "../src/CoinbaseMessages.js"
import * as Parse from "../src/CoinbaseParse.js"

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

/** 50 USD products with a plausible price each, from BTC down to sub-cent coins. */
const bases: ReadonlyArray<readonly [string, number]> = [
  ["BTC", 93_000], ["ETH", 3_200], ["SOL", 190], ["XRP", 2.1], ["DOGE", 0.32], ["ADA", 0.9], ["AVAX", 38],
  ["LINK", 21], ["DOT", 6.8], ["POL", 0.45], ["LTC", 105], ["BCH", 430], ["SHIB", 0.0000212], ["UNI", 13.5],
  ["ATOM", 6.4], ["XLM", 0.42], ["ETC", 27], ["FIL", 5.1], ["APT", 8.9], ["ARB", 0.74], ["OP", 1.9],
  ["NEAR", 5.2], ["INJ", 22], ["AAVE", 340], ["SUI", 4.3], ["PEPE", 0.0000181], ["TIA", 5.5], ["SEI", 0.45],
  ["ALGO", 0.38], ["HBAR", 0.28], ["VET", 0.046], ["ICP", 10.2], ["GRT", 0.21], ["FET", 1.35], ["RENDER", 7.1],
  ["IMX", 1.3], ["STX", 1.6], ["MKR", 1_700], ["LDO", 1.8], ["SAND", 0.6], ["MANA", 0.55], ["AXS", 6.9],
  ["EGLD", 34], ["FLOW", 0.8], ["KAVA", 0.48], ["WIF", 2.2], ["BONK", 0.000031], ["CRV", 0.95], ["COMP", 85],
  ["SNX", 2.4]
]
const products = bases.map(([base, price]) => ({ product: `${base}-USD`, price }))

/** Coinbase sends decimal strings without padding (`"93018.75"`, `"0.0000212"`). */
const px = (n: number) => String(Number(n.toPrecision(7)))
const qty = (n: number) => String(Number(n.toFixed(8)))
const T0 = Date.UTC(2026, 0, 5, 10)
let sequence = 0
let heartbeat = 3_000

/** An RFC 3339 timestamp with nanoseconds, as the envelope carries it. */
const timestamp = (ms: number) => `${new Date(ms).toISOString().slice(0, 23)}${String(int(1_000_000)).padStart(6, "0")}Z`

/** The envelope every server message shares (§2.2). */
const envelope = (channel: string, ms: number, events: ReadonlyArray<unknown>) =>
  JSON.stringify({ channel, client_id: "", timestamp: timestamp(ms), sequence_num: sequence++, events })

/** One `candles` item (§2.3): the 5-minute bucket `start` in unix seconds as a string. */
const wireCandle = (product: string, price: number, at: number) => {
  const start = Math.floor(at / 300_000) * 300
  const open = price * (1 + (random() - 0.5) * 0.01)
  const close = open * (1 + (random() - 0.5) * 0.004)
  const high = Math.max(open, close) * (1 + random() * 0.002)
  const low = Math.min(open, close) * (1 - random() * 0.002)
  return {
    start: String(start),
    high: px(high),
    low: px(low),
    open: px(open),
    close: px(close),
    volume: qty((0.01 + random() * 50) * (1_000 / Math.max(price, 1))),
    product_id: product
  }
}

/** A `candles` update carrying `count` candles of distinct products. */
const candlesFrame = (count: number): string => {
  const at = T0 + int(86_400_000)
  const first = int(products.length)
  const candles = Array.from({ length: count }, (_, i) => {
    const { product, price } = products[(first + i) % products.length]!
    return wireCandle(product, price, at)
  })
  return envelope("candles", at + 500, [{ type: "update", candles }])
}

/** A `ticker` message with one item, every documented field present (§2.4). */
const tickerFrame = (): string => {
  const { product, price } = products[int(products.length)]!
  const last = price * (1 + (random() - 0.5) * 0.02)
  const spread = price * 0.00001
  return envelope("ticker", T0 + int(86_400_000), [
    {
      type: "update",
      tickers: [
        {
          type: "ticker",
          product_id: product,
          price: px(last),
          volume_24_h: qty((10_000 + random() * 1_000_000) * (1_000 / Math.max(price, 1))),
          low_24_h: px(last * 0.98),
          high_24_h: px(last * 1.02),
          low_52_w: px(price * 0.5),
          high_52_w: px(price * 1.4),
          price_percent_chg_24_h: String((random() - 0.5) * 10),
          best_bid: px(last - spread),
          best_bid_quantity: qty(random() * 10),
          best_ask: px(last + spread),
          best_ask_quantity: qty(random() * 10)
        }
      ]
    }
  ])
}

/** A `heartbeats` message: the counter is a string in the prose docs, an integer per AsyncAPI; alternate both. */
const heartbeatsFrame = (): string => {
  const at = T0 + int(86_400_000)
  const iso = new Date(at).toISOString()
  const counter = heartbeat++
  return envelope("heartbeats", at, [
    {
      current_time: `${iso.slice(0, 10)} ${iso.slice(11, 23)}${String(int(1_000_000)).padStart(6, "0")} +0000 UTC m=+${(counter + random()).toFixed(9)}`,
      heartbeat_counter: counter % 2 === 0 ? String(counter) : counter
    }
  ])
}

const FRAMES = 5_000
const generate = (make: () => string): ReadonlyArray<string> => Array.from({ length: FRAMES }, make)

interface Kind {
  readonly name: string
  readonly frames: ReadonlyArray<string>
  /** Domain values (candles, tickers) each frame yields. */
  readonly items: number
}

const kinds: ReadonlyArray<Kind> = [
  { name: "candles update, 1 candle", frames: generate(() => candlesFrame(1)), items: 1 },
  { name: "candles update, 5 candles", frames: generate(() => candlesFrame(5)), items: 5 },
  { name: "ticker, 1 item (all fields)", frames: generate(tickerFrame), items: 1 },
  { name: "heartbeats (counter string / integer)", frames: generate(heartbeatsFrame), items: 0 }
]
// 50 products on one connection: candle updates about once a second per product, tickers at least as often,
// and one heartbeat a second.
const mixed: ReadonlyArray<string> = generate(() => {
  const r = random() * 101
  return r < 50 ? candlesFrame(1) : r < 100 ? tickerFrame() : heartbeatsFrame()
})

/** The subscribed products, as the socket's `bySymbol` map holds them. */
const bySymbol = new Map<string, Market.SymbolId>(products.map(({ product }) => [product, Market.SymbolId.make(product)]))

// Results are folded into this so the engine cannot drop the work as dead code.
let checksum = 0

/**
 * The socket's per-frame decoding (`CoinbaseSocket` `onMessage`, `onCandles`, `onTicker`): the frame, then each
 * candle or ticker of a subscribed product as a domain value. Returns the number of domain values; throws on a
 * frame the socket would count as malformed.
 */
const decodeFrame = (text: string): number => {
  const decoded = Messages.decodeServerMessage(text)
  if (Either.isLeft(decoded)) throw new Error(`frame did not decode: ${decoded.left.message}\n${text}`)
  const message = decoded.right
  if (message instanceof Messages.CoinbaseCandlesMessage) {
    const updates: Array<{ symbol: Market.SymbolId; candle: Candle.Candle }> = []
    for (const event of message.events) {
      for (const wire of event.candles) {
        const symbol = bySymbol.get(wire.product_id)
        if (symbol === undefined) continue
        const parsed = Parse.candle(wire, false)
        if (Either.isLeft(parsed)) throw new Error(`candle did not parse: ${parsed.left.message}\n${text}`)
        updates.push({ symbol, candle: parsed.right })
        checksum += parsed.right.close
      }
    }
    return updates.length
  }
  if (message instanceof Messages.CoinbaseTickerMessage) {
    const events: Array<MarketEvent.MarketEvent> = []
    for (const event of message.events) {
      for (const wire of event.tickers) {
        if (!bySymbol.has(wire.product_id)) continue
        const parsed = Parse.ticker(wire, message.timestamp)
        if (Either.isLeft(parsed)) throw new Error(`ticker did not parse: ${parsed.left.message}\n${text}`)
        events.push(MarketEvent.MarketEvent.Ticker({ ticker: parsed.right }))
        checksum += parsed.right.price
      }
    }
    return events.length
  }
  if (message instanceof Messages.CoinbaseHeartbeatsMessage) {
    for (const event of message.events) checksum += event.heartbeat_counter
    return 0
  }
  throw new Error(`unexpected message: ${text.slice(0, 80)}`)
}

/** Every frame must decode to its items: a bench of a failing decoder measures error paths. */
for (const kind of kinds) {
  for (const text of kind.frames) {
    const items = decodeFrame(text)
    if (items !== kind.items) throw new Error(`${kind.name}: ${items} items instead of ${kind.items}\n${text}`)
  }
}
for (const text of mixed) decodeFrame(text)

const decodeAll = (frames: ReadonlyArray<string>) => {
  for (const text of frames) checksum += decodeFrame(text)
}

/** The floor: `JSON.parse` of the same text and nothing else. */
const parseAll = (frames: ReadonlyArray<string>) => {
  for (const text of frames) {
    const json = JSON.parse(text) as { readonly sequence_num: number }
    checksum += json.sequence_num
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
  /** Domain values per frame (candles or tickers); undefined for the mix. */
  readonly itemsPerFrame: number | undefined
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
const measure = (name: string, frames: ReadonlyArray<string>, itemsPerFrame: number | undefined): Row => {
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
  return {
    name,
    frames: frames.length,
    bytesPerFrame: bytes / frames.length,
    itemsPerFrame,
    decode: d,
    jsonParse: p,
    ratio: d.nsPerMessage / p.nsPerMessage
  }
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
  ...kinds.map((kind) => measure(kind.name, kind.frames, kind.items)),
  measure("mixed: candles (1) : ticker : heartbeats = 50 : 50 : 1", mixed, undefined)
]
const seconds = (Date.now() - started) / 1000
if (!Number.isFinite(checksum)) throw new Error("checksum is not finite")

const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: n < 100 ? 1 : 0 })
console.log(
  `Coinbase stream decoding — decodeServerMessage + CoinbaseParse per text frame; ${FRAMES.toLocaleString("en-US")} frames per kind, ` +
    `${products.length} products; median of ${ROUNDS} rounds after warm-up; node ${process.version}`
)
console.log("")
console.log(
  "| frame kind | bytes/frame | items/frame | decoded msg/s | ns/msg | JSON.parse msg/s | JSON.parse ns/msg | decode ÷ JSON.parse |"
)
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for (const row of rows) {
  console.log(
    `| ${row.name} | ${fmt(row.bytesPerFrame)} | ${row.itemsPerFrame ?? "—"} | ${fmt(row.decode.perSecond)} | ` +
      `${fmt(row.decode.nsPerMessage)} | ${fmt(row.jsonParse.perSecond)} | ${fmt(row.jsonParse.nsPerMessage)} | ${row.ratio.toFixed(1)}× |`
  )
}
console.log("")
console.log(`decode ÷ JSON.parse is measured in this run (alternating rounds); timed part took ${seconds.toFixed(1)} s`)

const out = path.resolve(import.meta.dirname, "../../../bench-results")
mkdirSync(out, { recursive: true })
writeFileSync(
  path.join(out, "exchange-coinbase-decode.json"),
  `${JSON.stringify(
    {
      at: new Date().toISOString(),
      node: process.version,
      decoder: "CoinbaseMessages.decodeServerMessage + CoinbaseParse.candle / CoinbaseParse.ticker",
      peer: "JSON.parse",
      rounds: ROUNDS,
      rows
    },
    null,
    2
  )}\n`
)
