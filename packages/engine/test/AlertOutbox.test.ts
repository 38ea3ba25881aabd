/**
 * AlertOutbox against a real Postgres (a fresh migrated database for the file) and real webhook receivers on
 * 127.0.0.1: storing, delivery with retries, the outcome in `alert_history`, the flood breaker, duplicates,
 * redelivery at start, and storing never waiting on a hung webhook.
 *
 * Alerts of each test have their own symbol. Their `triggeredAt` lies long ago, except in the redelivery test,
 * so no outbox redelivers another test's alerts (redelivery looks back one hour by default).
 */
import { FetchHttpClient } from "@effect/platform"
import { SqlClient, SqlError } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Alert, Market, type Timeframe } from "@livermore/domain"
import { AlertsRepo, ExchangesRepo, StoreError } from "@livermore/store"
import { Context, DateTime, type Duration, Effect, Layer, Logger, Option, Schedule, Schema, type Scope } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as AlertOutbox from "../src/AlertOutbox.js"
import * as Notifier from "../src/Notifier.js"
import { MigratedStore, shared } from "./storeDatabase.js"

const withStore = shared(MigratedStore)

interface Received {
  readonly body: string
  /** `performance.now()` when the request arrived. */
  readonly at: number
}

type Reply = { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string } | "hang"

/** A webhook receiver on 127.0.0.1 answering `reply(request, index)`; `hanging` counts requests left unanswered. */
const receiver = (reply: (request: Received, index: number) => Reply = () => ({ status: 204 })) =>
  Effect.acquireRelease(
    Effect.async<{
      readonly url: string
      readonly received: Array<Received>
      readonly hanging: () => number
      readonly close: () => void
    }>((resume) => {
      const received: Array<Received> = []
      let hanging = 0
      const server = createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const entry = { body: Buffer.concat(chunks).toString("utf8"), at: performance.now() }
          received.push(entry)
          const answer = reply(entry, received.length - 1)
          if (answer === "hang") {
            hanging += 1
            response.on("close", () => {
              hanging -= 1
            })
            return
          }
          response.writeHead(answer.status, answer.headers).end(answer.body ?? "")
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(
          Effect.succeed({
            url: `http://127.0.0.1:${port}/hook`,
            received,
            hanging: () => hanging,
            close: () => {
              server.closeAllConnections()
              server.close()
            }
          })
        )
      })
    }),
    ({ close }) => Effect.sync(close)
  )

const FIVE_MINUTES = 300_000
const T0 = Date.UTC(2025, 5, 2)

const makeAlert = (
  exchange: { readonly id: Alert.Alert["exchangeId"]; readonly name: Alert.Alert["exchangeName"] },
  symbol: string,
  i: number,
  overrides: { readonly timeframe?: Timeframe.Timeframe; readonly triggeredAt?: number; readonly label?: string } = {}
) =>
  new Alert.Alert({
    exchangeId: exchange.id,
    exchangeName: exchange.name,
    symbol: Market.SymbolId.make(symbol),
    timeframe: overrides.timeframe ?? "5m",
    label: Alert.AlertLabel.make(overrides.label ?? "level_-150"),
    value: -150.5 - i,
    price: 100 + i,
    candleOpenTime: T0 + i * FIVE_MINUTES,
    triggeredAt: DateTime.unsafeMake(overrides.triggeredAt ?? T0 + (i + 1) * FIVE_MINUTES),
    details: new Alert.AlertDetails({ valuesByTimeframe: { "5m": -150.5 - i }, bias: "bearish" })
  })

const binance = Effect.flatMap(ExchangesRepo.ExchangesRepo, (repo) => repo.byName("binance"))

/** Small back-offs so the retry tests stay fast. */
const fastRetry = { attempts: 5, base: "10 millis", cap: "1 second" } as const

/**
 * Build an outbox over the file's store, with notifiers posting to `config`'s URLs; closed with the scope.
 */
const outbox = (
  config: Notifier.NotifiersConfig | "none",
  options: AlertOutbox.Options = { retry: fastRetry }
): Effect.Effect<
  Context.Tag.Service<AlertOutbox.AlertOutbox>,
  AlertOutbox.InvalidOutboxOptions | Notifier.InvalidNotifierConfig,
  AlertsRepo.AlertsRepo | Scope.Scope
> =>
  Layer.build(
    AlertOutbox.layer(options).pipe(
      Layer.provide(
        config === "none" ? Notifier.Notifiers.none : Notifier.Notifiers.layer(config).pipe(Layer.provide(FetchHttpClient.layer))
      )
    )
  ).pipe(Effect.map((context) => Context.get(context, AlertOutbox.AlertOutbox)))

const drained = (box: Context.Tag.Service<AlertOutbox.AlertOutbox>) =>
  box.drained.pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("outbox not drained") }))

interface Row {
  readonly id: string
  readonly candle_open_time: string
  readonly notification_sent: boolean
  readonly notification_error: string | null
}

/** The rows of `symbol`, by candle open time. */
const rowsOf = (symbol: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<Row>`
      SELECT id, candle_open_time, notification_sent, notification_error FROM alert_history
      WHERE symbol = ${symbol} ORDER BY candle_open_time`
  )

/** Poll `check` every 20 ms until it holds, for at most `within`. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, within: Duration.DurationInput = "5 seconds") =>
  check.pipe(
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail("not yet" as const))),
    Effect.retry({ schedule: Schedule.spaced("20 millis") }),
    Effect.timeoutFail({ duration: within, onTimeout: () => new Error("condition not met in time") })
  )

/** The real repository behind one whose first `failures` inserts fail as a dropped connection would. */
const flakyRepo = (failures: number) => {
  let left = failures
  return Layer.effect(
    AlertsRepo.AlertsRepo,
    Effect.map(AlertsRepo.AlertsRepo, (real) =>
      AlertsRepo.AlertsRepo.of({
        ...real,
        insertOnce: (alert) =>
          Effect.suspend(() =>
            left-- > 0
              ? Effect.fail(
                  new StoreError.StoreError({
                    op: "AlertsRepo.insertOnce",
                    cause: new SqlError.SqlError({ cause: new Error("Connection terminated unexpectedly") })
                  })
                )
              : real.insertOnce(alert)
          )
      })
    )
  )
}

describe("AlertOutbox", () => {
  it.live("stores, delivers to every notifier and marks the alert notified", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      const discord = yield* receiver()
      const webhook = yield* receiver(() => ({ status: 200 }))
      const box = yield* outbox({ discordWebhookUrls: [discord.url], jsonWebhookUrls: [webhook.url] })
      const alert = makeAlert(exchange, "BASICUSDT", 0)
      yield* box.offer(alert)
      yield* drained(box)

      const rows = yield* rowsOf("BASICUSDT")
      assert.strictEqual(rows.length, 1)
      assert.isTrue(rows[0]!.notification_sent)
      assert.isNull(rows[0]!.notification_error)
      assert.strictEqual(discord.received.length, 1)
      assert.strictEqual(webhook.received.length, 1)
      const payload = yield* Schema.decodeUnknown(Notifier.WebhookPayload)(JSON.parse(webhook.received[0]!.body))
      assert.strictEqual(payload.id, Number(rows[0]!.id))
      assert.deepStrictEqual(payload.alert, alert)
    }).pipe(Effect.scoped, withStore)
  )

  it.live("without notifiers, stores only: not sent, no error", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      const box = yield* outbox("none")
      yield* box.offer(makeAlert(exchange, "QUIETUSDT", 0))
      yield* box.offer(makeAlert(exchange, "QUIETUSDT", 1))
      yield* drained(box)
      const rows = yield* rowsOf("QUIETUSDT")
      assert.deepStrictEqual(
        rows.map((r) => [r.notification_sent, r.notification_error]),
        [
          [false, null],
          [false, null]
        ]
      )
    }).pipe(Effect.scoped, withStore)
  )

  it.live("retries after two 500s, then succeeds", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      const server = yield* receiver((_, i) => (i < 2 ? { status: 500, body: "oops" } : { status: 204 }))
      const box = yield* outbox({ discordWebhookUrls: [], jsonWebhookUrls: [server.url] })
      yield* box.offer(makeAlert(exchange, "RETRYUSDT", 0))
      yield* drained(box)
      assert.strictEqual(server.received.length, 3)
      const rows = yield* rowsOf("RETRYUSDT")
      assert.isTrue(rows[0]!.notification_sent)
      assert.isNull(rows[0]!.notification_error)
    }).pipe(Effect.scoped, withStore)
  )

  it.live("a 429 with retry_after is honoured before the next attempt", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      const server = yield* receiver((_, i) =>
        i === 0
          ? {
              status: 429,
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ message: "You are being rate limited.", retry_after: 0.3, global: false })
            }
          : { status: 204 }
      )
      const box = yield* outbox({ discordWebhookUrls: [server.url], jsonWebhookUrls: [] })
      yield* box.offer(makeAlert(exchange, "LIMITUSDT", 0))
      yield* drained(box)
      assert.strictEqual(server.received.length, 2)
      // The back-off alone would be about 10 ms.
      assert.isAtLeast(server.received[1]!.at - server.received[0]!.at, 290)
      assert.isTrue((yield* rowsOf("LIMITUSDT"))[0]!.notification_sent)
    }).pipe(Effect.scoped, withStore)
  )

  it.live("a 400 is not retried and is recorded as the notification error, with the other notifier's success", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      const bad = yield* receiver(() => ({ status: 400, body: "bad payload" }))
      const good = yield* receiver()
      const box = yield* outbox({ discordWebhookUrls: [good.url], jsonWebhookUrls: [bad.url] })
      yield* box.offer(makeAlert(exchange, "BADUSDT", 0))
      yield* drained(box)
      assert.strictEqual(bad.received.length, 1)
      assert.strictEqual(good.received.length, 1)
      const rows = yield* rowsOf("BADUSDT")
      assert.isFalse(rows[0]!.notification_sent)
      assert.strictEqual(rows[0]!.notification_error, "webhook: HTTP 400: bad payload")
    }).pipe(Effect.scoped, withStore)
  )

  it.live("retryable failures are recorded once the attempts run out", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      const server = yield* receiver(() => ({ status: 503 }))
      const box = yield* outbox(
        { discordWebhookUrls: [server.url], jsonWebhookUrls: [server.url] },
        { retry: { attempts: 3, base: "5 millis", cap: "20 millis" } }
      )
      yield* box.offer(makeAlert(exchange, "DOWNUSDT", 0))
      yield* drained(box)
      assert.strictEqual(server.received.length, 6)
      assert.strictEqual((yield* rowsOf("DOWNUSDT"))[0]!.notification_error, "discord: HTTP 503; webhook: HTTP 503")
    }).pipe(Effect.scoped, withStore)
  )

  it.live("a webhook that hangs does not delay storing of later alerts", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      const server = yield* receiver(() => "hang")
      const box = yield* outbox(
        { discordWebhookUrls: [server.url], jsonWebhookUrls: [], timeout: "30 seconds" },
        { retry: fastRetry, shutdownTimeout: "1 second" }
      )
      yield* box.offer(makeAlert(exchange, "HANGUSDT", 0))
      yield* eventually(Effect.sync(() => server.hanging() === 1))
      for (let i = 1; i <= 10; i++) yield* box.offer(makeAlert(exchange, "HANGUSDT", i))
      yield* eventually(Effect.map(rowsOf("HANGUSDT"), (rows) => rows.length === 11))
      // Every row stored while the first request is still unanswered; the others wait for delivery slots.
      assert.isAtLeast(server.hanging(), 1)
      const rows = yield* rowsOf("HANGUSDT")
      assert.isTrue(rows.every((r) => !r.notification_sent && r.notification_error === null))
    }).pipe(Effect.scoped, withStore)
  )

  it.live("the flood breaker suppresses the 16th alert of a series within 3 minutes, which is still stored", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      const server = yield* receiver()
      const box = yield* outbox({ discordWebhookUrls: [], jsonWebhookUrls: [server.url] })
      // Sixteen alerts of one series fired a second apart (the breaker measures the alerts' own firing times).
      for (let i = 0; i < 16; i++) yield* box.offer(makeAlert(exchange, "FLOODUSDT", i, { triggeredAt: T0 + i * 1_000 }))
      // Another series is not affected.
      yield* box.offer(makeAlert(exchange, "FLOODUSDT", 0, { timeframe: "15m", triggeredAt: T0 }))
      yield* drained(box)

      const rows = yield* rowsOf("FLOODUSDT")
      assert.strictEqual(rows.length, 17)
      assert.strictEqual(server.received.length, 16)
      const suppressed = rows.filter((r) => r.notification_error !== null)
      assert.strictEqual(suppressed.length, 1)
      assert.strictEqual(Number(suppressed[0]!.candle_open_time), T0 + 15 * FIVE_MINUTES)
      assert.strictEqual(
        suppressed[0]!.notification_error,
        "suppressed by the flood breaker: more than 15 alerts for FLOODUSDT 5m in 3 minutes"
      )
      assert.isFalse(suppressed[0]!.notification_sent)
      assert.strictEqual(rows.filter((r) => r.notification_sent).length, 16)
    }).pipe(Effect.scoped, withStore)
  )

  it.live("as many alerts spread over more than the window are all delivered", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      const server = yield* receiver()
      const box = yield* outbox({ discordWebhookUrls: [], jsonWebhookUrls: [server.url] })
      // One per five minutes of firing time, however fast they are offered (a replay, a fast simulator).
      for (let i = 0; i < 20; i++) yield* box.offer(makeAlert(exchange, "CALMUSDT", i))
      yield* drained(box)
      assert.strictEqual(server.received.length, 20)
      assert.isTrue((yield* rowsOf("CALMUSDT")).every((r) => r.notification_sent))
    }).pipe(Effect.scoped, withStore)
  )

  it.live("a duplicate offer is stored once and delivered once", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      const server = yield* receiver()
      const box = yield* outbox({ discordWebhookUrls: [server.url], jsonWebhookUrls: [] })
      const alert = makeAlert(exchange, "TWICEUSDT", 0)
      yield* box.offer(alert)
      // The same key (exchange, symbol, timeframe, label, open time), even with other values, is the same alert.
      yield* box.offer(new Alert.Alert({ ...alert, value: -999 }))
      yield* drained(box)
      yield* box.offer(alert)
      yield* drained(box)
      assert.strictEqual((yield* rowsOf("TWICEUSDT")).length, 1)
      assert.strictEqual(server.received.length, 1)
    }).pipe(Effect.scoped, withStore)
  )

  it.live("storing outlasts database failures: retried with back-off, each failure logged, nothing lost", () => {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    return Effect.gen(function* () {
      const exchange = yield* binance
      const flaky = flakyRepo(3)
      const server = yield* receiver()
      const context = yield* Layer.build(
        AlertOutbox.layer({ retry: { base: "10 millis", cap: "40 millis" } }).pipe(
          Layer.provide(
            Notifier.Notifiers.layer({ discordWebhookUrls: [], jsonWebhookUrls: [server.url] }).pipe(
              Layer.provide(FetchHttpClient.layer)
            )
          ),
          Layer.provide(flaky)
        )
      )
      const box = Context.get(context, AlertOutbox.AlertOutbox)
      yield* box.offer(makeAlert(exchange, "FLAKYUSDT", 0))
      yield* box.offer(makeAlert(exchange, "FLAKYUSDT", 1))
      yield* drained(box)

      const rows = yield* rowsOf("FLAKYUSDT")
      assert.deepStrictEqual(
        rows.map((r) => r.notification_sent),
        [true, true]
      )
      assert.strictEqual(server.received.length, 2)
      const storing = warnings.filter((w) => w.startsWith("Storing the alert failed"))
      assert.strictEqual(storing.length, 3)
      assert.include(storing[2]!, "(3 so far)")
    }).pipe(Effect.scoped, Effect.provide(Logger.replace(Logger.defaultLogger, logger)), withStore)
  })

  it.live("closing the layer waits for offered alerts to be stored", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      yield* Effect.scoped(
        Effect.gen(function* () {
          const context = yield* Layer.build(
            AlertOutbox.layer({ retry: { base: "50 millis", cap: "100 millis" } }).pipe(
              Layer.provide(Notifier.Notifiers.none),
              Layer.provide(flakyRepo(3))
            )
          )
          const box = Context.get(context, AlertOutbox.AlertOutbox)
          for (let i = 0; i < 3; i++) yield* box.offer(makeAlert(exchange, "CLOSINGUSDT", i))
        })
      )
      assert.strictEqual((yield* rowsOf("CLOSINGUSDT")).length, 3)
    }).pipe(withStore)
  )

  it.live("an alert the database rejects is dropped with an error log; later alerts are stored", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      const box = yield* outbox("none")
      const misaligned = new Alert.Alert({ ...makeAlert(exchange, "ODDUSDT", 0), candleOpenTime: T0 + 60_000 })
      yield* box.offer(misaligned)
      yield* box.offer(makeAlert(exchange, "ODDUSDT", 1))
      yield* drained(box)
      const rows = yield* rowsOf("ODDUSDT")
      assert.deepStrictEqual(
        rows.map((r) => Number(r.candle_open_time)),
        [T0 + FIVE_MINUTES]
      )
    }).pipe(Effect.scoped, withStore)
  )

  it.live("alerts stored but never delivered within the last hour are redelivered at start", () =>
    Effect.gen(function* () {
      const exchange = yield* binance
      const repo = yield* AlertsRepo.AlertsRepo
      const now = Date.now()
      const recent = (i: number) => makeAlert(exchange, "AGAINUSDT", i, { triggeredAt: now - 10 * 60_000 + i })
      const pending = [yield* repo.insertOnce(recent(0)), yield* repo.insertOnce(recent(1))]
      const failed = yield* repo.insertOnce(recent(2))
      yield* repo.markNotificationFailed(failed.id, "webhook: HTTP 400")
      const delivered = yield* repo.insertOnce(recent(3))
      yield* repo.markNotified(delivered.id)
      const old = yield* repo.insertOnce(makeAlert(exchange, "AGAINUSDT", 4, { triggeredAt: now - 2 * 3_600_000 }))

      const server = yield* receiver()
      const box = yield* outbox({ discordWebhookUrls: [], jsonWebhookUrls: [server.url] })
      yield* drained(box)

      const ids = server.received.map((r) => (JSON.parse(r.body) as { id: number }).id)
      assert.deepStrictEqual(
        ids,
        pending.map((p) => p.id)
      )
      for (const p of pending) assert.isTrue((yield* repo.byId(p.id)).notificationSent)
      const untouched = yield* repo.byId(old.id)
      assert.isFalse(untouched.notificationSent)
      assert.isTrue(Option.isNone(untouched.notificationError))
      assert.deepStrictEqual((yield* repo.byId(failed.id)).notificationError, Option.some("webhook: HTTP 400"))
    }).pipe(Effect.scoped, withStore)
  )

  it.live("rejects unusable options", () =>
    Effect.gen(function* () {
      const build = (options: AlertOutbox.Options) =>
        Effect.flip(Layer.build(AlertOutbox.layer(options))).pipe(
          Effect.scoped,
          Effect.provide(Notifier.Notifiers.none)
        )
      assert.strictEqual((yield* build({ retry: { attempts: 0 } })).message, "AlertOutbox: retry.attempts must be a positive integer, got 0")
      assert.strictEqual((yield* build({ concurrency: 1.5 }))._tag, "InvalidOutboxOptions")
      assert.include((yield* build({ breaker: { max: -1 } })).message, "breaker: AlertBreaker: max must be a positive integer")
      assert.strictEqual((yield* build({ retry: { base: "0 millis" } }))._tag, "InvalidOutboxOptions")
    }).pipe(Effect.scoped, withStore)
  )
})
