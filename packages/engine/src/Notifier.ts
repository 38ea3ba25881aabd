/**
 * Where stored alerts are delivered: a `Notifier` is one destination (a Discord-compatible webhook, or a webhook
 * receiving the alert as JSON); `Notifiers` is the configured set. Delivery here is one attempt, bounded by a
 * timeout; retries, back-off and recording the outcome are `AlertOutbox`'s.
 *
 * Webhook URLs carry their credentials (Discord's token is in the path), so no URL appears in an error, a log or
 * a stored `notification_error`: notifiers are named `discord`, `discord#2`, `webhook`, … instead.
 */
import { HttpClient, type HttpClientError, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Alert, Timeframe } from "@livermore/domain"
import type { AlertsRepo } from "@livermore/store"
import { Clock, Config, Context, Data, DateTime, Duration, Effect, Layer, Option, Schema } from "effect"
import type { ConfigError } from "effect/ConfigError"

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** Why a delivery attempt failed. */
export type NotifierFailure =
  /** The destination answered with a non-2xx status (429 is `RateLimited`). */
  | "Status"
  /** HTTP 429. */
  | "RateLimited"
  /** No answer: connection refused or reset, DNS, TLS. */
  | "Transport"
  /** No answer within the notifier's timeout. */
  | "Timeout"
  /** The request could not be built (the payload did not encode). */
  | "Encode"

/** One delivery attempt failed. `retryable` says whether trying again may succeed. */
export class NotifierError extends Data.TaggedError("NotifierError")<{
  /** The notifier's name (`discord`, `webhook#2`…); never its URL. */
  readonly notifier: string
  readonly reason: NotifierFailure
  /** 5xx, 408, 429, transport failures and timeouts: yes; other 4xx and encoding failures: no. */
  readonly retryable: boolean
  /** The HTTP status, when the destination answered. */
  readonly status: number | undefined
  /** How long the destination asked to wait before the next attempt (429's `retry_after` or `Retry-After`). */
  readonly retryAfter: Duration.Duration | undefined
  /** One line on what happened, without the notifier's name or URL. */
  readonly detail: string
  readonly cause?: unknown
}> {
  /** `<notifier>: <detail>`, the form stored as the alert's `notification_error`. */
  override get message(): string {
    return `${this.notifier}: ${this.detail}`
  }
}

/** A configured webhook URL is not an absolute http:// or https:// URL, or the timeout is not positive and finite. */
export class InvalidNotifierConfig extends Data.TaggedError("InvalidNotifierConfig")<{
  /** Which setting, e.g. `discordWebhookUrls[1]` (zero-based). */
  readonly setting: string
  /** Why, without the URL itself (it holds a credential). */
  readonly detail: string
}> {
  override get message(): string {
    return `Notifiers: ${this.setting} ${this.detail}`
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The port

/** A stored alert to deliver: `AlertsRepo.StoredAlert` fits. */
export interface Deliverable {
  /** The alert's `alert_history` id. */
  readonly id: AlertsRepo.AlertId
  readonly alert: Alert.Alert
}

/** One destination for alerts. */
export interface Notifier {
  /** A name for logs and the stored `notification_error`; never the URL. */
  readonly name: string
  /** Make one attempt to deliver `delivery`. Succeeds once the destination accepted it (2xx). */
  readonly deliver: (delivery: Deliverable) => Effect.Effect<void, NotifierError>
}

/** Settings of the webhook layer; `config` reads them from the environment. */
export interface NotifiersConfig {
  /** Discord (or Discord-compatible) webhook URLs, each getting a readable message per alert. */
  readonly discordWebhookUrls: ReadonlyArray<string>
  /** URLs receiving each alert as JSON (`WebhookPayload`). */
  readonly jsonWebhookUrls: ReadonlyArray<string>
  /** Bound on each request, from sending to the status line. Default 5 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** Default bound on one webhook request. */
export const defaultTimeout: Duration.Duration = Duration.seconds(5)

/** The configured destinations, in configuration order (Discord webhooks first); empty when none are configured. */
export class Notifiers extends Context.Tag("@livermore/engine/Notifiers")<Notifiers, ReadonlyArray<Notifier>>() {
  /** One notifier per configured URL, over the environment's `HttpClient`; fails on a URL that is not http(s). */
  static layer(config: NotifiersConfig): Layer.Layer<Notifiers, InvalidNotifierConfig, HttpClient.HttpClient> {
    return Layer.effect(Notifiers, make(config))
  }

  /** No destinations: alerts are stored, not delivered. */
  static readonly none: Layer.Layer<Notifiers> = Layer.succeed(Notifiers, [])
}

// ---------------------------------------------------------------------------------------------------------------
// Payloads

/** What `jsonWebhook` posts: the stored alert's id and the alert, encoded with `Alert.Alert`. */
export const WebhookPayload = Schema.Struct({
  id: Schema.Number,
  alert: Alert.Alert
}).annotations({ identifier: "WebhookPayload" })
export type WebhookPayload = typeof WebhookPayload.Type

/** One field of a Discord embed. */
export interface DiscordField {
  readonly name: string
  readonly value: string
  readonly inline: boolean
}

/** The body of a Discord webhook execution, as `discordWebhook` sends it. */
export interface DiscordPayload {
  readonly username: string
  readonly content: string
  readonly embeds: ReadonlyArray<{
    readonly title: string
    readonly description: string
    /** RGB as an integer. */
    readonly color: number
    readonly fields: ReadonlyArray<DiscordField>
    /** ISO 8601: when the alert was triggered. */
    readonly timestamp: string
  }>
}

/** Embed colours: rising (bullish) alerts green, falling (bearish) red. */
export const colors = { bullish: 0x2ecc71, bearish: 0xe74c3c } as const

/** What a label says, for humans, and which way it points. */
export const describeLabel = (
  label: Alert.AlertLabel
): { readonly text: string; readonly direction: "bullish" | "bearish" } => {
  if (label === "reversal_oversold") return { text: "reversal from oversold", direction: "bullish" }
  if (label === "reversal_overbought") return { text: "reversal from overbought", direction: "bearish" }
  const level = Alert.levelOf(label) ?? 0
  return level < 0
    ? { text: `crossed below ${level}`, direction: "bearish" }
    : { text: `crossed above +${level}`, direction: "bullish" }
}

const fixed2 = (n: number): string => n.toFixed(2)

/** The readable Discord message of an alert (domain.md §3's fields, with the exchange as the source). */
export const discordPayload = (delivery: Deliverable, username = "Livermore"): DiscordPayload => {
  const a = delivery.alert
  const { text, direction } = describeLabel(a.label)
  const values = Timeframe.all.flatMap((tf) => {
    const v = a.details.valuesByTimeframe[tf]
    return v === undefined ? [] : [`${tf}: ${fixed2(v)}`]
  })
  const candleOpen = new Date(a.candleOpenTime).toISOString()
  return {
    username,
    content: `**${a.symbol} ${a.timeframe}** ${a.label}: MACD-V ${fixed2(a.value)} at ${a.price} (${a.exchangeName})`,
    embeds: [
      {
        title: `${a.symbol} ${a.timeframe}: MACD-V ${text}`,
        description: `MACD-V ${fixed2(a.value)} at price ${a.price} on ${a.exchangeName}, bias ${a.details.bias}.`,
        color: colors[direction],
        fields: [
          { name: "Source", value: a.exchangeName, inline: true },
          { name: "Symbol", value: a.symbol, inline: true },
          { name: "Timeframe", value: a.timeframe, inline: true },
          { name: "Label", value: a.label, inline: true },
          { name: "MACD-V", value: fixed2(a.value), inline: true },
          { name: "Price", value: String(a.price), inline: true },
          { name: "Candle open", value: candleOpen, inline: false },
          { name: "Bias", value: a.details.bias, inline: true },
          { name: "MACD-V by timeframe", value: values.length === 0 ? "none yet" : values.join("\n"), inline: true }
        ],
        timestamp: DateTime.formatIso(a.triggeredAt)
      }
    ]
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Webhooks

/** Options of one webhook notifier. */
export interface WebhookOptions {
  /** Its name in logs and stored errors. Default `discord` or `webhook`. */
  readonly name?: string | undefined
  /** Bound on each request. Default 5 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** The setting the URL came from, named by `InvalidNotifierConfig`. Default: the name. */
  readonly setting?: string | undefined
}

/** Options of `discordWebhook`. */
export interface DiscordOptions extends WebhookOptions {
  /** The `username` the message is posted as. Default `Livermore`. */
  readonly username?: string | undefined
}

/** `url` as an http(s) URL, or why not (without echoing it). */
const checkUrl = (setting: string, url: string): Effect.Effect<URL, InvalidNotifierConfig> => {
  if (!URL.canParse(url.trim())) {
    return Effect.fail(new InvalidNotifierConfig({ setting, detail: "is not an absolute URL" }))
  }
  const parsed = new URL(url.trim())
  return parsed.protocol === "http:" || parsed.protocol === "https:"
    ? Effect.succeed(parsed)
    : Effect.fail(new InvalidNotifierConfig({ setting, detail: `must be http:// or https://, got ${parsed.protocol}//…` }))
}

const checkTimeout = (setting: string, input: Duration.DurationInput | undefined) => {
  const timeout = input === undefined ? Option.some(defaultTimeout) : Duration.decodeUnknown(input)
  return Option.isSome(timeout) && Duration.isFinite(timeout.value) && Duration.toMillis(timeout.value) > 0
    ? Effect.succeed(timeout.value)
    : Effect.fail(new InvalidNotifierConfig({ setting, detail: `must be positive and finite, got ${String(input)}` }))
}

const excerpt = (text: string): string => {
  const line = text.replace(/\s+/g, " ").trim()
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}

const RetryAfterBody = Schema.parseJson(Schema.Struct({ retry_after: Schema.Number.pipe(Schema.nonNegative()) }))

/**
 * The delay a 429 asks for: the JSON body's `retry_after` (seconds, as Discord sends it), else the `Retry-After`
 * header (seconds, or an HTTP date).
 */
const retryAfterOf = (body: string, header: string | undefined, nowMs: number): Duration.Duration | undefined => {
  const fromBody = Schema.decodeUnknownOption(RetryAfterBody)(body)
  if (Option.isSome(fromBody)) return Duration.millis(Math.ceil(fromBody.value.retry_after * 1000))
  if (header === undefined || header.trim() === "") return undefined
  const seconds = Number(header.trim())
  if (Number.isFinite(seconds) && seconds >= 0) return Duration.millis(Math.ceil(seconds * 1000))
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Duration.millis(Math.max(0, date - nowMs))
}

const describeTransport = (error: HttpClientError.HttpClientError): string => {
  // Not `error.message`: it names the URL. fetch says "fetch failed" and keeps the socket error one level down.
  const cause = error.cause instanceof Error ? error.cause : undefined
  const inner = cause?.cause instanceof Error ? `: ${cause.cause.message}` : ""
  return `${error.reason.toLowerCase()} error${cause ? `: ${cause.message}${inner}` : ""}`
}

/** One POST of `body` (JSON) to `url`: 2xx succeeds, anything else is a `NotifierError` classified by status. */
const post = (
  client: HttpClient.HttpClient,
  name: string,
  url: URL,
  timeout: Duration.Duration,
  body: string
): Effect.Effect<void, NotifierError> => {
  const fail = (
    reason: NotifierFailure,
    retryable: boolean,
    detail: string,
    extra: { readonly status?: number; readonly retryAfter?: Duration.Duration | undefined; readonly cause?: unknown } = {}
  ) =>
    new NotifierError({
      notifier: name,
      reason,
      retryable,
      status: extra.status,
      retryAfter: extra.retryAfter,
      detail,
      cause: extra.cause
    })

  const classify = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void, NotifierError> => {
    const status = response.status
    if (status >= 200 && status < 300) return Effect.void
    return Effect.gen(function* () {
      const text = yield* response.text.pipe(Effect.orElseSucceed(() => ""))
      const answer = text === "" ? "" : `: ${excerpt(text)}`
      if (status === 429) {
        const retryAfter = retryAfterOf(text, response.headers["retry-after"], yield* Clock.currentTimeMillis)
        const wait = retryAfter === undefined ? "" : `; retry after ${Duration.format(retryAfter)}`
        return yield* fail("RateLimited", true, `HTTP 429 (rate limited${wait})`, { status, retryAfter })
      }
      return yield* fail("Status", status === 408 || status >= 500, `HTTP ${status}${answer}`, { status })
    })
  }

  const request = HttpClientRequest.post(url).pipe(
    HttpClientRequest.setHeader("accept", "application/json"),
    HttpClientRequest.bodyText(body, "application/json")
  )
  return client.execute(request).pipe(
    Effect.mapError((error) =>
      error._tag === "RequestError" && error.reason !== "Transport"
        ? fail("Encode", false, describeTransport(error), { cause: error })
        : fail("Transport", true, describeTransport(error), { cause: error })
    ),
    Effect.flatMap(classify),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => fail("Timeout", true, `no answer within ${Duration.format(timeout)}`)
    })
  )
}

/** Encode `value` as JSON, or fail as a non-retryable `Encode` error. */
const encodeJson = <A, I>(name: string, schema: Schema.Schema<A, I>, value: A): Effect.Effect<string, NotifierError> =>
  Schema.encode(Schema.parseJson(schema))(value).pipe(
    Effect.mapError(
      (cause) =>
        new NotifierError({
          notifier: name,
          reason: "Encode",
          retryable: false,
          status: undefined,
          retryAfter: undefined,
          detail: `the payload did not encode: ${cause.message}`,
          cause
        })
    )
  )

/** A notifier POSTing `body(delivery)` to `url`, after checking the URL and the timeout. */
const webhook = (
  defaultName: string,
  url: string,
  options: WebhookOptions,
  body: (delivery: Deliverable, name: string) => Effect.Effect<string, NotifierError>
) =>
  Effect.gen(function* () {
    const name = options.name ?? defaultName
    const target = yield* checkUrl(options.setting ?? name, url)
    const timeout = yield* checkTimeout(`${name} timeout`, options.timeout)
    const client = yield* HttpClient.HttpClient
    const notifier: Notifier = {
      name,
      deliver: (delivery) =>
        body(delivery, name).pipe(
          Effect.flatMap((text) => post(client, name, target, timeout, text)),
          Effect.withSpan("Notifier.deliver", { attributes: { notifier: name, alertId: delivery.id } })
        )
    }
    return notifier
  })

/**
 * A Discord (or Discord-compatible) webhook: each alert is posted as `discordPayload` (a one-line `content` and an
 * embed with every field). A 429 is retryable and carries Discord's `retry_after`. Fails on a URL that is not
 * http(s).
 */
export const discordWebhook = Effect.fn("Notifier.discordWebhook")(function* (url: string, options: DiscordOptions = {}) {
  return yield* webhook("discord", url, options, (delivery) =>
    Effect.succeed(JSON.stringify(discordPayload(delivery, options.username)))
  )
})

/**
 * A webhook receiving each alert as JSON: `WebhookPayload` (`{ id, alert }`, the alert encoded with its Schema),
 * `content-type: application/json`. Fails on a URL that is not http(s).
 */
export const jsonWebhook = Effect.fn("Notifier.jsonWebhook")(function* (url: string, options: WebhookOptions = {}) {
  return yield* webhook("webhook", url, options, (delivery, name) =>
    encodeJson(name, WebhookPayload, { id: delivery.id, alert: delivery.alert })
  )
})

/** `kind`, `kind#2`, `kind#3`…: the name of the `index`th (zero-based) notifier of a kind. */
const nameOf = (kind: string, index: number): string => (index === 0 ? kind : `${kind}#${index + 1}`)

/** One notifier per URL of `config` (Discord first), validating every URL before any is used. */
export const make = Effect.fn("Notifier.make")(function* (config: NotifiersConfig) {
  const timeout = yield* checkTimeout("timeout", config.timeout)
  const discord = yield* Effect.forEach(config.discordWebhookUrls, (url, i) =>
    discordWebhook(url, { name: nameOf("discord", i), timeout, setting: `discordWebhookUrls[${i}]` })
  )
  const json = yield* Effect.forEach(config.jsonWebhookUrls, (url, i) =>
    jsonWebhook(url, { name: nameOf("webhook", i), timeout, setting: `jsonWebhookUrls[${i}]` })
  )
  const all: ReadonlyArray<Notifier> = [...discord, ...json]
  yield* Effect.logInfo(
    all.length === 0 ? "Notifiers: none configured; alerts are stored only" : `Notifiers: ${all.map((n) => n.name).join(", ")}`
  )
  return all
})

// ---------------------------------------------------------------------------------------------------------------
// Configuration

const urlList = (name: string, description: string) =>
  Config.array(Config.string(), name).pipe(
    Config.withDescription(description),
    Config.withDefault([] as ReadonlyArray<string>),
    Config.map((urls) => urls.map((url) => url.trim()).filter((url) => url !== ""))
  )

/**
 * The webhook settings from the environment (read when the config is run, in a layer or an app):
 * - `LIVERMORE_DISCORD_WEBHOOK_URLS`: comma-separated Discord webhook URLs; absent or empty: none.
 * - `LIVERMORE_WEBHOOK_URLS`: comma-separated JSON webhook URLs; absent or empty: none.
 */
export const config: Config.Config<NotifiersConfig> = Config.all({
  discordWebhookUrls: urlList("LIVERMORE_DISCORD_WEBHOOK_URLS", "Discord webhook URLs for alerts, comma-separated"),
  jsonWebhookUrls: urlList("LIVERMORE_WEBHOOK_URLS", "Webhook URLs receiving alerts as JSON, comma-separated")
})

/** `Notifiers.layer`, for `Notifier.layer(...)` through the barrel. */
export const layer = (config: NotifiersConfig): Layer.Layer<Notifiers, InvalidNotifierConfig, HttpClient.HttpClient> =>
  Notifiers.layer(config)

/** `Notifiers.none`: no destinations. */
export const layerNone: Layer.Layer<Notifiers> = Notifiers.none

/** `Notifiers.layer` over `config`. */
export const layerConfig: Layer.Layer<Notifiers, InvalidNotifierConfig | ConfigError, HttpClient.HttpClient> =
  Layer.unwrapEffect(Effect.map(config, Notifiers.layer))
