/**
 * The `livermore` command as an operator runs it: a real process, real Postgres and Redis, real signals.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { ChildProcess } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import pg from "pg"
import { freePort, type Outcome, redisUrl, baseEnv as supportEnv, collect, run, startFromSources, startSingle, testDatabase } from "./support.js"

// Tests read their own environment; the code under test gets only what each case passes.

const baseEnv = (): NodeJS.ProcessEnv => ({ ...supportEnv(), LOG_LEVEL: "Info" })

const livermore = startSingle


const waitForHealth = async (port: number, child: ChildProcess, timeoutMs: number): Promise<Response> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`livermore exited early with ${child.exitCode}`)
    try {
      // A request the server never answers fails here rather than at the test's own timeout.
      return await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(10_000) })
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
  throw new Error(`no /health on port ${port} within ${timeoutMs} ms`)
}

const db = testDatabase("cli")
const databaseUrl = db.url

beforeAll(() => db.create())
afterAll(() => db.drop())

describe("livermore --help", () => {
  it("documents every command", async () => {
    const outcomes = new Map<string, Outcome>()
    for (const args of [["--help"], ["start", "--help"], ["migrate", "--help"]]) {
      const outcome = await run(args, baseEnv())
      assert.strictEqual(outcome.code, 0, outcome.stderr)
      assert.include(outcome.stdout, "USAGE")
      outcomes.set(args.join(" "), outcome)
    }
    // The top-level help names the commands (the same output as checked above: one process less to start).
    const top = outcomes.get("--help")!
    assert.include(top.stdout, "start")
    assert.include(top.stdout, "migrate")
  })

  it("from the TypeScript sources (pnpm livermore, in development) prints the same as the bundle", async () => {
    const fromSources = await collect(startFromSources(["--help"], baseEnv()))
    const fromBundle = await run(["--help"], baseEnv())
    assert.strictEqual(fromSources.code, 0, fromSources.stderr)
    assert.strictEqual(fromSources.stdout, fromBundle.stdout)
  })
})

describe("livermore migrate", () => {
  it("applies everything once, then nothing", async () => {
    const env = { ...baseEnv(), DATABASE_URL: databaseUrl }
    const first = await run(["migrate"], env)
    assert.strictEqual(first.code, 0, first.stderr)
    assert.match(first.stdout, /applied 0001_/)
    assert.match(first.stdout, /Applied \d+ migration\(s\); 0 were already applied/)

    const second = await run(["migrate"], env)
    assert.strictEqual(second.code, 0, second.stderr)
    assert.notMatch(second.stdout, /applied 0001_/)
    assert.match(second.stdout, /Nothing to apply: all \d+ migrations were already applied/)

    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    const { rows } = await client.query<{ name: string }>("SELECT name FROM exchanges ORDER BY name")
    await client.end()
    assert.deepStrictEqual(
      rows.map((row) => row.name),
      ["binance", "binance_us", "coinbase", "kraken", "kucoin", "mexc", "sim_binance", "sim_coinbase"]
    )
  })
})

describe("livermore start", () => {
  it("with REDIS_URL and DATABASE_URL uses them, reports them at /health, and stops cleanly on SIGTERM", async () => {
    const port = await freePort()
    const child = livermore(["start"], {
      ...baseEnv(),
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`
    })
    const outcome = collect(child)
    const response = await waitForHealth(port, child, 30_000)
    assert.strictEqual(response.status, 200)
    const body = (await response.json()) as {
      status: string
      state: string
      storage: { database: { backend: string; reachable: boolean }; cache: { backend: string; reachable: boolean } }
    }
    assert.strictEqual(body.status, "ok")
    assert.strictEqual(body.state, "idle")
    assert.deepInclude(body.storage.database, { backend: "postgres", reachable: true })
    assert.deepInclude(body.storage.cache, { backend: "redis", reachable: true })

    child.kill("SIGTERM")
    const { code, stdout } = await outcome
    assert.strictEqual(code, 0)
    assert.include(stdout, "Storage database: Postgres from DATABASE_URL")
    assert.include(stdout, "Storage cache: Redis from REDIS_URL")
    assert.include(stdout, "Stopped cleanly")
  }, 60_000)

  it("with neither set serves /health on the embedded backends, logging the choice first", async () => {
    const port = await freePort()
    const dataDir = mkdtempSync(path.join(tmpdir(), "livermore-embedded-"))
    try {
      const child = livermore(["start"], { ...baseEnv(), PORT: String(port), LIVERMORE_DATA_DIR: dataDir })
      const outcome = collect(child)
      const response = await waitForHealth(port, child, 60_000)
      assert.strictEqual(response.status, 200)
      const body = (await response.json()) as {
        storage: { database: { backend: string; where: string }; cache: { backend: string } }
      }
      assert.strictEqual(body.storage.database.backend, "embedded-pglite")
      assert.strictEqual(body.storage.database.where, path.join(dataDir, "pglite"))
      assert.strictEqual(body.storage.cache.backend, "memory")

      child.kill("SIGINT")
      const { code, stdout } = await outcome
      assert.strictEqual(code, 0)
      const lines = stdout.split("\n")
      assert.include(lines[1], "embedded PGlite")
      assert.include(lines[2], "in-process memory")
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 90_000)
})

describe("bad configuration", () => {
  const cases: ReadonlyArray<readonly [string, NodeJS.ProcessEnv, RegExp]> = [
    ["a non-numeric PORT", { PORT: "abc" }, /^livermore: Bad configuration: PORT: .*"abc"/],
    ["a malformed REDIS_URL", { REDIS_URL: "notaurl" }, /^livermore: REDIS_URL is invalid: it is not a URL/],
    ["a REDIS_URL nobody answers", { REDIS_URL: "redis://127.0.0.1:1" }, /^livermore: REDIS_URL: cannot connect to 127\.0\.0\.1:1 /],
    ["an unreachable database", { DATABASE_URL: "postgres://postgres@127.0.0.1:1/x" }, /^livermore: DATABASE_URL: cannot connect to 127\.0\.0\.1:1 \(ECONNREFUSED\)/],
    ["a non-Postgres DATABASE_URL", { DATABASE_URL: "mysql://x" }, /^livermore: DATABASE_URL: not a postgres:\/\/ URL/]
  ]
  for (const [name, env, expected] of cases) {
    it(`${name}: one line naming the setting, a non-zero exit, no stack`, async () => {
      const outcome = await run(["start"], { ...baseEnv(), ...env })
      assert.strictEqual(outcome.code, 1)
      const errorLines = outcome.stderr.trim().split("\n")
      assert.lengthOf(errorLines, 1, outcome.stderr)
      assert.match(errorLines[0]!, expected)
      assert.notMatch(outcome.stdout + outcome.stderr, /^\s+at /m)
    }, 30_000)
  }

  it("migrate reports an unreachable database the same way", async () => {
    const outcome = await run(["migrate"], { ...baseEnv(), DATABASE_URL: "postgres://postgres@127.0.0.1:1/x" })
    assert.strictEqual(outcome.code, 1)
    assert.match(outcome.stderr.trim(), /^livermore: DATABASE_URL: cannot connect to 127\.0\.0\.1:1 \(ECONNREFUSED\)$/)
  }, 30_000)
})
