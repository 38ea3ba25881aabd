/**
 * What the benches share: the Redis they run against, a namespace of their own (deleted afterwards), the
 * seeded catalog (exchanges, Tier 1 symbols, thousands of API keys) and candles, written through Livermore's own
 * cache services so the stored format is exactly what production writes, plus small statistics helpers.
 */
import { CacheConfig, CacheServices, CandleCache, type Keys, PublicCatalog, RedisClient } from "@livermore/cache"
import { Candle, Exchange, Market, Timeframe } from "@livermore/domain"
import { Config, Effect, Layer, Option } from "effect"
import { Redis } from "ioredis"
import { type ChildProcess, fork } from "node:child_process"
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import { hashKey } from "../src/ApiKeys.js"

/** A setting of the bench from the environment, through Effect `Config` (a bad value stops the bench, naming it). */
const setting = <A>(config: Config.Config<A>): A => Effect.runSync(config)

export const redisUrl = setting(Config.string("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379")))

/** A namespace of this run: every key and channel the bench touches lives under it. */
export const freshPrefix = (): string => `bench:${randomUUID()}:`

/** A positive integer setting, or `fallback`. */
export const envInt = (name: string, fallback: number): number =>
  setting(
    Config.integer(name).pipe(
      Config.validate({ message: `${name} must be a positive integer`, validation: (n) => n > 0 }),
      Config.withDefault(fallback)
    )
  )

/** `BENCH_CPU_PROF_DIR`: where the servers write `--cpu-prof` profiles; unset, no profiling. */
export const profileDir: string | undefined = Option.getOrUndefined(
  setting(Config.option(Config.nonEmptyString("BENCH_CPU_PROF_DIR")))
)

/** The exchanges of the catalog: three rows, like a node following a few exchanges. */
export const exchanges: ReadonlyArray<PublicCatalog.CatalogExchange> = [
  { id: 1, name: "coinbase", displayName: "Coinbase", isActive: true },
  { id: 2, name: "binance", displayName: "Binance", isActive: true },
  { id: 3, name: "kraken", displayName: "Kraken", isActive: true }
].map((row) => ({
  id: Exchange.ExchangeId.make(row.id),
  name: Exchange.ExchangeName.make(row.name),
  displayName: row.displayName,
  timeframes: [...Timeframe.all],
  isActive: row.isActive
}))

/** The benched exchange (by name in paths, by id in keys). */
export const benchExchange = exchanges[1]!

/** Tier 1 of the benched exchange: 50 symbols (`LIVERMORE_TOP_N`'s default), most traded first. */
export const symbols: ReadonlyArray<PublicCatalog.CatalogSymbol> = [
  "BTC",
  "ETH",
  "SOL",
  "XRP",
  "BNB",
  "DOGE",
  "ADA",
  "TRX",
  "LINK",
  "AVAX",
  ...Array.from({ length: 40 }, (_, i) => `ALT${i + 1}`)
].map((base, i): PublicCatalog.CatalogSymbol => ({
  symbol: Market.SymbolId.make(`${base}USDT`),
  baseAsset: base,
  quoteAsset: "USDT",
  liquidityGrade: i < 5 ? "A" : i < 15 ? "B" : i < 30 ? "C" : i < 45 ? "D" : "E",
  rank: i + 1,
  quoteVolume24h: Math.round(2e9 / (i + 1))
}))

/** The benched candle series: BTCUSDT 1h on the benched exchange. */
export const benchSeries = {
  exchangeId: benchExchange.id,
  symbol: Market.SymbolId.make("BTCUSDT"),
  timeframe: "1h" as Timeframe.Timeframe
}

/** The candles endpoint as the load generator asks for it. */
export const candlesPath = `/public/v1/exchanges/${benchExchange.name}/candles/${benchSeries.symbol}/${benchSeries.timeframe}?limit=100`

/** `count` hourly candles ending with the one forming now: a random walk around 97,000. */
export const makeCandles = (count: number, timeframe: Timeframe.Timeframe = "1h"): ReadonlyArray<Candle.Candle> => {
  const step = Timeframe.durationMs[timeframe]
  const last = Timeframe.floor(timeframe, Date.now())
  const candles: Array<Candle.Candle> = []
  let price = 97_000
  for (let i = count - 1; i >= 0; i--) {
    const open = price
    const close = Math.max(1, Math.round((open * (1 + (Math.random() - 0.5) * 0.01)) * 100) / 100)
    const high = Math.round(Math.max(open, close) * (1 + Math.random() * 0.002) * 100) / 100
    const low = Math.round(Math.min(open, close) * (1 - Math.random() * 0.002) * 100) / 100
    candles.push(
      new Candle.Candle({
        openTime: last - i * step,
        open,
        high,
        low,
        close,
        volume: Math.round(Math.random() * 500_000) / 1000,
        closed: i !== 0,
        synthetic: false
      })
    )
    price = close
  }
  return candles
}

/** One seeded API key: the raw key a client sends and its catalog id. */
export interface BenchKey {
  readonly id: number
  readonly key: string
}

export const makeKeys = (count: number): ReadonlyArray<BenchKey> =>
  Array.from({ length: count }, (_, i) => ({ id: 100_000 + i, key: randomUUID() }))

/** Livermore's cache services on the bench's namespace. */
export const cacheLayer = (prefix: string) =>
  CacheServices.layerRedis.pipe(
    Layer.provide(CacheConfig.layer()),
    Layer.provideMerge(RedisClient.layer({ url: redisUrl, keyPrefix: prefix }))
  )

/** The candles of one series, for `seed`. */
export interface SeededSeries {
  readonly series: Keys.SeriesKey
  readonly candles: ReadonlyArray<Candle.Candle>
}

/** Write the catalog, the keys and the candles of `series` under `prefix`. */
export const seed = (prefix: string, keys: ReadonlyArray<BenchKey>, series: ReadonlyArray<SeededSeries>) =>
  Effect.gen(function* () {
    const catalog = yield* PublicCatalog.PublicCatalog
    const cache = yield* CandleCache.CandleCache
    yield* catalog.putExchanges(exchanges)
    for (const row of exchanges) yield* catalog.putSymbols(row.id, symbols)
    const byHash = new Map<string, PublicCatalog.CatalogApiKey>()
    for (const { id, key } of keys) {
      const keyHash = hashKey(key)
      byHash.set(keyHash, { id, keyHash, name: `bench key ${id}`, prefix: key.slice(0, 8) })
    }
    yield* catalog.replaceApiKeys(byHash)
    for (const { series: s, candles } of series) if (candles.length > 0) yield* cache.upsertMany(s, candles)
  }).pipe(Effect.provide(cacheLayer(prefix)), Effect.runPromise)

/** Delete every key under `prefix`. */
export const cleanup = async (prefix: string): Promise<number> => {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect()
  let cursor = "0"
  let deleted = 0
  try {
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000)
      if (found.length > 0) deleted += await redis.unlink(...found)
      cursor = next
    } while (cursor !== "0")
  } finally {
    redis.disconnect()
  }
  return deleted
}

/** The value at quantile `q` (0..1) of ascending `sorted`, nearest rank. */
export const quantile = (sorted: ArrayLike<number>, q: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]!
}

export const fixed = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : "n/a")

/** The 1, 5 and 15 minute load averages: other work on the machine skews every figure. */
export const loadAverage = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")

/** A one-line description of the machine, for the printed figures. */
export const machine = (): string => {
  const cpus = os.cpus()
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? "cpu"}, node ${process.version}, load average ${loadAverage()}`
}

/** A server running in a child process. */
export interface Server {
  readonly name: string
  readonly child: ChildProcess
  readonly port: number
}

/**
 * Start `file` (beside this one) in a child process with `args`, and wait for the port it reports over IPC.
 * With `profileDir`, the child writes a `--cpu-prof` profile under `profileDir/name` when it stops.
 */
export const startServer = (
  name: string,
  file: string,
  args: ReadonlyArray<string>,
  profileDir: string | undefined
): Promise<Server> =>
  new Promise((resolve, reject) => {
    const path = fileURLToPath(new URL(file, import.meta.url))
    const profile = profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}/${name}`]
    const child = fork(path, [...args], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: [...process.execArgv, ...profile]
    })
    const timer = setTimeout(() => {
      child.kill()
      reject(new Error(`the ${name} server did not start within 60 s`))
    }, 60_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`the ${name} server exited (code ${code}) before listening`))
    })
    child.once("message", (message) => {
      clearTimeout(timer)
      const port = typeof message === "object" && message !== null && "port" in message ? message.port : undefined
      if (typeof port !== "number") return reject(new Error(`the ${name} server sent ${JSON.stringify(message)}`))
      child.removeAllListeners("exit")
      resolve({ name, child, port })
    })
  })

/** Ask a server child to stop (so a CPU profile is written), killing it if it has not within 10 s. */
export const stopServer = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    if (server.child.exitCode !== null || server.child.signalCode !== null || !server.child.connected) {
      server.child.kill("SIGKILL")
      return resolve()
    }
    const timer = setTimeout(() => server.child.kill("SIGKILL"), 10_000)
    server.child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    server.child.send("stop")
  })

/**
 * `finish` as a function that runs it once, and also on SIGINT or SIGTERM (then exits 130 or 143), so that an
 * interrupted bench still stops its servers and deletes its namespace.
 */
export const finisher = (finish: () => Promise<void>): (() => Promise<void>) => {
  let running: Promise<void> | undefined
  const once = () => {
    running ??= finish()
    return running
  }
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`  ${signal}: stopping the servers and deleting the bench's keys`)
    void once().finally(() => process.exit(signal === "SIGINT" ? 130 : 143))
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  return once
}

/** CPU seconds (user + system) a process has used so far, from /proc; NaN where there is no /proc. */
export const cpuSeconds = (pid: number | undefined): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // Fields 14 and 15 of proc(5) (utime, stime), in clock ticks of 1/100 s on Linux.
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

/** CPU seconds Redis has used so far (INFO cpu). */
export const redisCpuSeconds = async (redis: Redis): Promise<number> => {
  const info = await redis.info("cpu")
  const value = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1])
  return value("used_cpu_user") + value("used_cpu_sys")
}
