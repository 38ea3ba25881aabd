/**
 * The admin RPC as operators reach it: `livermore admin-token` against a fresh database, and a real node serving
 * `/admin/rpc`, called by the RPC client derived from the shared group — a token's life from creation to
 * revocation, and an API key created over RPC that works against the node's public API at once.
 */
import { FetchHttpClient, Headers } from "@effect/platform"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { RpcClient, RpcMiddleware, RpcSerialization } from "@effect/rpc"
import { AdminAuth, AdminRoutes, AdminRpcs } from "@livermore/admin-rpc"
import { Exchange } from "@livermore/domain"
import { ExchangeSim } from "@livermore/exchange-sim"
import { Effect, Exit, Layer, Scope } from "effect"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import {
  baseEnv,
  collect,
  freePort,
  type ListeningNode,
  type Outcome,
  redisUrl,
  startListening,
  startSingle,
  testDatabase
} from "./support.js"

const db = testDatabase("admin")
const dataDir = mkdtempSync(path.join(tmpdir(), "livermore-admin-"))
const env = (): NodeJS.ProcessEnv => ({
  ...baseEnv(),
  DATABASE_URL: db.url,
  REDIS_URL: redisUrl,
  REDIS_KEY_PREFIX: `test:admin:${randomUUID()}:`,
  LIVERMORE_DATA_DIR: dataDir
})
const fileEnv = env()
const livermore = (args: ReadonlyArray<string>): Promise<Outcome> => collect(startSingle(args, fileEnv))

let node: ListeningNode | undefined
let port = 0

beforeAll(async () => {
  await db.create()
  port = await freePort()
  node = await startListening([], { ...fileEnv, PORT: String(port), HOST: "127.0.0.1", LIVERMORE_PUBLIC_IP_DISABLED: "true" })
}, 90_000)

afterAll(async () => {
  await node?.stop()
  await db.drop()
  rmSync(dataDir, { recursive: true, force: true })
})

const makeClient = RpcClient.make(AdminRpcs.AdminRpcs)

/** Run `f` with an RPC client of the node, sending `token` (or nothing). */
const withClient = <A, E>(
  token: string | undefined,
  f: (client: Effect.Effect.Success<typeof makeClient>) => Effect.Effect<A, E>
) =>
  Effect.runPromise(
    Effect.scoped(Effect.flatMap(makeClient, f)).pipe(
      Effect.provide(
        Layer.mergeAll(
          RpcClient.layerProtocolHttp({ url: `http://127.0.0.1:${port}${AdminRoutes.httpPath}` }).pipe(
            Layer.provide(FetchHttpClient.layer),
            Layer.provide(RpcSerialization.layerNdjson)
          ),
          RpcMiddleware.layerClient(AdminAuth.AdminAuth, ({ request }) =>
            Effect.succeed(
              token === undefined
                ? request
                : { ...request, headers: Headers.set(request.headers, "authorization", `Bearer ${token}`) }
            )
          )
        )
      )
    )
  )

const refusal = (token: string | undefined) =>
  withClient(token, (client) =>
    client.WhoAmI().pipe(
      Effect.as("accepted"),
      Effect.catchTag("AdminUnauthorized", (e) => Effect.succeed(e.reason))
    )
  )

describe("livermore admin-token and the node's admin RPC", () => {
  it("create prints a token once; it signs in as an admin; an API key made over RPC works on the public API; revoke shuts it out", async () => {
    const created = await livermore(["admin-token", "create", "--user", "ops@example.com", "--name", "e2e"])
    assert.strictEqual(created.code, 0, created.stderr)
    const token = /Token: (lva_\S+)/.exec(created.stdout)?.[1]
    assert.isDefined(token, created.stdout)
    assert.match(created.stdout, /Expires: \d{4}-\d\d-\d\dT/)

    const me = await withClient(token, (client) => client.WhoAmI())
    assert.deepInclude(me, { subject: "ops@example.com", email: "ops@example.com", role: "admin", method: "local-token" })
    assert.strictEqual(await refusal(undefined), "missing")

    const key = await withClient(token, (client) => client.CreateApiKey({ name: "from the admin UI" }))
    const exchanges = await fetch(`http://127.0.0.1:${port}/public/v1/exchanges`, {
      headers: { "x-api-key": key.secret },
      signal: AbortSignal.timeout(10_000)
    })
    assert.strictEqual(exchanges.status, 200)

    const listed = await livermore(["admin-token", "list"])
    assert.strictEqual(listed.code, 0, listed.stderr)
    const lines = listed.stdout.trim().split("\n")
    assert.match(lines[0]!, /^id\tprefix\tname\tuser\trole/)
    assert.include(lines[1], "\te2e\tops@example.com\tadmin\t")
    assert.notInclude(listed.stdout, token!)

    const id = lines[1]!.split("\t")[0]!
    const revoked = await livermore(["admin-token", "revoke", id])
    assert.strictEqual(revoked.code, 0, revoked.stderr)
    // A verified token is trusted for 10 s per process.
    const deadline = Date.now() + 15_000
    let reason = await refusal(token)
    while (reason === "accepted" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      reason = await refusal(token)
    }
    assert.strictEqual(reason, "revoked")
  }, 90_000)

  it("a bad --expires and an unknown id fail with one clear line", async () => {
    const bad = await livermore(["admin-token", "create", "--user", "x@example.com", "--expires", "soon"])
    assert.strictEqual(bad.code, 1)
    assert.include(bad.stderr, '--expires "soon" is not a duration')
    const unknown = await livermore(["admin-token", "revoke", "9999"])
    assert.strictEqual(unknown.code, 1)
    assert.include(unknown.stderr, "admin-token list")
  }, 60_000)
})

describe("Connect through the admin RPC, between real nodes", () => {
  it("an idle node is refused while another serves sim_binance, naming the holder; confirmed, it takes the exchange over", async () => {
    const created = await livermore(["admin-token", "create", "--user", "takeover@example.com", "--name", "takeover"])
    assert.strictEqual(created.code, 0, created.stderr)
    const token = /Token: (lva_\S+)/.exec(created.stdout)![1]!

    const scope = await Effect.runPromise(Scope.make())
    const nodes: Array<ListeningNode> = []
    try {
      const sim = await Effect.runPromise(Scope.extend(ExchangeSim.make({ symbols: 6 }), scope))
      await db.sql("UPDATE exchanges SET rest_url = $1, ws_url = $2 WHERE name = 'sim_binance'", [sim.url, sim.wsUrl])
      const nodeEnv = {
        ...fileEnv,
        HOST: "127.0.0.1",
        LIVERMORE_PUBLIC_IP_DISABLED: "true",
        LIVERMORE_TOP_N: "2",
        LIVERMORE_HEARTBEAT_INTERVAL: "1 second",
        LIVERMORE_STATUS_TTL: "5 seconds"
      }
      const holder = await startListening(["--autostart", "sim_binance"], { ...nodeEnv, PORT: String(await freePort()) })
      nodes.push(holder)
      const waiting = await startListening(["--exchange", "sim_binance"], { ...nodeEnv, PORT: String(await freePort()) })
      nodes.push(waiting)
      const idOf = (node: ListeningNode) => /instanceId: (\S+)/.exec(node.output())![1]!
      const [holderId, waitingId] = [idOf(holder), idOf(waiting)]

      /** The sim_binance card, once `done` holds for it (polled, at most 60 s). */
      const cardWhen = (done: (card: AdminRpcs.ExchangeCard) => boolean) =>
        withClient(token, (client) =>
          Effect.gen(function* () {
            while (true) {
              const card = (yield* client.Network()).find((c) => c.name === "sim_binance")!
              if (done(card)) return card
              yield* Effect.sleep("250 millis")
            }
          }).pipe(Effect.timeout("60 seconds"))
        )

      await cardWhen(
        (card) =>
          card.status?.instanceId === holderId &&
          card.status.connectionState === "active" &&
          card.instances.some((i) => i.instanceId === waitingId && i.connectionState === "idle")
      )

      const refused = await withClient(token, (client) =>
        Effect.flip(client.Connect({ exchange: Exchange.ExchangeName.make("sim_binance") }))
      )
      assert.strictEqual(refused._tag, "ExchangeHeld", JSON.stringify(refused))
      if (refused._tag !== "ExchangeHeld") return
      assert.strictEqual(refused.holder.instanceId, holderId)
      assert.strictEqual(refused.holder.connectionState, "active")
      assert.isNotNull(refused.holder.ipAddress)

      const started = await withClient(token, (client) =>
        client.Connect({ exchange: Exchange.ExchangeName.make("sim_binance"), takeover: true })
      )
      assert.strictEqual(started.instanceId, waitingId)

      const after = await cardWhen(
        (card) =>
          card.status?.instanceId === waitingId &&
          card.status.connectionState === "active" &&
          card.instances.some((i) => i.instanceId === holderId && i.connectionState === "stopped")
      )
      assert.strictEqual(after.status?.instanceId, waitingId, waiting.output().slice(-2_000))
    } finally {
      for (const node of nodes) await node.stop()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }, 120_000)
})
