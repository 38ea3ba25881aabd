/**
 * Connect and the warmup panel's stream against real Redis and Postgres: two stand-in instances of sim_binance on
 * the real control channel, announced in the instance registry as real nodes announce themselves. Connect starts
 * the waiting one; while another instance holds the exchange it is refused with the holder's identity until the
 * admin confirms, and then the start carries `takeover`. WatchWarmup gives the current progress, then each update,
 * and ends with the run.
 */
import { assert, layer } from "@effect/vitest"
import { Bus, InstanceRegistry, Keys, StatusStore } from "@livermore/cache"
import { type Control, Exchange, type Lifecycle, Market, Status, Warmup } from "@livermore/domain"
import { ControlChannel, JsonStore, Warmup as EngineWarmup } from "@livermore/engine"
import { AdminTokensRepo, ExchangesRepo, UsersRepo } from "@livermore/store"
import { Chunk, DateTime, Effect, Fiber, Layer, Redacted, Ref, Stream } from "effect"
import * as S from "./support.js"

const holderId = `holder-${crypto.randomUUID()}`
const waitingId = `waiting-${crypto.randomUUID()}`

/** Every command each stand-in received, in order. */
const received = Effect.runSync(Ref.make<ReadonlyArray<readonly [string, Control.Command]>>([]))

const standIn = (instanceId: string) =>
  ControlChannel.layer(instanceId, (command) =>
    Ref.update(received, (all) => [...all, [instanceId, command] as const]).pipe(Effect.as({ started: instanceId }))
  )

const Server = Layer.provideMerge(Layer.merge(standIn(holderId), standIn(waitingId)), S.serverLayer(S.settings()))

const status = (exchange: Exchange.Exchange, instanceId: string, state: Lifecycle.ConnectionState, hostname: string) =>
  new Status.InstanceStatus({
    exchangeId: exchange.id,
    exchangeName: exchange.name,
    instanceId,
    connectionState: state,
    connectedAt: state === "active" ? DateTime.unsafeMake(Date.parse("2026-11-22T08:00:00Z")) : null,
    lastHeartbeat: DateTime.unsafeNow(),
    symbolCount: state === "active" ? 3 : 0,
    adminEmail: null,
    adminDisplayName: null,
    ipAddress: hostname === "holder.internal" ? "203.0.113.9" : "203.0.113.10",
    ipSource: "public",
    hostname,
    lastError: null,
    lockEpoch: state === "active" ? 4 : null,
    mode: "exchange",
    version: "0.1.0"
  })

const adminClient = Effect.gen(function* () {
  const user = yield* (yield* UsersRepo.UsersRepo).upsert({
    identityProvider: "local",
    subject: `admin-${crypto.randomUUID()}`,
    email: "ops@example.com",
    role: "admin"
  })
  const { secret } = yield* (yield* AdminTokensRepo.AdminTokensRepo).create({ userId: user.id, name: "connect" })
  return yield* S.client({ token: Redacted.value(secret) })
})

const simBinance = Effect.flatMap(ExchangesRepo.ExchangesRepo, (repo) => repo.byName("sim_binance"))

const stats = (status: Warmup.Stats["status"], completed: number) =>
  new Warmup.Stats({
    status,
    totalPairs: 15,
    skippedPairs: 5,
    scheduledPairs: 10,
    completedPairs: completed,
    failedPairs: 0,
    percentComplete: completed * 10,
    etaSeconds: status === "completed" ? 0 : 10 - completed,
    currentSymbol: status === "completed" ? null : Market.SymbolId.make("BTCUSDT"),
    currentTimeframe: status === "completed" ? null : "1h",
    startedAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000 + completed * 1_000,
    failures: []
  })

layer(Server, { excludeTestServices: true, timeout: "60 seconds" })("admin RPC: Connect and WatchWarmup", (it) => {
  it.effect("Connect starts the waiting instance; a held exchange needs the confirmation, which sends a takeover", () =>
    Effect.gen(function* () {
      const client = yield* adminClient
      const exchange = yield* simBinance
      const registry = yield* InstanceRegistry.InstanceRegistry

      // Nothing announced for sim_coinbase: nothing to start, and the answer says how to get one.
      const none = yield* Effect.flip(client.Connect({ exchange: Exchange.ExchangeName.make("sim_coinbase") }))
      assert.strictEqual(none._tag, "AdminNotFound")
      assert.include(none.message, "livermore start --exchange sim_coinbase")

      // One waiting instance, nothing holds the exchange: a plain start reaches it.
      yield* registry.announce(status(exchange, waitingId, "idle", "standby.internal"), "1 minute")
      const cards = yield* client.Network()
      assert.deepStrictEqual(
        cards.find((c) => c.name === "sim_binance")!.instances.map((i) => [i.instanceId, i.connectionState]),
        [[waitingId, "idle"]]
      )
      const started = yield* client.Connect({ exchange: Exchange.ExchangeName.make("sim_binance") })
      assert.strictEqual(started.instanceId, waitingId)
      const first = (yield* Ref.get(received)).at(-1)!
      assert.strictEqual(first[0], waitingId)
      assert.strictEqual(first[1]._tag, "start")
      assert.strictEqual((first[1] as Control.Start).takeover, undefined)
      assert.strictEqual(first[1].issuedBy, "ops@example.com")

      // Another instance holds it now: refused with the holder's identity, and no command is sent.
      const before = (yield* Ref.get(received)).length
      const held = status(exchange, holderId, "active", "holder.internal")
      yield* registry.announce(held, "1 minute")
      yield* (yield* StatusStore.StatusStore).put(held, "1 minute")
      const refused = yield* Effect.flip(client.Connect({ exchange: Exchange.ExchangeName.make("sim_binance") }))
      assert.strictEqual(refused._tag, "ExchangeHeld")
      if (refused._tag !== "ExchangeHeld") return
      assert.strictEqual(refused.holder.instanceId, holderId)
      assert.strictEqual(refused.holder.hostname, "holder.internal")
      assert.strictEqual(refused.holder.ipAddress, "203.0.113.9")
      assert.strictEqual(DateTime.formatIso(refused.holder.connectedAt!), "2026-11-22T08:00:00.000Z")
      assert.strictEqual((yield* Ref.get(received)).length, before)

      // Confirmed: the waiting instance gets a start with takeover (it asks the holder to stop itself).
      const takenOver = yield* client.Connect({ exchange: Exchange.ExchangeName.make("sim_binance"), takeover: true })
      assert.strictEqual(takenOver.instanceId, waitingId)
      const last = (yield* Ref.get(received)).at(-1)!
      assert.strictEqual(last[0], waitingId)
      assert.strictEqual((last[1] as Control.Start).takeover, true)

      // An instance named explicitly must exist.
      const unknown = yield* Effect.flip(client.Connect({ exchange: Exchange.ExchangeName.make("sim_binance"), instanceId: "nobody", takeover: true }))
      assert.strictEqual(unknown._tag, "AdminNotFound")

      // Withdrawn (a clean stop): no longer listed.
      yield* registry.withdraw(waitingId)
      const after = (yield* client.Network()).find((c) => c.name === "sim_binance")!
      assert.deepStrictEqual(after.instances.map((i) => i.instanceId), [holderId])
    }).pipe(Effect.scoped)
  )

  it.effect("WatchWarmup: the current progress, then each update, ending with the run", () =>
    Effect.gen(function* () {
      const client = yield* adminClient
      const exchange = yield* Effect.flatMap(ExchangesRepo.ExchangesRepo, (repo) => repo.byName("sim_coinbase"))
      const store = yield* JsonStore.JsonStore
      const bus = yield* Bus.Bus
      yield* store.set(Keys.warmupStats(exchange.id), Warmup.Stats, stats("fetching", 2))

      const watching = yield* client.WatchWarmup({ exchange: Exchange.ExchangeName.make("sim_coinbase") }).pipe(
        Stream.map((s) => [s.status, s.percentComplete] as const),
        Stream.runCollect,
        Effect.timeout("10 seconds"),
        Effect.fork
      )
      // Publish until the watcher's subscription has surely seen one (it subscribes before it reads the key).
      const publish = (s: Warmup.Stats) => bus.publish(EngineWarmup.statsChannel(exchange.id), Warmup.Stats, s)
      yield* Effect.sleep("500 millis")
      yield* publish(stats("fetching", 6))
      yield* publish(stats("completed", 10))
      yield* publish(stats("fetching", 1))
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(watching))
      assert.deepStrictEqual(seen, [
        ["fetching", 20],
        ["fetching", 60],
        ["completed", 100]
      ])

      const unknown = yield* Effect.flip(Stream.runDrain(client.WatchWarmup({ exchange: Exchange.ExchangeName.make("nope") })))
      assert.strictEqual(unknown._tag, "AdminNotFound")
    }).pipe(Effect.scoped)
  )
})
