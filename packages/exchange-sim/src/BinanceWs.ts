/**
 * Binance market streams over WebSocket (exchanges.md §1.1–1.4): raw `/ws`, `/ws/<streams>` and combined
 * `/stream?streams=a/b`; SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and GET_PROPERTY with
 * `{"result","id"}` acks and `{"code","msg","id"}` errors; kline, miniTicker and ticker events; ping frames,
 * pong timeout, the 5 messages/s and 1024-stream limits, and the forced lifetime with `serverShutdown`.
 */
import * as BinanceRest from "./BinanceRest.js"
import type { Outbound, Session } from "./internal/socket.js"
import type { Interval } from "./Intervals.js"
import * as Intervals from "./Intervals.js"
import type { Bar, Market, SimSymbol } from "./Market.js"
import * as M from "./Market.js"
import type { BinanceOptions } from "./Options.js"
import { MessageRate } from "./RateLimits.js"

/** A stream name the simulator understood. Streams that are valid on Binance but not simulated are `silent`. */
export type Stream =
  | { readonly _tag: "Kline"; readonly name: string; readonly symbol: SimSymbol; readonly intervalName: string; readonly interval: Interval }
  | { readonly _tag: "MiniTicker"; readonly name: string; readonly symbol: SimSymbol }
  | { readonly _tag: "Ticker"; readonly name: string; readonly symbol: SimSymbol }
  | { readonly _tag: "AllMiniTickers"; readonly name: string }
  | { readonly _tag: "Silent"; readonly name: string }

const SILENT_SUFFIX = /^(trade|aggTrade|bookTicker|avgPrice|depth|depth(5|10|20)|ticker_(1h|4h|1d)|rollingWindow.*)(@(100|1000)ms)?$/

/**
 * Parse a stream name. Symbols must be lowercase: an uppercase or unknown symbol is accepted (Binance takes it)
 * but stays silent, as does a valid interval the simulator does not serve (`1s`, `3d`, `1M`) or a UTC+8 variant.
 * `undefined` means the name is not a Binance stream at all.
 */
export const parseStream = (market: Market, name: string): Stream | undefined => {
  if (name === "!miniTicker@arr") return { _tag: "AllMiniTickers", name }
  if (name === "!ticker@arr" || name === "!bookTicker" || /^!ticker_(1h|4h|1d)@arr$/.test(name)) {
    return { _tag: "Silent", name }
  }
  const at = name.indexOf("@")
  if (at <= 0) return undefined
  const symbolPart = name.slice(0, at)
  const kind = name.slice(at + 1)
  if (!/^[A-Za-z0-9]{1,20}$/.test(symbolPart)) return undefined
  const symbol = symbolPart === symbolPart.toLowerCase() ? market.bySymbol(symbolPart.toUpperCase()) : undefined
  if (kind.startsWith("kline_")) {
    const rest = kind.slice("kline_".length)
    const utc8 = rest.endsWith("@+08:00")
    const intervalName = utc8 ? rest.slice(0, -"@+08:00".length) : rest
    if (!Intervals.binance.has(intervalName)) return undefined
    const interval = Intervals.binance.get(intervalName)
    if (symbol === undefined || interval === undefined || utc8) return { _tag: "Silent", name }
    return { _tag: "Kline", name, symbol, intervalName, interval }
  }
  if (kind === "miniTicker") return symbol === undefined ? { _tag: "Silent", name } : { _tag: "MiniTicker", name, symbol }
  if (kind === "ticker") return symbol === undefined ? { _tag: "Silent", name } : { _tag: "Ticker", name, symbol }
  if (SILENT_SUFFIX.test(kind)) return { _tag: "Silent", name }
  return undefined
}

/** The kline event for `bar` of `s` on `intervalName` at event time `eventTime`. */
export const klineEvent = (s: SimSymbol, intervalName: string, bar: Bar, eventTime: number): Record<string, unknown> => {
  const px = (t: number) => M.formatPrice(s, t, 8)
  const qty = (u: number) => M.formatVolume(s, u, 8)
  return {
    e: "kline",
    E: eventTime,
    s: s.binance,
    k: {
      t: bar.openTime,
      T: bar.endTime - 1,
      s: s.binance,
      i: intervalName,
      f: bar.firstTradeId,
      L: bar.lastTradeId,
      o: px(bar.open),
      c: px(bar.close),
      h: px(bar.high),
      l: px(bar.low),
      v: qty(bar.volume),
      n: bar.trades,
      x: bar.closed,
      q: M.formatQuote(bar.quoteVolume, 8),
      V: qty(bar.takerBaseVolume),
      Q: M.formatQuote(bar.takerQuoteVolume, 8),
      B: "0"
    }
  }
}

const miniTickerEvent = (market: Market, s: SimSymbol, now: number): Record<string, unknown> => {
  const t = BinanceRest.ticker24h(market, s, now, false)
  return {
    e: "24hrMiniTicker",
    E: now,
    s: s.binance,
    c: t.lastPrice,
    o: t.openPrice,
    h: t.highPrice,
    l: t.lowPrice,
    v: t.volume,
    q: t.quoteVolume
  }
}

const tickerEvent = (market: Market, s: SimSymbol, now: number): Record<string, unknown> => {
  const t = BinanceRest.ticker24h(market, s, now, true)
  return {
    e: "24hrTicker",
    E: now,
    s: s.binance,
    p: t.priceChange,
    P: t.priceChangePercent,
    w: t.weightedAvgPrice,
    x: t.prevClosePrice,
    c: t.lastPrice,
    Q: t.lastQty,
    b: t.bidPrice,
    B: t.bidQty,
    a: t.askPrice,
    A: t.askQty,
    o: t.openPrice,
    h: t.highPrice,
    l: t.lowPrice,
    v: t.volume,
    q: t.quoteVolume,
    O: t.openTime,
    C: t.closeTime,
    F: t.firstId,
    L: t.lastId,
    n: t.count
  }
}

/** Where a connection's URL puts it: raw or combined, and the streams named in the URL. */
export interface ConnectionTarget {
  readonly combined: boolean
  readonly streams: ReadonlyArray<string>
}

/**
 * The Binance target of an upgrade path, `undefined` when the path is not a Binance stream path. The path
 * forms are `/ws`, `/ws/<s1>/<s2>…` (raw) and `/stream?streams=<s1>/<s2>…` (combined).
 */
export const target = (path: string, query: URLSearchParams): ConnectionTarget | undefined => {
  if (path === "/ws" || path === "/ws/") return { combined: false, streams: [] }
  if (path.startsWith("/ws/")) return { combined: false, streams: path.slice(4).split("/").filter((x) => x !== "") }
  if (path === "/stream" || path === "/stream/") {
    const raw = query.get("streams") ?? ""
    return { combined: true, streams: raw.split("/").filter((x) => x !== "") }
  }
  return undefined
}

interface StreamState {
  readonly stream: Stream
  lastOpenTime: number | undefined
  lastPush: number
  readonly sent: Map<number, string>
}

const MAX_CATCH_UP = 50

type RequestId = number | string | null

const validId = (id: unknown): id is RequestId =>
  id === null ||
  (typeof id === "number" && Number.isSafeInteger(id)) ||
  (typeof id === "string" && /^[A-Za-z0-9_-]{1,36}$/.test(id))

/** One Binance stream connection. */
export class BinanceSession implements Session {
  readonly venue = "binance" as const
  private combined: boolean
  private readonly streams = new Map<string, StreamState>()
  private readonly rate: MessageRate
  private lastAlive: number
  private lastPing: number
  private pingCounter = 0
  private readonly pending = new Set<string>()
  private shutdownAt: number | undefined
  private closeAt: number | undefined
  private done = false

  constructor(
    private readonly market: Market,
    private readonly options: BinanceOptions,
    private readonly out: Outbound,
    initial: { readonly combined: boolean; readonly streams: ReadonlyArray<Stream> },
    private readonly connectedAt: number
  ) {
    this.combined = initial.combined
    for (const stream of initial.streams) this.add(stream)
    this.rate = new MessageRate(options.maxMessagesPerSecond)
    this.lastAlive = connectedAt
    this.lastPing = connectedAt
    if (options.maxLifetimeMs > 0) {
      this.closeAt = connectedAt + options.maxLifetimeMs
      this.shutdownAt = this.closeAt - options.shutdownNoticeMs
    }
  }

  subscriptionCount = (): number => this.streams.size

  private add(stream: Stream): void {
    if (!this.streams.has(stream.name)) {
      this.streams.set(stream.name, { stream, lastOpenTime: undefined, lastPush: Number.NEGATIVE_INFINITY, sent: new Map() })
    }
  }

  private send(stream: string, data: unknown): void {
    this.out.send(JSON.stringify(this.combined ? { stream, data } : data))
  }

  private reply(body: Record<string, unknown>): void {
    this.out.send(JSON.stringify(body))
  }

  private error(code: number, msg: string, id: RequestId): void {
    this.reply({ code, msg, id })
  }

  /**
   * SET_PROPERTY and GET_PROPERTY share their checks: `arity` params whose first names the only property there
   * is, `combined`. Answers the error (codes as Binance: 2 invalid request, 0 unknown property) when not.
   */
  private isCombinedProperty(
    params: unknown,
    arity: number,
    usage: string,
    id: RequestId
  ): params is ReadonlyArray<unknown> {
    if (!Array.isArray(params) || params.length !== arity) {
      this.error(2, `Invalid request: ${usage}`, id)
      return false
    }
    if (typeof params[0] !== "string") {
      this.error(2, "Invalid request: property name must be a string", id)
      return false
    }
    if (params[0] !== "combined") {
      this.error(0, "Unknown property", id)
      return false
    }
    return true
  }

  private close(code: number, reason: string, statsReason: string): void {
    if (this.done) return
    this.done = true
    this.out.close(code, reason, statsReason)
  }

  /** Count an inbound message (text, ping or pong frame); false when the connection was closed for it. */
  private inbound(realNow: number): boolean {
    if (this.done) return false
    if (!this.rate.record(realNow)) {
      this.close(1008, "Too many messages", "rate")
      return false
    }
    return true
  }

  /** An inbound ping frame (counts against the message rate; `ws` answers it). */
  onPing(realNow: number): void {
    this.inbound(realNow)
  }

  /** An inbound pong frame: keeps the connection alive only if it echoes a ping we sent. */
  onPong(payload: Buffer, realNow: number): void {
    if (!this.inbound(realNow)) return
    const key = payload.toString("hex")
    if (this.pending.has(key)) {
      this.pending.clear()
      this.lastAlive = realNow
    }
  }

  onText = (text: string, realNow: number, _simNow: number): void => {
    if (!this.inbound(realNow)) return
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      this.error(3, "Invalid JSON: expected value at line 1 column 1", null)
      return
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      this.error(2, "Invalid request: expected a JSON object", null)
      return
    }
    const request = message as Record<string, unknown>
    const rawId = request.id
    const id: RequestId = validId(rawId) ? rawId : null
    if (!("method" in request)) {
      this.error(2, "Invalid request: missing field `method`", id)
      return
    }
    if (!("id" in request)) {
      this.error(2, "Invalid request: missing field `id`", null)
      return
    }
    if (!validId(rawId)) {
      this.error(2, "Invalid request: request ID must be an integer, an alphanumeric string of at most 36 characters, or null", null)
      return
    }
    const method = request.method
    const params = request.params
    switch (method) {
      case "SUBSCRIBE":
      case "UNSUBSCRIBE": {
        if (!Array.isArray(params) || !params.every((p): p is string => typeof p === "string")) {
          this.error(2, "Invalid request: params must be an array of stream names", id)
          return
        }
        const parsed: Array<Stream> = []
        for (const name of params) {
          const stream = parseStream(this.market, name)
          if (stream === undefined) {
            this.error(2, `Invalid request: invalid stream name '${name}'`, id)
            return
          }
          parsed.push(stream)
        }
        if (method === "SUBSCRIBE") {
          for (const stream of parsed) this.add(stream)
          if (this.streams.size > this.options.maxStreams) {
            this.close(1008, "Too many streams", "streams")
            return
          }
        } else {
          for (const stream of parsed) this.streams.delete(stream.name)
        }
        this.reply({ result: null, id })
        return
      }
      case "LIST_SUBSCRIPTIONS":
        this.reply({ result: [...this.streams.keys()], id })
        return
      case "SET_PROPERTY": {
        if (!this.isCombinedProperty(params, 2, "SET_PROPERTY expects params [name, value]", id)) return
        if (typeof params[1] !== "boolean") {
          this.error(1, "Invalid value type: expected Boolean", id)
          return
        }
        this.combined = params[1]
        this.reply({ result: null, id })
        return
      }
      case "GET_PROPERTY": {
        if (!this.isCombinedProperty(params, 1, "GET_PROPERTY expects params [name]", id)) return
        this.reply({ result: this.combined, id })
        return
      }
      default:
        this.error(
          2,
          `Invalid request: unknown variant \`${String(method)}\`, expected one of \`SUBSCRIBE\`, \`UNSUBSCRIBE\`, \`LIST_SUBSCRIPTIONS\`, \`SET_PROPERTY\`, \`GET_PROPERTY\``,
          id
        )
        return
    }
  }

  tick = (simNow: number, _realNow: number): void => {
    if (this.done) return
    for (const state of this.streams.values()) {
      const stream = state.stream
      switch (stream._tag) {
        case "Kline":
          this.pushKline(state, stream, simNow)
          break
        case "MiniTicker":
          if (simNow - state.lastPush >= this.options.tickerPushMs) {
            state.lastPush = simNow
            this.send(stream.name, miniTickerEvent(this.market, stream.symbol, simNow))
          }
          break
        case "Ticker":
          if (simNow - state.lastPush >= this.options.tickerPushMs) {
            state.lastPush = simNow
            this.send(stream.name, tickerEvent(this.market, stream.symbol, simNow))
          }
          break
        case "AllMiniTickers":
          if (simNow - state.lastPush >= this.options.tickerPushMs) {
            state.lastPush = simNow
            // Only the symbols that changed since the last push.
            const changed: Array<Record<string, unknown>> = []
            for (const s of this.market.symbols) {
              const event = miniTickerEvent(this.market, s, simNow)
              const signature = `${event.c}|${event.v}`
              if (state.sent.get(s.index) !== signature) {
                state.sent.set(s.index, signature)
                changed.push(event)
              }
            }
            if (changed.length > 0) this.send(stream.name, changed)
          }
          break
        case "Silent":
          break
      }
      if (this.done) return
    }
  }

  private pushKline(state: StreamState, stream: Extract<Stream, { _tag: "Kline" }>, now: number): void {
    const iv = stream.interval
    const current = Intervals.openTimeOf(iv, now)
    let rolled = false
    if (
      state.lastOpenTime === undefined ||
      state.lastOpenTime > current ||
      (current - state.lastOpenTime) / iv.ms > MAX_CATCH_UP
    ) {
      state.lastOpenTime = current
    } else {
      // Every kline we have been streaming ends with exactly one x:true, even when several closed since the last tick.
      while (state.lastOpenTime < current) {
        const final = this.market.candle(stream.symbol, iv, state.lastOpenTime, now)
        if (final !== undefined) this.send(stream.name, klineEvent(stream.symbol, stream.intervalName, final, now))
        state.lastOpenTime += iv.ms
        rolled = true
      }
    }
    if (rolled || now - state.lastPush >= this.options.klinePushMs) {
      const bar = this.market.candle(stream.symbol, iv, current, now)
      state.lastPush = now
      if (bar !== undefined) this.send(stream.name, klineEvent(stream.symbol, stream.intervalName, bar, now))
    }
  }

  /** Announce `serverShutdown` now and close after the notice period. */
  shutdown(realNow: number, simNow: number): void {
    if (this.done) return
    this.shutdownAt = undefined
    this.closeAt = realNow + this.options.shutdownNoticeMs
    this.send("!serverShutdown", { e: "serverShutdown", E: simNow })
  }

  housekeep = (realNow: number, simNow: number): void => {
    if (this.done) return
    if (this.shutdownAt !== undefined && realNow >= this.shutdownAt) this.shutdown(realNow, simNow)
    if (this.closeAt !== undefined && realNow >= this.closeAt) {
      this.close(1001, "Server shutdown", "lifetime")
      return
    }
    if (realNow - this.lastAlive > this.options.pongTimeoutMs) {
      this.done = true
      this.out.terminate("pong-timeout")
      return
    }
    if (realNow - this.lastPing >= this.options.pingIntervalMs) {
      this.lastPing = realNow
      const payload = Buffer.from(`${this.connectedAt}:${++this.pingCounter}`)
      this.pending.add(payload.toString("hex"))
      this.out.ping(payload)
    }
  }

  stall = (realNow: number): void => {
    this.lastAlive = realNow
    this.lastPing = realNow
  }

  /** Mark closed (the socket went away). */
  closed(): void {
    this.done = true
  }
}
