/**
 * Nodes as operators run them: `livermore start` as real processes against the simulator over real sockets,
 * real Postgres (a fresh database for this file) and real Redis (a key prefix per test, removed afterwards).
 * Lifecycle, lock, takeover, crash expiry, control commands and warm restart are observed from outside: in the
 * Redis keys and stream, over the control channel, and in the simulator's request counters.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { CacheConfig, CacheServices, EventLog, ExchangeLock, RedisClient, StatusStore } from "@livermore/cache"
import { Control, Exchange, type Lifecycle, Status } from "@livermore/domain"
import { ControlChannel, StatusProjection } from "@livermore/engine"
import { ExchangeSim } from "@livermore/exchange-sim"
import { DateTime, Effect, Exit, Layer, ManagedRuntime, Option, Schema, Scope } from "effect"
import type { ChildProcess } from "node:child_process"
import { randomUUID } from "node:crypto"
import { baseEnv, freePort, redisUrl, run, startSingle, testDatabase } from "./support.js"

const db = testDatabase("node")
const databaseUrl = db.url
const sql = db.sql

let scope: Scope.CloseableScope
/** Runs at wall-clock speed: live data flows. */
let liveSim: ExchangeSim.SimHandle
/** Paused: a cache filled once stays complete and fresh, so a restart must find nothing to fetch. */
let pausedSim: ExchangeSim.SimHandle
const ids = new Map<string, number>()
const children: Array<ChildProcess> = []

const pointRow = (name: string, sim: ExchangeSim.SimHandle) =>
  sql("UPDATE exchanges SET rest_url = $1, ws_url = $2 WHERE name = $3", [sim.url, sim.wsUrl, name])

beforeAll(async () => {
  await db.create()
  const migrated = await run(["migrate"], { ...baseEnv(), DATABASE_URL: databaseUrl })
  assert.strictEqual(migrated.code, 0, migrated.stderr)
  scope = await Effect.runPromise(Scope.make())
  liveSim = await Effect.runPromise(Scope.extend(ExchangeSim.make({ symbols: 8 }), scope))
  pausedSim = await Effect.runPromise(Scope.extend(ExchangeSim.make({ symbols: 8, speed: 0 }), scope))
  await pointRow("sim_binance", liveSim)
  await pointRow("sim_coinbase", liveSim)
  for (const row of await sql<{ id: number; name: string }>("SELECT id, name FROM exchanges")) ids.set(row.name, row.id)
}, 60_000)

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL")
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  await db.drop()
})

/** A running node: its output so far, and how to stop or kill it. */
interface Node {
  readonly child: ChildProcess
  readonly port: number
  output(): string
  waitFor(text: string | RegExp, ms?: number): Promise<void>
  stop(): Promise<number | null>
}

/** One Redis namespace, a control client on it, and nodes started into it. */
const world = () => {
  const keyPrefix = `test:node:${randomUUID()}:`
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(CacheServices.layerRedis, ControlChannel.layerRedis).pipe(
      Layer.provideMerge(CacheConfig.layer()),
      Layer.provideMerge(RedisClient.layer({ url: redisUrl, keyPrefix }))
    )
  )
  const redis = () => runtime.runPromise(RedisClient.RedisClient)

  const node = async (args: ReadonlyArray<string>, extra: NodeJS.ProcessEnv = {}): Promise<Node> => {
    // A port the OS says is free now: one picked blindly can be in use (a busy machine has many sockets open), and
    // a node that cannot listen exits.
    const port = await freePort()
    const child = startSingle(["start", ...args], {
      ...baseEnv(),
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: keyPrefix,
      PORT: String(port),
      HOST: "127.0.0.1",
      LIVERMORE_PUBLIC_IP_DISABLED: "true",
      LIVERMORE_TOP_N: "3",
      LIVERMORE_HEARTBEAT_INTERVAL: "1 second",
      LIVERMORE_STATUS_TTL: "4 seconds",
      LIVERMORE_TAKEOVER_WAIT: "20 seconds",
      ...extra
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
      child,
      port,
      output: () => text,
      waitFor: (wanted, ms = 30_000) =>
        eventually(`"${String(wanted)}" in the node's output`, async () =>
          typeof wanted === "string" ? text.includes(wanted) : wanted.test(text), ms, () => text),
      stop: () =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve(child.exitCode)
          child.once("close", (code) => resolve(code))
          child.kill("SIGTERM")
        })
    }
  }

  const exchangeId = (name: string) => Exchange.ExchangeId.make(ids.get(name)!)
  const status = (exchange: string): Promise<Status.InstanceStatus | undefined> =>
    runtime.runPromise(
      Effect.map(
        Effect.flatMap(StatusStore.StatusStore, (store) => store.get(exchangeId(exchange))),
        Option.getOrUndefined
      )
    )
  const lockHolder = (exchange: string): Promise<string | undefined> =>
    runtime.runPromise(
      Effect.map(
        Effect.flatMap(ExchangeLock.ExchangeLock, (lock) => lock.holder(exchangeId(exchange))),
        (lease) => Option.getOrUndefined(Option.map(lease, (l) => l.holder.instanceId))
      )
    )
  const events = (exchange: string): Promise<ReadonlyArray<Lifecycle.LifecycleEvent>> =>
    runtime.runPromise(
      Effect.map(
        Effect.flatMap(EventLog.EventLog, (log) => log.range(Exchange.ExchangeName.make(exchange))),
        (entries) => entries.map((entry) => entry.event)
      )
    )
  const until = (what: string, check: () => Promise<boolean>, ms = 30_000) => eventually(what, check, ms)
  const send = (instanceId: string, command: Control.Command, options?: ControlChannel.SendOptions) =>
    runtime.runPromise(Effect.either(ControlChannel.send(instanceId, command, options)))
  const cleanup = async () => {
    const r = await redis()
    await Effect.runPromise(
      r.use("cleanup", async (c) => {
        let cursor = "0"
        do {
          const [next, keys] = await c.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 1000)
          if (keys.length > 0) await c.del(...keys)
          cursor = next
        } while (cursor !== "0")
      })
    )
    await runtime.dispose()
  }
  const history = (instanceId: string) => runtime.runPromise(ControlChannel.history(instanceId, { count: 50 }))
  return { node, status, lockHolder, events, until, send, history, cleanup }
}

async function eventually(what: string, check: () => Promise<boolean>, ms: number, detail?: () => string) {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail ? `\n${detail()}` : ""}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const command = <T extends Control.Command>(make: (fields: { id: string; issuedAt: DateTime.Utc; issuedBy: string }) => T): T =>
  make({ id: randomUUID(), issuedAt: DateTime.unsafeNow(), issuedBy: "node.test" })

/**
 * The node's /health, once its server listens: a node logs that autostart found the lock taken (in the background)
 * before its HTTP server is up, and on a busy machine the gap between the two is long enough to be refused.
 */
const health = async (node: Node) => {
  await node.waitFor("Listening on http://")
  return (await (await fetch(`http://127.0.0.1:${node.port}/health`, { signal: AbortSignal.timeout(10_000) })).json()) as HealthBody
}

type HealthBody = {
  status: string
  mode: string
  state: string
  exchange: { state: string; websocketConnected: boolean; instanceId: string } | null
}

describe("livermore start: nodes of the network", () => {
  it("reaches active on sim_binance and on sim_coinbase; the stream holds the transitions in order; the projection rebuilt from it equals the status key; SIGTERM stops cleanly and frees the lock", async () => {
    const w = world()
    try {
      const binance = await w.node(["--mode", "exchange", "--autostart", "sim_binance"])
      const coinbase = await w.node(["--autostart", "sim_coinbase"])
      for (const name of ["sim_binance", "sim_coinbase"]) {
        await eventually(`${name} active`, async () => (await w.status(name))?.connectionState === "active", 60_000, () => binance.output() + "\n-----\n" + coinbase.output())
      }
      const h = await health(binance)
      assert.strictEqual(h.mode, "exchange")
      assert.strictEqual(h.state, "active")
      assert.isTrue(h.exchange?.websocketConnected)
      assert.strictEqual((await health(coinbase)).mode, "all")
      // Gauges are sampled once a second.
      await eventually("the lifecycle gauge at active", async () => {
        const metrics = await (await fetch(`http://127.0.0.1:${binance.port}/metrics`, { signal: AbortSignal.timeout(10_000) })).text()
        return /livermore_lifecycle_state\{exchange="sim_binance",state="active"\} 1\n/.test(metrics)
      }, 5_000)

      for (const name of ["sim_binance", "sim_coinbase"]) {
        const key = (await w.status(name))!
        assert.strictEqual(key.symbolCount, 3)
        assert.strictEqual(key.mode, name === "sim_binance" ? "exchange" : "all")
        assert.strictEqual(key.ipSource, "local")
        const log = await w.events(name)
        assert.deepStrictEqual(
          log.filter((e) => e.type === "transition").map((e) => e.to),
          ["starting", "warming", "active"]
        )
        const rebuilt = StatusProjection.withHeartbeat(StatusProjection.project(log, { ...key }), key.lastHeartbeat)
        assert.deepStrictEqual(
          Schema.encodeSync(Status.InstanceStatus)(rebuilt),
          Schema.encodeSync(Status.InstanceStatus)(key),
          `${name}: the projection rebuilt from the stream equals the status key`
        )
      }
      assert.strictEqual(await binance.stop(), 0)
      assert.strictEqual(await coinbase.stop(), 0)
      assert.strictEqual((await w.status("sim_binance"))?.connectionState, "stopped")
      assert.isUndefined(await w.lockHolder("sim_binance"), "released on stop")
      const tail = (await w.events("sim_binance")).slice(-3).map((e) => e.to ?? e.type)
      assert.deepStrictEqual(tail, ["stopping", "lock_released", "stopped"])
    } finally {
      await w.cleanup()
    }
  }, 120_000)

  it("a second node is refused with the holder's identity; takeover stops the holder; kill -9 lets the status expire within the TTL and another node then takes the lock", async () => {
    const w = world()
    try {
      const first = await w.node(["--autostart", "sim_binance"])
      await w.until("first active", async () => (await w.status("sim_binance"))?.connectionState === "active", 60_000)
      const holder = (await w.status("sim_binance"))!

      // Two live nodes for one exchange: the second is told who serves it, and stays up (idle) for commands.
      const second = await w.node(["--autostart", "sim_binance"])
      await second.waitFor(`is served by instance ${holder.instanceId} on ${holder.hostname} (${holder.ipAddress}) since`)
      assert.strictEqual((await health(second)).state, "stopped")
      assert.strictEqual(await w.lockHolder("sim_binance"), holder.instanceId, "the holder keeps the lock")
      const key = await w.status("sim_binance")
      assert.strictEqual(key?.instanceId, holder.instanceId, "the refused node did not overwrite the holder's status")
      assert.strictEqual(key?.connectionState, "active")
      assert.strictEqual((await health(second)).status, "degraded", "stopped by a refused lock")

      // Takeover: the holder is asked to stop over the control channel, the new node starts once the lock is free.
      const third = await w.node(["--autostart", "sim_binance", "--takeover"])
      await third.waitFor(`Takeover: took over from ${holder.instanceId}`, 60_000)
      await w.until("third active", async () => {
        const s = await w.status("sim_binance")
        return s?.connectionState === "active" && s.instanceId !== holder.instanceId
      }, 60_000)
      assert.strictEqual((await health(first)).state, "stopped", "the old holder stopped itself on request")
      const thirdId = (await w.status("sim_binance"))!.instanceId
      assert.strictEqual(await w.lockHolder("sim_binance"), thirdId)

      // kill -9: no clean stop, so the status and the lock disappear by expiry (TTL 4 s, heartbeat 1 s).
      third.child.kill("SIGKILL")
      const killedAt = Date.now()
      await w.until("the status key to expire", async () => (await w.status("sim_binance")) === undefined, 10_000)
      assert.isAtMost(Date.now() - killedAt, 4_000 + 1_500)
      await w.until("the lock to expire", async () => (await w.lockHolder("sim_binance")) === undefined, 10_000)

      // The idle second node takes it when told to start.
      const secondId = (await health(second)).exchange!.instanceId
      const started = await w.send(secondId, command((f) => new Control.Start(f)))
      assert.strictEqual(started._tag, "Right", JSON.stringify(started))
      await w.until("second active", async () => (await w.status("sim_binance"))?.instanceId === secondId && (await w.status("sim_binance"))?.connectionState === "active", 60_000)
      assert.strictEqual(await w.lockHolder("sim_binance"), secondId)
      const types = (await w.events("sim_binance")).map((e) => e.type)
      assert.include(types, "lock_denied")
      await Promise.all([first.stop(), second.stop()])
    } finally {
      await w.cleanup()
    }
  }, 180_000)

  it("every control command is acknowledged and answered; failures, timeouts and a missing instance are typed; the history records them", async () => {
    const w = world()
    try {
      const node = await w.node(["--autostart", "sim_binance"])
      await w.until("active", async () => (await w.status("sim_binance"))?.connectionState === "active", 60_000)
      const id = (await w.status("sim_binance"))!.instanceId
      const ok = async (c: Control.Command) => {
        const reply = await w.send(id, c, { resultTimeout: "30 seconds" })
        if (reply._tag === "Left") assert.fail(`${c._tag}: ${reply.left.message}`)
        return reply.right.data as Record<string, unknown>
      }
      const failed = async (c: Control.Command) => {
        const reply = await w.send(id, c)
        assert.strictEqual(reply._tag, "Left", `${c._tag} should fail`)
        return reply._tag === "Left" ? reply.left : assert.fail()
      }

      const status = await ok(command((f) => new Control.GetStatus(f)))
      assert.strictEqual((status.status as { connectionState: string }).connectionState, "active")
      assert.strictEqual((await ok(command((f) => new Control.Pause(f)))).paused, true)
      assert.isFalse((await health(node)).exchange!.websocketConnected, "paused: no live data")
      assert.include((await failed(command((f) => new Control.Pause(f)))).message, "already paused")
      assert.strictEqual((await ok(command((f) => new Control.Resume(f)))).paused, false)
      assert.strictEqual(((await ok(command((f) => new Control.ReloadSettings(f)))).symbols as Array<string>).length, 3)
      const backfill = await ok(command((f) => new Control.ForceBackfill({ ...f, timeframes: ["1d"] })))
      assert.strictEqual(backfill.status, "completed")
      assert.strictEqual((await ok(command((f) => new Control.ClearCache(f)))).clearedSeries, 15)
      assert.include((await failed(command((f) => new Control.SwitchMode({ ...f, mode: "pw-host" })))).message, "--mode pw-host")

      // A result that cannot come in time: the ack arrives, then CommandTimeout.
      const late = await w.send(id, command((f) => new Control.ForceBackfill(f)), { resultTimeout: "1 millis" })
      assert.strictEqual(late._tag === "Left" ? late.left._tag : "Right", "CommandTimeout")
      // Nobody listening: NoAck.
      const nobody = await w.send("no-such-instance", command((f) => new Control.GetStatus(f)), { ackTimeout: "500 millis" })
      assert.strictEqual(nobody._tag === "Left" ? nobody.left._tag : "Right", "NoAck")

      const stopped = await ok(command((f) => new Control.Stop({ ...f, reason: "test" })))
      assert.strictEqual(stopped.connectionState, "stopped")
      assert.isUndefined(await w.lockHolder("sim_binance"))
      const restarted = await ok(command((f) => new Control.Start(f)))
      assert.include(["starting", "warming"], restarted.connectionState)
      await w.until("active again", async () => (await w.status("sim_binance"))?.connectionState === "active", 60_000)

      const history = await w.history(id)
      const names = history.map((h) => h.entry.name).reverse()
      assert.includeMembers(names, ["status", "pause", "resume", "reload-settings", "force-backfill", "clear-cache", "switch-mode", "stop", "start"])
      assert.strictEqual(history.find((h) => h.entry.name === "switch-mode")?.entry.outcome, "failed")
      await node.stop()
    } finally {
      await w.cleanup()
    }
  }, 180_000)

  it("a warm restart makes zero REST candle requests; the cold warmup before it got no 418", async () => {
    // "Fresh" is judged by the wall clock: a 5-minute boundary between the cold and the warm warmup makes a newer 5m
    // candle due, and the warm restart rightly fetches it. With less than a minute of the current 5-minute window
    // left (the two warmups take seconds; tens on a loaded machine), start in the next window.
    const fiveMinutes = 5 * 60_000
    const left = fiveMinutes - (Date.now() % fiveMinutes)
    if (left < 60_000) await new Promise((resolve) => setTimeout(resolve, left + 1_000))
    await pointRow("sim_binance", pausedSim)
    const w = world()
    try {
      const klines = async () => (await Effect.runPromise(pausedSim.stats)).rest["GET /api/v3/klines"] ?? 0
      const cold = await w.node(["--autostart", "sim_binance"])
      await w.until("cold start active", async () => (await w.status("sim_binance"))?.connectionState === "active", 60_000)
      const coldRequests = await klines()
      assert.isAbove(coldRequests, 0, "the cold start fetched history")
      assert.strictEqual((await Effect.runPromise(pausedSim.stats)).banned, 0, "no 418")
      await cold.stop()

      const coldId = (await w.status("sim_binance"))!.instanceId
      const warm = await w.node(["--autostart", "sim_binance"])
      await w.until("warm start active", async () => {
        const s = await w.status("sim_binance")
        return s?.connectionState === "active" && s.instanceId !== coldId
      }, 60_000)
      const finished = (await w.events("sim_binance")).filter((e) => e.type === "warmup_finished").map((e) => e.message)
      assert.deepStrictEqual(finished.slice(-1), ["completed: 0 fetched, 15 already cached, 0 failed"])
      assert.strictEqual(await klines(), coldRequests, "zero REST candle requests on the warm restart")
      await warm.stop()
    } finally {
      await pointRow("sim_binance", liveSim)
      await w.cleanup()
    }
  }, 120_000)
})
