import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Intervals from "../src/Intervals.js"
import { arr, Client, FIVE_MINUTES, get, MINUTE, rec, sleep, START, withSim } from "./support.js"

const isAck = (id: unknown) => (m: unknown) => rec(m).id === id && "result" in rec(m)
const isKline = (m: unknown) => rec(m).e === "kline"

describe("Binance WebSocket", () => {
  it.scopedLive("control methods: acks, LIST_SUBSCRIPTIONS, SET/GET_PROPERTY and their errors", () =>
    // The message-rate limit has its own test; here it would only slow the conversation down.
    withSim({ startTime: START, speed: 0, binance: { maxMessagesPerSecond: 100 } }, async (sim) => {
      const c = await Client.open(sim.binance.wsUrl)
      c.send({ method: "SUBSCRIBE", params: ["btcusdt@kline_5m", "ethusdt@miniTicker"], id: 1 })
      assert.deepStrictEqual(await c.waitFor(isAck(1)), { result: null, id: 1 })
      c.send({ method: "LIST_SUBSCRIPTIONS", id: "list1" })
      assert.deepStrictEqual(await c.waitFor(isAck("list1")), { result: ["btcusdt@kline_5m", "ethusdt@miniTicker"], id: "list1" })
      c.send({ method: "UNSUBSCRIBE", params: ["ethusdt@miniTicker"], id: 2 })
      await c.waitFor(isAck(2))
      c.send({ method: "GET_PROPERTY", params: ["combined"], id: 3 })
      assert.deepStrictEqual(await c.waitFor(isAck(3)), { result: false, id: 3 })
      c.send({ method: "SET_PROPERTY", params: ["combined", true], id: 4 })
      await c.waitFor(isAck(4))
      c.send({ method: "LIST_SUBSCRIPTIONS", id: 5 })
      assert.deepStrictEqual(await c.waitFor(isAck(5)), { result: ["btcusdt@kline_5m"], id: 5 })
      const errors: ReadonlyArray<readonly [unknown, number]> = [
        [{ method: "SET_PROPERTY", params: ["nope", true], id: 6 }, 0],
        [{ method: "SET_PROPERTY", params: ["combined", "yes"], id: 7 }, 1],
        [{ method: "FOO", id: 8 }, 2],
        [{ method: "SUBSCRIBE", params: ["not a stream"], id: 9 }, 2],
        [{ params: [], id: 10 }, 2]
      ]
      for (const [request, code] of errors) {
        c.send(request)
        const id = rec(request).id
        const error = rec(await c.waitFor((m) => rec(m).id === id && "code" in rec(m)))
        assert.strictEqual(error.code, code)
        assert.isString(error.msg)
      }
      c.send("{not json")
      assert.strictEqual(rec(await c.waitFor((m) => rec(m).code === 3)).id, null)
      c.close()
    })
  )

  it.scopedLive("kline updates are x:false and end in exactly one x:true per interval; values match REST", () =>
    withSim({ startTime: Date.UTC(2024, 0, 10, 23, 59, 0), speed: 0 }, async (sim) => {
      const intervals = ["1m", "5m", "15m", "1h", "4h", "1d"] as const
      const c = await Client.open(sim.binance.wsUrl)
      c.send({ method: "SUBSCRIBE", params: intervals.map((i) => `btcusdt@kline_${i}`), id: 1 })
      await c.waitFor(isAck(1))
      await c.waitForCount(isKline, intervals.length)
      const midnight = Date.UTC(2024, 0, 11)
      // 300×: midnight arrives in 0.2 s and the next 5m candle closes one second later.
      await Effect.runPromise(sim.setClock({ speed: 300 }))
      await c.waitFor((m) => isKline(m) && rec(rec(m).k).i === "5m" && rec(rec(m).k).t === midnight && rec(rec(m).k).x === true, 8000)
      await Effect.runPromise(sim.setClock({ speed: 0 }))
      const events = c.messages.filter(isKline).map((m) => rec(m))
      for (const interval of intervals) {
        const ms = Intervals.binance.get(interval)!.ms
        const ofInterval = events.filter((e) => rec(e.k).i === interval)
        const closedOpen = midnight - ms
        const before = ofInterval.filter((e) => rec(e.k).t === closedOpen)
        const finals = before.filter((e) => rec(e.k).x === true)
        assert.strictEqual(finals.length, 1, `one x:true for ${interval}`)
        assert.isTrue(before.length >= 2, `updates before the close for ${interval}`)
        // The x:true comes after every x:false of that kline and before any event of the next one.
        const finalIndex = ofInterval.indexOf(finals[0]!)
        assert.isTrue(ofInterval.slice(0, finalIndex).every((e) => rec(e.k).x === false))
        assert.isTrue(ofInterval.slice(finalIndex + 1).every((e) => rec(e.k).t !== closedOpen))
        const k = rec(finals[0]!.k)
        assert.strictEqual(k.T, closedOpen + ms - 1)
        assert.strictEqual(k.s, "BTCUSDT")
        assert.strictEqual(finals[0]!.s, "BTCUSDT")
        assert.isAtLeast(Number(finals[0]!.E), midnight)
        const rest = arr(
          (await get(`${sim.url}/api/v3/klines?symbol=BTCUSDT&interval=${interval}&startTime=${closedOpen}&limit=1`)).body
        )
        const row = arr(rest[0])
        assert.deepStrictEqual([k.o, k.h, k.l, k.c, k.v, k.n, k.q], [row[1], row[2], row[3], row[4], row[5], row[8], row[7]])
      }
      // 5m: the candle opened at midnight closed too, exactly once.
      const fives = events.filter((e) => rec(e.k).i === "5m" && rec(e.k).t === midnight && rec(e.k).x === true)
      assert.strictEqual(fives.length, 1)
      c.close()
    })
  )

  it.scopedLive("a zero-trade kline has o=h=l=c=previous close, v=0, n=0 and f=L=-1", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const symbol = sim.market.symbols.find((s) => s.illiquid)!
      const five = Intervals.binance.get("5m")!
      // The first bucket after START in which nothing trades.
      let open = Math.floor(START / FIVE_MINUTES) * FIVE_MINUTES + FIVE_MINUTES
      while (sim.market.candle(symbol, five, open, open + FIVE_MINUTES)!.trades !== 0) open += FIVE_MINUTES
      await Effect.runPromise(sim.setClock({ time: open + 2 * MINUTE }))
      const stream = `${symbol.binance.toLowerCase()}@kline_5m`
      const c = await Client.open(`${sim.binance.wsUrl}/${stream}`)
      await c.waitFor(isKline)
      await Effect.runPromise(sim.setClock({ speed: 300 }))
      const final = rec(await c.waitFor((m) => isKline(m) && rec(rec(m).k).x === true && rec(rec(m).k).t === open, 8000))
      const k = rec(final.k)
      const previous = sim.market.candle(symbol, five, open - FIVE_MINUTES, open)!
      assert.deepStrictEqual(
        [k.f, k.L, k.n, k.v, k.q],
        [-1, -1, 0, "0.00000000", "0.00000000"]
      )
      assert.strictEqual(k.o, k.c)
      assert.strictEqual(k.h, k.c)
      assert.strictEqual(k.l, k.c)
      assert.strictEqual(Number(k.c), previous.close / 10 ** symbol.priceDecimals)
      c.close()
    })
  )

  it.scopedLive("raw /ws/<stream> events are bare; /stream?streams= wraps them in {stream, data}", () =>
    withSim({ startTime: START, speed: 30 }, async (sim) => {
      const raw = await Client.open(`${sim.binance.wsUrl}/btcusdt@kline_1h`)
      const combined = await Client.open(`${sim.binance.streamUrl}?streams=btcusdt@kline_1h/ethusdt@miniTicker/solusdt@ticker`)
      const bare = rec(await raw.waitFor(isKline))
      assert.strictEqual(bare.s, "BTCUSDT")
      const wrapped = rec(await combined.waitFor((m) => rec(m).stream === "btcusdt@kline_1h"))
      assert.deepStrictEqual(Object.keys(wrapped).sort(), ["data", "stream"])
      assert.strictEqual(rec(wrapped.data).e, "kline")
      const mini = rec(rec(await combined.waitFor((m) => rec(m).stream === "ethusdt@miniTicker")).data)
      assert.strictEqual(mini.e, "24hrMiniTicker")
      assert.strictEqual(mini.s, "ETHUSDT")
      const full = rec(rec(await combined.waitFor((m) => rec(m).stream === "solusdt@ticker")).data)
      assert.strictEqual(full.e, "24hrTicker")
      assert.isString(full.b)
      assert.isString(full.q)
      // Uppercase or unknown symbols are accepted but silent, as on Binance.
      raw.send({ method: "SUBSCRIBE", params: ["BTCUSDT@kline_1m", "nopeusdt@kline_1m"], id: 1 })
      await raw.waitFor(isAck(1))
      await sleep(300)
      assert.isTrue(raw.messages.filter(isKline).every((m) => rec(rec(m).k).i === "1h"))
      const stats = rec((await get(sim.statsUrl)).body)
      assert.deepStrictEqual(rec(stats.binance), { connections: 2, subscriptions: 6 })
      raw.close()
      combined.close()
    })
  )

  it.scopedLive("more than 5 inbound messages per second closes the connection", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const c = await Client.open(sim.binance.wsUrl)
      for (let id = 1; id <= 6; id++) c.send({ method: "LIST_SUBSCRIPTIONS", id })
      const closed = await c.closedWithin(3000)
      assert.strictEqual(closed.code, 1008)
      assert.isAtMost(c.messages.length, 5)
      const stats = rec((await get(sim.statsUrl)).body)
      assert.strictEqual(rec(stats.wsClosedByServer).rate, 1)
    })
  )

  it.scopedLive("more streams than the limit closes the connection", () =>
    withSim({ startTime: START, speed: 0, binance: { maxStreams: 3 } }, async (sim) => {
      const c = await Client.open(sim.binance.wsUrl)
      c.send({ method: "SUBSCRIBE", params: ["btcusdt@kline_5m", "btcusdt@kline_1h", "btcusdt@kline_1d", "ethusdt@kline_5m"], id: 1 })
      assert.strictEqual((await c.closedWithin(3000)).code, 1008)
      const refused = await Client.open(`${sim.binance.streamUrl}?streams=a@trade/b@trade/c@trade/d@trade`).then(
        () => "opened",
        (error: unknown) => String(error)
      )
      assert.match(refused, /400/)
    })
  )

  it.scopedLive("server pings every interval; no pong within the timeout closes; a pong keeps it alive", () =>
    // Pongs count against the 5 messages/s limit, so pings stay under 5 per second.
    withSim({ startTime: START, speed: 0, binance: { pingIntervalMs: 250, pongTimeoutMs: 800 } }, async (sim) => {
      const alive = await Client.open(sim.binance.wsUrl)
      const silent = await Client.open(sim.binance.wsUrl, { autoPong: false })
      const closed = await silent.closedWithin(4000)
      assert.strictEqual(closed.code, 1006)
      assert.isAtLeast(silent.pings.length, 2)
      // Five pings span longer than the pong timeout: the answered ones kept this connection alive.
      const deadline = Date.now() + 5000
      while (alive.pings.length < 5 && Date.now() < deadline) await sleep(50)
      assert.isAtLeast(alive.pings.length, 5)
      assert.strictEqual(alive.ws.readyState, alive.ws.OPEN)
      alive.close()
    })
  )

  it.scopedLive("the forced lifetime close is preceded by serverShutdown; the fault sends it on demand", () =>
    withSim({ startTime: START, speed: 0, binance: { maxLifetimeMs: 800, shutdownNoticeMs: 400 } }, async (sim) => {
      const c = await Client.open(sim.binance.wsUrl)
      const notice = rec(await c.waitFor((m) => rec(m).e === "serverShutdown", 4000))
      assert.isNumber(notice.E)
      assert.strictEqual(c.ws.readyState, c.ws.OPEN)
      assert.strictEqual((await c.closedWithin(4000)).code, 1001)
    }).pipe(
      Effect.andThen(
        withSim({ startTime: START, speed: 0, binance: { shutdownNoticeMs: 200 } }, async (sim) => {
          const c = await Client.open(`${sim.binance.streamUrl}?streams=btcusdt@kline_5m`)
          await Effect.runPromise(sim.setFaults({ serverShutdown: true }))
          const wrapped = rec(await c.waitFor((m) => rec(m).stream === "!serverShutdown"))
          assert.strictEqual(rec(wrapped.data).e, "serverShutdown")
          assert.strictEqual((await c.closedWithin(4000)).code, 1001)
        })
      )
    )
  )

  it.scopedLive("at high speed several closes between ticks each still get their x:true", () =>
    withSim({ startTime: Date.UTC(2024, 0, 10, 0, 0, 30), speed: 0, minTickMs: 200 }, async (sim) => {
      const c = await Client.open(`${sim.binance.wsUrl}/ethusdt@kline_1m`)
      await c.waitFor(isKline)
      // 1200×: 4 minutes of sim time per 200 ms tick.
      await Effect.runPromise(sim.setClock({ speed: 1200 }))
      await c.waitForCount((m) => isKline(m) && rec(rec(m).k).x === true, 10, 8000)
      await Effect.runPromise(sim.setClock({ speed: 0 }))
      const finals = c.messages.filter((m) => isKline(m) && rec(rec(m).k).x === true).map((m) => Number(rec(rec(m).k).t))
      for (let i = 1; i < finals.length; i++) assert.strictEqual(finals[i]! - finals[i - 1]!, MINUTE)
      assert.strictEqual(finals[0], Date.UTC(2024, 0, 10, 0, 0, 0))
      c.close()
    })
  )

  it.scopedLive("!miniTicker@arr sends only the symbols that changed", () =>
    withSim({ startTime: START, speed: 60, symbols: 10 }, async (sim) => {
      const c = await Client.open(`${sim.binance.wsUrl}/!miniTicker@arr`)
      const first = arr(await c.waitFor(Array.isArray))
      assert.strictEqual(first.length, 10)
      assert.strictEqual(rec(first[0]).e, "24hrMiniTicker")
      c.close()
    })
  )
})
