/**
 * `pnpm bench` (issue 7), part 1: the candles endpoint under concurrent load — requests/s and latency p50/p99 —
 * for (a) Livermore's public API with authentication and the Redis rate limit on, and (b) a minimal Fastify +
 * ioredis handler serving the same candles from the same Redis key.
 *
 * Layout: this process seeds Redis and is the load generator (autocannon, in-process); each server runs in a
 * child process of its own, so neither shares an event loop with the generator nor with the other. Rounds
 * alternate between the two, the order swapped every pair (a b b a a b …), so drift of the machine falls on
 * both alike. Every request carries an API key rotated over thousands of seeded keys, so Livermore verifies the
 * key and charges its budget on every request without any key reaching 300 a minute; the baseline ignores the
 * header. Any answer other than 200 fails the bench.
 *
 * Two phases: saturation (BENCH_CONNECTIONS connections, each sending its next request as soon as the last
 * is answered: throughput, and latency that includes queueing) and one request at a time (a single connection
 * capped at BENCH_RATE requests a second — autocannon sends up to the cap back to back, then waits for the next
 * second — so nothing queues: the latency of the work itself). Latencies are the generator's own response times,
 * pooled over rounds.
 * CPU per request is read from /proc for the server and from INFO cpu for Redis.
 *
 * Environment: BENCH_DURATION (s per saturation round, 8), BENCH_ROUNDS (pairs, 3), BENCH_WARMUP (s, 3),
 * BENCH_CONNECTIONS (50), BENCH_RATE (req/s, 200), BENCH_RATE_ROUNDS (pairs, 2), BENCH_RATE_DURATION (s, 5),
 * BENCH_KEYS (5000), BENCH_CPU_PROF_DIR (write `--cpu-prof` profiles of
 * both servers under it, one folder each; the largest file of a folder is the main thread), REDIS_URL.
 */
import autocannon from "autocannon"
import { Redis } from "ioredis"
import { deepStrictEqual } from "node:assert"
import {
  type BenchKey,
  benchSeries,
  candlesPath,
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
  stopServer
} from "./common.js"

const duration = envInt("BENCH_DURATION", 8)
const rounds = envInt("BENCH_ROUNDS", 3)
const warmup = envInt("BENCH_WARMUP", 3)
const connections = envInt("BENCH_CONNECTIONS", 50)
const keyCount = envInt("BENCH_KEYS", 5000)
const rate = envInt("BENCH_RATE", 200)
const ratePairs = envInt("BENCH_RATE_ROUNDS", 2)
const rateDuration = envInt("BENCH_RATE_DURATION", 5)

type Target = "livermore" | "fastify"

const start = (target: Target, prefix: string): Promise<Server> =>
  startServer(target, `./${target}-server.ts`, [prefix], profileDir)

/** Every request its own key from the seeded set, in turn. */
const keyRotation = (keys: ReadonlyArray<BenchKey>) => {
  let next = 0
  return (request: autocannon.Request): autocannon.Request => {
    request.headers = { ...request.headers, "x-api-key": keys[next++ % keys.length]!.key }
    return request
  }
}

interface Round {
  readonly target: string
  readonly seconds: number
  readonly requests: number
  readonly statuses: Map<number, number>
  readonly errors: number
  readonly timeouts: number
  /** Response times of this round in ms, as measured by the generator. */
  readonly latencies: Float64Array
  readonly serverCpu: number
  readonly redisCpu: number
  readonly generatorCpu: number
}

const runRound = (
  server: Server,
  seconds: number,
  setupRequest: (request: autocannon.Request) => autocannon.Request,
  redis: Redis,
  paced?: { readonly connections: number; readonly rate: number }
): Promise<Round> =>
  new Promise((resolve, reject) => {
    const latencies: Array<number> = []
    const statuses = new Map<number, number>()
    const cpu0 = cpuSeconds(server.child.pid)
    const generator0 = process.cpuUsage()
    void redisCpuSeconds(redis).then((redis0) => {
      const instance = autocannon(
        {
          url: `http://127.0.0.1:${server.port}`,
          connections: paced?.connections ?? connections,
          pipelining: 1,
          duration: seconds,
          ...(paced === undefined ? {} : { overallRate: paced.rate }),
          requests: [{ method: "GET", path: candlesPath, setupRequest }]
        },
        (error, result) => {
          if (error !== null && error !== undefined) return reject(error)
          const generator = process.cpuUsage(generator0)
          void redisCpuSeconds(redis).then((redis1) =>
            resolve({
              target: server.name,
              seconds: result.duration,
              requests: [...statuses.values()].reduce((a, b) => a + b, 0),
              statuses,
              errors: result.errors,
              timeouts: result.timeouts,
              latencies: Float64Array.from(latencies).sort(),
              serverCpu: cpuSeconds(server.child.pid) - cpu0,
              redisCpu: redis1 - redis0,
              generatorCpu: (generator.user + generator.system) / 1e6
            })
          )
        }
      )
      instance.on("response", (_client, statusCode, _bytes, responseTime) => {
        statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1)
        if (statusCode === 200) latencies.push(responseTime)
      })
    }, reject)
  })

/** The figures of one target over rounds: throughput over their whole time, latency percentiles pooled. */
const summarize = (results: ReadonlyArray<Round>, target: string) => {
  const mine = results.filter((r) => r.target === target)
  const requests = mine.reduce((n, r) => n + r.requests, 0)
  const seconds = mine.reduce((n, r) => n + r.seconds, 0)
  const pooled = new Float64Array(mine.reduce((n, r) => n + r.latencies.length, 0))
  let at = 0
  for (const r of mine) {
    pooled.set(r.latencies, at)
    at += r.latencies.length
  }
  pooled.sort()
  const serverCpu = mine.reduce((n, r) => n + r.serverCpu, 0)
  return {
    target,
    requests,
    rps: requests / seconds,
    p50: quantile(pooled, 0.5),
    p99: quantile(pooled, 0.99),
    max: pooled[pooled.length - 1] ?? Number.NaN,
    serverCpuPerRequest: (serverCpu / requests) * 1e6,
    redisCpuPerRequest: (mine.reduce((n, r) => n + r.redisCpu, 0) / requests) * 1e6,
    serverCpuShare: serverCpu / seconds,
    generatorCpuShare: mine.reduce((n, r) => n + r.generatorCpu, 0) / seconds
  }
}

/** Fail loudly on anything but 200s. */
const check = (round: Round, label: string): void => {
  const bad = [...round.statuses].filter(([status]) => status !== 200)
  if (bad.length > 0 || round.errors > 0 || round.timeouts > 0 || round.requests === 0) {
    const statuses = [...round.statuses].map(([s, n]) => `${s}×${n}`).join(", ")
    throw new Error(
      `${label} ${round.target}: not every response was 200 — statuses ${statuses || "none"}, ` +
        `${round.errors} connection errors, ${round.timeouts} timeouts`
    )
  }
}

/** One GET of the endpoint, for the equivalence check before the load. */
const getOnce = async (port: number, key: string) => {
  const response = await fetch(`http://127.0.0.1:${port}${candlesPath}`, { headers: { "x-api-key": key } })
  return { status: response.status, headers: response.headers, body: (await response.json()) as unknown }
}

const main = async () => {
  const prefix = freshPrefix()
  const keys = makeKeys(keyCount)
  const redis = new Redis(redisUrl)
  const servers: Array<Server> = []
  const finish = finisher(async () => {
    // Let requests still in flight when the generator stopped finish before the servers close their connections.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await Promise.all(servers.map(stopServer))
    await cleanup(prefix)
    redis.disconnect()
  })
  try {
    console.log(`candles bench: ${machine()}`)
    console.log(
      `  ${keyCount} API keys, 500 candles in ${prefix}candles:…, GET ${candlesPath}; ` +
        `${connections} connections, ${rounds} × 2 rounds of ${duration} s after ${warmup} s warm-up each`
    )
    await seed(prefix, keys, [{ series: benchSeries, candles: makeCandles(500) }])
    servers.push(await start("livermore", prefix), await start("fastify", prefix))
    const [livermore, fastify] = servers as [Server, Server]

    // Same answer from both, and Livermore's rate limit is really charged.
    const a = await getOnce(livermore.port, keys[0]!.key)
    const b = await getOnce(fastify.port, keys[0]!.key)
    if (a.status !== 200 || b.status !== 200) {
      throw new Error(`a single GET answered ${a.status} (Livermore) / ${b.status} (Fastify): ${JSON.stringify(a.body)}`)
    }
    deepStrictEqual(b.body, a.body, "the Fastify baseline must answer exactly what Livermore answers")
    const remaining = a.headers.get("ratelimit-remaining")
    if (remaining !== "299") throw new Error(`expected RateLimit-Remaining 299 after one request, got ${remaining}`)
    const unauthorized = await fetch(`http://127.0.0.1:${livermore.port}${candlesPath}`)
    if (unauthorized.status !== 401) throw new Error(`a request without a key answered ${unauthorized.status}, not 401`)
    console.log("  check: both answer the same 100 candles; Livermore authenticates (401 without a key) and charges the limit")

    const setupRequest = keyRotation(keys.slice(1))
    for (const server of [livermore, fastify]) check(await runRound(server, warmup, setupRequest, redis), "warm-up")

    const phase = async (
      label: string,
      pairs: number,
      seconds: number,
      paced?: { readonly connections: number; readonly rate: number }
    ) => {
      const results: Array<Round> = []
      for (let pair = 0; pair < pairs; pair++) {
        const order = pair % 2 === 0 ? [livermore, fastify] : [fastify, livermore]
        for (const server of order) {
          const round = await runRound(server, seconds, setupRequest, redis, paced)
          check(round, `${label} round ${pair + 1}`)
          results.push(round)
          console.log(
            `  ${label} ${pair + 1} ${server.name.padEnd(9)} ${fixed(round.requests / round.seconds, 0).padStart(6)} req/s  ` +
              `p50 ${fixed(quantile(round.latencies, 0.5), 2)} ms  p99 ${fixed(quantile(round.latencies, 0.99), 2)} ms`
          )
        }
      }
      return { livermore: summarize(results, "livermore"), fastify: summarize(results, "fastify") }
    }

    console.log(`  saturation: ${connections} connections, as fast as each server answers`)
    const saturated = await phase("round", rounds, duration)
    console.log(`  one at a time: 1 connection, at most ${rate} req/s — latency of the work itself, no queueing`)
    const paced = await phase("paced", ratePairs, rateDuration, { connections: 1, rate })

    console.log("")
    console.log("  phase       target      req/s   p50 ms   p99 ms   max ms   server CPU/req   Redis CPU/req   server CPU   generator CPU")
    for (const [name, result] of [["saturation", saturated], ["one by one", paced]] as const) {
      for (const s of [result.livermore, result.fastify]) {
        console.log(
          `  ${name.padEnd(11)} ${s.target.padEnd(9)} ${fixed(s.rps, 0).padStart(7)} ${fixed(s.p50, 2).padStart(8)} ` +
            `${fixed(s.p99, 2).padStart(8)} ${fixed(s.max, 1).padStart(8)} ${`${fixed(s.serverCpuPerRequest, 0)} µs`.padStart(16)} ` +
            `${`${fixed(s.redisCpuPerRequest, 0)} µs`.padStart(15)} ${`${fixed(s.serverCpuShare * 100, 0)} %`.padStart(12)} ` +
            `${`${fixed(s.generatorCpuShare * 100, 0)} %`.padStart(15)}`
        )
      }
    }
    const l = saturated.livermore
    const f = saturated.fastify
    const ratio = l.rps / f.rps
    console.log("")
    console.log(
      `  Livermore/Fastify: ${fixed(ratio, 2)}× req/s (goal ≥ 1.0×: ${ratio >= 1 ? "met" : "NOT met"}); ` +
        `under saturation p50 ${fixed(l.p50 / f.p50, 2)}× and p99 ${fixed(l.p99 / f.p99, 2)}× the baseline's latency; ` +
        `one at a time p50 ${fixed(paced.livermore.p50 / paced.fastify.p50, 2)}× and p99 ` +
        `${fixed(paced.livermore.p99 / paced.fastify.p99, 2)}×; ${fixed(l.serverCpuPerRequest / f.serverCpuPerRequest, 1)}× its CPU per request`
    )
    const livermoreRequests = l.requests + paced.livermore.requests
    console.log(
      `  all ${livermoreRequests + f.requests + paced.fastify.requests} measured responses were 200; rate limit on: ` +
        `${keyCount - 1} keys rotated, about ${Math.ceil(livermoreRequests / (keyCount - 1))} requests per key in the ` +
        `measured rounds (limit 300 a minute)`
    )
    console.log(`  load average at the end: ${loadAverage()}`)
  } finally {
    await finish()
  }
}

main().catch((error: unknown) => {
  console.error("candles bench FAILED:", error instanceof Error ? error.message : error)
  process.exitCode = 1
})
