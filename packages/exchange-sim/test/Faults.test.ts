import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ExchangeSim from "../src/ExchangeSim.js"
import { Client, get, post, rec, sleep, START, withSim } from "./support.js"

describe("Fault injection and stats", () => {
  it.scopedLive("dropConnections drops every WebSocket once (1006); clients can reconnect", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const binance = await Client.open(`${sim.binance.wsUrl}/btcusdt@kline_5m`)
      const coinbase = await Client.open(sim.coinbase.wsUrl)
      coinbase.send({ type: "subscribe", channel: "heartbeats" })
      await coinbase.waitFor((m) => rec(m).channel === "subscriptions")
      const before = rec((await get(sim.statsUrl)).body)
      assert.deepStrictEqual([before.wsConnections, before.subscriptions], [2, 2])
      const response = await post(`${sim.url}/__sim/faults`, { dropConnections: true })
      assert.strictEqual(response.status, 200)
      assert.strictEqual(rec(response.body).rejectConnections, false)
      assert.strictEqual((await binance.closedWithin(3000)).code, 1006)
      assert.strictEqual((await coinbase.closedWithin(3000)).code, 1006)
      const after = rec((await get(sim.statsUrl)).body)
      assert.deepStrictEqual([after.wsConnections, after.subscriptions, after.droppedConnections], [0, 0, 2])
      const again = await Client.open(`${sim.binance.wsUrl}/btcusdt@kline_5m`)
      assert.strictEqual(again.ws.readyState, again.ws.OPEN)
      again.close()
    })
  )

  it.scopedLive("malformedFrames adds garbage frames among the real ones", () =>
    withSim({ startTime: START, speed: 60, faults: { malformedFrames: 1 } }, async (sim) => {
      const c = await Client.open(`${sim.binance.wsUrl}/btcusdt@kline_1m`)
      await c.waitForCount((m) => rec(m).e === "kline", 3)
      assert.isAtLeast(c.garbage.length, 3)
      for (const frame of c.garbage) assert.throws(() => JSON.parse(frame))
      const stats = rec((await get(sim.statsUrl)).body)
      assert.isAtLeast(Number(stats.malformedFramesSent), 3)
      await post(`${sim.url}/__sim/faults`, { malformedFrames: 0 })
      const garbage = c.garbage.length
      await sleep(300)
      assert.isAtMost(c.garbage.length, garbage + 1)
      c.close()
    })
  )

  it.scopedLive("restErrorRate answers 500 in each venue's shape; delayMs delays; rejectConnections refuses upgrades", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      await post(`${sim.url}/__sim/faults`, { restErrorRate: 1 })
      const binance = await get(`${sim.url}/api/v3/time`)
      assert.strictEqual(binance.status, 500)
      assert.strictEqual(rec(binance.body).code, -1000)
      const coinbase = await get(`${sim.coinbase.restUrl}/market/products`)
      assert.strictEqual(coinbase.status, 500)
      assert.strictEqual(rec(coinbase.body).error, "INTERNAL")
      await post(`${sim.url}/__sim/faults`, { restErrorRate: 0, delayMs: 300 })
      const started = Date.now()
      assert.strictEqual((await get(`${sim.url}/api/v3/time`)).status, 200)
      assert.isAtLeast(Date.now() - started, 280)
      await post(`${sim.url}/__sim/faults`, { delayMs: 0, rejectConnections: true })
      const refused = await Client.open(sim.coinbase.wsUrl).then(
        () => "opened",
        (error: unknown) => String(error)
      )
      assert.match(refused, /503/)
      assert.deepStrictEqual((await get(`${sim.url}/__sim/faults`)).body, {
        delayMs: 0,
        malformedFrames: 0,
        restErrorRate: 0,
        silence: false,
        rejectConnections: true
      })
      assert.strictEqual(rec((await get(sim.statsUrl)).body).restErrors, 2)
      // Bad fault requests are refused, not half-applied.
      assert.strictEqual((await post(`${sim.url}/__sim/faults`, { restErrorRate: 2 })).status, 400)
      assert.strictEqual((await post(`${sim.url}/__sim/faults`, { dropConnection: true })).status, 400)
      assert.strictEqual((await post(`${sim.url}/__sim/reset`, {})).status, 200)
      assert.strictEqual(rec((await get(`${sim.url}/__sim/faults`)).body).rejectConnections, false)
    })
  )

  it.scopedLive("silence stalls every connection (no data, no heartbeats) until lifted", () =>
    withSim({ startTime: START, speed: 60, coinbase: { heartbeatIntervalMs: 100 } }, async (sim) => {
      const c = await Client.open(sim.coinbase.wsUrl)
      c.send({ type: "subscribe", channel: "heartbeats" })
      await c.waitForCount((m) => rec(m).channel === "heartbeats", 2)
      await Effect.runPromise(sim.setFaults({ silence: true }))
      await sleep(100)
      const count = c.messages.length
      await sleep(400)
      assert.strictEqual(c.messages.length, count)
      await Effect.runPromise(sim.setFaults({ silence: false }))
      await c.waitFor((m) => rec(m).channel === "heartbeats", 3000, count)
      c.close()
    })
  )

  it.scopedLive("stats count REST per method and path template (no query), connections and subscriptions", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      await get(`${sim.url}/api/v3/klines?symbol=BTCUSDT&interval=5m&limit=1`)
      await get(`${sim.url}/api/v3/klines?symbol=ETHUSDT&interval=1h`)
      await get(`${sim.coinbase.restUrl}/market/products/BTC-USD/candles?start=1&end=2&granularity=ONE_DAY`)
      await get(`${sim.coinbase.restUrl}/market/products/ETH-USD/candles?start=1&end=2&granularity=ONE_DAY`)
      await get(`${sim.url}/nope`)
      const c = await Client.open(`${sim.binance.streamUrl}?streams=btcusdt@kline_5m/btcusdt@kline_1h`)
      const stats = rec((await get(sim.statsUrl)).body)
      assert.deepStrictEqual(stats.rest, {
        "GET /api/v3/klines": 2,
        "GET /api/v3/brokerage/market/products/{product_id}/candles": 2,
        "GET (unmatched)": 1
      })
      assert.deepStrictEqual([stats.rateLimited, stats.banned, stats.wsConnections, stats.subscriptions], [0, 0, 1, 2])
      const handle = await Effect.runPromise(sim.stats)
      assert.strictEqual(handle.wsConnectionsTotal, 1)
      await post(`${sim.url}/__sim/reset`, {})
      const reset = rec((await get(sim.statsUrl)).body)
      assert.deepStrictEqual([reset.rest, reset.wsConnections], [{}, 1])
      c.close()
    })
  )

  it.scopedLive("the clock can be read and moved over HTTP", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      assert.deepStrictEqual((await get(`${sim.url}/__sim/clock`)).body, {
        now: START,
        iso: new Date(START).toISOString(),
        speed: 0
      })
      const moved = await post(`${sim.url}/__sim/clock`, { time: "2024-02-01T00:00:00Z" })
      assert.strictEqual(rec(moved.body).now, Date.UTC(2024, 1, 1))
      assert.strictEqual((await post(`${sim.url}/__sim/clock`, { speed: -1 })).status, 400)
      const symbols = (await get(`${sim.url}/__sim/symbols`)).body
      assert.strictEqual(rec((symbols as ReadonlyArray<unknown>)[0]).coinbase, "BTC-USD")
    })
  )

  it.effect("bad options fail with SimError, never a crash", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.scoped(ExchangeSim.make({ symbols: 0 })))
      assert.strictEqual(error.reason, "InvalidOptions")
      assert.match(error.message, /symbols/)
      const early = yield* Effect.flip(Effect.scoped(ExchangeSim.make({ startTime: 0 })))
      assert.strictEqual(early.reason, "InvalidOptions")
    })
  )

  it.scopedLive("a port in use fails with SimError Listen", () =>
    Effect.gen(function* () {
      const first = yield* ExchangeSim.make({ startTime: START })
      const error = yield* Effect.flip(ExchangeSim.make({ startTime: START, port: first.port }))
      assert.strictEqual(error.reason, "Listen")
      assert.match(error.message, /EADDRINUSE/)
    })
  )
})
