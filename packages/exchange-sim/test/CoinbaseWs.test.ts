import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Intervals from "../src/Intervals.js"
import * as Options from "../src/Options.js"
import { arr, Client, FIVE_MINUTES, get, rec, sleep, START, withSim } from "./support.js"

const onChannel = (channel: string) => (m: unknown) => rec(m).channel === channel
const isError = (m: unknown) => rec(m).type === "error"

describe("Coinbase WebSocket", () => {
  it.scopedLive("no subscribe within the timeout closes the connection (default 5 s)", () =>
    withSim({ startTime: START, speed: 0, coinbase: { subscribeTimeoutMs: 300 } }, async (sim) => {
      const defaults = await Effect.runPromise(Options.decode({}))
      assert.strictEqual(defaults.coinbase.subscribeTimeoutMs, 5000)
      const started = Date.now()
      const c = await Client.open(sim.coinbase.wsUrl)
      const closed = await c.closedWithin(4000)
      assert.strictEqual(closed.code, 1008)
      assert.isAtLeast(Date.now() - started, 250)
      assert.strictEqual(rec(rec((await get(sim.statsUrl)).body).wsClosedByServer)["subscribe-timeout"], 1)
    })
  )

  it.scopedLive("subscribe: ack lists all subscriptions; candles snapshot then updates; sequence_num from 0 without gaps", () =>
    withSim({ startTime: START, speed: 60 }, async (sim) => {
      const c = await Client.open(sim.coinbase.wsUrl)
      c.send({ type: "subscribe", channel: "candles", product_ids: ["BTC-USD", "ETH-USD"] })
      const ack = rec(await c.waitFor(onChannel("subscriptions")))
      assert.strictEqual(ack.sequence_num, 0)
      assert.strictEqual(ack.client_id, "")
      assert.match(String(ack.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/)
      assert.deepStrictEqual(arr(ack.events), [{ subscriptions: { candles: ["BTC-USD", "ETH-USD"] } }])
      const snapshot = rec(await c.waitFor(onChannel("candles")))
      assert.strictEqual(snapshot.sequence_num, 1)
      const snapshotEvent = rec(arr(snapshot.events)[0])
      assert.strictEqual(snapshotEvent.type, "snapshot")
      const candle = rec(arr(snapshotEvent.candles)[0])
      assert.deepStrictEqual(Object.keys(candle).sort(), ["close", "high", "low", "open", "product_id", "start", "volume"])
      assert.strictEqual(Number(candle.start) % 300, 0)
      const updates = await c.waitForCount((m) => onChannel("candles")(m) && rec(arr(rec(m).events)[0]).type === "update", 3)
      assert.isTrue(updates.every((u) => arr(rec(arr(rec(u).events)[0]).candles).every((x) => !("closed" in rec(x)))))
      c.send({ type: "subscribe", channel: "heartbeats" })
      const second = rec(await c.waitFor((m) => onChannel("subscriptions")(m) && rec(m).sequence_num !== 0))
      assert.deepStrictEqual(arr(second.events), [
        { subscriptions: { candles: ["BTC-USD", "ETH-USD"], heartbeats: ["heartbeats"] } }
      ])
      c.send({ type: "unsubscribe", channel: "candles", product_ids: ["ETH-USD"] })
      await c.waitFor((m) => onChannel("subscriptions")(m) && JSON.stringify(rec(m).events).includes('"candles":["BTC-USD"]'))
      const sequence = c.messages.map((m) => rec(m).sequence_num)
      assert.deepStrictEqual(sequence, sequence.map((_, i) => i))
      c.close()
    })
  )

  it.scopedLive("candles: 5-minute buckets whose last update equals the REST candle once the bucket is over", () =>
    withSim({ startTime: Date.UTC(2024, 0, 10, 12, 4, 0), speed: 0 }, async (sim) => {
      const c = await Client.open(sim.coinbase.wsUrl)
      c.send({ type: "subscribe", channel: "candles", product_ids: ["SOL-USD"] })
      await c.waitFor(onChannel("candles"))
      await Effect.runPromise(sim.setClock({ speed: 300 }))
      const bucket = Date.UTC(2024, 0, 10, 12, 0, 0) / 1000
      await c.waitFor((m) => onChannel("candles")(m) && JSON.stringify(m).includes(`"start":"${bucket + 300}"`), 8000)
      await Effect.runPromise(sim.setClock({ speed: 0 }))
      const last = c.messages
        .filter(onChannel("candles"))
        .flatMap((m) => arr(rec(arr(rec(m).events)[0]).candles).map(rec))
        .filter((x) => x.start === String(bucket))
        .at(-1)!
      const rest = rec(
        arr(
          rec(
            (
              await get(
                `${sim.coinbase.restUrl}/market/products/SOL-USD/candles?start=${bucket}&end=${bucket}&granularity=FIVE_MINUTE`
              )
            ).body
          ).candles
        )[0]
      )
      assert.deepStrictEqual(
        [last.open, last.high, last.low, last.close, last.volume],
        [rest.open, rest.high, rest.low, rest.close, rest.volume]
      )
      c.close()
    })
  )

  it.scopedLive("a tick that passes whole buckets (a stalled loop) reports the final state of each, in order", () =>
    withSim({ startTime: Date.UTC(2024, 0, 10, 12, 4, 0), speed: 0 }, async (sim) => {
      const c = await Client.open(sim.coinbase.wsUrl)
      c.send({ type: "subscribe", channel: "candles", product_ids: ["SOL-USD"] })
      await c.waitFor(onChannel("candles"))
      // One tick at 12:21 after the snapshot at 12:04: the buckets 12:00 … 12:15 ended unseen.
      await Effect.runPromise(sim.setClock({ time: Date.UTC(2024, 0, 10, 12, 21, 0) }))
      const first = Date.UTC(2024, 0, 10, 12, 0, 0) / 1000
      await c.waitFor((m) => onChannel("candles")(m) && JSON.stringify(m).includes(`"start":"${first + 1200}"`), 5000)
      const updates = c.messages
        .filter(onChannel("candles"))
        .flatMap((m) => arr(rec(arr(rec(m).events)[0]).candles).map(rec))
      const finals = [0, 1, 2, 3].map((i) => String(first + i * 300))
      const rest = arr(
        rec(
          (
            await get(
              `${sim.coinbase.restUrl}/market/products/SOL-USD/candles?start=${first}&end=${first + 900}&granularity=FIVE_MINUTE`
            )
          ).body
        ).candles
      ).map(rec)
      assert.deepStrictEqual(
        updates.map((u) => u.start).filter((start) => start !== finals[0] && start !== String(first + 1200)),
        finals.slice(1),
        "each passed bucket once, in time order, before the current one"
      )
      for (const start of finals) {
        const last = updates.filter((u) => u.start === start).at(-1)!
        const venue = rest.find((r) => r.start === start)!
        assert.deepStrictEqual(
          [last.open, last.high, last.low, last.close, last.volume],
          [venue.open, venue.high, venue.low, venue.close, venue.volume],
          `bucket ${start}`
        )
      }
      c.close()
    })
  )

  it.scopedLive("heartbeats: every interval, counter rising, current_time in Go format", () =>
    withSim({ startTime: START, speed: 1, coinbase: { heartbeatIntervalMs: 100 } }, async (sim) => {
      const c = await Client.open(sim.coinbase.wsUrl)
      c.send({ type: "subscribe", channel: "heartbeats" })
      const beats = await c.waitForCount(onChannel("heartbeats"), 4, 4000)
      const events = beats.map((b) => rec(arr(rec(b).events)[0]))
      assert.deepStrictEqual(
        events.map((e) => e.heartbeat_counter),
        [1, 2, 3, 4]
      )
      assert.match(String(events[0]!.current_time), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC m=\+\d+\.\d{9}$/)
      const sequence = c.messages.map((m) => rec(m).sequence_num)
      assert.deepStrictEqual(sequence.slice(0, 5), [0, 1, 2, 3, 4])
      c.close()
    })
  )

  it.scopedLive("idle channels close without heartbeats; heartbeats keep the connection open", () =>
    withSim({ startTime: START, speed: 0, coinbase: { idleTimeoutMs: 400, heartbeatIntervalMs: 100 } }, async (sim) => {
      const symbol = sim.market.symbols.find((s) => s.illiquid)!
      const idle = await Client.open(sim.coinbase.wsUrl)
      const kept = await Client.open(sim.coinbase.wsUrl)
      for (const c of [idle, kept]) c.send({ type: "subscribe", channel: "candles", product_ids: [symbol.coinbase] })
      kept.send({ type: "subscribe", channel: "heartbeats" })
      assert.strictEqual((await idle.closedWithin(4000)).code, 1000)
      await sleep(300)
      assert.strictEqual(kept.ws.readyState, kept.ws.OPEN)
      kept.close()
    })
  )

  it.scopedLive("bad requests get {type:error, message}", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const c = await Client.open(sim.coinbase.wsUrl)
      const bad: ReadonlyArray<unknown> = [
        { type: "subscribe", channels: ["candles"], product_ids: ["BTC-USD"] },
        { type: "subscribe", channel: "candles", product_ids: ["NOPE-USD"] },
        { type: "subscribe", channel: "candles" },
        { type: "subscribe", channel: "nope", product_ids: ["BTC-USD"] },
        { type: "subscribe", channel: "user", product_ids: ["BTC-USD"] },
        { type: "hello" },
        "{not json"
      ]
      for (const request of bad) c.send(request)
      const errors = await c.waitForCount(isError, bad.length)
      for (const error of errors) assert.isString(rec(error).message)
      assert.strictEqual(c.messages.length, bad.length)
      c.send({ type: "subscribe", channel: "ticker", product_ids: ["BTC-USD"] })
      const snapshot = rec(await c.waitFor(onChannel("ticker")))
      const ticker = rec(arr(rec(arr(snapshot.events)[0]).tickers)[0])
      assert.strictEqual(ticker.product_id, "BTC-USD")
      assert.isString(ticker.best_bid)
      assert.isString(ticker.volume_24_h)
      assert.strictEqual(snapshot.sequence_num, 1)
      // Envelope sequence numbers are not spent on errors.
      assert.strictEqual(rec(c.messages.find(onChannel("subscriptions"))).sequence_num, 0)
      c.close()
    })
  )

  it.scopedLive("Coinbase candles and Binance klines describe the same market", () =>
    withSim({ startTime: START, speed: 0 }, async (sim) => {
      const btc = sim.market.bySymbol("BTCUSDT")!
      assert.strictEqual(sim.market.byProduct("BTC-USD"), btc)
      const five = Intervals.coinbase.get("FIVE_MINUTE")!
      const open = Math.floor(START / FIVE_MINUTES) * FIVE_MINUTES - FIVE_MINUTES
      assert.deepStrictEqual(sim.market.candle(btc, five, open, START), sim.market.candle(btc, Intervals.binance.get("5m")!, open, START))
    })
  )
})
