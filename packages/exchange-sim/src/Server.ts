/**
 * The simulator's one HTTP server (node:http + `ws` with `noServer`): Binance REST at `/api/v3/...`, Coinbase
 * REST at `/api/v3/brokerage/...`, Binance streams at `/ws`, `/ws/<streams>`, `/stream?streams=…`, Coinbase at
 * `/`, and the control surface at `/__sim/...`. It owns the timers that drive every session.
 */
import * as Http from "node:http"
import type { Duplex } from "node:stream"
import { Either, ParseResult } from "effect"
import { type WebSocket, WebSocketServer } from "ws"
import * as BinanceRest from "./BinanceRest.js"
import * as BinanceWs from "./BinanceWs.js"
import * as CoinbaseRest from "./CoinbaseRest.js"
import * as CoinbaseWs from "./CoinbaseWs.js"
import * as Faults from "./Faults.js"
import * as Hash from "./internal/hash.js"
import { json, type Reply, type RestRequest } from "./internal/http.js"
import type { Outbound, Session } from "./internal/socket.js"
import type { Market } from "./Market.js"
import type { SimOptions } from "./Options.js"
import { BinanceWeights, RequestsPerSecond } from "./RateLimits.js"
import * as Scripts from "./Scripts.js"
import type { SimClock } from "./SimClock.js"
import { Stats, type StatsSnapshot } from "./Stats.js"

const HOUSEKEEPING_MS = 100
const MAX_BODY = 64 * 1024

interface Connection {
  readonly ws: WebSocket
  readonly session: Session
  readonly binance: BinanceWs.BinanceSession | undefined
}

/** A running simulator server. */
export class SimServer {
  private readonly http: Http.Server
  private readonly wss: WebSocketServer
  private readonly connections = new Set<Connection>()
  private readonly stats = new Stats()
  private readonly weights: BinanceWeights
  private readonly coinbaseLimiter: RequestsPerSecond
  private faults: Faults.Faults
  private faultCounter = 0
  private loopTimer: NodeJS.Timeout | undefined
  private housekeepingTimer: NodeJS.Timeout | undefined
  private stopped = false
  private readonly delayed = new Set<NodeJS.Timeout>()
  private readonly startedAt = Date.now()
  private boundPort = 0

  constructor(
    private readonly options: SimOptions,
    private readonly market: Market,
    private readonly clock: SimClock
  ) {
    this.faults = options.faults
    this.weights = new BinanceWeights(options.binance)
    this.coinbaseLimiter = new RequestsPerSecond(options.coinbase.requestsPerSecond)
    // Room for `/stream?streams=` URLs naming up to the 1024-stream limit.
    this.http = Http.createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => this.onRequest(req, res))
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY })
    this.http.on("upgrade", (req, socket, head) => {
      try {
        this.onUpgrade(req, socket, head)
      } catch (error) {
        process.emitWarning(`exchange-sim: upgrade ${req.url ?? ""} failed: ${String(error)}`)
        socket.destroy()
      }
    })
  }

  /** The bound port (after `listen`). */
  get port(): number {
    return this.boundPort
  }

  /** Bind and start the timers. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error)
      this.http.once("error", onError)
      this.http.listen(this.options.port, this.options.host, () => {
        this.http.off("error", onError)
        const address = this.http.address()
        this.boundPort = typeof address === "object" && address !== null ? address.port : this.options.port
        this.housekeepingTimer = setInterval(() => this.housekeep(), HOUSEKEEPING_MS)
        this.scheduleLoop(0)
        resolve(this.boundPort)
      })
    })
  }

  /** Stop timers, drop every connection and close the listener. */
  close(): Promise<void> {
    this.stopped = true
    if (this.loopTimer !== undefined) clearTimeout(this.loopTimer)
    if (this.housekeepingTimer !== undefined) clearInterval(this.housekeepingTimer)
    for (const timer of this.delayed) clearTimeout(timer)
    this.delayed.clear()
    for (const connection of this.connections) connection.ws.terminate()
    this.connections.clear()
    return new Promise((resolve) => {
      this.wss.close()
      this.http.close(() => resolve())
      this.http.closeAllConnections()
    })
  }

  // ---- control surface ----

  /** The standing faults. */
  currentFaults(): Faults.Faults {
    return this.faults
  }

  /** Apply a faults request (standing faults and one-shot actions); returns the standing faults. */
  applyFaults(request: Faults.FaultsRequest): Faults.Faults {
    this.faults = Faults.apply(this.faults, request)
    if (request.dropConnections === true) {
      for (const connection of [...this.connections]) {
        this.stats.droppedConnections++
        connection.session.stall(Date.now())
        connection.ws.terminate()
      }
    }
    if (request.serverShutdown === true) {
      const realNow = Date.now()
      const simNow = this.clock.now()
      for (const connection of this.connections) connection.binance?.shutdown(realNow, simNow)
    }
    return this.faults
  }

  /** The installed price scripts, oldest first. */
  currentScripts(): ReadonlyArray<Scripts.Script> {
    return this.market.scripts()
  }

  /** Install a price script; returns every installed script, or why it was refused. */
  addScript(script: Scripts.Script): Either.Either<ReadonlyArray<Scripts.Script>, Scripts.ScriptError> {
    return this.market.addScript(script)
  }

  /** Remove every price script. */
  clearScripts(): void {
    this.market.clearScripts()
  }

  /** Counters and gauges. */
  statsSnapshot(): StatsSnapshot {
    let binanceConnections = 0
    let binanceSubscriptions = 0
    let coinbaseConnections = 0
    let coinbaseSubscriptions = 0
    for (const { session } of this.connections) {
      if (session.venue === "binance") {
        binanceConnections++
        binanceSubscriptions += session.subscriptionCount()
      } else {
        coinbaseConnections++
        coinbaseSubscriptions += session.subscriptionCount()
      }
    }
    return this.stats.snapshot({ binanceConnections, binanceSubscriptions, coinbaseConnections, coinbaseSubscriptions })
  }

  /** Zero the counters, forget rate-limit usage and bans, clear the faults. Connections stay open. */
  reset(): void {
    this.stats.reset()
    this.weights.reset()
    this.coinbaseLimiter.reset()
    this.faults = Faults.none
  }

  /** Re-anchor the clock and wake the market loop so a new speed takes effect at once. */
  setClock(change: { readonly time?: number | undefined; readonly speed?: number | undefined }): void {
    this.clock.set(change)
    this.scheduleLoop(0)
  }

  // ---- timers ----

  private scheduleLoop(delay: number): void {
    if (this.stopped) return
    if (this.loopTimer !== undefined) clearTimeout(this.loopTimer)
    this.loopTimer = setTimeout(() => this.loop(), delay)
  }

  private loop(): void {
    const simNow = this.clock.now()
    const realNow = Date.now()
    if (!this.faults.silence) {
      for (const connection of this.connections) this.guard(connection, () => connection.session.tick(simNow, realNow))
    }
    const speed = this.clock.speed()
    const min = this.options.minTickMs
    let delay = 200
    if (speed > 0) {
      const regular = Math.min(1000, Math.max(min, 1000 / speed))
      const toMinute = (60_000 - (((simNow % 60_000) + 60_000) % 60_000)) / speed + 1
      delay = Math.max(min, Math.min(regular, toMinute))
    }
    this.scheduleLoop(delay)
  }

  private housekeep(): void {
    const realNow = Date.now()
    const simNow = this.clock.now()
    for (const connection of this.connections) {
      this.guard(connection, () =>
        this.faults.silence ? connection.session.stall(realNow) : connection.session.housekeep(realNow, simNow)
      )
    }
  }

  /** A session bug must not take the server down: drop that connection instead. */
  private guard(connection: Connection, run: () => void): void {
    try {
      run()
    } catch (error) {
      this.stats.countClose("internal-error")
      connection.ws.terminate()
      this.connections.delete(connection)
      process.emitWarning(`exchange-sim: session failed: ${String(error)}`)
    }
  }

  private roll(tag: number): number {
    return Hash.uniform(this.options.seed, 0x5157, tag, this.faultCounter++)
  }

  // ---- WebSocket ----

  private onUpgrade(req: Http.IncomingMessage, socket: Duplex, head: Buffer): void {
    // A client resetting a refused upgrade must not raise an unhandled 'error'.
    socket.on("error", () => socket.destroy())
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    }
    if (this.stopped) {
      refuse("503 Service Unavailable")
      return
    }
    if (this.faults.rejectConnections) {
      refuse("503 Service Unavailable")
      return
    }
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    if (url.pathname === "/") {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.attachCoinbase(ws))
      return
    }
    const target = BinanceWs.target(url.pathname, url.searchParams)
    if (target === undefined) {
      refuse("404 Not Found")
      return
    }
    const streams: Array<BinanceWs.Stream> = []
    for (const name of target.streams) {
      const stream = BinanceWs.parseStream(this.market, name)
      if (stream === undefined) {
        refuse("400 Bad Request")
        return
      }
      streams.push(stream)
    }
    if (streams.length > this.options.binance.maxStreams) {
      refuse("400 Bad Request")
      return
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attachBinance(ws, target.combined, streams))
  }

  private outbound(ws: WebSocket): Outbound {
    return {
      send: (text) => {
        if (ws.readyState !== ws.OPEN || this.faults.silence) return
        ws.send(text)
        this.stats.wsMessagesOut++
        if (this.faults.malformedFrames > 0 && this.roll(1) < this.faults.malformedFrames) {
          ws.send(`${text.slice(0, Math.max(1, Math.floor(text.length / 2)))}\u0000#garbage`)
          this.stats.wsMessagesOut++
          this.stats.malformedFramesSent++
        }
      },
      close: (code, reason, statsReason) => {
        this.stats.countClose(statsReason)
        ws.close(code, reason)
      },
      terminate: (statsReason) => {
        this.stats.countClose(statsReason)
        ws.terminate()
      },
      ping: (payload) => {
        if (ws.readyState === ws.OPEN && !this.faults.silence) ws.ping(payload)
      }
    }
  }

  private register(ws: WebSocket, session: Session, binance: BinanceWs.BinanceSession | undefined): Connection {
    const connection: Connection = { ws, session, binance }
    this.connections.add(connection)
    this.stats.wsConnectionsTotal++
    ws.on("message", (data, isBinary) => {
      this.stats.wsMessagesIn++
      const text = isBinary ? "" : Array.isArray(data) ? Buffer.concat(data).toString("utf8") : data.toString("utf8")
      this.guard(connection, () => session.onText(text, Date.now(), this.clock.now()))
    })
    ws.on("close", () => {
      this.connections.delete(connection)
      if (binance !== undefined) binance.closed()
      else if (session instanceof CoinbaseWs.CoinbaseSession) session.closed()
    })
    ws.on("error", () => {
      ws.terminate()
    })
    return connection
  }

  private attachBinance(ws: WebSocket, combined: boolean, streams: ReadonlyArray<BinanceWs.Stream>): void {
    const session = new BinanceWs.BinanceSession(this.market, this.options.binance, this.outbound(ws), { combined, streams }, Date.now())
    const connection = this.register(ws, session, session)
    ws.on("ping", () => {
      this.stats.wsMessagesIn++
      this.guard(connection, () => session.onPing(Date.now()))
    })
    ws.on("pong", (payload) => {
      this.stats.wsMessagesIn++
      this.guard(connection, () => session.onPong(payload, Date.now()))
    })
  }

  private attachCoinbase(ws: WebSocket): void {
    const session = new CoinbaseWs.CoinbaseSession(this.market, this.options.coinbase, this.outbound(ws), Date.now(), this.startedAt)
    this.register(ws, session, undefined)
  }

  // ---- REST ----

  private onRequest(req: Http.IncomingMessage, res: Http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const request: RestRequest = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams }
    const write = (reply: Reply) => {
      if (res.writableEnded) return
      const body = JSON.stringify(reply.body)
      res.writeHead(reply.status, {
        "Content-Type": "application/json;charset=UTF-8",
        "Content-Length": Buffer.byteLength(body),
        ...reply.headers
      })
      res.end(body)
    }
    const fail = (error: unknown) => {
      process.emitWarning(`exchange-sim: request ${request.method} ${request.path} failed: ${String(error)}`)
      write(json(500, { error: "INTERNAL", message: "exchange-sim internal error" }))
    }
    req.on("error", () => res.destroy())
    try {
      if (request.path.startsWith("/__sim/") || request.path === "/__sim") {
        this.readBody(req, (body) => {
          try {
            write(this.control(request, body))
          } catch (error) {
            fail(error)
          }
        })
        return
      }
      req.resume()
      const reply = this.rest(request)
      const delay = this.faults.delayMs
      if (delay > 0) {
        const timer = setTimeout(() => {
          this.delayed.delete(timer)
          write(reply)
        }, delay)
        this.delayed.add(timer)
      } else write(reply)
    } catch (error) {
      fail(error)
    }
  }

  private rest(request: RestRequest): Reply {
    const injectError = () => this.faults.restErrorRate > 0 && this.roll(2) < this.faults.restErrorRate
    if (CoinbaseRest.owns(request.path)) {
      this.stats.countRest(CoinbaseRest.statsKey(request))
      return CoinbaseRest.handle(
        {
          market: this.market,
          clock: this.clock,
          limiter: this.coinbaseLimiter,
          stats: this.stats,
          realNow: Date.now,
          injectError,
          maxCandles: this.options.coinbase.maxCandles
        },
        request
      )
    }
    if (BinanceRest.owns(request.path)) {
      this.stats.countRest(BinanceRest.statsKey(request))
      return BinanceRest.handle(
        {
          market: this.market,
          clock: this.clock,
          weights: this.weights,
          stats: this.stats,
          realNow: Date.now,
          injectError,
          weightPerMinute: this.options.binance.weightPerMinute,
          weightWindowMs: this.options.binance.weightWindowMs
        },
        request
      )
    }
    this.stats.countRest(`${request.method} (unmatched)`)
    return json(404, { error: "NOT_FOUND", message: `exchange-sim serves no ${request.method} ${request.path}` })
  }

  private readBody(req: Http.IncomingMessage, then: (body: string) => void): void {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_BODY) chunks.push(chunk)
    })
    req.on("end", () => then(Buffer.concat(chunks).toString("utf8")))
  }

  private control(request: RestRequest, body: string): Reply {
    const route = `${request.method} ${request.path.replace(/\/$/, "")}`
    const parseBody = (): Either.Either<unknown, string> => {
      if (body.trim() === "") return Either.right({})
      try {
        return Either.right(JSON.parse(body) as unknown)
      } catch {
        return Either.left("body is not JSON")
      }
    }
    switch (route) {
      case "GET /__sim":
        return json(200, {
          endpoints: [
            "GET /__sim/faults",
            "POST /__sim/faults",
            "GET /__sim/stats",
            "POST /__sim/reset",
            "GET /__sim/clock",
            "POST /__sim/clock",
            "GET /__sim/symbols",
            "GET /__sim/script",
            "POST /__sim/script",
            "DELETE /__sim/script"
          ]
        })
      case "GET /__sim/faults":
        return json(200, this.faults)
      case "POST /__sim/faults": {
        const parsed = parseBody()
        if (Either.isLeft(parsed)) return json(400, { error: parsed.left })
        const decoded = Faults.decodeRequest(parsed.right)
        if (Either.isLeft(decoded)) {
          const issues = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
          return json(400, { error: issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") })
        }
        return json(200, this.applyFaults(decoded.right))
      }
      case "GET /__sim/script":
        return json(200, this.currentScripts())
      case "POST /__sim/script": {
        const parsed = parseBody()
        if (Either.isLeft(parsed)) return json(400, { error: parsed.left })
        const added = Either.flatMap(Scripts.decode(parsed.right), (script) => this.addScript(script))
        if (Either.isLeft(added)) return json(400, { error: added.left.message })
        return json(200, added.right)
      }
      case "DELETE /__sim/script":
        this.clearScripts()
        return json(200, this.currentScripts())
      case "GET /__sim/stats":
        return json(200, this.statsSnapshot())
      case "POST /__sim/reset":
        this.reset()
        return json(200, { reset: true })
      case "GET /__sim/clock":
        return json(200, this.clockJson())
      case "POST /__sim/clock": {
        const parsed = parseBody()
        if (Either.isLeft(parsed)) return json(400, { error: parsed.left })
        const change = clockChange(parsed.right)
        if (Either.isLeft(change)) return json(400, { error: change.left })
        this.setClock(change.right)
        return json(200, this.clockJson())
      }
      case "GET /__sim/symbols":
        return json(
          200,
          this.market.symbols.map((s) => ({
            binance: s.binance,
            coinbase: s.coinbase,
            base: s.base,
            illiquid: s.illiquid,
            priceDecimals: s.priceDecimals,
            volumeDecimals: s.volumeDecimals,
            listedAt: s.listedAt
          }))
        )
      default:
        return json(404, { error: `no control endpoint ${route}` })
    }
  }

  private clockJson(): Record<string, unknown> {
    const now = this.clock.now()
    return { now, iso: new Date(now).toISOString(), speed: this.clock.speed() }
  }
}

/** A `POST /__sim/clock` body: `{ "time"?: ms | ISO-8601, "speed"?: number ≥ 0 }`. */
const clockChange = (
  body: unknown
): Either.Either<{ readonly time?: number | undefined; readonly speed?: number | undefined }, string> => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return Either.left("body must be an object")
  const record = body as Record<string, unknown>
  const unknownKeys = Object.keys(record).filter((k) => k !== "time" && k !== "speed")
  if (unknownKeys.length > 0) return Either.left(`unknown keys: ${unknownKeys.join(", ")}`)
  let time: number | undefined
  if (record.time !== undefined) {
    const t = typeof record.time === "string" ? Date.parse(record.time) : record.time
    if (typeof t !== "number" || !Number.isFinite(t) || t < 0) return Either.left("time must be ms since the epoch or an ISO-8601 time")
    time = Math.floor(t)
  }
  let speed: number | undefined
  if (record.speed !== undefined) {
    if (typeof record.speed !== "number" || !Number.isFinite(record.speed) || record.speed < 0) {
      return Either.left("speed must be a number ≥ 0")
    }
    speed = record.speed
  }
  return Either.right({ time, speed })
}
