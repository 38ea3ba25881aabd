/**
 * The public API as operators run it: `livermore api-keys` against a fresh Postgres database, a node in `all`
 * mode (the database's catalog projected into Redis at start) and a `pw-host` node (Redis only, no
 * DATABASE_URL), both real processes under one Redis namespace of this file's own, removed afterwards.
 *
 * To keep the file cheap (every process costs seconds of start-up), the two nodes are started once and the
 * cases run in order on one key's life: created, used on both nodes, listed with its last use, revoked.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { CacheConfig, CacheServices, CandleCache, PublicCatalog, RedisClient } from "@livermore/cache"
import { Candle, Exchange, Market } from "@livermore/domain"
import { Effect, Layer, ManagedRuntime } from "effect"
import type { ChildProcess } from "node:child_process"
import { createHash, randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { baseEnv, collect, freePort, type Outcome, redisUrl, startSingle, testDatabase } from "./support.js"

const db = testDatabase("publicapi")
const keyPrefix = `test:publicapi:${randomUUID()}:`
const dataDir = mkdtempSync(path.join(tmpdir(), "livermore-publicapi-"))

const cache = ManagedRuntime.make(
  CacheServices.layerRedis.pipe(
    Layer.provideMerge(CacheConfig.layer()),
    Layer.provideMerge(RedisClient.layer({ url: redisUrl, keyPrefix }))
  )
)

/** What the `api-keys` commands get: the file's database and Redis namespace. */
const cliEnv = (): NodeJS.ProcessEnv => ({
  ...baseEnv(),
  DATABASE_URL: db.url,
  REDIS_URL: redisUrl,
  REDIS_KEY_PREFIX: keyPrefix,
  LIVERMORE_DATA_DIR: dataDir
})

/** Run `livermore …` as one process (node with tsx as a loader: one start-up, not two). */
const livermore = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = cliEnv()): Promise<Outcome> =>
  collect(startSingle(args, env))

const children: Array<ChildProcess> = []

/** A running `livermore start`. */
interface Node {
  readonly port: number
  readonly child: ChildProcess
  output(): string
  get(path: string, key?: string, timeoutMs?: number): Promise<Response>
  stop(): Promise<number | null>
}

const startNode = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<Node> => {
  const port = await freePort()
  const child = startSingle(["start", ...args], {
    ...env,
    PORT: String(port),
    HOST: "127.0.0.1",
    LIVERMORE_PUBLIC_IP_DISABLED: "true",
    LIVERMORE_DATA_DIR: dataDir
  })
  children.push(child)
  let text = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    text += chunk.toString()
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    text += chunk.toString()
  })
  return {
    port,
    child,
    output: () => text,
    get: (at, key, timeoutMs = 10_000) =>
      fetch(`http://127.0.0.1:${port}${at}`, {
        signal: AbortSignal.timeout(timeoutMs),
        ...(key === undefined ? {} : { headers: { "x-api-key": key } })
      }),
    // SIGTERM, and SIGKILL if it has not stopped within 10 s (then the code is null).
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode)
        const kill = setTimeout(() => child.kill("SIGKILL"), 10_000)
        child.once("close", (code) => {
          clearTimeout(kill)
          resolve(code)
        })
        child.kill("SIGTERM")
      })
  }
}

/**
 * Wait until the node answers `/health`, failing with its output if it exits or takes longer than `ms`. Each
 * probe gives up after 2 s: the node listens before its routes are built and attached (`NodeLayer.make` provides
 * the server beneath them), and a request accepted in between is never answered.
 */
const ready = async (node: Node, ms = 40_000): Promise<void> => {
  const deadline = Date.now() + ms
  for (;;) {
    if (node.child.exitCode !== null) throw new Error(`the node exited with ${node.child.exitCode}:\n${node.output()}`)
    try {
      await node.get("/health", undefined, 2_000)
      return
    } catch {
      // Not listening yet, or listening without routes yet.
    }
    if (Date.now() > deadline) throw new Error(`no /health on port ${node.port} within ${ms} ms:\n${node.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 150))
  }
}

const eventually = async (what: string, check: () => Promise<boolean>, ms = 5_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

interface Envelope<A> {
  readonly data: ReadonlyArray<A>
  readonly meta: { readonly cursor: string | null; readonly hasMore: boolean; readonly count: number }
}
interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string }
}
interface PublicExchange {
  readonly name: string
  readonly displayName: string
  readonly timeframes: ReadonlyArray<string>
  readonly status: { readonly state: string; readonly live: boolean }
}

const uuidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi

let allNode: Node
let pwHost: Node
/** `pw-host` started without REDIS_URL (and without DATABASE_URL): runs beside the set-up, checked in its case. */
let withoutRedis: Promise<Outcome>

beforeAll(async () => {
  await db.create()
  const refused = startSingle(["start"], { ...baseEnv(), LIVERMORE_MODE: "pw-host", LIVERMORE_DATA_DIR: dataDir })
  children.push(refused)
  withoutRedis = collect(refused)
  const redisOnly = { ...baseEnv(), REDIS_URL: redisUrl, REDIS_KEY_PREFIX: keyPrefix }
  // The `all` node migrates the fresh database and projects it (exchanges, symbols, keys) before it serves.
  ;[allNode, pwHost] = await Promise.all([
    startNode([], { ...redisOnly, DATABASE_URL: db.url }),
    startNode(["--mode", "pw-host"], redisOnly)
  ])
  await Promise.all([ready(allNode), ready(pwHost)])
}, 60_000)

afterAll(async () => {
  const codes = await Promise.all([allNode?.stop(), pwHost?.stop()])
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  await withoutRedis?.catch(() => undefined)
  await cache
    .runPromise(
      Effect.flatMap(RedisClient.RedisClient, (redis) =>
        redis.use("cleanup", async (r) => {
          let cursor = "0"
          do {
            const [next, keys] = await r.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 1000)
            if (keys.length > 0) await r.del(...keys)
            cursor = next
          } while (cursor !== "0")
        })
      )
    )
    .finally(() => cache.dispose())
  await db.drop()
  rmSync(dataDir, { recursive: true, force: true })
  assert.deepStrictEqual(codes, [0, 0], "both nodes stop cleanly on SIGTERM")
}, 30_000)

/** The key of the cases below, as `api-keys create` printed it, and its id. */
let key = ""
let keyId = 0

describe("livermore api-keys and the public API", () => {
  it("create prints a UUID key once, stores only its hash, and the key authenticates at once on the running all-mode node", async () => {
    const created = await livermore(["api-keys", "create", "--name", "x"])
    assert.strictEqual(created.code, 0, created.stderr)
    const printed = [...created.stdout.matchAll(uuidPattern)].map((m) => m[0])
    assert.lengthOf(printed, 1, `exactly one key printed:\n${created.stdout}`)
    key = printed[0]!
    assert.include(created.stdout, `Key: ${key}`)
    assert.notInclude(created.stderr, key)
    const id = /Created API key (\d+) \(x\)\./.exec(created.stdout)
    assert.isNotNull(id, created.stdout)
    keyId = Number(id![1])

    const rows = await db.sql<{ id: number; name: string; prefix: string; key_hash: string; last_used_at: Date | null }>(
      "SELECT id, name, prefix, key_hash, last_used_at FROM api_keys"
    )
    assert.deepStrictEqual(rows, [
      {
        id: keyId,
        name: "x",
        prefix: key.slice(0, 8),
        key_hash: createHash("sha256").update(key).digest("hex"),
        last_used_at: null
      }
    ])

    // Without a key, and with a well-formed key nobody created: the envelope's 401.
    const anonymous = await allNode.get("/public/v1/exchanges")
    assert.strictEqual(anonymous.status, 401)
    assert.strictEqual(((await anonymous.json()) as ErrorBody).error.code, "unauthorized")
    assert.strictEqual((await allNode.get("/public/v1/exchanges", randomUUID())).status, 401)

    const response = await allNode.get("/public/v1/exchanges", key)
    assert.strictEqual(response.status, 200)
    assert.strictEqual(response.headers.get("ratelimit-limit"), "300")
    const body = (await response.json()) as Envelope<PublicExchange>
    // Every seeded exchange an adapter can serve (venues without one are listed nowhere), by id.
    const seeded = await db.sql<{ name: string; display_name: string; timeframes: Array<string> }>(
      "SELECT name, display_name, timeframes FROM exchanges WHERE adapter IS NOT NULL ORDER BY id"
    )
    assert.isAbove(seeded.length, 0)
    assert.deepStrictEqual(
      body.data.map((e) => ({ name: e.name, displayName: e.displayName, timeframes: e.timeframes })),
      seeded.map((e) => ({ name: e.name, displayName: e.display_name, timeframes: e.timeframes }))
    )
    // No instance serves an exchange under this namespace.
    for (const exchange of body.data) {
      assert.deepStrictEqual(Object.keys(exchange).sort(), ["displayName", "name", "status", "timeframes"])
      assert.strictEqual(exchange.status.state, "offline")
    }
    assert.deepStrictEqual(body.meta, { cursor: null, hasMore: false, count: seeded.length })
  })

  it("pw-host: /health without a database, and the CLI's key, the projected exchanges and cached candles from Redis alone", async () => {
    assert.isAbove(keyId, 0, "the key of the first case")
    const health = await pwHost.get("/health")
    assert.strictEqual(health.status, 200)
    const report = (await health.json()) as {
      status: string
      mode: string
      state: string
      exchange: unknown
      storage: { database: unknown; cache: { backend: string; reachable: boolean } }
    }
    assert.strictEqual(report.status, "ok")
    assert.strictEqual(report.mode, "pw-host")
    assert.strictEqual(report.state, "idle")
    assert.isNull(report.exchange)
    assert.isNull(report.storage.database)
    assert.strictEqual(report.storage.cache.backend, "redis")
    assert.isTrue(report.storage.cache.reachable)
    assert.include(pwHost.output(), "database: none (pw-host serves from Redis only)")

    // The same catalog as the all-mode node's.
    const fromAll = (await (await allNode.get("/public/v1/exchanges", key)).json()) as Envelope<PublicExchange>
    const exchanges = await pwHost.get("/public/v1/exchanges", key)
    assert.strictEqual(exchanges.status, 200)
    assert.deepStrictEqual(await exchanges.json(), fromAll)
    assert.strictEqual((await pwHost.get("/public/v1/exchanges")).status, 401)

    // A series in the cache, of a symbol in the catalog.
    const [binance] = await db.sql<{ id: number }>("SELECT id FROM exchanges WHERE name = 'binance'")
    const exchangeId = Exchange.ExchangeId.make(binance!.id)
    const symbol = Market.SymbolId.make("PUBTESTUSDT")
    const step = 5 * 60_000
    const first = Math.floor(Date.now() / step) * step - 3 * step
    const candles = [0, 1, 2].map(
      (i) =>
        new Candle.Candle({
          openTime: first + i * step,
          open: 100 + i,
          high: 110 + i,
          low: 90 + i,
          close: 105 + i,
          volume: 1000 + i,
          closed: i < 2,
          synthetic: i === 1
        })
    )
    await cache.runPromise(
      Effect.gen(function* () {
        yield* (yield* PublicCatalog.PublicCatalog).putSymbols(exchangeId, [
          { symbol, baseAsset: "PUBTEST", quoteAsset: "USDT", liquidityGrade: "A", rank: 1, quoteVolume24h: 1.5e8 }
        ])
        yield* (yield* CandleCache.CandleCache).upsertMany({ exchangeId, symbol, timeframe: "5m" }, candles)
      })
    )
    const expected = candles.map((c, i) => ({
      time: new Date(first + i * step).toISOString(),
      open: 100 + i,
      high: 110 + i,
      low: 90 + i,
      close: 105 + i,
      volume: 1000 + i,
      closed: c.closed,
      synthetic: c.synthetic
    }))
    const series = await pwHost.get(`/public/v1/exchanges/binance/candles/${symbol}/5m`, key)
    assert.strictEqual(series.status, 200)
    assert.deepStrictEqual(await series.json(), { data: expected, meta: { cursor: null, hasMore: false, count: 3 } })

    // Paged backwards: the newest two, then the one before them.
    const newest = (await (
      await pwHost.get(`/public/v1/exchanges/binance/candles/${symbol}/5m?limit=2`, key)
    ).json()) as Envelope<unknown>
    assert.deepStrictEqual(newest.data, expected.slice(1))
    assert.isTrue(newest.meta.hasMore)
    const older = (await (
      await pwHost.get(
        `/public/v1/exchanges/binance/candles/${symbol}/5m?limit=2&cursor=${encodeURIComponent(newest.meta.cursor!)}`,
        key
      )
    ).json()) as Envelope<unknown>
    assert.deepStrictEqual(older, { data: expected.slice(0, 1), meta: { cursor: null, hasMore: false, count: 1 } })

    // A symbol the catalog does not list.
    const unknown = await pwHost.get("/public/v1/exchanges/binance/candles/NOPEUSDT/5m", key)
    assert.strictEqual(unknown.status, 404)
    assert.strictEqual(((await unknown.json()) as ErrorBody).error.code, "not_found")
  })

  it("list shows id, prefix, name and the last use the nodes recorded in Redis (copied into Postgres), never the key", async () => {
    assert.isAbove(keyId, 0, "the key of the first case")
    // The nodes record a use in the background; wait until it is in Redis.
    let usedAt = 0
    await eventually("the key's use recorded in Redis", async () => {
      usedAt = (await cache.runPromise(Effect.flatMap(PublicCatalog.PublicCatalog, (c) => c.apiKeysUsed))).get(keyId) ?? 0
      return usedAt > 0
    })
    const listed = await livermore(["api-keys", "list"])
    assert.strictEqual(listed.code, 0, listed.stderr)
    assert.notInclude(listed.stdout + listed.stderr, key)
    assert.notMatch(listed.stdout, uuidPattern)
    // Only the table on stdout (log lines go to stderr), so it can be piped.
    const lines = listed.stdout.trim().split("\n")
    const header = lines.indexOf(["id", "prefix", "name", "created", "last used", "revoked"].join("\t"))
    assert.strictEqual(header, 0, listed.stdout)
    assert.lengthOf(lines.slice(header + 1), 1, "one key")
    const row = lines.find((line) => line.startsWith(`${keyId}\t`))?.split("\t")
    assert.isDefined(row, listed.stdout)

    const [stored] = await db.sql<{ created_at: Date; last_used_at: Date | null }>(
      "SELECT created_at, last_used_at FROM api_keys WHERE id = $1",
      [keyId]
    )
    assert.isNotNull(stored!.last_used_at, "list copied the use into api_keys.last_used_at")
    const lastUsed = stored!.last_used_at!.getTime()
    assert.isAtLeast(lastUsed, usedAt)
    assert.isAtMost(lastUsed, Date.now())
    assert.isAtLeast(lastUsed, stored!.created_at.getTime())
    assert.deepStrictEqual(row, [
      String(keyId),
      `${key.slice(0, 8)}…`,
      "x",
      stored!.created_at.toISOString(),
      stored!.last_used_at!.toISOString(),
      "-"
    ])
  })

  it("revoke: the next request with the key gets 401 on both running nodes; an unknown id fails with a clear message", async () => {
    assert.isAbove(keyId, 0, "the key of the first case")
    const [revoked, unknown] = await Promise.all([
      livermore(["api-keys", "revoke", String(keyId)]),
      livermore(["api-keys", "revoke", "999999"])
    ])
    assert.strictEqual(revoked.code, 0, revoked.stderr)
    assert.include(revoked.stdout, `Revoked API key ${keyId} (x); 0 active key(s) remain.`)
    for (const node of [allNode, pwHost]) {
      const response = await node.get("/public/v1/exchanges", key)
      assert.strictEqual(response.status, 401)
      assert.deepStrictEqual(await response.json(), {
        error: { code: "unauthorized", message: "Unknown or revoked API key" }
      })
    }
    const [row] = await db.sql<{ revoked_at: Date | null }>("SELECT revoked_at FROM api_keys WHERE id = $1", [keyId])
    assert.isNotNull(row!.revoked_at)

    assert.notStrictEqual(unknown.code, 0)
    assert.include(unknown.stderr, "livermore: No api key with id 999999 (see: livermore api-keys list)")
  })

  it("pw-host without REDIS_URL exits non-zero, saying to set it", async () => {
    const outcome = await withoutRedis
    assert.notStrictEqual(outcome.code, 0)
    assert.include(outcome.stderr, "mode pw-host serves the public API from Redis: set REDIS_URL")
  })
})
