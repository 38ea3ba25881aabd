/**
 * The admin procedures against real storage: network cards from the catalog and the live statuses (and their
 * stream), the event log with its filters, and API keys whose creation and revocation reach the public catalog
 * at once.
 */
import { assert, layer } from "@effect/vitest"
import { EventLog, PublicCatalog, StatusStore } from "@livermore/cache"
import { type Exchange, Lifecycle, Status } from "@livermore/domain"
import { AdminTokensRepo, ApiKeysRepo, ExchangesRepo, UsersRepo } from "@livermore/store"
import { Array as Arr, Cause, Chunk, DateTime, Effect, Exit, Fiber, Option, Redacted, Stream } from "effect"
import * as S from "./support.js"

const status = (exchange: Exchange.Exchange, state: Lifecycle.ConnectionState, heartbeatAgoMs: number) => {
  const now = DateTime.toEpochMillis(DateTime.unsafeNow())
  return new Status.InstanceStatus({
    exchangeId: exchange.id,
    exchangeName: exchange.name,
    instanceId: `instance-${exchange.name}`,
    connectionState: state,
    connectedAt: DateTime.unsafeMake(now - 60_000),
    lastHeartbeat: DateTime.unsafeMake(now - heartbeatAgoMs),
    symbolCount: 3,
    adminEmail: "ops@example.com",
    adminDisplayName: "Ops",
    ipAddress: "203.0.113.7",
    ipSource: "public",
    hostname: "node-1.internal",
    lastError: null,
    lockEpoch: 1,
    mode: "exchange",
    version: "0.1.0"
  })
}

const event = (exchange: Exchange.Exchange, type: Lifecycle.EventType, atMs: number, message: string) =>
  new Lifecycle.LifecycleEvent({
    type,
    exchangeId: exchange.id,
    instanceId: `instance-${exchange.name}`,
    at: DateTime.unsafeMake(atMs),
    message
  })

/** An admin client over `transport`. */
const adminClient = (transport: "http" | "websocket" = "http") =>
  Effect.gen(function* () {
    const user = yield* (yield* UsersRepo.UsersRepo).upsert({
      identityProvider: "local",
      subject: `admin-${crypto.randomUUID()}`,
      role: "admin"
    })
    const { secret } = yield* (yield* AdminTokensRepo.AdminTokensRepo).create({ userId: user.id, name: "test" })
    return yield* S.client({ token: Redacted.value(secret) }, transport)
  })

const exchangeNamed = (name: string) =>
  Effect.flatMap(ExchangesRepo.ExchangesRepo, (repo) =>
    Effect.map(repo.list, (all) => all.find((e) => e.name === name)!)
  )

layer(S.serverLayer(S.settings()), { excludeTestServices: true, timeout: "60 seconds" })("admin RPC handlers", (it) => {
  it.effect("Network: a card per exchange; the served one carries its status and heartbeat age", () =>
    Effect.gen(function* () {
      const client = yield* adminClient()
      const binance = yield* exchangeNamed("sim_binance")
      yield* (yield* StatusStore.StatusStore).put(status(binance, "active", 2_000), "1 minute")
      const cards = yield* client.Network()
      const names = cards.map((c) => c.name)
      assert.includeMembers(names, ["binance", "coinbase", "sim_binance", "sim_coinbase"])
      const served = cards.find((c) => c.name === "sim_binance")!
      assert.strictEqual(served.status?.connectionState, "active")
      assert.strictEqual(served.status?.hostname, "node-1.internal")
      assert.isAtLeast(served.heartbeatAgeMs!, 2_000)
      assert.isBelow(served.heartbeatAgeMs!, 10_000)
      const offline = cards.find((c) => c.name === "sim_coinbase")!
      assert.isNull(offline.status)
      assert.isNull(offline.heartbeatAgeMs)
    }).pipe(Effect.scoped)
  )

  it.effect("WatchNetwork over the WebSocket: cards now, then again with a status change", () =>
    Effect.gen(function* () {
      const client = yield* adminClient("websocket")
      const coinbase = yield* exchangeNamed("sim_coinbase")
      const statuses = yield* StatusStore.StatusStore
      yield* statuses.put(status(coinbase, "warming", 0), "1 minute")
      const seen = yield* client.WatchNetwork().pipe(
        Stream.map((cards) => cards.find((c) => c.name === "sim_coinbase")?.status?.connectionState ?? "offline"),
        Stream.tap((state) => (state === "warming" ? statuses.put(status(coinbase, "active", 0), "1 minute") : Effect.void)),
        Stream.takeUntil((state) => state === "active"),
        Stream.runCollect,
        Effect.timeout("10 seconds")
      )
      const states = Chunk.toReadonlyArray(seen)
      assert.strictEqual(states[0], "warming")
      assert.strictEqual(states.at(-1), "active")
    }).pipe(Effect.scoped)
  )

  it.effect("NetworkLog: every exchange's events merged newest first; filters by exchange, type, time; a limit", () =>
    Effect.gen(function* () {
      const client = yield* adminClient()
      const log = yield* EventLog.EventLog
      const binance = yield* exchangeNamed("binance")
      const coinbase = yield* exchangeNamed("coinbase")
      const t0 = DateTime.toEpochMillis(DateTime.unsafeNow()) - 10_000
      yield* log.append(binance.name, event(binance, "lock_acquired", t0, "b1"))
      yield* log.append(coinbase.name, event(coinbase, "error", t0 + 1_000, "c1"))
      yield* log.append(binance.name, event(binance, "error", t0 + 2_000, "b2"))
      yield* log.append(coinbase.name, event(coinbase, "warmup_started", t0 + 3_000, "c2"))

      const messages = (entries: ReadonlyArray<{ readonly event: Lifecycle.LifecycleEvent }>) =>
        entries.map((e) => e.event.message)
      assert.deepStrictEqual(messages(yield* client.NetworkLog({})), ["c2", "b2", "c1", "b1"])
      assert.deepStrictEqual(messages(yield* client.NetworkLog({ exchange: binance.name })), ["b2", "b1"])
      assert.deepStrictEqual(messages(yield* client.NetworkLog({ types: ["error"] })), ["b2", "c1"])
      assert.deepStrictEqual(
        messages(yield* client.NetworkLog({ since: DateTime.unsafeMake(t0 + 1_000), until: DateTime.unsafeMake(t0 + 2_000) })),
        ["b2", "c1"]
      )
      assert.deepStrictEqual(messages(yield* client.NetworkLog({ limit: 1 })), ["c2"])
      const [first] = yield* client.NetworkLog({ limit: 1 })
      assert.strictEqual(first!.exchangeName, coinbase.name)

      // Behind 1,200 newer heartbeats (more than two pages of the newest-first read), the old error is still found,
      // once, and the limit counts matches, not entries read.
      const us = yield* exchangeNamed("binance_us")
      yield* log.append(us.name, event(us, "error", t0, "buried"))
      yield* Effect.forEach(Arr.range(1, 1_200), (i) => log.append(us.name, event(us, "heartbeat", t0 + i, `beat ${i}`)), {
        concurrency: 50,
        discard: true
      })
      assert.deepStrictEqual(messages(yield* client.NetworkLog({ exchange: us.name, types: ["error"] })), ["buried"])
      assert.deepStrictEqual(messages(yield* client.NetworkLog({ exchange: us.name, limit: 2 })), ["beat 1200", "beat 1199"])
      const all = yield* client.NetworkLog({ exchange: us.name, limit: 1_000 })
      assert.strictEqual(all.length, 1_000)
      assert.strictEqual(new Set(all.map((e) => e.id)).size, 1_000, "no entry twice across pages")
    }).pipe(Effect.scoped)
  )

  it.effect("WatchActivity: the newest events of every exchange first, then each one appended, as it is appended", () =>
    Effect.gen(function* () {
      const client = yield* adminClient("websocket")
      const log = yield* EventLog.EventLog
      const us = yield* exchangeNamed("binance_us")
      const sim = yield* exchangeNamed("sim_coinbase")
      const t0 = DateTime.toEpochMillis(DateTime.unsafeNow()) - 5_000
      yield* log.append(us.name, event(us, "lock_acquired", t0, "activity-old"))
      yield* log.append(sim.name, event(sim, "error", t0 + 1_000, "activity-recent"))
      const feed = yield* client.WatchActivity({ recent: 200 }).pipe(
        Stream.filter((e) => e.event.message.startsWith("activity-")),
        Stream.map((e) => `${e.exchangeName}:${e.event.message}`),
        Stream.take(4),
        Stream.runCollect,
        Effect.timeout("10 seconds"),
        Effect.fork
      )
      // Appended while the feed follows: after its subscription (the follow starts right after the first read).
      yield* Effect.sleep("1 second")
      yield* log.append(sim.name, event(sim, "warmup_started", t0 + 2_000, "activity-live-1"))
      yield* log.append(us.name, event(us, "error", t0 + 3_000, "activity-live-2"))
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(feed))
      assert.deepStrictEqual(seen.slice(0, 2), ["sim_coinbase:activity-recent", "binance_us:activity-old"])
      assert.sameMembers(seen.slice(2), ["sim_coinbase:activity-live-1", "binance_us:activity-live-2"])
    }).pipe(Effect.scoped)
  )

  it.effect("API keys: create shows the key once and it is in the catalog; revoke takes it out; regenerate replaces it", () =>
    Effect.gen(function* () {
      const client = yield* adminClient()
      const catalog = yield* PublicCatalog.PublicCatalog
      const inCatalog = (secret: string) => Effect.map(catalog.findApiKey(ApiKeysRepo.hashKey(secret)), Option.isSome)

      const created = yield* client.CreateApiKey({ name: "  Perseus Web  " })
      assert.strictEqual(created.key.name, "Perseus Web")
      assert.strictEqual(created.key.prefix, created.secret.slice(0, ApiKeysRepo.PREFIX_LENGTH))
      assert.isTrue(yield* inCatalog(created.secret))
      const listed = yield* client.ListApiKeys()
      assert.deepStrictEqual(
        listed.filter((k) => k.id === created.key.id).map((k) => [k.name, k.revokedAt]),
        [["Perseus Web", null]]
      )
      assert.isFalse(JSON.stringify(listed).includes(created.secret), "a listing never holds the key")

      const regenerated = yield* client.RegenerateApiKey({ id: created.key.id })
      assert.strictEqual(regenerated.key.name, "Perseus Web")
      assert.notStrictEqual(regenerated.key.id, created.key.id)
      assert.isFalse(yield* inCatalog(created.secret), "the old key stops working")
      assert.isTrue(yield* inCatalog(regenerated.secret))

      const revoked = yield* client.RevokeApiKey({ id: regenerated.key.id })
      assert.isNotNull(revoked.revokedAt)
      assert.isFalse(yield* inCatalog(regenerated.secret))

      const missing = yield* Effect.flip(client.RevokeApiKey({ id: 987_654 }))
      assert.strictEqual(missing._tag, "AdminNotFound")
      // The shared schema refuses a blank name before it is sent.
      const blank = yield* Effect.exit(client.CreateApiKey({ name: "   " }))
      assert.isTrue(Exit.isFailure(blank))
      assert.include(Exit.isFailure(blank) ? Cause.pretty(blank.cause) : "", "a key needs a name")
    }).pipe(Effect.scoped)
  )

  it.effect("connections: create, a second made default unsets the first, update, refuse bad names and others' ids", () =>
    Effect.gen(function* () {
      const client = yield* adminClient()
      const first = yield* client.SaveConnection({
        exchange: "coinbase" as Exchange.ExchangeName,
        displayName: " Coinbase main ",
        credentials: { apiKey: "COINBASE_API_KEY", apiSecret: "COINBASE_API_SECRET" },
        isActive: true,
        isDefault: true
      })
      assert.deepStrictEqual([first.exchange, first.displayName, first.isDefault], ["coinbase", "Coinbase main", true])
      const second = yield* client.SaveConnection({
        exchange: "binance" as Exchange.ExchangeName,
        displayName: "Binance public",
        credentials: null,
        isActive: true,
        isDefault: true
      })
      assert.isNull(second.credentials)
      const listed = yield* client.ListConnections()
      assert.deepStrictEqual(
        listed.map((c) => [c.displayName, c.isDefault]),
        [["Coinbase main", false], ["Binance public", true]]
      )

      const renamed = yield* client.SaveConnection({ ...first, id: first.id, displayName: "Coinbase", isDefault: true })
      assert.strictEqual(renamed.displayName, "Coinbase")
      assert.isTrue(renamed.isDefault)
      assert.deepStrictEqual((yield* client.ListConnections()).filter((c) => c.isDefault).map((c) => c.id), [first.id])

      const badName = yield* Effect.exit(
        client.SaveConnection({ ...first, credentials: { apiKey: "lower_case", apiSecret: "X" } })
      )
      assert.isTrue(Exit.isFailure(badName))
      assert.include(Exit.isFailure(badName) ? Cause.pretty(badName.cause) : "", "an environment variable name")

      // Another admin cannot touch these.
      const other = yield* adminClient()
      const refused = yield* Effect.flip(other.SaveConnection({ ...first, id: first.id }))
      assert.strictEqual(refused._tag, "AdminNotFound")
      assert.lengthOf(yield* other.ListConnections(), 0)
    }).pipe(Effect.scoped)
  )
})
