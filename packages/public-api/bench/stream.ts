/**
 * `pnpm bench` (issue 7), part 2: fan-out of the public stream `/public/v1/stream` to 5,000 WebSocket clients.
 *
 * Layout: Livermore's server (REST + stream, `livermore-server.ts stream`) runs in a child process; this process
 * holds the clients (`ws`) and publishes. Each client connects with an API key (4 connections per key, under the
 * cap of 5, so 1,250 keys), subscribes to the hot topic `binance:candles:BTCUSDT:1h` that every client follows
 * and to one of 10 other candle topics, and waits for both snapshots. Then, round after round, one closed candle
 * per topic (11, each the one after the previous round's) is written to the cache and then published in one batch
 * on the closed-candle channels through Livermore's `Bus` with the engine's `Ingest.CandleClosed` schema — what
 * ingest does when the hour closes (`Ingest.write`). The messages carry no timestamp of their own (the stream
 * forwards only the public candle), so the candle's open time identifies the round, and the bench
 * times each `candle_update` from just before the publish call to its arrival in the client's `message` handler
 * (one clock: publisher and clients share this process, so the figure includes the clients' own event-loop
 * queueing). A round ends when every subscription has its update (or after 10 s). Every client must receive
 * every update, in `seq` order: any loss, gap, duplicate, error message or unexpected close is reported and fails
 * the bench; a fresh snapshot in the middle (the server's answer to a gap it saw upstream) is reported.
 *
 * Environment: BENCH_CLIENTS (5000), BENCH_PER_KEY (4), BENCH_TOPICS (10 besides the hot one), BENCH_MESSAGES
 * (rounds, 20), BENCH_PAUSE_MS (between rounds, 100), BENCH_SNAPSHOT_CANDLES (candles seeded per topic, 101),
 * BENCH_CONNECT_BATCH (connections opened at once, 250), BENCH_CPU_PROF_DIR, REDIS_URL.
 */
import { Bus, CandleCache, Keys } from "@livermore/cache"
import { Candle, type Market, Timeframe } from "@livermore/domain"
import { Ingest } from "@livermore/engine"
import { Effect, ManagedRuntime } from "effect"
import { Redis } from "ioredis"
import { performance } from "node:perf_hooks"
import WebSocket from "ws"
import {
  benchExchange,
  cacheLayer,
  cleanup,
  cpuSeconds,
  envInt,
  profileDir,
  finisher,
  fixed,
  freshPrefix,
  loadAverage,
  machine,
  makeCandles,
  makeKeys,
  quantile,
  redisCpuSeconds,
  redisUrl,
  type Server,
  seed,
  startServer,
  stopServer,
  symbols
} from "./common.js"

const clientCount = envInt("BENCH_CLIENTS", 5000)
const perKey = envInt("BENCH_PER_KEY", 4)
const spreadTopics = envInt("BENCH_TOPICS", 10)
const messages = envInt("BENCH_MESSAGES", 20)
const pauseMs = envInt("BENCH_PAUSE_MS", 100)
const snapshotCandles = envInt("BENCH_SNAPSHOT_CANDLES", 101)
const connectBatch = envInt("BENCH_CONNECT_BATCH", 250)
const roundTimeoutMs = 10_000
const timeframe: Timeframe.Timeframe = "1h"

/** One candle topic: its series (whose closes go on `Keys.candleCloseChannel(series)`) and its canonical name. */
interface TopicSpec {
  readonly series: Keys.SeriesKey
  readonly topic: string
}

const topicOf = (symbol: Market.SymbolId): TopicSpec => ({
  series: { exchangeId: benchExchange.id, symbol, timeframe },
  topic: `${benchExchange.name}:candles:${symbol}:${timeframe}`
})

const hot = topicOf(symbols[0]!.symbol)
const spread = symbols.slice(1, 1 + spreadTopics).map((s) => topicOf(s.symbol))
if (spread.length < spreadTopics) throw new Error(`BENCH_TOPICS is at most ${symbols.length - 1}`)
const allTopics = [hot, ...spread]

/** What one client saw. */
interface Client {
  readonly index: number
  readonly ws: WebSocket
  readonly topics: ReadonlyArray<string>
  /** Seq of the last message per topic (-1: nothing yet). */
  readonly seq: Map<string, number>
  readonly snapshots: Map<string, number>
  updates: number
  gaps: number
  duplicates: number
  problems: Array<string>
  closed: { readonly code: number; readonly reason: string } | undefined
  /** Called on `welcome` and on each snapshot while connecting. */
  onWelcome: () => void
  onSnapshot: () => void
}

const problem = (client: Client, text: string) => {
  if (client.problems.length < 5) client.problems.push(text)
}

/** The state of the round being published. */
const round = {
  /** Open time of the candles of the round → when their publish call started (performance.now()). */
  publishedAt: new Map<number, number>(),
  expected: 0,
  delivered: 0,
  lastArrival: 0,
  done: (): void => {}
}
const latencies: Array<number> = []
const stray: Array<string> = []

const topicPattern = /"topic":"([^"]+)"/
const seqPattern = /"seq":(\d+)/

const onMessage = (client: Client, text: string): void => {
  const now = performance.now()
  if (text.startsWith('{"type":"candle_update"')) {
    const message = JSON.parse(text) as { topic: string; seq: number; data: { time: string } }
    const previous = client.seq.get(message.topic)
    if (previous === undefined) {
      problem(client, `an update of ${message.topic}, which it did not subscribe to`)
      return
    }
    if (message.seq === previous) client.duplicates++
    else if (message.seq !== previous + 1) client.gaps++
    client.seq.set(message.topic, message.seq)
    client.updates++
    const openTime = Date.parse(message.data.time)
    const publishedAt = round.publishedAt.get(openTime)
    if (publishedAt === undefined) {
      if (stray.length < 5) stray.push(`${message.topic} ${message.data.time}`)
      return
    }
    latencies.push(now - publishedAt)
    round.lastArrival = now
    if (++round.delivered === round.expected) round.done()
    return
  }
  if (text.startsWith('{"type":"candle_snapshot"')) {
    const topic = topicPattern.exec(text)?.[1] ?? "?"
    const seq = Number(seqPattern.exec(text)?.[1] ?? Number.NaN)
    if (seq !== (client.seq.get(topic) ?? -1) + 1) client.gaps++
    client.seq.set(topic, seq)
    client.snapshots.set(topic, (client.snapshots.get(topic) ?? 0) + 1)
    client.onSnapshot()
    return
  }
  const message = JSON.parse(text) as { type: string; error?: { code: string; message: string } }
  switch (message.type) {
    case "welcome":
      client.onWelcome()
      return
    case "ping":
      client.ws.send('{"type":"pong"}')
      return
    case "subscribed":
    case "pong":
      return
    case "error":
      problem(client, `error ${message.error?.code}: ${message.error?.message}`)
      return
    default:
      problem(client, `unexpected ${message.type}`)
  }
}

/** Open one client, subscribe it, and resolve once both snapshots are in. */
const connect = (url: string, index: number, key: string): Promise<Client> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { "x-api-key": key }, perMessageDeflate: false })
    const topics = [hot.topic, spread[index % spread.length]!.topic]
    const client: Client = {
      index,
      ws,
      topics,
      seq: new Map(),
      snapshots: new Map(),
      updates: 0,
      gaps: 0,
      duplicates: 0,
      problems: [],
      closed: undefined,
      onWelcome: () => {
        for (const topic of topics) {
          client.seq.set(topic, -1)
          ws.send(JSON.stringify({ type: "subscribe", topic }))
        }
      },
      onSnapshot: () => {
        if (++snapshots === topics.length) {
          clearTimeout(timer)
          resolve(client)
        }
      }
    }
    const timer = setTimeout(() => reject(new Error(`client ${index} was not subscribed within 60 s`)), 60_000)
    let snapshots = 0
    ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      if (isBinary) problem(client, "a binary frame")
      else onMessage(client, data.toString())
    })
    ws.on("close", (code, reason) => {
      client.closed = { code, reason: reason.toString() }
      clearTimeout(timer)
      reject(new Error(`client ${index} was closed while connecting: ${code} ${reason.toString()}`))
    })
    ws.on("error", (error) => {
      clearTimeout(timer)
      reject(new Error(`client ${index}: ${error.message}`))
    })
  })

const main = async () => {
  const prefix = freshPrefix()
  const keys = makeKeys(Math.ceil(clientCount / perKey))
  const redis = new Redis(redisUrl)
  const runtime = ManagedRuntime.make(cacheLayer(prefix))
  const clients: Array<Client> = []
  let server: Server | undefined
  const finish = finisher(async () => {
    for (const client of clients) {
      client.ws.removeAllListeners("close")
      client.ws.terminate()
    }
    if (server !== undefined) await stopServer(server)
    await runtime.dispose()
    await cleanup(prefix)
    redis.disconnect()
  })
  try {
    console.log(`stream bench: ${machine()}`)
    console.log(
      `  ${clientCount} clients on ${keys.length} keys (${perKey} each, cap 5), each following ${hot.topic} and one of ` +
        `${spread.length} other topics; ${messages} rounds of ${allTopics.length} closed candles published in one batch`
    )
    const seeded = allTopics.map((t) => ({ series: t.series, candles: makeCandles(snapshotCandles, timeframe) }))
    await seed(prefix, keys, seeded)
    // The seeded series end with the candle forming now: the first round closes it, each next round the one after.
    const firstOpenTime = seeded[0]!.candles.at(-1)!.openTime
    server = await startServer("livermore", "./livermore-server.ts", [prefix, "stream"], profileDir)
    const url = `ws://127.0.0.1:${server.port}/public/v1/stream`

    const connectStart = performance.now()
    for (let from = 0; from < clientCount; from += connectBatch) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(connectBatch, clientCount - from) }, (_, i) => {
          const index = from + i
          return connect(url, index, keys[Math.floor(index / perKey)]!.key)
        })
      )
      clients.push(...batch)
    }
    const connectSeconds = (performance.now() - connectStart) / 1000
    for (const client of clients) {
      client.ws.removeAllListeners("close")
      client.ws.removeAllListeners("error")
      client.ws.on("close", (code, reason) => {
        client.closed = { code, reason: reason.toString() }
      })
      client.ws.on("error", (error) => problem(client, `socket error ${error.message}`))
    }
    const subscriptions = clients.reduce((n, c) => n + c.topics.length, 0)
    console.log(
      `  connected and subscribed ${clients.length} clients (${subscriptions} subscriptions, snapshots of ` +
        `${snapshotCandles - 1} closed candles) in ${fixed(connectSeconds, 1)} s`
    )

    // As ingest does (`Ingest.write`): the closed candles are written to the cache first, then published.
    const store = (candle: Candle.Candle) =>
      runtime.runPromise(
        Effect.flatMap(CandleCache.CandleCache, (cache) =>
          cache.upsertBatch(allTopics.map((t) => ({ series: t.series, candle })))
        )
      )
    const publish = (messagesOfRound: ReadonlyArray<readonly [string, Ingest.CandleClosed]>) =>
      runtime.runPromise(Effect.flatMap(Bus.Bus, (bus) => bus.publishBatch(Ingest.CandleClosed, messagesOfRound)))

    const serverCpu0 = cpuSeconds(server.child.pid)
    const clientCpu0 = process.cpuUsage()
    const redisCpu0 = await redisCpuSeconds(redis)
    const completion: Array<number> = []
    let timedOut = 0
    const fanoutStart = performance.now()
    for (let r = 0; r < messages; r++) {
      const openTime = firstOpenTime + r * Timeframe.durationMs[timeframe]
      const candle = new Candle.Candle({
        openTime,
        open: 97_000 + r,
        high: 97_100 + r,
        low: 96_900 + r,
        close: 97_050 + r,
        volume: 12.5,
        closed: true,
        synthetic: false
      })
      const batch = allTopics.map(
        (t) =>
          [
            Keys.candleCloseChannel(t.series),
            new Ingest.CandleClosed({ exchangeId: t.series.exchangeId, symbol: t.series.symbol, timeframe, candle })
          ] as const
      )
      round.expected = subscriptions
      round.delivered = 0
      const finished = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), roundTimeoutMs)
        round.done = () => {
          clearTimeout(timer)
          resolve(true)
        }
      })
      await store(candle)
      const publishedAt = performance.now()
      round.publishedAt.set(openTime, publishedAt)
      await publish(batch)
      if (await finished) completion.push(round.lastArrival - publishedAt)
      else timedOut++
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
    }
    const fanoutSeconds = (performance.now() - fanoutStart) / 1000
    const serverCpu = cpuSeconds(server.child.pid) - serverCpu0
    const clientCpu = process.cpuUsage(clientCpu0)
    const redisCpu = (await redisCpuSeconds(redis)) - redisCpu0

    const sorted = Float64Array.from(latencies).sort()
    const completionSorted = Float64Array.from(completion).sort()
    const expectedPerClient = (client: Client) => client.topics.length * messages
    const delivered = clients.reduce((n, c) => n + c.updates, 0)
    const expected = clients.reduce((n, c) => n + expectedPerClient(c), 0)
    const short = clients.filter((c) => c.updates < expectedPerClient(c))
    const gaps = clients.reduce((n, c) => n + c.gaps, 0)
    const duplicates = clients.reduce((n, c) => n + c.duplicates, 0)
    const closed = clients.filter((c) => c.closed !== undefined)
    const troubled = clients.filter((c) => c.problems.length > 0)
    const resynced = clients.filter((c) => [...c.snapshots.values()].some((n) => n > 1))

    console.log("")
    console.log(
      `  publish → client receipt over ${sorted.length} deliveries: p50 ${fixed(quantile(sorted, 0.5), 2)} ms, ` +
        `p99 ${fixed(quantile(sorted, 0.99), 2)} ms, max ${fixed(sorted[sorted.length - 1] ?? Number.NaN, 2)} ms`
    )
    console.log(
      `  whole fan-out of a round (publish → last of its ${subscriptions} deliveries): median ` +
        `${fixed(quantile(completionSorted, 0.5), 1)} ms, max ${fixed(completionSorted[completionSorted.length - 1] ?? Number.NaN, 1)} ms ` +
        `(${fixed(subscriptions / (quantile(completionSorted, 0.5) / 1000), 0)} deliveries/s)`
    )
    console.log(
      `  delivered ${delivered} of ${expected} updates (${clients.length} clients × ${expected / clients.length} each); ` +
        `clients missing any: ${short.length}; seq gaps: ${gaps}; duplicates: ${duplicates}; rounds timed out: ${timedOut}; ` +
        `resynchronised: ${resynced.length}; closed by the server: ${closed.length}; with errors: ${troubled.length}`
    )
    console.log(
      `  CPU during the ${fixed(fanoutSeconds, 1)} s of rounds: server ${fixed(serverCpu, 2)} s ` +
        `(${fixed((serverCpu / delivered) * 1e6, 1)} µs per delivery), clients + publisher ` +
        `${fixed((clientCpu.user + clientCpu.system) / 1e6, 2)} s, Redis ${fixed(redisCpu, 2)} s`
    )
    const failures = [
      ...(delivered !== expected || short.length > 0 ? [`${expected - delivered} updates lost (${short.length} clients short)`] : []),
      ...(gaps > 0 ? [`${gaps} seq gaps`] : []),
      ...(duplicates > 0 ? [`${duplicates} duplicates`] : []),
      ...(closed.length > 0
        ? [`${closed.length} clients closed by the server (first: ${closed[0]!.closed!.code} ${closed[0]!.closed!.reason})`]
        : []),
      ...(troubled.length > 0 ? [`${troubled.length} clients saw errors (first: ${troubled[0]!.problems[0]})`] : []),
      ...(stray.length > 0 ? [`updates the bench did not publish: ${stray.join(", ")}`] : [])
    ]
    console.log(`  load average at the end: ${loadAverage()}`)
    if (failures.length > 0) throw new Error(failures.join("; "))
    console.log("  every client received every update, in order")
  } finally {
    await finish()
  }
}

main().catch((error: unknown) => {
  console.error("stream bench FAILED:", error instanceof Error ? error.message : error)
  process.exitCode = 1
})
