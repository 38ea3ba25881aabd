/**
 * A Redis server of the test's own (the machine's `redis-server` binary on a free port, keeping nothing on disk),
 * which the test may stop and start again — what a shared server must never be put through.
 */
import { Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"

const freePort = Effect.async<number>((resume) => {
  const probe = createServer()
  probe.listen(0, "127.0.0.1", () => {
    const address = probe.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    probe.close(() => resume(Effect.succeed(port)))
  })
})

const launch = (port: number) =>
  Effect.async<ChildProcess, Error>((resume) => {
    const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const onData = (data: Buffer) => {
      output += data.toString()
      if (output.includes("Ready to accept connections")) resume(Effect.succeed(child))
    }
    child.stdout?.on("data", onData)
    child.on("error", (error) => resume(Effect.fail(new Error(`redis-server could not start: ${error.message}`))))
    child.on("exit", (code) => resume(Effect.fail(new Error(`redis-server exited (${code}): ${output.slice(-500)}`))))
  })

const halt = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGKILL")
  })

export interface PrivateRedis {
  readonly url: string
  /** Kill the server (as a crash would: nothing saved) and start a new, empty one on the same port. */
  readonly restart: (downFor: number) => Effect.Effect<void, Error>
}

export const make: Effect.Effect<PrivateRedis, Error, Scope.Scope> = Effect.gen(function* () {
  const port = yield* freePort
  let child = yield* launch(port)
  yield* Effect.addFinalizer(() => halt(child))
  return {
    url: `redis://127.0.0.1:${port}`,
    restart: (downFor) =>
      Effect.gen(function* () {
        yield* halt(child)
        yield* Effect.sleep(downFor)
        child = yield* launch(port)
      })
  }
})
