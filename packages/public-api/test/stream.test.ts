/**
 * The public stream end to end: real Redis (a namespace of its own per test, deleted afterwards), the stream
 * layer on a real Node server, and real WebSocket clients (`ws`). Live data comes from the simulator-driven
 * engine (exchange runner + live pipeline) or, for volume, from messages published on the Bus directly. Every
 * expected value is recomputed from what the cache holds, never hard-coded.
 */
import { HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import {
  Bus,
  CacheConfig,
  CacheServices,
  CandleCache,
  IndicatorStore,
  Keys,
  PublicCatalog
} from "@livermore/cache"
import { Candle, Exchange, Market, Timeframe } from "@livermore/domain"
import { ExchangeRunner, IndicatorRecord, Ingest, JsonStore } from "@livermore/engine"
import { ExchangeSim } from "@livermore/exchange-sim"
import { AlertRules, MacdV } from "@livermore/indicators"
import {
  Context,
  Deferred,
  Duration,
  Effect,
  Either,
  FiberId,
  FiberRef,
  Layer,
  LogLevel,
  Option,
  Schema,
  type Scope
} from "effect"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import WebSocket from "ws"
import { adapterLayer, nodeLayer, rememberingOutbox, simRow, simSymbols } from "../../engine/test/nodeSupport.js"
import { redisLayer } from "../../engine/test/redisNamespace.js"
import * as SimTime from "../../engine/test/simTime.js"
import { ApiKeys, AsyncApi, PublicApiConfig, PublicMapping, PublicStream, StreamMessages } from "../src/index.js"

// ---------------------------------------------------------------------------------------------------------------
// Server

/** Every cache service (and what the engine needs beside them) on the real Redis under a fresh namespace. */
const cacheLayer = (label: string) =>
  Layer.mergeAll(CacheServices.layerRedis, JsonStore.layerRedis, rememberingOutbox).pipe(
    Layer.provideMerge(CacheConfig.layer()),
    Layer.provideMerge(redisLayer(label))
  )

type Cache = Context.Context<CacheServices.Services>

/** `PublicStream.layer` (stream + AsyncAPI document) on a Node server at 127.0.0.1; its port. */
const startStream = (cache: Cache, config: Partial<Context.Tag.Service<PublicApiConfig.PublicApiConfig>> = {}) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      HttpLayerRouter.serve(PublicStream.layer, { disableListenLog: true, disableLogger: true }).pipe(
        Layer.provide(ApiKeys.layer),
        Layer.provide(PublicApiConfig.layer(config)),
        Layer.provide(Layer.succeedContext(cache)),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
      )
    )
    return (Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress).port
  })

let nextId = 0
const idBase = 700_000 + Math.floor(Math.random() * 200_000)

/** An API key in the catalog: the raw key and its id. */
const seedKey = (cache: Cache) =>
  Effect.gen(function* () {
    const key = randomUUID()
    const id = idBase + nextId++
    const hash = ApiKeys.hashKey(key)
    yield* Context.get(cache, PublicCatalog.PublicCatalog).putApiKey(hash, {
      id,
      keyHash: hash,
      name: `stream-test-${id}`,
      prefix: key.slice(0, 8)
    })
    return { key, id, hash }
  })

/** One exchange (or `extra` more) with `symbols`, projected into the catalog. */
const seedCatalog = (
  cache: Cache,
  exchange: { readonly id: Exchange.ExchangeId; readonly name: string },
  symbols: ReadonlyArray<string>,
  timeframes: ReadonlyArray<Timeframe.Timeframe> = ["5m", "15m", "1h"]
) =>
  Effect.gen(function* () {
    const catalog = Context.get(cache, PublicCatalog.PublicCatalog)
    yield* catalog.putExchanges([
      {
        id: exchange.id,
        name: Exchange.ExchangeName.make(exchange.name),
        displayName: exchange.name,
        timeframes,
        isActive: true
      }
    ])
    yield* catalog.putSymbols(
      exchange.id,
      symbols.map((symbol, i) => ({
        symbol: Market.SymbolId.make(symbol),
        baseAsset: symbol.slice(0, 3),
        quoteAsset: symbol.slice(3),
        liquidityGrade: "A" as const,
        rank: i + 1,
        quoteVolume24h: 1e8
      }))
    )
  })

// ---------------------------------------------------------------------------------------------------------------
// Client

interface Closed {
  readonly code: number
  readonly reason: string
}

interface Client {
  readonly ws: WebSocket
  /** Every text frame received, raw. */
  readonly frames: Array<string>
  /** Every frame, decoded with `StreamMessages.ServerMessage`. */
  readonly received: Array<StreamMessages.ServerMessage>
  /** Frames that did not decode (must stay empty). */
  readonly invalid: Array<string>
  readonly closed: Deferred.Deferred<Closed>
  readonly send: (message: unknown) => void
}

interface Refused {
  readonly status: number
  readonly body: string
}

const decodeServer = Schema.decodeUnknownEither(Schema.parseJson(StreamMessages.ServerMessage))

/**
 * A WebSocket client of the stream, terminated with the scope: the upgrade either succeeds (a client that decodes
 * every frame and, unless `autoPong` is false, answers pings) or is refused (status and body).
 */
const connect = (
  port: number,
  options: { readonly key?: string; readonly via?: "header" | "query"; readonly autoPong?: boolean } = {}
): Effect.Effect<Either.Either<Client, Refused>, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Either.Either<Client, Refused>>((resume) => {
      const via = options.via ?? "header"
      const query = options.key !== undefined && via === "query" ? `?api_key=${encodeURIComponent(options.key)}` : ""
      const headers: Record<string, string> = options.key !== undefined && via === "header" ? { "X-API-Key": options.key } : {}
      const ws = new WebSocket(`ws://127.0.0.1:${port}/public/v1/stream${query}`, { headers })
      let settled = false
      const settle = (result: Either.Either<Client, Refused>) => {
        if (settled) return
        settled = true
        resume(Effect.succeed(result))
      }
      const client: Client = {
        ws,
        frames: [],
        received: [],
        invalid: [],
        closed: Deferred.unsafeMake<Closed>(FiberId.none),
        send: (message) => ws.send(typeof message === "string" ? message : JSON.stringify(message))
      }
      ws.on("message", (data, isBinary) => {
        const text = isBinary ? "<binary>" : data.toString()
        client.frames.push(text)
        const decoded = decodeServer(text)
        if (Either.isLeft(decoded)) return void client.invalid.push(text)
        client.received.push(decoded.right)
        if (decoded.right.type === "ping" && options.autoPong !== false) ws.send(JSON.stringify({ type: "pong" }))
      })
      ws.on("close", (code, reason) => {
        Deferred.unsafeDone(client.closed, Effect.succeed({ code, reason: reason.toString() }))
      })
      ws.on("open", () => settle(Either.right(client)))
      ws.on("unexpected-response", (_request, response) => {
        let body = ""
        response.on("data", (chunk: Buffer) => {
          body += chunk.toString()
        })
        response.on("end", () => settle(Either.left({ status: response.statusCode ?? 0, body })))
      })
      ws.on("error", (error) => {
        if (!settled) {
          settled = true
          resume(Effect.die(error))
        }
      })
    }),
    (result) => Effect.sync(() => Either.isRight(result) && result.right.ws.terminate())
  )

/** A client whose upgrade must succeed, after its `welcome`. */
const accepted = (port: number, options: Parameters<typeof connect>[1] = {}) =>
  Effect.gen(function* () {
    const result = yield* connect(port, options)
    if (Either.isLeft(result)) return assert.fail(`the upgrade was refused: ${result.left.status} ${result.left.body}`)
    const client = result.right
    yield* waitFor("the welcome", () => client.received.some((m) => m.type === "welcome"))
    return client
  })

/** Poll `check` every 20 ms until it holds; dies naming `what` after `ms`. */
const waitFor = (what: string, check: () => boolean, ms = 10_000) =>
  waitForEffect(what, Effect.sync(check), ms)

const waitForEffect = <E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  ms = 10_000,
  every: Duration.DurationInput = "20 millis"
) =>
  Effect.gen(function* () {
    const deadline = Date.now() + ms
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep(every)
    }
  })

/** The messages of one topic, in arrival order. */
const ofTopic = (client: Client, topic: string) =>
  client.received.filter((m): m is Extract<StreamMessages.ServerMessage, { topic: string }> => "topic" in m && m.topic === topic)

const errors = (client: Client) =>
  client.received.filter((m): m is StreamMessages.ErrorMessage => m.type === "error")

/** The public candle, restated here from the documented mapping (not taken from `PublicMapping`). */
const publicCandle = (c: Candle.Candle) => ({
  time: new Date(c.openTime).toISOString(),
  open: c.open,
  high: c.high,
  low: c.low,
  close: c.close,
  volume: c.volume,
  closed: c.closed,
  synthetic: c.synthetic
})

// ---------------------------------------------------------------------------------------------------------------
// What must never appear (domain.md §8)

const forbiddenKeys = new Set(["macdv", "signal", "histogram", "fastema", "slowema", "atr", "informativeatr"])

/** Every word or object key of `value` that §8 forbids. */
const forbidden = (value: unknown): ReadonlyArray<string> => {
  const found: Array<string> = []
  const text = JSON.stringify(value)
  for (const pattern of [/macd/i, /\bema\b/i, /\batr\b/i, /[a-z](EMA|ATR)/, /\b(EMA|ATR)[A-Z_]/]) {
    const match = pattern.exec(text)
    if (match) found.push(`word: ${match[0]}`)
  }
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) for (const item of node) walk(item)
    else if (node !== null && typeof node === "object") {
      for (const [key, child] of Object.entries(node)) {
        if (forbiddenKeys.has(key.toLowerCase())) found.push(`key: ${key}`)
        walk(child)
      }
    }
  }
  walk(value)
  return found
}

// ---------------------------------------------------------------------------------------------------------------

/** Sim time when the pipeline test starts: a UTC midnight, so every timeframe has a boundary there. */
const T = Date.UTC(2024, 2, 4)
const FIVE = Timeframe.durationMs["5m"]
const SPEED = 2400
const FRAMES: ReadonlyArray<Timeframe.Timeframe> = ["5m", "15m"]

describe("PublicStream", () => {
  it.scopedLive(
    "a subscriber receives the snapshot, then every live candle close and signal in order, each equal to the cache",
    () =>
      Effect.gen(function* () {
        yield* Effect.locallyScoped(FiberRef.currentMinimumLogLevel, LogLevel.Error)
        const sim = yield* ExchangeSim.make({ speed: 0, startTime: T, symbols: 2 })
        const row = simRow(sim, "binance")
        const cache = yield* Layer.build(Layer.merge(cacheLayer("stream-live"), adapterLayer(row)))
        const symbols = simSymbols(sim, "binance", 1)
        const symbol = symbols[0]!
        yield* seedCatalog(cache, row, symbols, FRAMES)
        const node = yield* Layer.build(
          nodeLayer(row, "stream-node", {
            universe: Effect.succeed(symbols),
            heartbeatInterval: "200 millis",
            timeframes: FRAMES,
            // Staleness is not under test: a busy machine stalling the sim must not turn a signal `stale` mid-run.
            pipeline: { staleGrace: "1 day", staleCheckInterval: "100 millis", retryBase: "50 millis", retryCap: "300 millis" }
          }).pipe(Layer.provide(Layer.succeedContext(cache)))
        )
        const runner = Context.get(node, ExchangeRunner.ExchangeRunner)
        yield* Effect.withClock(SimTime.clockOf(sim))(
          Effect.gen(function* () {
            yield* runner.start("test")
            yield* runner.awaitActive
          })
        )
        const port = yield* startStream(cache)
        const { key } = yield* seedKey(cache)
        const client = yield* accepted(port, { key })

        // One exchange is served: topics without a prefix name it; the prefixed form is accepted too.
        const topics = FRAMES.flatMap((timeframe) => [
          { kind: "candles" as const, timeframe, requested: `candles:${symbol}:${timeframe}` },
          { kind: "signals" as const, timeframe, requested: `${row.name}:signals:${symbol}:${timeframe}` }
        ]).map((t) => ({ ...t, canonical: `${row.name}:${t.kind}:${symbol}:${t.timeframe}` }))
        for (const t of topics) client.send({ type: "subscribe", topic: t.requested })
        yield* waitFor("every snapshot", () => topics.every((t) => ofTopic(client, t.canonical).length >= 2))

        // The market runs for an hour of sim time (1.5 s of wall time), then stops.
        const until = T + 12 * FIVE
        yield* sim.setClock({ speed: SPEED })
        yield* waitFor("sim time to pass", () => sim.clock.now() >= until, 30_000)
        yield* sim.setClock({ speed: 0 })

        const candles = Context.get(cache, CandleCache.CandleCache)
        const indicators = Context.get(cache, IndicatorStore.IndicatorStore)
        const series = (timeframe: Timeframe.Timeframe) => ({ exchangeId: row.id, symbol, timeframe })
        const closedOf = (timeframe: Timeframe.Timeframe) =>
          Effect.map(candles.range(series(timeframe), 0, Number.MAX_SAFE_INTEGER), (all) => all.filter((c) => c.closed))
        // Every timeframe: the engine has applied the newest cached close and the client has received both; and
        // that stays so for a while (a close pushed at the pause may still be on its way).
        const caughtUp = Effect.gen(function* () {
          const lasts: Array<number> = []
          for (const timeframe of FRAMES) {
            const last = (yield* closedOf(timeframe)).at(-1)?.openTime
            const stored = yield* indicators.get(series(timeframe), PublicMapping.SignalSource)
            if (last === undefined || Option.isNone(stored) || stored.value.lastOpenTime !== last) return undefined
            const iso = new Date(last).toISOString()
            for (const kind of ["candles", "signals"] as const) {
              const latest = ofTopic(client, `${row.name}:${kind}:${symbol}:${timeframe}`).at(-1)
              const data: unknown = latest !== undefined && "data" in latest ? latest.data : undefined
              if (!(data !== null && typeof data === "object" && "time" in data && data.time === iso)) return undefined
            }
            lasts.push(last)
          }
          return lasts.join(",")
        })
        let previous: string | undefined
        yield* waitForEffect(
          "the indicator caught up, the client has every close and signal, and nothing more comes",
          Effect.gen(function* () {
            const now = yield* caughtUp
            const stable = now !== undefined && now === previous
            previous = now
            return stable
          }),
          15_000,
          "300 millis"
        )

        assert.deepStrictEqual(client.invalid, [], "every frame decodes with ServerMessage")
        assert.deepStrictEqual(errors(client), [])
        for (const t of topics) {
          const messages = ofTopic(client, t.canonical)
          assert.deepStrictEqual(messages[0], { type: "subscribed", topic: t.canonical, requested: t.requested })
          const numbered = messages.slice(1).map((m) => ("seq" in m ? m.seq : -1))
          assert.deepStrictEqual(numbered, numbered.map((_, i) => i), `${t.canonical}: seq 0, 1, 2, … without a gap`)
          const closed = yield* closedOf(t.timeframe)
          if (t.kind === "candles") {
            const [snapshot, ...updates] = messages.slice(1)
            assert.strictEqual(snapshot?.type, "candle_snapshot")
            assert.isTrue(updates.every((m) => m.type === "candle_update"))
            const streamed = [
              ...(snapshot?.type === "candle_snapshot" ? snapshot.data : []),
              ...updates.flatMap((m) => (m.type === "candle_update" ? [m.data] : []))
            ]
            const times = streamed.map((c) => Date.parse(c.time))
            for (let i = 1; i < times.length; i++) assert.isAbove(times[i]!, times[i - 1]!, `${t.canonical}: open times increase`)
            assert.isAtLeast(updates.length, t.timeframe === "5m" ? 10 : 3, `${t.canonical}: live closes arrived`)
            assert.isAtMost(streamed.length - updates.length, StreamMessages.candleSnapshotSize)
            // Snapshot and updates together are exactly the newest closed candles of the cache: none missing.
            assert.deepStrictEqual(streamed, closed.slice(-streamed.length).map(publicCandle), `${t.canonical} equals the cache`)
          } else {
            // The signals recomputed from the cached candles with the indicators package, at each open time.
            const acc = new MacdV.Accumulator()
            const expected = new Map<string, unknown>()
            for (const c of closed) {
              acc.push(c)
              const record = IndicatorRecord.make({
                series: series(t.timeframe),
                accumulator: acc,
                alerts: AlertRules.initial,
                lastOpenTime: c.openTime,
                stale: false,
                now: c.openTime
              })
              expected.set(new Date(c.openTime).toISOString(), PublicMapping.tradeSignal(row.name, symbol, t.timeframe, record))
            }
            const [snapshot, ...updates] = messages.slice(1)
            assert.strictEqual(snapshot?.type, "signal_snapshot")
            assert.isTrue(updates.every((m) => m.type === "signal_update"))
            const streamed = messages.slice(1).flatMap((m) => (m.type === "signal_snapshot" || m.type === "signal_update" ? [m.data] : []))
            const times = streamed.map((s) => Date.parse(s.time ?? ""))
            for (let i = 1; i < times.length; i++) assert.isAbove(times[i]!, times[i - 1]!, `${t.canonical}: times increase`)
            for (const s of streamed) assert.deepStrictEqual(s, expected.get(s.time ?? ""), `${t.canonical} at ${s.time}`)
            // One update per close, for every close after the snapshot's.
            const candleTimes = closed.map((c) => new Date(c.openTime).toISOString())
            assert.deepStrictEqual(streamed.map((s) => s.time), candleTimes.slice(-streamed.length))
            const stored = Option.getOrThrow(yield* indicators.get(series(t.timeframe), PublicMapping.SignalSource))
            assert.deepStrictEqual(streamed.at(-1), PublicMapping.tradeSignal(row.name, symbol, t.timeframe, stored))
            assert.strictEqual(streamed.at(-1)?.quality, "live")
          }
        }
        assert.deepStrictEqual(forbidden(client.frames.map((f) => JSON.parse(f) as unknown)), [], "no internal field or word")

        // Unsubscribing ends a topic: nothing more of it arrives.
        const fives = topics[0]!.canonical
        client.send({ type: "unsubscribe", topic: topics[0]!.requested })
        yield* waitFor("unsubscribed", () => client.received.some((m) => m.type === "unsubscribed" && m.topic === fives))
        const before = ofTopic(client, fives).length
        yield* sim.setClock({ speed: SPEED })
        yield* waitFor("two more 5m closes", () => sim.clock.now() >= until + 2 * FIVE, 10_000)
        yield* sim.setClock({ speed: 0 })
        yield* waitForEffect(
          "the next 5m closes in the cache",
          Effect.map(closedOf("5m"), (closed) => (closed.at(-1)?.openTime ?? 0) >= until)
        )
        yield* Effect.sleep("100 millis")
        assert.strictEqual(ofTopic(client, fives).length, before)
      }),
    60_000
  )

  it.scopedLive("a client that stops reading is closed with 4008 while a normal client keeps receiving every update", () =>
    Effect.gen(function* () {
      const cache = yield* Layer.build(cacheLayer("stream-slow"))
      const exchange = { id: Exchange.ExchangeId.make(idBase + nextId++), name: "slowtest" }
      const symbol = Market.SymbolId.make("BTCUSDT")
      yield* seedCatalog(cache, exchange, [symbol])
      const queueLimit = 200
      const port = yield* startStream(cache, { streamQueueLimit: queueLimit })
      const { key, id } = yield* seedKey(cache)
      const fast = yield* accepted(port, { key })
      const slow = yield* accepted(port, { key, via: "query" })
      const topic = `${exchange.name}:candles:${symbol}:5m`
      for (const client of [fast, slow]) client.send({ type: "subscribe", topic })
      yield* waitFor("both snapshots", () => [fast, slow].every((c) => ofTopic(c, topic).length === 2))
      slow.ws.pause()

      const bus = Context.get(cache, Bus.Bus)
      const catalog = Context.get(cache, PublicCatalog.PublicCatalog)
      const series = { exchangeId: exchange.id, symbol, timeframe: "5m" as const }
      let published = 0
      const publishBatch = (count: number) =>
        bus.publishBatch(
          Ingest.CandleClosed,
          Array.from({ length: count }, () => {
            const openTime = T + FIVE * published++
            const price = 100 + (published % 50)
            // Valid by construction: validating 20,000 candles would cost more than streaming them.
            const candle = new Candle.Candle(
              { openTime, open: price, high: price + 1, low: price - 1, close: price, volume: 1, closed: true, synthetic: false },
              { disableValidation: true }
            )
            return [
              Keys.candleCloseChannel(series),
              new Ingest.CandleClosed({ ...series, candle }, { disableValidation: true })
            ] as const
          })
        )
      const lastSeq = (client: Client) => {
        const last = ofTopic(client, topic).at(-1)
        return last !== undefined && "seq" in last ? last.seq : -1
      }
      // Until the slow client is dropped (its slot freed), the fast one receiving everything each time. The
      // volume is what fills the socket buffers of the slow one (megabytes on loopback) before its queue.
      let batches = 0
      while ((yield* catalog.streamSlots(id)) > 1) {
        assert.isBelow(batches++, 100, "the slow client was never dropped")
        yield* publishBatch(2000)
        yield* waitFor(`the fast client at seq ${published}`, () => lastSeq(fast) === published)
      }
      assert.strictEqual(fast.ws.readyState, WebSocket.OPEN, "the fast client is still connected")
      yield* publishBatch(100)
      yield* waitFor("the fast client after the drop", () => lastSeq(fast) === published)

      const updates = ofTopic(fast, topic).slice(2)
      assert.deepStrictEqual(
        updates.map((m) => ("seq" in m ? m.seq : -1)),
        updates.map((_, i) => i + 1),
        "the fast client missed nothing"
      )
      assert.deepStrictEqual(fast.invalid, [])

      // Reading again, the slow client finds what was sent before the drop, then the close.
      slow.ws.resume()
      const closed = yield* Deferred.await(slow.closed).pipe(Effect.timeout("20 seconds"))
      assert.strictEqual(closed.code, StreamMessages.CloseCode.slowConsumer)
      assert.include(closed.reason, "slow consumer")
      const seen = ofTopic(slow, topic).slice(2).map((m) => ("seq" in m ? m.seq : -1))
      assert.deepStrictEqual(seen, seen.map((_, i) => i + 1), "what the slow client got has no hole")
      assert.isBelow(seen.length, published, "it did not get everything")
    }),
    60_000
  )

  it.scopedLive("a close lost upstream is healed by a fresh snapshot (next seq); subscribing again restarts at seq 0", () =>
    Effect.gen(function* () {
      const cache = yield* Layer.build(cacheLayer("stream-gap"))
      const exchange = { id: Exchange.ExchangeId.make(idBase + nextId++), name: "gaptest" }
      const symbol = Market.SymbolId.make("ETHUSDT")
      yield* seedCatalog(cache, exchange, [symbol], ["5m"])
      const series = { exchangeId: exchange.id, symbol, timeframe: "5m" as const }
      const candleAt = (i: number) =>
        new Candle.Candle({
          openTime: T + i * FIVE,
          open: 10 + i,
          high: 11 + i,
          low: 9 + i,
          close: 10.5 + i,
          volume: i,
          closed: true,
          synthetic: false
        })
      const candles = Context.get(cache, CandleCache.CandleCache)
      const bus = Context.get(cache, Bus.Bus)
      // As the engine does: into the cache, then on the channel.
      const close = (i: number) =>
        candles.upsert(series, candleAt(i)).pipe(
          Effect.zipRight(
            bus.publish(Keys.candleCloseChannel(series), Ingest.CandleClosed, new Ingest.CandleClosed({ ...series, candle: candleAt(i) }))
          )
        )
      yield* candles.upsertMany(series, [0, 1, 2].map(candleAt))
      const port = yield* startStream(cache)
      const { key } = yield* seedKey(cache)
      const client = yield* accepted(port, { key })
      const topic = `${exchange.name}:candles:${symbol}:5m`
      client.send({ type: "subscribe", topic: `candles:${symbol}:5m` })
      yield* waitFor("the snapshot", () => ofTopic(client, topic).length === 2)
      yield* close(3)
      yield* waitFor("the update", () => ofTopic(client, topic).length === 3)
      yield* candles.upsert(series, candleAt(4)) // cached, but its publication is lost
      yield* close(5)
      yield* waitFor("the fresh snapshot", () => ofTopic(client, topic).length === 4)
      yield* close(6)
      yield* waitFor("the next update", () => ofTopic(client, topic).length === 5)
      const [, first, update, healed, next] = ofTopic(client, topic)
      assert.deepStrictEqual(first, { type: "candle_snapshot", topic, seq: 0, data: [0, 1, 2].map((i) => publicCandle(candleAt(i))) })
      assert.deepStrictEqual(update, { type: "candle_update", topic, seq: 1, data: publicCandle(candleAt(3)) })
      assert.deepStrictEqual(healed, {
        type: "candle_snapshot",
        topic,
        seq: 2,
        data: [0, 1, 2, 3, 4, 5].map((i) => publicCandle(candleAt(i)))
      })
      assert.deepStrictEqual(next, { type: "candle_update", topic, seq: 3, data: publicCandle(candleAt(6)) })

      // Subscribing again is the client's way to resynchronise: a new acknowledgement and snapshot, seq from 0.
      client.send({ type: "subscribe", topic })
      yield* waitFor("the new snapshot", () => ofTopic(client, topic).length === 7)
      const [ack, again] = ofTopic(client, topic).slice(5)
      assert.deepStrictEqual(ack, { type: "subscribed", topic, requested: topic })
      assert.deepStrictEqual(again, {
        type: "candle_snapshot",
        topic,
        seq: 0,
        data: [0, 1, 2, 3, 4, 5, 6].map((i) => publicCandle(candleAt(i)))
      })
      yield* close(7)
      yield* waitFor("an update after it", () => ofTopic(client, topic).length === 8)
      assert.deepStrictEqual(ofTopic(client, topic).at(-1), { type: "candle_update", topic, seq: 1, data: publicCandle(candleAt(7)) })
    }),
    30_000
  )

  it.scopedLive("a key holds at most 5 connections across every server; the 6th is closed with 4029, then one frees a slot", () =>
    Effect.gen(function* () {
      const cache = yield* Layer.build(cacheLayer("stream-limit"))
      const a = yield* startStream(cache)
      const b = yield* startStream(cache)
      const { key, id } = yield* seedKey(cache)
      const catalog = Context.get(cache, PublicCatalog.PublicCatalog)
      const held: Array<Client> = []
      for (const port of [a, a, a, b, b]) held.push(yield* accepted(port, { key }))
      assert.strictEqual(yield* catalog.streamSlots(id), 5)

      for (const port of [a, b]) {
        const sixth = yield* connect(port, { key })
        assert.isTrue(Either.isRight(sixth), "the upgrade succeeds, to carry the close code")
        if (Either.isLeft(sixth)) return
        const closed = yield* Deferred.await(sixth.right.closed).pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(closed.code, StreamMessages.CloseCode.tooManyConnections)
        assert.include(closed.reason, "too many connections")
        assert.isFalse(sixth.right.received.some((m) => m.type === "welcome"))
      }
      assert.strictEqual(yield* catalog.streamSlots(id), 5, "refused connections took no slot")

      // Another key is not affected.
      const other = yield* seedKey(cache)
      yield* accepted(b, { key: other.key })

      held[0]!.ws.close(1000)
      yield* waitForEffect("the slot freed", Effect.map(catalog.streamSlots(id), (n) => n === 4))
      const again = yield* accepted(b, { key })
      assert.strictEqual(again.ws.readyState, WebSocket.OPEN)
      assert.strictEqual(yield* catalog.streamSlots(id), 5)
    }),
    30_000
  )

  it.scopedLive("malformed and unknown messages get an error and the connection stays open; a missing, unknown or revoked key is refused with 401", () =>
    Effect.gen(function* () {
      const cache = yield* Layer.build(cacheLayer("stream-messages"))
      const exchange = { id: Exchange.ExchangeId.make(idBase + nextId++), name: "msgtest" }
      yield* seedCatalog(cache, exchange, ["BTCUSDT"], ["5m", "1h"])
      const port = yield* startStream(cache)
      const { key, hash } = yield* seedKey(cache)
      const catalog = Context.get(cache, PublicCatalog.PublicCatalog)

      // Refused before the upgrade, in the error envelope.
      const revoked = yield* seedKey(cache)
      yield* catalog.removeApiKey(revoked.hash)
      for (const options of [{}, { key: randomUUID() }, { key: "not-a-key" }, { key: revoked.key, via: "query" as const }]) {
        const result = yield* connect(port, options)
        assert.isTrue(Either.isLeft(result), `refused: ${JSON.stringify(options)}`)
        if (Either.isRight(result)) return
        assert.strictEqual(result.left.status, 401)
        const body = JSON.parse(result.left.body) as { error: { code: string; message: string } }
        assert.strictEqual(body.error.code, "unauthorized")
        assert.isString(body.error.message)
      }
      // A plain request with a key is told to upgrade.
      const plain = yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${port}/public/v1/stream`, { headers: { "X-API-Key": key } })
      )
      assert.strictEqual(plain.status, 426)
      assert.strictEqual(((yield* Effect.promise(() => plain.json())) as { error: { code: string } }).error.code, "upgrade_required")

      const client = yield* accepted(port, { key, via: "query" })
      const cases: ReadonlyArray<readonly [message: unknown, code: StreamMessages.ErrorCode]> = [
        ["not json", "bad_message"],
        ["[1,2]", "bad_message"],
        [{ topic: "candles:BTCUSDT:5m" }, "bad_message"],
        [{ type: "dance" }, "unknown_type"],
        [{ type: "subscribe" }, "bad_message"],
        [{ type: "subscribe", topic: 42 }, "bad_message"],
        [{ type: "subscribe", topic: "x".repeat(500) }, "bad_message"],
        [{ type: "subscribe", topic: "candles:BTCUSDT" }, "bad_topic"],
        [{ type: "subscribe", topic: "trades:BTCUSDT:5m" }, "bad_topic"],
        [{ type: "subscribe", topic: "candles:BTCUSDT:2h" }, "bad_topic"],
        [{ type: "subscribe", topic: "candles:NOPE:5m" }, "not_found"],
        [{ type: "subscribe", topic: "candles:BTCUSDT:15m" }, "not_found"],
        [{ type: "subscribe", topic: "kraken:candles:BTCUSDT:5m" }, "not_found"],
        [{ type: "unsubscribe", topic: "candles:BTCUSDT:5m" }, "not_subscribed"]
      ]
      for (const [message, code] of cases) {
        const before = errors(client).length
        client.send(message)
        yield* waitFor(`an error for ${JSON.stringify(message).slice(0, 40)}`, () => errors(client).length > before)
        const error = errors(client).at(-1)!
        assert.strictEqual(error.error.code, code, JSON.stringify(message).slice(0, 60))
        assert.isAbove(error.error.message.length, 10)
      }
      assert.include(errors(client)[4]!.error.message, "topic")
      assert.strictEqual(errors(client)[7]!.topic, "candles:BTCUSDT")
      client.ws.send(Buffer.from([1, 2, 3]), { binary: true })
      yield* waitFor("an error for a binary frame", () => errors(client).length === cases.length + 1)
      assert.strictEqual(errors(client).at(-1)!.error.code, "bad_message")

      // Still open and working.
      assert.strictEqual(client.ws.readyState, WebSocket.OPEN)
      client.send({ type: "ping" })
      yield* waitFor("a pong", () => client.received.some((m) => m.type === "pong"))
      client.send({ type: "subscribe", topic: "signals:BTCUSDT:1h" })
      const topic = "msgtest:signals:BTCUSDT:1h"
      yield* waitFor("the snapshot", () => ofTopic(client, topic).length === 2)
      const [ack, snapshot] = ofTopic(client, topic)
      assert.strictEqual(ack?.type, "subscribed")
      assert.deepStrictEqual(snapshot, {
        type: "signal_snapshot",
        topic,
        seq: 0,
        data: PublicMapping.tradeSignal("msgtest", "BTCUSDT", "1h", undefined)
      })
      client.send({ type: "unsubscribe", topic })
      yield* waitFor("unsubscribed", () => client.received.some((m) => m.type === "unsubscribed"))

      // Two exchanges served: the prefix becomes required.
      const rows = Option.getOrThrow(yield* catalog.exchanges)
      yield* catalog.putExchanges([
        ...rows,
        { ...rows[0]!, id: Exchange.ExchangeId.make(idBase + nextId++), name: Exchange.ExchangeName.make("othertest") }
      ])
      client.send({ type: "subscribe", topic: "candles:BTCUSDT:5m" })
      yield* waitFor("exchange_required", () => errors(client).at(-1)?.error.code === "exchange_required")
      client.send({ type: "subscribe", topic: "msgtest:candles:BTCUSDT:5m" })
      yield* waitFor("the prefixed subscription", () => ofTopic(client, "msgtest:candles:BTCUSDT:5m").length === 2)
      assert.deepStrictEqual(client.invalid, [])
      assert.strictEqual(client.ws.readyState, WebSocket.OPEN)
      assert.notInclude(JSON.stringify(client.received), hash)
    }),
    30_000
  )

  it.scopedLive("the heartbeat closes a client that does not answer pings with 4000 and keeps one that does", () =>
    Effect.gen(function* () {
      const cache = yield* Layer.build(cacheLayer("stream-heartbeat"))
      const port = yield* startStream(cache, { streamPingInterval: Duration.millis(150) })
      const { key, id } = yield* seedKey(cache)
      const alive = yield* accepted(port, { key })
      const silent = yield* accepted(port, { key, autoPong: false })
      const started = Date.now()
      const closed = yield* Deferred.await(silent.closed).pipe(Effect.timeout("3 seconds"))
      assert.strictEqual(closed.code, StreamMessages.CloseCode.heartbeatTimeout)
      assert.isBelow(Date.now() - started, 1_000)
      assert.isTrue(silent.received.some((m) => m.type === "ping"), "it was pinged")
      yield* Effect.sleep("500 millis")
      assert.strictEqual(alive.ws.readyState, WebSocket.OPEN)
      assert.isAtLeast(alive.received.filter((m) => m.type === "ping").length, 3)
      yield* waitForEffect("the silent client's slot freed", Effect.map(Context.get(cache, PublicCatalog.PublicCatalog).streamSlots(id), (n) => n === 1))
    }),
    30_000
  )

  it.scopedLive("connection slots: a limit per key, lapsing without refresh, on Redis and in memory alike", () =>
    Effect.gen(function* () {
      const redis = yield* Layer.build(cacheLayer("stream-slots"))
      const memory = yield* Layer.build(PublicCatalog.layerMemory)
      const backends = [Context.get(redis, PublicCatalog.PublicCatalog), Context.get(memory, PublicCatalog.PublicCatalog)]
      yield* Effect.forEach(backends, (catalog) => Effect.gen(function* () {
        const keyId = idBase + nextId++
        assert.isTrue(yield* catalog.acquireStreamSlot(keyId, "a", 2, "300 millis"))
        assert.isTrue(yield* catalog.acquireStreamSlot(keyId, "b", 2, "10 seconds"))
        assert.isFalse(yield* catalog.acquireStreamSlot(keyId, "c", 2, "10 seconds"), "the limit is reached")
        assert.isTrue(yield* catalog.acquireStreamSlot(keyId, "b", 2, "10 seconds"), "a holder may take its slot again")
        assert.isTrue(yield* catalog.acquireStreamSlot(idBase + nextId++, "c", 2, "10 seconds"), "another key has its own")
        assert.strictEqual(yield* catalog.streamSlots(keyId), 2)
        yield* Effect.sleep("400 millis")
        assert.strictEqual(yield* catalog.streamSlots(keyId), 1, "a slot not refreshed lapses")
        assert.isTrue(yield* catalog.acquireStreamSlot(keyId, "c", 2, "300 millis"))
        yield* Effect.sleep("200 millis")
        yield* catalog.refreshStreamSlot(keyId, "c", "300 millis")
        yield* Effect.sleep("200 millis")
        assert.strictEqual(yield* catalog.streamSlots(keyId), 2, "a refreshed slot holds")
        yield* catalog.releaseStreamSlot(keyId, "b")
        yield* catalog.releaseStreamSlot(keyId, "nobody")
        assert.strictEqual(yield* catalog.streamSlots(keyId), 1)
        const refused = yield* Effect.flip(catalog.acquireStreamSlot(keyId, "d", 2, Duration.infinity))
        assert.strictEqual(refused.reason, "Argument")
      }), { concurrency: "unbounded" })
    }),
    30_000
  )

  it.scopedLive("GET /public/v1/asyncapi.json is an AsyncAPI 3 document of every message, free of internal words", () =>
    Effect.gen(function* () {
      const cache = yield* Layer.build(cacheLayer("stream-asyncapi"))
      const port = yield* startStream(cache)
      const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}${AsyncApi.asyncApiPath}`))
      assert.strictEqual(response.status, 200)
      const doc = (yield* Effect.promise(() => response.json())) as {
        asyncapi: string
        servers: Record<string, { host: string; protocol: string }>
        channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>
        operations: Record<string, { action: string; messages: ReadonlyArray<{ $ref: string }> }>
        components: {
          messages: Record<string, { payload: { $ref?: string } }>
          schemas: Record<string, unknown>
        }
      }
      assert.strictEqual(doc.asyncapi, "3.0.0")
      assert.strictEqual(doc.servers.public?.host, `127.0.0.1:${port}`)
      assert.strictEqual(doc.channels.stream?.address, "/public/v1/stream")
      assert.deepStrictEqual(Object.keys(doc.channels.stream?.messages ?? {}).sort(), AsyncApi.messages.map((m) => m.key).sort())
      // Every reference resolves inside the document.
      const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/([^"]+)"/g)].map((m) => m[1]!)
      assert.isAbove(refs.length, 20)
      for (const ref of refs) {
        const target = ref.split("/").reduce<unknown>(
          (node, part) => (node !== null && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined),
          doc
        )
        assert.isDefined(target, `#/${ref} resolves`)
      }
      for (const schema of ["CandleUpdate", "SignalUpdate", "TradeSignal", "Candle", "Subscribe", "StreamError"]) {
        assert.property(doc.components.schemas, schema)
      }
      assert.strictEqual(doc.operations.subscribe?.action, "receive")
      assert.strictEqual(doc.operations.candleUpdate?.action, "send")
      assert.deepStrictEqual(forbidden(doc), [], "no internal field or word")
      assert.deepStrictEqual(forbidden(AsyncApi.document()), [])
    }),
    30_000
  )
})
