/** Plain `ws`/fetch clients for the simulator tests, and a scoped simulator per test. */
import { Effect, type Scope } from "effect"
import WebSocket from "ws"
import * as ExchangeSim from "../src/ExchangeSim.js"
import type * as Options from "../src/Options.js"

/** Run `body` against a fresh simulator that stops when the test's scope closes. */
export const withSim = (
  options: Options.SimOptionsInput,
  body: (sim: ExchangeSim.SimHandle) => Promise<void>
): Effect.Effect<void, ExchangeSim.SimError, Scope.Scope> =>
  Effect.flatMap(ExchangeSim.make(options), (sim) => Effect.promise(() => body(sim)))

/** A fixed sim start (a Wednesday, mid-day) used by most tests. */
export const START = Date.UTC(2024, 0, 10, 12, 2, 30)

export const MINUTE = 60_000
export const FIVE_MINUTES = 5 * MINUTE
export const HOUR = 60 * MINUTE
export const DAY = 24 * HOUR

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** GET a JSON document; returns status, headers and body. */
export const get = async (
  url: string
): Promise<{ readonly status: number; readonly headers: Headers; readonly body: unknown }> => {
  const response = await fetch(url)
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) }
}

/** POST a JSON body; returns status and body. */
export const post = async (url: string, body: unknown): Promise<{ readonly status: number; readonly body: unknown }> => {
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } })
  return { status: response.status, body: JSON.parse(await response.text()) }
}

/** Narrow `unknown` to a record (fails the test otherwise). */
export const rec = (value: unknown): Record<string, unknown> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`expected an object, got ${JSON.stringify(value)}`)
  }
  return value as Record<string, unknown>
}

/** Narrow `unknown` to an array (fails the test otherwise). */
export const arr = (value: unknown): ReadonlyArray<unknown> => {
  if (!Array.isArray(value)) throw new Error(`expected an array, got ${JSON.stringify(value)}`)
  return value
}

/** A test WebSocket client that records every frame. */
export class Client {
  readonly messages: Array<unknown> = []
  readonly garbage: Array<string> = []
  readonly pings: Array<Buffer> = []
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>
  private readonly listeners = new Set<() => void>()

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const text = Array.isArray(data) ? Buffer.concat(data).toString() : data.toString()
      try {
        this.messages.push(JSON.parse(text))
      } catch {
        this.garbage.push(text)
      }
      for (const listener of this.listeners) listener()
    })
    ws.on("ping", (payload) => this.pings.push(payload))
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        resolve({ code, reason: reason.toString() })
        for (const listener of this.listeners) listener()
      })
    })
  }

  /** Connect (rejects when the upgrade is refused). */
  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options)
      const client = new Client(ws)
      ws.once("open", () => resolve(client))
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
      ws.once("error", reject)
    })
  }

  send(value: unknown): void {
    this.ws.send(typeof value === "string" ? value : JSON.stringify(value))
  }

  /** The first message at index ≥ `from` satisfying `predicate`, waiting up to `timeoutMs`. */
  waitFor(predicate: (message: unknown) => boolean, timeoutMs = 5000, from = 0): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (let i = from; i < this.messages.length; i++) {
          const message = this.messages[i]
          if (predicate(message)) {
            resolve(message)
            return true
          }
        }
        return false
      }
      if (check()) return
      const listener = () => {
        if (check()) done()
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${timeoutMs} ms; got ${this.messages.length} messages: ${JSON.stringify(this.messages.slice(-3))}`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.listeners.delete(listener)
      }
      this.listeners.add(listener)
    })
  }

  /** Wait until `count` messages satisfy `predicate` (up to `timeoutMs`). */
  async waitForCount(predicate: (message: unknown) => boolean, count: number, timeoutMs = 5000): Promise<ReadonlyArray<unknown>> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const matching = this.messages.filter(predicate)
      if (matching.length >= count) return matching
      if (Date.now() > deadline) throw new Error(`only ${matching.length} of ${count} matching messages after ${timeoutMs} ms`)
      await sleep(20)
    }
  }

  /** Resolve with the close, or reject after `timeoutMs`. */
  closedWithin(timeoutMs: number): Promise<{ readonly code: number; readonly reason: string }> {
    return Promise.race([
      this.closed,
      sleep(timeoutMs).then(() => {
        throw new Error(`connection still open after ${timeoutMs} ms`)
      })
    ])
  }

  close(): void {
    this.ws.terminate()
  }
}

/** A decimal string with exactly 8 fraction digits as an integer count of 10^-8 (exact). */
export const units8 = (text: string): bigint => {
  const [whole, fraction = ""] = text.split(".")
  return BigInt(whole + fraction.padEnd(8, "0").slice(0, 8))
}
