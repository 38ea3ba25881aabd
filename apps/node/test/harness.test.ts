/**
 * `livermore harness` as an operator runs it: the real command as a process, against the simulator over real
 * sockets (started here, on a free port), with real Postgres (a fresh database for this file) and real Redis
 * (a key prefix of its own, removed afterwards).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { RedisClient } from "@livermore/cache"
import { Timeframe } from "@livermore/domain"
import { ExchangeSim } from "@livermore/exchange-sim"
import { type Context, Effect, Exit, Scope } from "effect"
import { randomUUID } from "node:crypto"
import { baseEnv, type Outcome, redisUrl, run, testDatabase } from "./support.js"

const db = testDatabase("harness")
const databaseUrl = db.url
const keyPrefix = `test:harness:${randomUUID()}:`

const env = (): NodeJS.ProcessEnv => ({
  ...baseEnv(),
  DATABASE_URL: databaseUrl,
  REDIS_URL: redisUrl,
  REDIS_KEY_PREFIX: keyPrefix
})

let scope: Scope.CloseableScope
let sim: ExchangeSim.SimHandle
let redis: Context.Tag.Service<RedisClient.RedisClient>
const exchangeIds = new Map<string, number>()

const sql = db.sql

/** Point the simulator rows at `rest` / `ws`. */
const pointSimRows = (rest: string, ws: string, names: ReadonlyArray<string> = ["sim_binance", "sim_coinbase"]) =>
  sql("UPDATE exchanges SET rest_url = $1, ws_url = $2 WHERE name = ANY($3)", [rest, ws, names])

beforeAll(async () => {
  await db.create()
  const migrated = await run(["migrate"], { ...baseEnv(), DATABASE_URL: databaseUrl })
  assert.strictEqual(migrated.code, 0, migrated.stderr)

  scope = await Effect.runPromise(Scope.make())
  sim = await Effect.runPromise(Scope.extend(ExchangeSim.make({ symbols: 5 }), scope))
  redis = await Effect.runPromise(Scope.extend(RedisClient.make({ url: redisUrl, keyPrefix }), scope))
  await pointSimRows(sim.url, sim.wsUrl)
  for (const row of await sql<{ id: number; name: string }>("SELECT id, name FROM exchanges")) {
    exchangeIds.set(row.name, row.id)
  }
  // Creating the database and `livermore migrate` (a process of its own) take several seconds on a busy machine.
}, 60_000)

afterAll(async () => {
  if (redis !== undefined) {
    await Effect.runPromise(
      redis.use("cleanup", async (r) => {
        let cursor = "0"
        do {
          const [next, keys] = await r.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 1000)
          if (keys.length > 0) await r.del(...keys)
          cursor = next
        } while (cursor !== "0")
      })
    )
  }
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  await db.drop()
})

const lines = (outcome: Outcome): ReadonlyArray<string> => outcome.stdout.trimEnd().split("\n")

/** The report line of check `name`. */
const checkLine = (outcome: Outcome, name: string): string => {
  const line = lines(outcome).find((l) => new RegExp(`^(PASS|FAIL) {2}${name} `).test(l))
  assert.isDefined(line, `no "${name}" line in:\n${outcome.stdout}`)
  return line!
}

/** The candle and ticker counts of the websocket line. */
const liveCounts = (line: string) => {
  const match = /(\d+) candle events? \(\d+ closed\), (\d+) ticker events?, (\d+) reconnects?, (\d+) malformed frames?/.exec(line)
  assert.isNotNull(match, line)
  return { candles: Number(match![1]), tickers: Number(match![2]), reconnects: Number(match![3]), malformed: Number(match![4]) }
}

/** What Redis holds at the series key: how many members and the newest open time. */
const held = (key: string) =>
  Effect.runPromise(
    redis.use("inspect", async (r) => {
      const count = await r.zcard(key)
      const newest = await r.zrange(key, -1, -1, "WITHSCORES")
      const oldest = await r.zrange(key, 0, 0, "WITHSCORES")
      return { count, newest: Number(newest[1]), oldest: Number(oldest[1]) }
    })
  )

const passes = (name: string, symbol: string) =>
  it(`${name}: every check passes, exit 0, and the candles are in Redis at their key`, async () => {
    const outcome = await run(["harness", "--exchange", name], env())
    assert.strictEqual(outcome.code, 0, `${outcome.stdout}\n${outcome.stderr}`)
    assert.strictEqual(outcome.stderr, "")

    const id = exchangeIds.get(name)!
    const key = `${keyPrefix}candles:${id}:${symbol}:1d`
    assert.match(lines(outcome)[0]!, new RegExp(`^Harness: ${name} \\(.*id ${id}, .*\\), symbol ${symbol}$`))
    assert.match(checkLine(outcome, "rest history"), /^PASS {2}rest history {2}100 of 100 closed 1d candles \d{4}-\d\d-\d\d … \d{4}-\d\d-\d\d, \d+ requests? \(\d+ ms\)$/)
    assert.include(checkLine(outcome, "cache write"), `PASS  cache write   100 candles upserted to ${key} (`)
    assert.match(
      checkLine(outcome, "cache read"),
      new RegExp(`^PASS {2}cache read {4}100 candles at ${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: contiguous, all closed, newest \\d{4}-\\d\\d-\\d\\d = last closed day \\(\\d+ ms\\)$`)
    )
    const live = checkLine(outcome, "websocket")
    assert.match(live, new RegExp(`^PASS {2}websocket {5}${symbol} 5m \\+ ticker for 2 s: `))
    const counts = liveCounts(live)
    assert.isAbove(counts.candles + counts.tickers, 0, live)
    assert.strictEqual(counts.malformed, 0)
    assert.match(lines(outcome).at(-1)!, new RegExp(`^PASS {2}${name} ${symbol}: 4 of 4 checks passed in \\d+\\.\\d s$`))

    const lastClosed = Timeframe.lastClosedOpenTime("1d", Date.now())
    const stored = await held(key)
    assert.strictEqual(stored.count, 100)
    assert.strictEqual(stored.newest, lastClosed)
    assert.strictEqual(stored.oldest, lastClosed - 99 * Timeframe.durationMs["1d"])
  })

describe("livermore harness", () => {
  passes("sim_binance", "BTCUSDT")
  passes("sim_coinbase", "BTC-USD")

  it("fails (exit 1) when the WebSocket stays silent, after the REST and cache checks pass", async () => {
    await Effect.runPromise(sim.setFaults({ silence: true }))
    try {
      const outcome = await run(["harness", "--exchange", "sim_binance"], env())
      assert.strictEqual(outcome.code, 1, outcome.stdout)
      assert.match(checkLine(outcome, "rest history"), /^PASS /)
      assert.match(checkLine(outcome, "cache read"), /^PASS /)
      const live = checkLine(outcome, "websocket")
      assert.match(live, /^FAIL .*; no live event arrived \(\d+ ms\)$/)
      assert.deepInclude(liveCounts(live), { candles: 0, tickers: 0 })
      assert.match(lines(outcome).at(-1)!, /^FAIL {2}sim_binance BTCUSDT: 3 of 4 checks passed in .*; failed: websocket$/)
      assert.deepStrictEqual(outcome.stderr.trim().split("\n"), ["livermore: harness FAIL on sim_binance: websocket"])
    } finally {
      await Effect.runPromise(sim.reset)
    }
  })

  it("fails (exit 1) when frames are malformed, counting them", async () => {
    await Effect.runPromise(sim.setFaults({ malformedFrames: 1 }))
    try {
      const outcome = await run(["harness", "--exchange", "sim_coinbase"], env())
      assert.strictEqual(outcome.code, 1, outcome.stdout)
      const live = checkLine(outcome, "websocket")
      assert.match(live, /^FAIL /)
      assert.isAbove(liveCounts(live).malformed, 0, live)
      assert.deepStrictEqual(outcome.stderr.trim().split("\n"), ["livermore: harness FAIL on sim_coinbase: websocket"])
    } finally {
      await Effect.runPromise(sim.reset)
    }
  })

  const oneLine = (outcome: Outcome, expected: RegExp) => {
    assert.strictEqual(outcome.code, 1, outcome.stdout)
    const errorLines = outcome.stderr.trim().split("\n")
    assert.lengthOf(errorLines, 1, outcome.stderr)
    assert.match(errorLines[0]!, expected)
    assert.notMatch(outcome.stdout + outcome.stderr, /^\s+at /m)
  }

  it("an unknown exchange name: one line naming the known ones, exit 1, no report", async () => {
    const outcome = await run(["harness", "--exchange", "no_such_exchange"], env())
    oneLine(outcome, /^livermore: No exchange named "no_such_exchange"; the exchanges table has .*sim_binance, sim_coinbase \(and, without an adapter, kraken, kucoin, mexc\)$/)
    assert.strictEqual(outcome.stdout, "")
  })

  it("a row without an adapter: one line, exit 1", async () => {
    const outcome = await run(["harness", "--exchange", "kraken"], env())
    oneLine(outcome, /^livermore: Exchange "kraken" has no adapter yet/)
    assert.strictEqual(outcome.stdout, "")
  })

  it("a venue whose REST API cannot be reached: one line, exit 1", async () => {
    // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    await pointSimRows("http://127.0.0.1:1", "ws://127.0.0.1:1", ["sim_coinbase"])
    try {
      const outcome = await run(["harness", "--exchange", "sim_coinbase"], env())
      oneLine(outcome, /^livermore: sim_coinbase: cannot reach the REST API at http:\/\/127\.0\.0\.1:1 \(GET .*: connect ECONNREFUSED 127\.0\.0\.1:1\)$/)
      assert.notMatch(outcome.stdout, /^(PASS|FAIL) /m)
    } finally {
      await pointSimRows(sim.url, sim.wsUrl, ["sim_coinbase"])
    }
  })
})
