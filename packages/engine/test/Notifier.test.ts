/**
 * Notifier: the Discord and JSON webhooks against local HTTP servers on 127.0.0.1 (what they receive, how each
 * answer is classified), URL validation, the layer and the config reader.
 */
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Alert, Exchange, Market } from "@livermore/domain"
import type { AlertsRepo } from "@livermore/store"
import { ConfigProvider, DateTime, Duration, Effect, Layer, Schema } from "effect"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import * as Notifier from "../src/Notifier.js"

interface Received {
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

type Reply =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  | "hang"

/** A webhook receiver on 127.0.0.1: records each request and answers with `reply(request, index)`. */
const receiver = (reply: (request: Received, index: number) => Reply = () => ({ status: 204 })) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly received: Array<Received>; readonly close: () => void }>((resume) => {
      const received: Array<Received> = []
      const server = createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const entry: Received = {
            method: request.method ?? "",
            path: request.url ?? "",
            headers: request.headers,
            body: Buffer.concat(chunks).toString("utf8")
          }
          received.push(entry)
          const answer = reply(entry, received.length - 1)
          if (answer === "hang") return
          response.writeHead(answer.status, answer.headers).end(answer.body ?? "")
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(
          Effect.succeed({
            url: `http://127.0.0.1:${port}/api/webhooks/123/secret-token`,
            received,
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

const alert = new Alert.Alert({
  exchangeId: Exchange.ExchangeId.make(2),
  exchangeName: Exchange.ExchangeName.make("coinbase"),
  symbol: Market.SymbolId.make("BTC-USD"),
  timeframe: "1h",
  label: Alert.AlertLabel.make("level_-200"),
  value: -201.23456,
  price: 42_000.5,
  candleOpenTime: Date.UTC(2026, 0, 5, 10),
  triggeredAt: DateTime.unsafeMake(Date.UTC(2026, 0, 5, 11, 0, 1)),
  details: new Alert.AlertDetails({
    valuesByTimeframe: { "5m": -90.5, "1h": -201.23456, "4h": -160, "1d": 12 },
    bias: "bearish"
  })
})
const delivery = { id: 42 as AlertsRepo.AlertId, alert }

const provideHttp = Effect.provide(FetchHttpClient.layer)

const failureOf = (notifier: Notifier.Notifier) => Effect.flip(notifier.deliver(delivery))

describe("Notifier: Discord webhook", () => {
  it.scopedLive("posts a readable embed with every field of the alert", () =>
    Effect.gen(function* () {
      const server = yield* receiver()
      const discord = yield* Notifier.discordWebhook(server.url)
      yield* discord.deliver(delivery)

      assert.strictEqual(server.received.length, 1)
      const [request] = server.received
      assert.strictEqual(request!.method, "POST")
      assert.strictEqual(request!.path, "/api/webhooks/123/secret-token")
      assert.strictEqual(request!.headers["content-type"], "application/json")
      const body = JSON.parse(request!.body) as Notifier.DiscordPayload
      assert.strictEqual(body.username, "Livermore")
      assert.include(body.content, "BTC-USD 1h")
      assert.include(body.content, "coinbase")
      assert.strictEqual(body.embeds.length, 1)
      const embed = body.embeds[0]!
      assert.strictEqual(embed.title, "BTC-USD 1h: MACD-V crossed below -200")
      assert.include(embed.description, "-201.23")
      assert.strictEqual(embed.color, Notifier.colors.bearish)
      assert.strictEqual(embed.timestamp, "2026-01-05T11:00:01.000Z")
      const fields = Object.fromEntries(embed.fields.map((f) => [f.name, f.value]))
      assert.deepStrictEqual(fields, {
        Source: "coinbase",
        Symbol: "BTC-USD",
        Timeframe: "1h",
        Label: "level_-200",
        "MACD-V": "-201.23",
        Price: "42000.5",
        "Candle open": "2026-01-05T10:00:00.000Z",
        Bias: "bearish",
        "MACD-V by timeframe": "5m: -90.50\n1h: -201.23\n4h: -160.00\n1d: 12.00"
      })
    }).pipe(provideHttp)
  )

  it("labels read as directions, with matching colours", () => {
    const colorOf = (label: string) =>
      Notifier.discordPayload({ ...delivery, alert: new Alert.Alert({ ...alert, label: Alert.AlertLabel.make(label) }) })
        .embeds[0]!.color
    assert.deepStrictEqual(Notifier.describeLabel(Alert.AlertLabel.make("level_+150")), {
      text: "crossed above +150",
      direction: "bullish"
    })
    assert.strictEqual(colorOf("level_+150"), Notifier.colors.bullish)
    assert.strictEqual(colorOf("reversal_oversold"), Notifier.colors.bullish)
    assert.strictEqual(colorOf("reversal_overbought"), Notifier.colors.bearish)
  })

  it.scopedLive("429: retryable, with the body's retry_after (seconds)", () =>
    Effect.gen(function* () {
      const server = yield* receiver(() => ({
        status: 429,
        headers: { "content-type": "application/json", "retry-after": "9" },
        body: JSON.stringify({ message: "You are being rate limited.", retry_after: 1.5, global: false })
      }))
      const error = yield* failureOf(yield* Notifier.discordWebhook(server.url))
      assert.strictEqual(error.reason, "RateLimited")
      assert.isTrue(error.retryable)
      assert.strictEqual(error.status, 429)
      assert.strictEqual(Duration.toMillis(error.retryAfter!), 1500)
      assert.strictEqual(error.message, "discord: HTTP 429 (rate limited; retry after 1s 500ms)")
    }).pipe(provideHttp)
  )

  it.scopedLive("429 without a JSON body: the Retry-After header (seconds)", () =>
    Effect.gen(function* () {
      const server = yield* receiver(() => ({ status: 429, headers: { "retry-after": "2" }, body: "slow down" }))
      const error = yield* failureOf(yield* Notifier.discordWebhook(server.url))
      assert.strictEqual(Duration.toMillis(error.retryAfter!), 2000)
    }).pipe(provideHttp)
  )
})

describe("Notifier: JSON webhook", () => {
  it.scopedLive("posts { id, alert } with the alert encoded by its Schema; it decodes back", () =>
    Effect.gen(function* () {
      const server = yield* receiver(() => ({ status: 200, body: "ok" }))
      const webhook = yield* Notifier.jsonWebhook(server.url)
      yield* webhook.deliver(delivery)

      const [request] = server.received
      assert.strictEqual(request!.headers["content-type"], "application/json")
      const decoded = yield* Schema.decodeUnknown(Notifier.WebhookPayload)(JSON.parse(request!.body))
      assert.strictEqual(decoded.id, 42)
      assert.deepStrictEqual(decoded.alert, alert)
      assert.strictEqual((JSON.parse(request!.body) as { alert: { triggeredAt: string } }).alert.triggeredAt, "2026-01-05T11:00:01.000Z")
    }).pipe(provideHttp)
  )

  it.scopedLive("classifies answers: 5xx, 408 retryable; other 4xx not; the message never names the URL", () =>
    Effect.gen(function* () {
      const statuses = [500, 503, 408, 400, 404, 401]
      const server = yield* receiver((_, i) => ({ status: statuses[i]!, body: `answer ${statuses[i]}` }))
      const webhook = yield* Notifier.jsonWebhook(server.url)
      const errors = yield* Effect.forEach(statuses, () => failureOf(webhook))
      assert.deepStrictEqual(
        errors.map((e) => [e.status, e.retryable, e.reason]),
        [
          [500, true, "Status"],
          [503, true, "Status"],
          [408, true, "Status"],
          [400, false, "Status"],
          [404, false, "Status"],
          [401, false, "Status"]
        ]
      )
      assert.strictEqual(errors[3]!.message, "webhook: HTTP 400: answer 400")
      assert.isTrue(errors.every((e) => !e.message.includes("secret-token") && !e.message.includes("127.0.0.1:")))
    }).pipe(provideHttp)
  )

  it.scopedLive("no answer within the timeout: a retryable Timeout", () =>
    Effect.gen(function* () {
      const server = yield* receiver(() => "hang")
      const webhook = yield* Notifier.jsonWebhook(server.url, { timeout: "150 millis" })
      const started = Date.now()
      const error = yield* failureOf(webhook)
      assert.isBelow(Date.now() - started, 2_000)
      assert.deepStrictEqual([error.reason, error.retryable, error.status], ["Timeout", true, undefined])
      assert.strictEqual(error.message, "webhook: no answer within 150ms")
    }).pipe(provideHttp)
  )

  it.scopedLive("connection refused: a retryable Transport error", () =>
    Effect.gen(function* () {
      const server = yield* receiver()
      const url = server.url
      server.close()
      const error = yield* failureOf(yield* Notifier.jsonWebhook(url))
      assert.deepStrictEqual([error.reason, error.retryable], ["Transport", true])
      assert.notInclude(error.message, "secret-token")
    }).pipe(provideHttp)
  )
})

describe("Notifier: layer and config", () => {
  it.effect("one notifier per URL, Discord first, named by kind", () =>
    Effect.gen(function* () {
      const notifiers = yield* Notifier.Notifiers
      assert.deepStrictEqual(
        notifiers.map((n) => n.name),
        ["discord", "discord#2", "webhook"]
      )
    }).pipe(
      Effect.provide(
        Notifier.Notifiers.layer({
          discordWebhookUrls: ["https://discord.com/api/webhooks/1/a", "http://127.0.0.1:1/hook"],
          jsonWebhookUrls: ["https://example.com/alerts"]
        }).pipe(Layer.provide(FetchHttpClient.layer))
      )
    )
  )

  it.effect("a URL that is not http(s) fails the layer with InvalidNotifierConfig, without echoing it", () =>
    Effect.gen(function* () {
      const build = (config: Notifier.NotifiersConfig) =>
        Effect.flip(Layer.build(Notifier.Notifiers.layer(config))).pipe(Effect.scoped, provideHttp)
      const ftp = yield* build({ discordWebhookUrls: [], jsonWebhookUrls: ["https://ok.example", "ftp://secret@host/x"] })
      assert.strictEqual(ftp._tag, "InvalidNotifierConfig")
      assert.strictEqual(ftp.setting, "jsonWebhookUrls[1]")
      assert.strictEqual(ftp.message, "Notifiers: jsonWebhookUrls[1] must be http:// or https://, got ftp://…")
      const relative = yield* build({ discordWebhookUrls: ["discord.com/api/webhooks/1/secret"], jsonWebhookUrls: [] })
      assert.strictEqual(relative.message, "Notifiers: discordWebhookUrls[0] is not an absolute URL")
      const timeout = yield* build({ discordWebhookUrls: ["https://a.example"], jsonWebhookUrls: [], timeout: "0 millis" })
      assert.strictEqual(timeout.message, "Notifiers: timeout must be positive and finite, got 0 millis")
    })
  )

  it.effect("Notifiers.none is empty", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* Notifier.Notifiers, [])
    }).pipe(Effect.provide(Notifier.Notifiers.none))
  )

  it.effect("config reads comma-separated lists; absent or blank means none", () =>
    Effect.gen(function* () {
      const read = (env: Record<string, string>) =>
        Effect.withConfigProvider(Notifier.config, ConfigProvider.fromMap(new Map(Object.entries(env))))
      assert.deepStrictEqual(yield* read({}), { discordWebhookUrls: [], jsonWebhookUrls: [] })
      assert.deepStrictEqual(
        yield* read({
          LIVERMORE_DISCORD_WEBHOOK_URLS: "https://discord.com/api/webhooks/1/a, https://discord.com/api/webhooks/2/b",
          LIVERMORE_WEBHOOK_URLS: ""
        }),
        {
          discordWebhookUrls: ["https://discord.com/api/webhooks/1/a", "https://discord.com/api/webhooks/2/b"],
          jsonWebhookUrls: []
        }
      )
      assert.deepStrictEqual((yield* read({ LIVERMORE_WEBHOOK_URLS: "https://x.example/h" })).jsonWebhookUrls, [
        "https://x.example/h"
      ])
    })
  )
})
