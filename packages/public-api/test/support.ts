/**
 * Shared pieces of the public API tests: a real server on a random port over the real Redis (each test file under
 * a namespace of its own, deleted afterwards), a deterministic market to seed it with (candles, indicator records
 * computed by the real indicator, statuses, symbols, alerts, keys), the mapping rules the API documents restated
 * independently of `PublicMapping`, a raw HTTP client and a seeded PRNG.
 */
import { HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import {
  Bus,
  CacheConfig,
  CacheServices,
  CandleCache,
  IndicatorStore,
  Keys,
  PublicCatalog,
  RedisClient,
  StatusStore
} from "@livermore/cache"
import { Alert, Candle, Exchange, Market, Status, type Timeframe } from "@livermore/domain"
import { IndicatorRecord } from "@livermore/engine"
import { AlertRules, MacdV } from "@livermore/indicators"
import { Config, Context, DateTime, Effect, Layer, type Scope } from "effect"
import { randomUUID } from "node:crypto"
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http"
import { ApiKeys, PublicApiConfig, PublicRateLimit, PublicRoutes } from "../src/index.js"

// ---------------------------------------------------------------------------------------------------------------
// Server

/** The Redis the tests run against. */
export const redisUrl = Effect.runSync(Config.string("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379")))

/** A namespace no other run uses. */
export const freshPrefix = (label: string): string => `pubapi-test:${label}:${randomUUID()}:`

/** What a test server is configured with. */
export interface ServerOptions {
  readonly prefix: string
  readonly requestsPerMinute?: number | undefined
  readonly corsOrigins?: ReadonlyArray<string> | undefined
}

/** The public routes on a Node server at 127.0.0.1 on a random port, with the cache on Redis under `prefix`. */
export const serverLayer = (options: ServerOptions) => {
  const redis = RedisClient.layer({ url: redisUrl, keyPrefix: options.prefix, connectTimeout: "3 seconds" })
  const cache = CacheServices.layerRedis.pipe(Layer.provide(CacheConfig.layer()), Layer.provideMerge(redis))
  const config: Partial<Context.Tag.Service<PublicApiConfig.PublicApiConfig>> = {
    requestsPerMinute: options.requestsPerMinute ?? 300,
    ...(options.corsOrigins === undefined ? {} : { corsOrigins: options.corsOrigins })
  }
  return HttpLayerRouter.serve(PublicRoutes.layer, { disableListenLog: true, disableLogger: true }).pipe(
    Layer.provide(ApiKeys.layer),
    Layer.provide(PublicRateLimit.layerRedis({ url: redisUrl, keyPrefix: options.prefix })),
    Layer.provide(PublicApiConfig.layer(config)),
    Layer.provideMerge(cache),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )
}

/** A running server and the cache services behind it. */
export interface TestServer {
  readonly port: number
  readonly baseUrl: string
  readonly catalog: PublicCatalog.PublicCatalog["Type"]
  readonly bus: Bus.Bus["Type"]
  readonly candles: CandleCache.CandleCache["Type"]
  readonly indicators: IndicatorStore.IndicatorStore["Type"]
  readonly statuses: StatusStore.StatusStore["Type"]
}

/** Start a server for the life of the scope. */
export const startServer = (options: ServerOptions): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.gen(function* () {
    const context = yield* Layer.build(serverLayer(options)).pipe(Effect.orDie)
    const address = Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress
    return {
      port: address.port,
      baseUrl: `http://127.0.0.1:${address.port}`,
      catalog: Context.get(context, PublicCatalog.PublicCatalog),
      bus: Context.get(context, Bus.Bus),
      candles: Context.get(context, CandleCache.CandleCache),
      indicators: Context.get(context, IndicatorStore.IndicatorStore),
      statuses: Context.get(context, StatusStore.StatusStore)
    }
  })

/** Delete every key under `prefix` when the scope closes (register it before the servers, so it runs last). */
export const cleanupNamespace = (prefix: string): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const context = yield* Layer.build(RedisClient.layer({ url: redisUrl, keyPrefix: prefix })).pipe(Effect.orDie)
    const redis = Context.get(context, RedisClient.RedisClient)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        let cursor = "0"
        do {
          const [next, keys] = yield* redis.use("test.cleanup", (r) =>
            r.scan(cursor, "MATCH", `${Keys.escapeGlob(prefix)}*`, "COUNT", 500)
          )
          if (keys.length > 0) yield* redis.use("test.cleanup", (r) => r.unlink(...keys))
          cursor = next
        } while (cursor !== "0")
      }).pipe(Effect.ignore)
    )
  })

// ---------------------------------------------------------------------------------------------------------------
// Deterministic randomness

/** mulberry32: a small PRNG whose sequence a seed fixes, so a failure reproduces from the printed seed. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1))
  const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)]!
  const chance = (p: number): boolean => next() < p
  return { next, int, pick, chance }
}
export type Prng = ReturnType<typeof prng>

// ---------------------------------------------------------------------------------------------------------------
// The seeded market

const HOUR = 3_600_000
const MINUTE = 60_000
const tfMs: Record<Timeframe.Timeframe, number> = {
  "5m": 5 * MINUTE,
  "15m": 15 * MINUTE,
  "1h": HOUR,
  "4h": 4 * HOUR,
  "1d": 24 * HOUR
}

/** Where the seeded market's clock stands: an hour boundary (2026-11-21T14:00:00Z). */
export const now = Date.UTC(2026, 10, 21, 14, 0, 0)

/** A seeded API key: the raw key and its catalog row. */
export interface SeedKey {
  readonly key: string
  readonly row: PublicCatalog.CatalogApiKey
}

/** A series and its candles, oldest first. */
export interface SeedSeries {
  readonly series: Keys.SeriesKey
  readonly candles: ReadonlyArray<Candle.Candle>
}

/** An indicator record and the series it belongs to. */
export interface SeedRecord {
  readonly series: Keys.SeriesKey
  readonly record: IndicatorRecord.IndicatorRecord
}

/** Everything seeded, from which the tests compute what the API must answer. */
export interface Seed {
  readonly exchanges: ReadonlyArray<PublicCatalog.CatalogExchange>
  readonly symbols: ReadonlyMap<number, ReadonlyArray<PublicCatalog.CatalogSymbol>>
  readonly statuses: ReadonlyArray<Status.InstanceStatus>
  /** The long series (≥ 250 candles, the last one forming) the pagination walks. */
  readonly history: SeedSeries
  readonly otherSeries: ReadonlyArray<SeedSeries>
  readonly records: ReadonlyArray<SeedRecord>
  /** In the order appended (oldest first). */
  readonly alerts: ReadonlyArray<Alert.Alert>
}

export const binanceId = Exchange.ExchangeId.make(1)
export const coinbaseId = Exchange.ExchangeId.make(2)

/**
 * Candles of a random walk with `drift` (fraction per bar) from `start`, one every `timeframe`, ending with the
 * candle that opens at or before `end`; every `syntheticEvery`-th one synthetic; the last one forming if asked.
 */
export const walk = (
  rng: Prng,
  options: {
    readonly timeframe: Timeframe.Timeframe
    readonly count: number
    readonly end: number
    readonly start: number
    readonly drift: number
    readonly volatility: number
    readonly syntheticEvery?: number | undefined
    readonly lastForming: boolean
  }
): ReadonlyArray<Candle.Candle> => {
  const step = tfMs[options.timeframe]
  const lastOpen = Math.floor(options.end / step) * step
  const out: Array<Candle.Candle> = []
  let close = options.start
  for (let i = 0; i < options.count; i++) {
    const openTime = lastOpen - (options.count - 1 - i) * step
    const forming = options.lastForming && i === options.count - 1
    if (options.syntheticEvery !== undefined && i > 0 && i % options.syntheticEvery === 0 && !forming) {
      out.push(Candle.synthetic(openTime, close))
      continue
    }
    const open = close
    const change = options.drift + (rng.next() - 0.5) * 2 * options.volatility
    const next = Math.max(0.01, open * (1 + change))
    const high = Math.max(open, next) * (1 + rng.next() * options.volatility)
    const low = Math.min(open, next) * (1 - rng.next() * options.volatility)
    const round = (x: number) => Math.round(x * 100) / 100
    const candle = {
      openTime,
      open: round(open),
      high: round(high),
      low: round(low),
      close: round(next),
      volume: Math.round(rng.next() * 1e6) / 1e3,
      closed: !forming,
      synthetic: false
    }
    // Rounding may pull a bound inside open/close: keep the candle consistent.
    out.push(
      new Candle.Candle({
        ...candle,
        high: Math.max(candle.high, candle.open, candle.close),
        low: Math.min(candle.low, candle.open, candle.close)
      })
    )
    close = round(next)
  }
  return out
}

/**
 * The indicator record of a series after its closed candles, computed by the real indicator and alert rules
 * exactly as the engine does (`IndicatorRecord.make` over an accumulator).
 */
export const recordOf = (
  series: Keys.SeriesKey,
  candles: ReadonlyArray<Candle.Candle>,
  stale: boolean
): IndicatorRecord.IndicatorRecord => {
  const accumulator = new MacdV.Accumulator()
  let alerts = AlertRules.initial
  let lastOpenTime: number | null = null
  for (const candle of candles) {
    if (!candle.closed) continue
    accumulator.push(candle)
    alerts = AlertRules.evaluate(alerts, {
      reading: accumulator.reading(),
      candleOpenTime: candle.openTime,
      closeTime: candle.openTime + tfMs[series.timeframe],
      price: candle.close
    }).state
    lastOpenTime = candle.openTime
  }
  return IndicatorRecord.make({ series, accumulator, alerts, lastOpenTime, stale, now })
}

const series = (exchangeId: Exchange.ExchangeId, symbol: string, timeframe: Timeframe.Timeframe): Keys.SeriesKey => ({
  exchangeId,
  symbol: Market.SymbolId.make(symbol),
  timeframe
})

const status = (exchangeId: Exchange.ExchangeId, name: string, state: Status.InstanceStatus["connectionState"]) =>
  new Status.InstanceStatus({
    exchangeId,
    exchangeName: Exchange.ExchangeName.make(name),
    instanceId: `instance-${name}`,
    connectionState: state,
    connectedAt: DateTime.unsafeMake(now - 3 * HOUR),
    lastHeartbeat: DateTime.unsafeMake(now - 7_000),
    symbolCount: 5,
    staleSeries: 2,
    adminEmail: "ops@example.com",
    adminDisplayName: "Ops",
    ipAddress: "203.0.113.7",
    ipSource: "public",
    hostname: "node-7.internal",
    lastError: "internal detail that must not leak",
    lockEpoch: 3,
    mode: "exchange",
    version: "1.2.3"
  })

/** The market every test file seeds (the same for every run: the PRNG seed is fixed). */
export const makeSeed = (): Seed => {
  const rng = prng(20261121)
  const exchanges: ReadonlyArray<PublicCatalog.CatalogExchange> = [
    {
      id: binanceId,
      name: Exchange.ExchangeName.make("binance"),
      displayName: "Binance",
      timeframes: ["5m", "15m", "1h", "4h", "1d"],
      isActive: true
    },
    {
      id: coinbaseId,
      name: Exchange.ExchangeName.make("coinbase"),
      displayName: "Coinbase",
      timeframes: ["5m", "15m", "1h", "1d"],
      isActive: true
    }
  ]
  const sym = (
    symbol: string,
    baseAsset: string,
    quoteAsset: string,
    liquidityGrade: PublicCatalog.CatalogSymbol["liquidityGrade"],
    rank: number | null,
    quoteVolume24h: number
  ): PublicCatalog.CatalogSymbol => ({
    symbol: Market.SymbolId.make(symbol),
    baseAsset,
    quoteAsset,
    liquidityGrade,
    rank,
    quoteVolume24h
  })
  // As the catalog projection lists them: rank order, unranked last.
  const symbols = new Map<number, ReadonlyArray<PublicCatalog.CatalogSymbol>>([
    [
      binanceId,
      [
        sym("BTCUSDT", "BTC", "USDT", "A", 1, 1.52e9),
        sym("ETHUSDT", "ETH", "USDT", "A", 2, 8.1e8),
        sym("SOLUSDT", "SOL", "USDT", "B", 3, 4.2e7),
        sym("XRPUSDT", "XRP", "USDT", "B", 4, 1.9e7),
        sym("ADAUSDT", "ADA", "USDT", "C", 5, 3.3e6),
        sym("DOGEUSDT", "DOGE", "USDT", "C", 6, 2.1e6),
        sym("LINKUSDT", "LINK", "USDT", "D", 7, 4.4e5),
        sym("DOTUSDT", "DOT", "USDT", "D", 8, 1.2e5),
        sym("ATOMUSDT", "ATOM", "USDT", "E", 9, 5.5e4),
        sym("1000PEPEUSDT", "1000PEPE", "USDT", "E", null, 9.1e3)
      ]
    ],
    [
      coinbaseId,
      [sym("BTC-USD", "BTC", "USD", "A", 1, 9.7e8), sym("ETH-USD", "ETH", "USD", "B", 2, 6.2e7), sym("SOL-USD", "SOL", "USD", "C", 3, 1.4e6)]
    ]
  ])

  const historySeries = series(binanceId, "BTCUSDT", "1h")
  const history: SeedSeries = {
    series: historySeries,
    candles: walk(rng, {
      timeframe: "1h",
      count: 300,
      end: now + 20 * MINUTE,
      start: 91_000,
      drift: 0.0012,
      volatility: 0.006,
      syntheticEvery: 97,
      lastForming: true
    })
  }
  const other = (
    exchangeId: Exchange.ExchangeId,
    symbol: string,
    timeframe: Timeframe.Timeframe,
    count: number,
    drift: number,
    start: number
  ): SeedSeries => ({
    series: series(exchangeId, symbol, timeframe),
    candles: walk(rng, { timeframe, count, end: now, start, drift, volatility: 0.004, lastForming: false })
  })
  const otherSeries: ReadonlyArray<SeedSeries> = [
    other(binanceId, "BTCUSDT", "5m", 150, 0.004, 97_000), // a steep climb
    other(binanceId, "BTCUSDT", "15m", 120, -0.003, 98_000), // a fall
    other(binanceId, "BTCUSDT", "4h", 30, 0.001, 90_000), // values, but no signal yet
    other(binanceId, "BTCUSDT", "1d", 12, 0.001, 80_000), // too short for a value
    other(binanceId, "ETHUSDT", "1h", 100, -0.001, 3_100),
    other(coinbaseId, "BTC-USD", "1h", 90, 0.0005, 96_500)
  ]
  const records: Array<SeedRecord> = [
    { series: history.series, record: recordOf(history.series, history.candles, false) },
    ...otherSeries.map(({ series, candles }) => ({
      series,
      // The ETHUSDT record stands for a series whose latest candle is overdue.
      record: recordOf(series, candles, series.symbol === "ETHUSDT")
    }))
  ]

  const labels = ["level_-150", "level_-200", "level_+150", "level_+250", "reversal_oversold", "reversal_overbought"]
  const alertTargets: ReadonlyArray<readonly [PublicCatalog.CatalogExchange, string]> = [
    [exchanges[0]!, "BTCUSDT"],
    [exchanges[0]!, "ETHUSDT"],
    [exchanges[0]!, "SOLUSDT"],
    [exchanges[1]!, "BTC-USD"],
    [exchanges[1]!, "ETH-USD"]
  ]
  const alerts: Array<Alert.Alert> = []
  for (let i = 0; i < 45; i++) {
    const [exchange, symbol] = rng.pick(alertTargets)
    const timeframe = rng.pick(exchange.timeframes)
    const label = rng.pick(labels)
    const level = Alert.levelOf(label)
    const value = level !== undefined ? level + (level < 0 ? -3 : 3) : label === "reversal_oversold" ? -180 : 175
    const triggeredAt = now - (45 - i) * 7 * MINUTE + rng.int(0, 59_999)
    const candleOpenTime = Math.floor(triggeredAt / tfMs[timeframe]) * tfMs[timeframe] - tfMs[timeframe]
    alerts.push(
      new Alert.Alert({
        exchangeId: exchange.id,
        exchangeName: exchange.name,
        symbol: Market.SymbolId.make(symbol),
        timeframe,
        label: Alert.AlertLabel.make(label),
        value,
        price: Math.round((1_000 + rng.next() * 90_000) * 100) / 100,
        candleOpenTime,
        triggeredAt: DateTime.unsafeMake(triggeredAt),
        details: new Alert.AlertDetails({ valuesByTimeframe: { [timeframe]: value, "1d": -42.5 }, bias: "mixed" })
      })
    )
  }

  return {
    exchanges,
    symbols,
    statuses: [status(binanceId, "binance", "active")],
    history,
    otherSeries,
    records,
    alerts
  }
}

/** A fresh API key (a UUID) with catalog id `id`. */
export const makeKey = (id: number, name = `test key ${id}`): SeedKey => {
  const key = randomUUID()
  const keyHash = ApiKeys.hashKey(key)
  return { key, row: { id, keyHash, name, prefix: key.slice(0, 8) } }
}

/** Put `keys` in the catalog. */
export const seedKeys = (server: TestServer, keys: ReadonlyArray<SeedKey>) =>
  Effect.forEach(keys, ({ row }) => server.catalog.putApiKey(row.keyHash, row), { discard: true }).pipe(Effect.orDie)

/** Write the whole seed through the cache services of `server`. */
export const seedAll = (server: TestServer, seed: Seed) =>
  Effect.gen(function* () {
    yield* server.catalog.putExchanges(seed.exchanges)
    for (const [exchangeId, list] of seed.symbols) {
      yield* server.catalog.putSymbols(Exchange.ExchangeId.make(exchangeId), list)
    }
    for (const s of seed.statuses) yield* server.statuses.put(s, "10 minutes")
    for (const { series, candles } of [seed.history, ...seed.otherSeries]) yield* server.candles.upsertMany(series, candles)
    for (const { series, record } of seed.records) {
      yield* server.indicators.set(series, IndicatorRecord.IndicatorRecord, record)
    }
    for (const alert of seed.alerts) yield* server.catalog.appendAlert(alert)
  }).pipe(Effect.orDie)

// ---------------------------------------------------------------------------------------------------------------
// The documented mapping, restated (the OpenAPI descriptions and domain.md §8), independently of PublicMapping

const iso = (ms: number): string => new Date(ms).toISOString()

export const expectedCandle = (c: Candle.Candle) => ({
  time: iso(c.openTime),
  open: c.open,
  high: c.high,
  low: c.low,
  close: c.close,
  volume: c.volume,
  closed: c.closed,
  synthetic: c.synthetic
})

export const expectedSymbol = (s: PublicCatalog.CatalogSymbol) => ({
  symbol: s.symbol,
  baseAsset: s.baseAsset,
  quoteAsset: s.quoteAsset,
  liquidityGrade: s.liquidityGrade,
  rank: s.rank,
  quoteVolume24h: s.quoteVolume24h
})

export const expectedExchange = (row: PublicCatalog.CatalogExchange, live: Status.InstanceStatus | undefined) => ({
  name: row.name,
  displayName: row.displayName,
  timeframes: [...row.timeframes],
  status:
    live === undefined
      ? { state: "offline", live: false, symbolCount: 0, staleSeries: 0, lastHeartbeat: null }
      : {
          state: live.connectionState,
          live: live.connectionState === "active",
          symbolCount: live.symbolCount,
          staleSeries: live.staleSeries,
          lastHeartbeat: live.lastHeartbeat === null ? null : iso(DateTime.toEpochMillis(live.lastHeartbeat))
        }
})

type Reading = { readonly direction: "bullish" | "bearish" | "neutral"; readonly strength: string }
const neutral: Reading = { direction: "neutral", strength: "weak" }

/** Trend: the level's sign for the direction, its size in four bands (< 50 neutral, < 150, < 250, beyond). */
const trendOf = (value: number): Reading =>
  Math.abs(value) < 50
    ? neutral
    : {
        direction: value > 0 ? "bullish" : "bearish",
        strength: Math.abs(value) < 150 ? "moderate" : Math.abs(value) < 250 ? "strong" : "extreme"
      }

/** Momentum: from the stage (domain.md §2), extreme zones turning by the sign of the histogram. */
const momentumOf = (record: IndicatorRecord.IndicatorRecord): Reading => {
  const { stage, histogram } = record
  if (stage === null || histogram === null || stage === "ranging") return neutral
  if (stage === "oversold" || stage === "overbought") {
    return { direction: histogram >= 0 ? "bullish" : "bearish", strength: "extreme" }
  }
  const table = {
    rallying: { direction: "bullish", strength: "strong" },
    reversing: { direction: "bearish", strength: "strong" },
    rebounding: { direction: "bullish", strength: "moderate" },
    retracing: { direction: "bearish", strength: "moderate" }
  } as const
  return table[stage]
}

export const expectedSignal = (
  exchange: string,
  symbol: string,
  timeframe: Timeframe.Timeframe,
  record: IndicatorRecord.IndicatorRecord | undefined
) => {
  const time = record?.lastOpenTime == null ? null : iso(record.lastOpenTime)
  if (record === undefined || record.value === null) {
    return {
      exchange,
      symbol,
      timeframe,
      time,
      momentum_signal: neutral,
      trend_signal: neutral,
      quality: record === undefined ? "warming_up" : "unavailable"
    }
  }
  return {
    exchange,
    symbol,
    timeframe,
    time,
    momentum_signal: momentumOf(record),
    trend_signal: trendOf(record.value),
    quality: record.stale ? "stale" : record.trusted ? "live" : "warming_up"
  }
}

/** Alert type and direction from the label (domain.md §3). */
export const alertTypeOf = (label: string) => (label.startsWith("reversal_") ? "momentum_reversal" : "momentum_threshold")
export const alertDirectionOf = (label: string) =>
  label === "reversal_oversold" || label.startsWith("level_+") ? "bullish" : "bearish"

/** An alert as listed, without its feed id (which the feed assigns). */
export const expectedAlert = (a: Alert.Alert) => ({
  time: iso(DateTime.toEpochMillis(a.triggeredAt)),
  exchange: a.exchangeName,
  symbol: a.symbol,
  timeframe: a.timeframe,
  signalType: alertTypeOf(a.label),
  direction: alertDirectionOf(a.label),
  price: a.price,
  candleTime: iso(a.candleOpenTime)
})

// ---------------------------------------------------------------------------------------------------------------
// Raw HTTP

/** An answer as it came over the wire. */
export interface RawResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly text: string
}

/** A request written as given (path unnormalized), headers as given: for what `fetch` would not send. */
export interface RawRequest {
  readonly method: string
  readonly path: string
  readonly headers?: Readonly<Record<string, string | ReadonlyArray<string>>> | undefined
  readonly body?: string | undefined
}

const agents = new Map<number, Agent>()

/** One keep-alive agent per parallelism, shared by the file. */
export const agentFor = (maxSockets: number): Agent => {
  let agent = agents.get(maxSockets)
  if (agent === undefined) {
    agent = new Agent({ keepAlive: true, maxSockets })
    agents.set(maxSockets, agent)
  }
  return agent
}

/** Send `req` to 127.0.0.1:`port` with node:http. */
export const raw = (port: number, req: RawRequest, agent: Agent = agentFor(16)): Effect.Effect<RawResponse, Error> =>
  Effect.async<RawResponse, Error>((resume) => {
    const headers: Record<string, string | Array<string>> = {}
    for (const [name, value] of Object.entries(req.headers ?? {})) headers[name] = typeof value === "string" ? value : [...value]
    let outgoing: ReturnType<typeof httpRequest>
    try {
      outgoing = httpRequest({ host: "127.0.0.1", port, method: req.method, path: req.path, headers, agent }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () =>
          resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }))
        )
        res.on("error", (error) => resume(Effect.fail(error)))
      })
    } catch (error) {
      resume(Effect.fail(error instanceof Error ? error : new Error(String(error))))
      return
    }
    outgoing.on("error", (error) => resume(Effect.fail(error)))
    outgoing.end(req.body)
  })

/** GET `path` with `headers`, the body parsed as JSON (undefined when it is not JSON). */
export const getJson = (port: number, path: string, headers: Readonly<Record<string, string>> = {}) =>
  Effect.map(raw(port, { method: "GET", path, headers }), (res) => ({ ...res, json: parseJson(res.text) }))

export const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

/** What an error answer's code must be for its status. */
export const codeForStatus: Readonly<Record<number, string>> = {
  400: "bad_request",
  401: "unauthorized",
  404: "not_found",
  429: "rate_limited",
  503: "unavailable"
}

/**
 * Why `body` is not exactly the error envelope `{ error: { code, message } }` with a non-empty message, or
 * undefined when it is.
 */
export const envelopeProblem = (body: unknown): string | undefined => {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return "the body is not a JSON object"
  const keys = Object.keys(body)
  if (keys.length !== 1 || keys[0] !== "error") return `top-level keys are ${JSON.stringify(keys)}, not ["error"]`
  const error = (body as { error: unknown }).error
  if (error === null || typeof error !== "object" || Array.isArray(error)) return "error is not an object"
  const inner = Object.keys(error).sort()
  if (inner.length !== 2 || inner[0] !== "code" || inner[1] !== "message") {
    return `error has keys ${JSON.stringify(inner)}, not ["code","message"]`
  }
  const { code, message } = error as { code: unknown; message: unknown }
  if (typeof code !== "string" || code === "") return "error.code is not a non-empty string"
  if (typeof message !== "string" || message.trim() === "") return "error.message is not a non-empty string"
  return undefined
}
