/** Shared by the CLI tests: running the real `livermore` command, and a temporary directory per file. */
import { afterAll, beforeAll } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"

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

/** Run `livermore …` to completion. */
export const run = (args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv, cwd?: string): Promise<Outcome> =>
  collect(start(args, env, cwd))

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
