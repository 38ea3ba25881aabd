/**
 * `pnpm demo` as a newcomer runs it: one real process, the embedded storage (no REDIS_URL, no DATABASE_URL), the
 * simulator inside. It must show candles with indicator values and alerts, and stop cleanly on SIGTERM.
 */
import { assert, describe, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { baseEnv, freePort, startSingle } from "./support.js"


describe("livermore demo", () => {
  it("shows 5m candles with MACD-V values and alerts on embedded storage, then stops cleanly on SIGTERM", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "livermore-demo-"))
    const child = startSingle(["demo"], { ...baseEnv(), PORT: String(await freePort()), LIVERMORE_DATA_DIR: dataDir })
    let output = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    try {
      // Bounded generously for a loaded CI machine; the README reports what a newcomer sees on an idle one.
      const deadline = Date.now() + 120_000
      const seen = () =>
        /5m {5}BTCUSDT: closed \S+ {2}MACD-V -?\d+\.\d\d/.test(output) && /ALERT {2}level_[+-]\d+ +\S+ (5m|15m|1h|4h|1d)/.test(output)
      while (!seen() && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 250))
      assert.isTrue(seen(), `no indicator line and alert within the bound; output:\n${output.slice(-3000)}`)
      assert.match(output, /database: embedded PGlite/)
      assert.match(output, /cache: in-process memory/)
      child.kill("SIGTERM")
      assert.strictEqual(await exited, 0, output.slice(-2000))
      assert.match(output, /Stopped cleanly/)
    } finally {
      child.kill("SIGKILL")
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 180_000)
})
