/** Shared by the CLI tests: running the real `livermore` command, and a temporary directory per file. */
import { afterAll, beforeAll } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { createServer } from "node:net"
import * as path from "node:path"
import pg from "pg"

export const root = path.resolve(import.meta.dirname, "../../..")
const bin = path.join(root, "apps/node/src/bin.ts")

/** What a finished command left behind. */
export interface Outcome {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Only what the command needs from the test's environment; each case adds its own settings. */
export const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME })

/** The `livermore` bundle (`pnpm build:node`), which `globalSetup.ts` builds from the sources before the tests. */
export const bundle = path.join(root, "apps/node/dist/livermore.mjs")

/**
 * Start `livermore …` as production does: ONE process running the bundle. One process, so that a signal reaches
 * the program itself (the tsx CLI relays one only if its child reports it within 30 ms, else SIGKILLs it and exits
 * 130 — on a loaded machine a clean SIGINT stop became that).
 */
export const startSingle = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = baseEnv(), cwd = root): ChildProcess =>
  spawn(process.execPath, [bundle, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] })

/** Start `livermore …` from the TypeScript sources, as `pnpm livermore` does in development (node + tsx loader). */
export const startFromSources = (
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv = baseEnv(),
  cwd = root
): ChildProcess => spawn(process.execPath, ["--import", "tsx", bin, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] })

/** Wait for a started command to end, collecting its output. */
export const collect = (child: ChildProcess): Promise<Outcome> =>
  new Promise((resolve, reject) => {
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** Run `livermore …` to completion. */
export const run = (args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv, cwd?: string): Promise<Outcome> =>
  collect(startSingle(args, env, cwd))

/**
 * A temporary directory created before this file's tests and removed after them; `file(name, content)` writes
 * into it and returns the path, `path(name)` only names a place in it.
 */
export const temporaryDirectory = (prefix: string) => {
  let dir = ""
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), prefix))
  })
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    /** The path `name` would have in the directory, without creating it. */
    path: (name: string): string => path.join(dir, name),
    file: (name: string, content: string): string => {
      const at = path.join(dir, name)
      writeFileSync(at, content)
      return at
    }
  }
}

/** Where the tests find Postgres and Redis (their own environment; commands get only what each case passes). */
export const adminUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
export const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"

/** Run one statement against `url`. */
export const query = async <R extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: ReadonlyArray<unknown> = []
): Promise<ReadonlyArray<R>> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, [...values])).rows
  } finally {
    await client.end()
  }
}

/**
 * A database of its own for one test file, `livermore_<label>_<random>`: its URL at once; `create` (in
 * `beforeAll`) fails with how to start Postgres when none answers; `drop` (in `afterAll`) forces it away.
 */
export const testDatabase = (label: string) => {
  const name = `livermore_${label}_${randomUUID().replaceAll("-", "").slice(0, 12)}`
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const databaseUrl = url.toString()
  return {
    name,
    url: databaseUrl,
    sql: <R extends pg.QueryResultRow>(text: string, values: ReadonlyArray<unknown> = []) =>
      query<R>(databaseUrl, text, values),
    create: async () => {
      try {
        await query(adminUrl, "SELECT 1")
      } catch (cause) {
        throw new Error(
          `Postgres is not reachable at ${adminUrl} (${String(cause)}). Start it with: ` +
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
      }
      await query(adminUrl, `CREATE DATABASE ${name}`)
    },
    drop: () => query(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  }
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it; released before it is returned). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
    server.on("error", reject)
  })

/** A `livermore start` that listens: its process and everything it printed so far. */
export interface ListeningNode {
  readonly child: ChildProcess
  output(): string
  /** SIGTERM, then wait for the process to end. */
  stop(): Promise<void>
}

/** Start `livermore start …` as one process and wait (at most 60 s) until it logs that it listens. */
export const startListening = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<ListeningNode> =>
  startCommandListening(["start", ...args], env)

/** Start any serving `livermore` command (`start`, `demo`) and wait until its HTTP server listens. */
export const startCommandListening = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<ListeningNode> => {
  const child = startSingle(args, env)
  let text = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    text += chunk.toString()
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    text += chunk.toString()
  })
  const deadline = Date.now() + 60_000
  while (!text.includes("Listening on")) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL")
      throw new Error(`the node did not start:\n${text}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    child,
    output: () => text,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const closed = new Promise((resolve) => child.once("close", resolve))
      child.kill("SIGTERM")
      await closed
    }
  }
}
