/**
 * Coinbase Advanced Trade market data over WebSocket (exchanges.md §2.1–2.4): one channel per subscribe,
 * the `subscriptions` ack, a per-connection `sequence_num` from 0, `candles` (5-minute, snapshot then updates,
 * no closed flag), `ticker`, `ticker_batch` and `heartbeats`; the 5 s first-subscribe rule and the idle close.
 */
import * as BinanceRest from "./BinanceRest.js"
import type { Outbound, Session } from "./internal/socket.js"
import type { Interval } from "./Intervals.js"
import type { Bar, Market, SimSymbol } from "./Market.js"
import * as M from "./Market.js"
import type { CoinbaseOptions } from "./Options.js"

const FIVE_MINUTES: Interval = { ms: M.BASE_MS, offsetMs: 0 }
const TICKER_BATCH_MS = 5000
/** At most this many passed buckets are reported after a late tick; a longer pause is a gap, as on the venue. */
const MAX_CATCH_UP = 50

type DataChannel = "candles" | "ticker" | "ticker_batch"
const dataChannels: ReadonlyArray<DataChannel> = ["candles", "ticker", "ticker_batch"]
const unauthenticated = ["status", "level2", "market_trades"]
const authenticated = ["user", "futures_balance_summary"]

/** RFC 3339 with nanosecond digits, as Coinbase writes envelope timestamps. */
export const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace("Z", "000000Z")

/** Go's `time.Time.String()` form used in `heartbeats.current_time`. */
export const goTime = (ms: number, monotonicSeconds: number): string => {
  const iso = new Date(ms).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000000 +0000 UTC m=+${monotonicSeconds.toFixed(9)}`
}

const candleJson = (s: SimSymbol, bar: Bar): Record<string, string> => ({
  start: String(bar.openTime / 1000),
  high: M.formatPrice(s, bar.high),
  low: M.formatPrice(s, bar.low),
  open: M.formatPrice(s, bar.open),
  close: M.formatPrice(s, bar.close),
  volume: M.formatVolume(s, bar.volume),
  product_id: s.coinbase
})

const tickerJson = (market: Market, s: SimSymbol, now: number, withBook: boolean): Record<string, string> => {
  const r = market.rolling24h(s, now)
  const year = market.yearRange(s, now)
  const change = r.open === 0 ? 0 : ((r.last - r.open) / r.open) * 100
  const base = {
    type: "ticker",
    product_id: s.coinbase,
    price: M.formatPrice(s, r.last),
    volume_24_h: M.formatVolume(s, r.volume),
    low_24_h: M.formatPrice(s, r.low),
    high_24_h: M.formatPrice(s, r.high),
    low_52_w: M.formatPrice(s, year.low),
    high_52_w: M.formatPrice(s, year.high),
    price_percent_chg_24_h: change.toFixed(8)
  }
  if (!withBook) return base
  const book = BinanceRest.bookOf(market, s, now)
  return {
    ...base,
    best_bid: M.formatPrice(s, book.bid),
    best_bid_quantity: M.formatVolume(s, book.bidQty),
    best_ask: M.formatPrice(s, book.ask),
    best_ask_quantity: M.formatVolume(s, book.askQty)
  }
}

const signature = (bar: Bar): string => `${bar.openTime}|${bar.high}|${bar.low}|${bar.close}|${bar.volume}`

interface CandleState {
  start: number
  sent: string
}

/** One Coinbase market-data connection. */
export class CoinbaseSession implements Session {
  readonly venue = "coinbase" as const
  private sequence = 0
  private readonly products: Record<DataChannel, Set<string>> = {
    candles: new Set(),
    ticker: new Set(),
    ticker_batch: new Set()
  }
  private heartbeats = false
  private subscribedOnce = false
  private heartbeatCounter = 0
  private lastHeartbeat: number
  private lastData: number
  private readonly candleState = new Map<string, CandleState>()
  private readonly tickerSent: Record<"ticker" | "ticker_batch", Map<string, string>> = {
    ticker: new Map(),
    ticker_batch: new Map()
  }
  private lastPush: Record<DataChannel, number> = {
    candles: Number.NEGATIVE_INFINITY,
    ticker: Number.NEGATIVE_INFINITY,
    ticker_batch: Number.NEGATIVE_INFINITY
  }
  private done = false

  constructor(
    private readonly market: Market,
    private readonly options: CoinbaseOptions,
    private readonly out: Outbound,
    private readonly connectedAt: number,
    /** Real ms at server start, for the monotonic part of `current_time`. */
    private readonly serverStartedAt: number
  ) {
    this.lastHeartbeat = connectedAt
    this.lastData = connectedAt
  }

  subscriptionCount = (): number =>
    this.products.candles.size + this.products.ticker.size + this.products.ticker_batch.size + (this.heartbeats ? 1 : 0)

  private envelope(channel: string, simNow: number, events: ReadonlyArray<unknown>): void {
    this.out.send(
      JSON.stringify({ channel, client_id: "", timestamp: rfc3339(simNow), sequence_num: this.sequence++, events })
    )
  }

  private data(channel: string, simNow: number, realNow: number, events: ReadonlyArray<unknown>): void {
    this.lastData = realNow
    this.envelope(channel, simNow, events)
  }

  private error(message: string): void {
    this.out.send(JSON.stringify({ type: "error", message }))
  }

  private close(code: number, reason: string, statsReason: string): void {
    if (this.done) return
    this.done = true
    this.out.close(code, reason, statsReason)
  }

  private ack(simNow: number, realNow: number): void {
    const subscriptions: Record<string, ReadonlyArray<string>> = {}
    for (const channel of dataChannels) {
      if (this.products[channel].size > 0) subscriptions[channel] = [...this.products[channel]]
    }
    if (this.heartbeats) subscriptions.heartbeats = ["heartbeats"]
    this.data("subscriptions", simNow, realNow, [{ subscriptions }])
  }

  onText = (text: string, realNow: number, simNow: number): void => {
    if (this.done) return
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      this.error("failure to parse JSON message")
      return
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      this.error("message must be a JSON object")
      return
    }
    const request = message as Record<string, unknown>
    const type = request.type
    if (type !== "subscribe" && type !== "unsubscribe") {
      this.error(`unknown message type ${JSON.stringify(type ?? null)}: expected "subscribe" or "unsubscribe"`)
      return
    }
    if ("channels" in request) {
      this.error('one channel per message: send "channel" (a string), not "channels"')
      return
    }
    const channel = request.channel
    if (typeof channel !== "string" || channel === "") {
      this.error("channel is required")
      return
    }
    if (authenticated.includes(channel)) {
      this.error("authentication failure")
      return
    }
    if (channel === "heartbeats") {
      this.heartbeats = type === "subscribe"
      if (type === "subscribe") {
        this.subscribedOnce = true
        this.lastHeartbeat = realNow
      }
      this.ack(simNow, realNow)
      return
    }
    if (unauthenticated.includes(channel)) {
      this.error(`Failed to ${type}: channel ${channel} is not simulated by exchange-sim`)
      return
    }
    if (!(dataChannels as ReadonlyArray<string>).includes(channel)) {
      this.error(`Failed to ${type}: unknown channel ${channel}`)
      return
    }
    const dataChannel = channel as DataChannel
    const ids = request.product_ids
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id): id is string => typeof id === "string")) {
      this.error(`Failed to ${type}: product_ids must be a non-empty array of product ids`)
      return
    }
    const symbols: Array<SimSymbol> = []
    for (const id of ids) {
      const s = this.market.byProduct(id)
      if (s === undefined) {
        this.error(`Failed to ${type}: unknown product_id ${id}`)
        return
      }
      symbols.push(s)
    }
    if (type === "unsubscribe") {
      for (const s of symbols) {
        this.products[dataChannel].delete(s.coinbase)
        if (dataChannel === "candles") this.candleState.delete(s.coinbase)
        if (dataChannel !== "candles") this.tickerSent[dataChannel].delete(s.coinbase)
      }
      this.ack(simNow, realNow)
      return
    }
    const added: Array<SimSymbol> = []
    for (const s of symbols) {
      if (this.products[dataChannel].has(s.coinbase)) continue
      this.products[dataChannel].add(s.coinbase)
      added.push(s)
    }
    this.subscribedOnce = true
    this.ack(simNow, realNow)
    if (added.length === 0) return
    if (dataChannel === "candles") this.snapshotCandles(added, simNow, realNow)
    else this.snapshotTickers(dataChannel, added, simNow, realNow)
  }

  private snapshotCandles(symbols: ReadonlyArray<SimSymbol>, simNow: number, realNow: number): void {
    const start = Math.floor(simNow / M.BASE_MS) * M.BASE_MS
    const candles: Array<Record<string, string>> = []
    for (const s of symbols) {
      const bar = this.market.candle(s, FIVE_MINUTES, start, simNow)
      const state: CandleState = { start, sent: "" }
      // No trades in the bucket yet: nothing to report (Coinbase has no candle without ticks).
      if (bar !== undefined && bar.trades > 0) {
        state.sent = signature(bar)
        candles.push(candleJson(s, bar))
      }
      this.candleState.set(s.coinbase, state)
    }
    this.data("candles", simNow, realNow, [{ type: "snapshot", candles }])
  }

  private snapshotTickers(
    channel: "ticker" | "ticker_batch",
    symbols: ReadonlyArray<SimSymbol>,
    simNow: number,
    realNow: number
  ): void {
    const tickers = symbols.map((s) => {
      const t = tickerJson(this.market, s, simNow, channel === "ticker")
      this.tickerSent[channel].set(s.coinbase, `${t.price}|${t.volume_24_h}`)
      return t
    })
    this.data(channel, simNow, realNow, [{ type: "snapshot", tickers }])
  }

  tick = (simNow: number, realNow: number): void => {
    if (this.done) return
    if (this.products.candles.size > 0 && simNow - this.lastPush.candles >= this.options.pushMs) {
      this.lastPush.candles = simNow
      this.pushCandles(simNow, realNow)
    }
    for (const channel of ["ticker", "ticker_batch"] as const) {
      const cadence = channel === "ticker" ? this.options.pushMs : TICKER_BATCH_MS
      if (this.products[channel].size > 0 && simNow - this.lastPush[channel] >= cadence) {
        this.lastPush[channel] = simNow
        const tickers: Array<Record<string, string>> = []
        for (const id of this.products[channel]) {
          const s = this.market.byProduct(id)
          if (s === undefined) continue
          const t = tickerJson(this.market, s, simNow, channel === "ticker")
          const sig = `${t.price}|${t.volume_24_h}`
          if (this.tickerSent[channel].get(id) !== sig) {
            this.tickerSent[channel].set(id, sig)
            tickers.push(t)
          }
        }
        if (tickers.length > 0) this.data(channel, simNow, realNow, [{ type: "update", tickers }])
      }
    }
  }

  private pushCandles(simNow: number, realNow: number): void {
    const start = Math.floor(simNow / M.BASE_MS) * M.BASE_MS
    const updates: Array<Record<string, string>> = []
    for (const id of this.products.candles) {
      const s = this.market.byProduct(id)
      if (s === undefined) continue
      const state = this.candleState.get(id) ?? { start, sent: "" }
      if (state.start < start) {
        // The bucket rolled: report its final state if the last update missed the closing trades. A late tick (an
        // event loop stalled longer than a bucket at high speed) may have passed whole buckets; Coinbase would have
        // reported each of them while it was forming, so each gets its final state here, in time order.
        const first = Math.max(state.start, start - MAX_CATCH_UP * M.BASE_MS)
        for (let bucket = first; bucket < start; bucket += M.BASE_MS) {
          const final = this.market.candle(s, FIVE_MINUTES, bucket, simNow)
          const unchanged = bucket === state.start && final !== undefined && signature(final) === state.sent
          if (final !== undefined && final.trades > 0 && !unchanged) updates.push(candleJson(s, final))
        }
        state.start = start
        state.sent = ""
      }
      const bar = this.market.candle(s, FIVE_MINUTES, start, simNow)
      if (bar !== undefined && bar.trades > 0 && signature(bar) !== state.sent) {
        state.sent = signature(bar)
        updates.push(candleJson(s, bar))
      }
      this.candleState.set(id, state)
    }
    if (updates.length > 0) this.data("candles", simNow, realNow, [{ type: "update", candles: updates }])
  }

  housekeep = (realNow: number, simNow: number): void => {
    if (this.done) return
    if (!this.subscribedOnce) {
      if (realNow - this.connectedAt >= this.options.subscribeTimeoutMs) {
        this.close(1008, "No subscription received in time", "subscribe-timeout")
      }
      return
    }
    if (this.heartbeats) {
      if (realNow - this.lastHeartbeat >= this.options.heartbeatIntervalMs) {
        this.lastHeartbeat = realNow
        this.heartbeatCounter++
        this.envelope("heartbeats", simNow, [
          {
            current_time: goTime(simNow, (realNow - this.serverStartedAt) / 1000),
            heartbeat_counter: this.heartbeatCounter
          }
        ])
      }
    } else if (realNow - this.lastData >= this.options.idleTimeoutMs) {
      this.close(1000, "Idle channel", "idle")
    }
  }

  stall = (realNow: number): void => {
    this.lastData = realNow
    this.lastHeartbeat = realNow
  }

  /** Mark closed (the socket went away). */
  closed(): void {
    this.done = true
  }
}
