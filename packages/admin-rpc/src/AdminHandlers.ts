/**
 * The server side of `AdminRpcs`: the `AdminAuth` middleware over `AdminVerifier`, and a handler per procedure over
 * the store (exchanges, API keys), the cache (statuses, event log) and the public catalog (keys made usable or
 * unusable at once, as the `api-keys` commands do).
 */
import { Headers } from "@effect/platform"
import { Bus, CandleCache, EventLog, InstanceRegistry, Keys, StatusStore } from "@livermore/cache"
import { Alert, Control, type Exchange, type Status, Warmup as WarmupStats } from "@livermore/domain"
import { MacdV } from "@livermore/indicators"
import { ControlChannel, JsonStore, Warmup } from "@livermore/engine"
import { PublicCatalogSync } from "@livermore/public-api"
import { AlertsRepo, ApiKeysRepo, ExchangeSymbolsRepo, ExchangesRepo, UserExchangesRepo } from "@livermore/store"
import { Array as Arr, DateTime, Duration, Effect, Layer, Option, Redacted, Schedule, Schema, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { AdminAuth, CurrentAdmin } from "./AdminAuth.js"
import {
  AdminNotFound,
  type AlertQuery,
  AlertView,
  AdminRpcs,
  ApiKeyView,
  Chart,
  ChartBar,
  ConnectionView,
  type SaveConnection,
  SymbolView,
  CommandNotAcknowledged,
  CommandRecord,
  CommandRejected,
  type CommandRequest,
  CommandResult,
  CommandTimedOut,
  CreatedApiKey,
  ExchangeCard,
  ExchangeHeld,
  LockHolder,
  NetworkEvent,
  type NetworkLogQuery
} from "./AdminRpcs.js"
import { AdminVerifier } from "./AdminVerifier.js"
import { exchangeNamed as exchangeNamedIn, failed, symbolViewFields } from "./internal/handlerSupport.js"
import * as SymbolsHandlers from "./SymbolsHandlers.js"

/** `AdminAuth` for the server: the `Authorization` header of the call (or of the WebSocket upgrade). */
export const layerAuth: Layer.Layer<AdminAuth, never, AdminVerifier> = Layer.effect(
  AdminAuth,
  Effect.map(AdminVerifier, (verifier) => AdminAuth.of(({ headers }) => verifier.verify(Headers.get(headers, "authorization"))))
)

/** How often `WatchChart` sends the chart besides each close: the forming candle moves between closes. */
const chartRefresh = "2 seconds"

/** Entries read from an event log at a time by `NetworkLog`. */
const logPage = 500

/** How often `WatchNetwork` sends the cards: heartbeat ages move every second. */
export const watchInterval = "1 second"


/** How long a command may run once acknowledged: a backfill fetches history over REST and can take minutes. */
const resultTimeout = (command: CommandRequest): Duration.Duration =>
  command._tag === "force-backfill" ? Duration.minutes(15) : ControlChannel.defaultResultTimeout

const decodeCommand = Schema.decodeUnknown(Control.Command)

const toAlertView = (stored: AlertsRepo.StoredAlert) =>
  new AlertView({ id: String(stored.id), alert: stored.alert, notificationSent: stored.notificationSent })

/** Every exchange's alerts channel (`channel:alerts:{exchangeId}`). */
const alertsPattern = "channel:alerts:*"

const toView = (key: ApiKeysRepo.ApiKey) =>
  new ApiKeyView({
    id: key.id,
    prefix: key.prefix,
    name: key.name,
    createdAt: key.createdAt,
    lastUsedAt: Option.getOrNull(key.lastUsedAt),
    revokedAt: Option.getOrNull(key.revokedAt)
  })

const toCreated = (created: ApiKeysRepo.CreatedApiKey) =>
  new CreatedApiKey({ key: toView(created.apiKey), secret: Redacted.value(created.secret) })

export const layerHandlers = AdminRpcs.toLayer(
  Effect.gen(function* () {
    const exchanges = yield* ExchangesRepo.ExchangesRepo
    const statuses = yield* StatusStore.StatusStore
    const eventLog = yield* EventLog.EventLog
    const keys = yield* ApiKeysRepo.ApiKeysRepo
    const commandHistory = yield* ControlChannel.CommandHistory
    const candleCache = yield* CandleCache.CandleCache
    const alertsRepo = yield* AlertsRepo.AlertsRepo
    const bus = yield* Bus.Bus
    const symbolsRepo = yield* ExchangeSymbolsRepo.ExchangeSymbolsRepo
    const connections = yield* UserExchangesRepo.UserExchangesRepo
    const registry = yield* InstanceRegistry.InstanceRegistry
    const jsonStore = yield* JsonStore.JsonStore

    const connectionView = Effect.fn(function* (row: UserExchangesRepo.UserExchange) {
      const exchange = yield* exchanges.byId(row.exchangeId)
      return new ConnectionView({
        id: row.id,
        exchange: exchange.name,
        displayName: row.displayName,
        credentials: Option.getOrNull(Option.map(row.credentials, (c) => ({ apiKey: c.apiKey, apiSecret: c.apiSecret }))),
        isActive: row.isActive,
        isDefault: row.isDefault
      })
    })

    const listConnections = Effect.gen(function* () {
      const admin = yield* CurrentAdmin
      return yield* Effect.forEach(yield* connections.listByUser(admin.userId), connectionView)
    }).pipe(
      Effect.catchTags({
        StoreError: failed("listing the connections"),
        UnknownExchange: failed("listing the connections"),
        ExchangeNotSupported: failed("listing the connections")
      })
    )

    const saveConnection = Effect.fn("AdminRpc.SaveConnection")(function* (request: SaveConnection) {
      const admin = yield* CurrentAdmin
      const exchange = yield* exchangeNamed(request.exchange)
      const displayName = request.displayName.trim()
      const credentials = request.credentials ?? undefined
      let saved: UserExchangesRepo.UserExchange
      if (request.id === undefined) {
        saved = yield* connections.create({
          userId: admin.userId,
          exchangeId: exchange.id,
          displayName,
          credentials,
          isActive: request.isActive,
          isDefault: request.isDefault
        })
      } else {
        const id = request.id
        const own = (yield* connections.listByUser(admin.userId)).find((c) => c.id === id)
        if (own === undefined || own.exchangeId !== exchange.id) {
          return yield* Effect.fail(
            new AdminNotFound({ entity: "connection", key: String(id), message: `You have no ${request.exchange} connection with id ${id}` })
          )
        }
        saved = yield* connections.update(id, { displayName, credentials: request.credentials, isActive: request.isActive })
        if (request.isDefault && !saved.isDefault) saved = yield* connections.setDefault(admin.userId, id)
      }
      return yield* connectionView(saved)
    }, Effect.catchTags({
      StoreError: failed("saving the connection"),
      RecordNotFound: failed("saving the connection"),
      UnknownExchange: failed("saving the connection"),
      ExchangeNotSupported: failed("saving the connection")
    }))

    const exchangeNamed = (name: string) => exchangeNamedIn(exchanges, name)

    const chart = Effect.fn("AdminRpc.Chart")(function* (request: {
      readonly exchange: Exchange.ExchangeName
      readonly symbol: Chart["symbol"]
      readonly timeframe: Chart["timeframe"]
      readonly limit?: number | undefined
    }) {
      const exchange = yield* exchangeNamed(request.exchange)
      const series = { exchangeId: exchange.id, symbol: request.symbol, timeframe: request.timeframe }
      const cached = yield* candleCache.range(series, 0, Number.MAX_SAFE_INTEGER)
      // MACD-V over every closed candle the cache holds, so the shown bars carry the values the engine computes
      // (its EMAs need the history before them); the forming candle has none yet.
      const closed = cached.filter((candle) => candle.closed)
      const readings = MacdV.batch(closed)
      const byOpenTime = new Map(closed.map((candle, i) => [candle.openTime, readings[i]!] as const))
      const bars = cached.slice(-(request.limit ?? 300)).map((candle) => {
        const reading = byOpenTime.get(candle.openTime)
        const value = reading?._tag === "Value" ? reading : undefined
        return new ChartBar({
          ...candle,
          macdV: value?.macdV ?? null,
          signal: value?.signal ?? null,
          histogram: value?.histogram ?? null
        })
      })
      const since = bars[0] === undefined ? undefined : DateTime.unsafeMake(bars[0].openTime)
      const page = yield* alertsRepo.list({ ...series, since, limit: 1000 })
      return new Chart({ ...request, exchange: exchange.name, bars, alerts: page.items.map(toAlertView) })
    }, Effect.catchTags({ StoreError: failed("reading the chart"), CacheError: failed("reading the chart"), InvalidCursor: failed("reading the chart") }))

    /**
     * The chart, then again on each close of the series (published by the pipeline) and every `chartRefresh` for
     * the forming candle, which is not published.
     */
    const watchChart = (request: Parameters<typeof chart>[0]) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const exchange = yield* exchangeNamed(request.exchange)
          const series = { exchangeId: exchange.id, symbol: request.symbol, timeframe: request.timeframe }
          const closes = yield* bus.subscribe(Keys.candleCloseChannel(series), Schema.Unknown)
          return Stream.merge(Stream.as(closes, undefined), Stream.tick(chartRefresh)).pipe(Stream.mapEffect(() => chart(request)))
        })
      ).pipe(
        Stream.catchTags({
          CacheError: (cause) => Stream.fromEffect(failed("following the chart")(cause)),
          StoreError: (cause) => Stream.fromEffect(failed("following the chart")(cause))
        })
      )

    const alerts = Effect.fn("AdminRpc.Alerts")(function* (query: AlertQuery) {
      const exchangeId = query.exchange === undefined ? undefined : (yield* exchangeNamed(query.exchange)).id
      const page = yield* alertsRepo.list({
        exchangeId,
        symbol: query.symbol,
        timeframe: query.timeframe,
        label: query.label,
        since: query.since,
        limit: query.limit ?? 100
      })
      return page.items.map(toAlertView)
    }, Effect.catchTags({ StoreError: failed("reading the alerts"), InvalidCursor: failed("reading the alerts") }))
    // Key changes go through the catalog sync, which needs these services at call time.
    const context = yield* Effect.context<PublicCatalogSync.Requirements>()

    const sendCommand = Effect.fn("AdminRpc.SendCommand")(function* (
      instanceId: string,
      request: CommandRequest,
      options: { readonly takeover?: boolean; readonly resultTimeout?: Duration.Duration } = {}
    ) {
      const admin = yield* CurrentAdmin
      const command = yield* decodeCommand({
        ...request,
        ...(options.takeover === true ? { takeover: true } : {}),
        id: randomUUID(),
        issuedAt: DateTime.formatIso(yield* DateTime.now),
        issuedBy: admin.email ?? `${admin.identityProvider}:${admin.subject}`
      }).pipe(Effect.orDie)
      const reply = yield* ControlChannel.send(instanceId, command, {
        resultTimeout: options.resultTimeout ?? resultTimeout(request)
      }).pipe(
        Effect.provide(context),
        Effect.catchTags({
          NoAck: (e) =>
            Effect.fail(new CommandNotAcknowledged({ instanceId, command: request._tag, message: e.message })),
          CommandFailed: (e) =>
            Effect.fail(new CommandRejected({ instanceId, command: request._tag, error: e.error, message: e.message })),
          CommandTimeout: (e) =>
            Effect.fail(
              new CommandTimedOut({
                instanceId,
                command: request._tag,
                message: `${e.message}; it may still finish — see the command history`
              })
            ),
          CacheError: failed(`sending ${request._tag}`)
        })
      )
      return new CommandResult({
        commandId: reply.commandId,
        instanceId: reply.instanceId,
        finishedAt: reply.finishedAt,
        data: reply.data ?? null
      })
    })

    const network = Effect.gen(function* () {
      const [catalog, live, announced, now] = yield* Effect.all([
        exchanges.list,
        statuses.list(),
        registry.list(),
        DateTime.now
      ])
      const byId = new Map(live.map((status) => [status.exchangeId, status] as const))
      return catalog.map((exchange) => {
        const status = byId.get(exchange.id) ?? null
        return new ExchangeCard({
          instances: announced.filter((instance) => instance.exchangeId === exchange.id),
          exchangeId: exchange.id,
          name: exchange.name,
          displayName: exchange.displayName,
          isActive: exchange.isActive,
          status,
          heartbeatAgeMs:
            status?.lastHeartbeat == null ? null : Math.max(0, DateTime.distance(status.lastHeartbeat, now))
        })
      })
    }).pipe(Effect.catchAll(failed("reading the network")), Effect.withSpan("AdminRpc.Network"))

    /** States from which `start` serves the exchange. */
    const startable = (instance: Status.InstanceStatus) =>
      instance.connectionState === "idle" || instance.connectionState === "stopped"

    const connect = Effect.fn("AdminRpc.Connect")(function* (request: {
      readonly exchange: Exchange.ExchangeName
      readonly instanceId?: string | undefined
      readonly takeover?: boolean | undefined
    }) {
      const exchange = yield* exchangeNamed(request.exchange)
      const instances = (yield* registry.list()).filter((instance) => instance.exchangeId === exchange.id)
      const chosen =
        request.instanceId === undefined
          ? instances.find(startable)
          : instances.find((instance) => instance.instanceId === request.instanceId)
      if (chosen === undefined) {
        return yield* Effect.fail(
          new AdminNotFound({
            entity: "instance",
            key: request.instanceId ?? exchange.name,
            message:
              request.instanceId === undefined
                ? `No idle or stopped instance serves ${exchange.name}: start one with "livermore start --exchange ${exchange.name}"`
                : `No running instance ${request.instanceId} serves ${exchange.name}`
          })
        )
      }
      const holder = yield* statuses.get(exchange.id)
      const heldByAnother = Option.isSome(holder) && holder.value.instanceId !== chosen.instanceId
      if (heldByAnother && request.takeover !== true) {
        const held = holder.value
        return yield* Effect.fail(
          new ExchangeHeld({
            exchange: exchange.name,
            holder: new LockHolder({
              instanceId: held.instanceId,
              hostname: held.hostname,
              ipAddress: held.ipAddress,
              connectedAt: held.connectedAt,
              connectionState: held.connectionState
            }),
            message: `${exchange.name} is served by ${held.instanceId} on ${held.hostname} (${held.ipAddress ?? "no address"}); connecting takes it over and needs confirmation`
          })
        )
      }
      // A takeover first waits (bounded, by the instance's settings) for the holder to let go.
      return yield* sendCommand(
        chosen.instanceId,
        { _tag: "start" },
        heldByAnother ? { takeover: true, resultTimeout: Duration.minutes(3) } : {}
      )
    }, Effect.catchTags({ CacheError: failed("connecting"), StoreError: failed("connecting") }))

    const watchWarmup = (name: Exchange.ExchangeName) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const exchange = yield* exchangeNamed(name)
          // Subscribed before the key is read: an update in between is seen twice at worst, never missed.
          const updates = yield* bus.subscribe(Warmup.statsChannel(exchange.id), WarmupStats.Stats)
          const current = yield* jsonStore.get(Keys.warmupStats(exchange.id), WarmupStats.Stats)
          const warming = Option.exists(yield* statuses.get(exchange.id), (s) => s.connectionState === "warming")
          const ended = (stats: WarmupStats.Stats) => stats.status === "completed" || stats.status === "failed"
          // A finished run's stats while a new run warms are the previous run's: wait for the new run's.
          const first = Option.filter(current, (stats) => !(warming && ended(stats)))
          return Stream.concat(Stream.fromIterable(Option.toArray(first)), updates).pipe(
            Stream.takeUntil(ended)
          )
        })
      ).pipe(
        Stream.catchTags({
          CacheError: (cause) => Stream.fromEffect(failed("following the warmup")(cause)),
          StoreError: (cause) => Stream.fromEffect(failed("following the warmup")(cause))
        })
      )

    /**
     * The activity feed: the newest `recent` events of every exchange's log, then each one appended, followed per
     * exchange from the last entry read so nothing between the read and the follow is lost (one blocking read
     * connection per exchange while it is watched).
     */
    const watchActivity = (recent: number) =>
      Stream.unwrap(
        Effect.gen(function* () {
          const names = (yield* exchanges.list).map((e) => e.name)
          // The latest entries only (newest first), never the whole log; at least one, to follow from.
          const logs = yield* Effect.forEach(names, (name) =>
            Effect.map(eventLog.range(name, { count: Math.max(1, recent), newestFirst: true }), (entries) => ({ name, entries }))
          )
          const initial = logs
            .flatMap(({ name, entries }) => entries.map((entry) => new NetworkEvent({ id: entry.id, exchangeName: name, event: entry.event })))
            .sort((a, b) => DateTime.toEpochMillis(b.event.at) - DateTime.toEpochMillis(a.event.at))
            .slice(0, recent)
          const follows = logs.map(({ name, entries }) =>
            eventLog
              .tail(name, { fromId: entries[0]?.id ?? "0" })
              .pipe(Stream.map((entry) => new NetworkEvent({ id: entry.id, exchangeName: name, event: entry.event })))
          )
          return Stream.concat(Stream.fromIterable(initial), Stream.mergeAll(follows, { concurrency: "unbounded" }))
        })
      ).pipe(
        Stream.catchTags({
          CacheError: (cause) => Stream.fromEffect(failed("following the event log")(cause)),
          StoreError: (cause) => Stream.fromEffect(failed("following the event log")(cause))
        })
      )

    const networkLog = Effect.fn("AdminRpc.NetworkLog")(function* (query: NetworkLogQuery) {
      const names: ReadonlyArray<Exchange.ExchangeName> =
        query.exchange !== undefined ? [query.exchange] : (yield* exchanges.list).map((e) => e.name)
      const since = query.since === undefined ? Number.NEGATIVE_INFINITY : DateTime.toEpochMillis(query.since)
      const until = query.until === undefined ? Number.POSITIVE_INFINITY : DateTime.toEpochMillis(query.until)
      // Entry ids are append times, never before the event happened: `since` bounds the read, `until` cannot.
      const from = query.since === undefined ? undefined : String(since)
      const limit = query.limit ?? 200
      const types = query.types === undefined ? undefined : new Set(query.types)
      const matches = (event: NetworkEvent["event"]) => {
        const at = DateTime.toEpochMillis(event.at)
        return at >= since && at <= until && (types === undefined || types.has(event.type))
      }
      // Each log is read newest first, a page at a time, until it has `limit` matches or ends: a 90-day log is
      // not read whole for the newest 200 entries. Pages overlap by their boundary entry (bounds are inclusive).
      const newestMatching = (name: Exchange.ExchangeName) =>
        Effect.gen(function* () {
          const found: Array<NetworkEvent> = []
          let to: string | undefined
          while (found.length < limit) {
            const page = yield* eventLog.range(name, { from, to, count: logPage, newestFirst: true })
            for (const entry of page) {
              if (entry.id === to) continue
              if (matches(entry.event)) found.push(new NetworkEvent({ id: entry.id, exchangeName: name, event: entry.event }))
            }
            if (page.length < logPage) break
            to = page[page.length - 1]!.id
          }
          return found
        })
      const logs = yield* Effect.forEach(names, newestMatching)
      return Arr.flatten(logs)
        .sort((a, b) => DateTime.toEpochMillis(b.event.at) - DateTime.toEpochMillis(a.event.at))
        .slice(0, limit)
    }, Effect.catchAll(failed("reading the event log")))

    const notFound = (id: number) =>
      new AdminNotFound({ entity: "api key", key: String(id), message: `No API key with id ${id}` })

    const revoke = (id: number) =>
      PublicCatalogSync.revokeKey(id).pipe(
        Effect.provide(context),
        Effect.catchTag("RecordNotFound", () => Effect.fail(notFound(id)))
      )

    const symbolsAndSettings = yield* SymbolsHandlers.make
    return {
      ...symbolsAndSettings,
      WhoAmI: () => CurrentAdmin,
      Network: () => network,
      WatchNetwork: () => Stream.repeatEffectWithSchedule(network, Schedule.spaced(watchInterval)),
      NetworkLog: (query) => networkLog(query),
      Connect: (request) => connect(request),
      WatchWarmup: ({ exchange }) => watchWarmup(exchange),
      WatchActivity: ({ recent }) => watchActivity(recent ?? 30),
      SendCommand: ({ instanceId, command }) => sendCommand(instanceId, command),
      CommandHistory: ({ instanceId, limit }) =>
        commandHistory.list(instanceId, { count: limit ?? 100 }).pipe(
          Effect.map(
            Arr.map(
              ({ entry }) =>
                new CommandRecord({
                  commandId: entry.commandId,
                  name: entry.name,
                  issuedBy: entry.issuedBy,
                  issuedAt: entry.issuedAt,
                  receivedAt: entry.receivedAt,
                  finishedAt: entry.finishedAt,
                  outcome: entry.outcome,
                  error: entry.error ?? null
                })
            )
          ),
          Effect.catchAll(failed("reading the command history"))
        ),
      ListConnections: () => listConnections,
      SaveConnection: (request) => saveConnection(request),
      Symbols: ({ exchange }) =>
        exchangeNamed(exchange).pipe(
          Effect.flatMap((found) => symbolsRepo.listByExchange(found.id)),
          Effect.map(Arr.map((row) => new SymbolView(symbolViewFields(row)))),
          Effect.catchTag("StoreError", failed("listing the symbols"))
        ),
      Chart: (request) => chart(request),
      WatchChart: (request) => watchChart(request),
      Alerts: (query) => alerts(query),
      WatchAlerts: () =>
        Stream.unwrapScoped(
          Effect.map(bus.subscribePattern(alertsPattern, Alert.Alert), Stream.map((message) => message.value))
        ).pipe(Stream.catchAll((cause) => Stream.fromEffect(failed("following the alerts")(cause)))),
      ListApiKeys: () =>
        keys.list.pipe(Effect.map(Arr.map(toView)), Effect.catchAll(failed("listing the API keys"))),
      CreateApiKey: ({ name }) =>
        PublicCatalogSync.createKey(name.trim()).pipe(
          Effect.provide(context),
          Effect.map(toCreated),
          Effect.catchAll(failed("creating the API key"))
        ),
      RevokeApiKey: ({ id }) =>
        revoke(id).pipe(
          Effect.map(({ revoked }) => toView(revoked)),
          Effect.catchTags({ StoreError: failed("revoking the API key"), CacheError: failed("revoking the API key") })
        ),
      RegenerateApiKey: ({ id }) =>
        Effect.gen(function* () {
          const { revoked } = yield* revoke(id)
          return toCreated(yield* PublicCatalogSync.createKey(revoked.name).pipe(Effect.provide(context)))
        }).pipe(
          Effect.catchTags({ StoreError: failed("regenerating the API key"), CacheError: failed("regenerating the API key") })
        )
    }
  })
)
