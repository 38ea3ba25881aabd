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
const tsx = path.join(root, "node_modules/.bin/tsx")

/** What a finished command left behind. */
export interface Outcome {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Only what the command needs from the test's environment; each case adds its own settings. */
export const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME })

/** Start `livermore …` (through tsx, as `pnpm livermore` does). */
export const start = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = baseEnv(), cwd = root): ChildProcess =>
  spawn(tsx, [bin, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] })

/**
 * Start `livermore …` as ONE process (node with tsx as a loader), for tests that signal it: the tsx CLI runs the
 * program in a child process, so a SIGKILL sent to the CLI would leave the program itself running.
 */
export const startSingle = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = baseEnv(), cwd = root): ChildProcess =>
  spawn(process.execPath, ["--import", "tsx", bin, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] })

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

/**
 * Run `livermore …` to completion, as ONE process (the same program and tsx loader as `start`, without the tsx
 * CLI's parent process): these commands are only waited for, never signalled, and the files that run dozens of
 * them spend most of their time starting processes — the parent costs ~0.4 s of CPU each. `start` keeps the tsx
 * CLI for the tests that signal the command as an operator would.
 */
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
