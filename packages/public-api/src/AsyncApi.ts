/**
 * The AsyncAPI 3.0 document of the public stream, generated from the message schemas (`StreamMessages`) with
 * `JSONSchema.make`, and its route `GET /public/v1/asyncapi.json` (public, like the OpenAPI document). The
 * server entry names the host the document was fetched from.
 */
import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, JSONSchema, Option, type Schema, SchemaAST } from "effect"
import * as Messages from "./StreamMessages.js"

export const asyncApiPath = "/public/v1/asyncapi.json"

const streamPath = "/public/v1/stream"

/** A message of the document: its key, which side sends it, what it is, what the server answers it with. */
interface MessageSpec {
  readonly key: string
  readonly from: "client" | "server"
  readonly summary: string
  readonly schema: Schema.Schema.Any
  readonly replies: ReadonlyArray<string>
}

const message = <A, I>(
  key: string,
  from: "client" | "server",
  summary: string,
  schema: Schema.Schema<A, I>,
  replies: ReadonlyArray<string> = []
): MessageSpec => ({ key, from, summary, schema: schema as Schema.Schema.Any, replies })

/** Every message, in the order a session meets them. */
export const messages: ReadonlyArray<MessageSpec> = [
  message("subscribe", "client", "Follow a topic", Messages.Subscribe, ["subscribed", "candleSnapshot", "signalSnapshot", "error"]),
  message("unsubscribe", "client", "Stop following a topic", Messages.Unsubscribe, ["unsubscribed", "error"]),
  message("clientPing", "client", "Ask whether the server is alive", Messages.ClientPing, ["serverPong"]),
  message("clientPong", "client", "Answer the server's ping", Messages.ClientPong),
  message("welcome", "server", "First message of a connection, with its limits", Messages.Welcome),
  message("subscribed", "server", "A subscription is in place", Messages.Subscribed),
  message("unsubscribed", "server", "A subscription ended", Messages.Unsubscribed),
  message("candleSnapshot", "server", "Recent closed candles of a subscribed topic", Messages.CandleSnapshot),
  message("candleUpdate", "server", "A candle of a subscribed topic closed", Messages.CandleUpdate),
  message("signalSnapshot", "server", "Current trade signals of a subscribed topic", Messages.SignalSnapshot),
  message("signalUpdate", "server", "The trade signals of a subscribed topic changed", Messages.SignalUpdate),
  message("serverPing", "server", "Heartbeat; expects a pong before the next one", Messages.ServerPing, ["clientPong"]),
  message("serverPong", "server", "Answer to a client's ping", Messages.ServerPong),
  message("error", "server", "A client message could not be acted on", Messages.ErrorMessage)
]

/** The example values a schema carries (its `examples` annotation). */
const examplesOf = (schema: Schema.Schema.Any): ReadonlyArray<unknown> =>
  Option.getOrElse(SchemaAST.getExamplesAnnotation(schema.ast), () => [])

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/**
 * Payload schemas: each message's JSON Schema (`JSONSchema.make`), its definitions moved to
 * `components.schemas` and their references rewritten to point there.
 */
const payloads = (): { readonly payload: Record<string, Json>; readonly schemas: Record<string, Json> } => {
  const payload: Record<string, Json> = {}
  const schemas: Record<string, Json> = {}
  for (const m of messages) {
    const made = JSONSchema.make(m.schema)
    const relocated = JSON.parse(JSON.stringify(made).replaceAll('"#/$defs/', '"#/components/schemas/')) as Record<
      string,
      Json
    >
    const { $schema: _meta, $defs, ...root } = relocated
    if ($defs !== undefined && $defs !== null && typeof $defs === "object" && !Array.isArray($defs)) {
      Object.assign(schemas, $defs)
    }
    payload[m.key] = root
  }
  return { payload, schemas }
}

const description = [
  "Live candles and generic trade signals from Livermore over one WebSocket, JSON text frames, one message per frame.",
  "",
  "**Auth**: the `X-API-Key` header, or (browsers cannot set headers on a WebSocket) the `api_key` query parameter: " +
    "`wss://host/public/v1/stream?api_key=…`. A missing, unknown or revoked key is refused before the upgrade with " +
    "HTTP 401 and `{ \"error\": { \"code\": \"unauthorized\", \"message\" } }`.",
  "",
  "**Topics**: `candles:{symbol}:{timeframe}` and `signals:{symbol}:{timeframe}`, optionally prefixed with the " +
    "exchange name (`binance:candles:BTCUSDT:1h`). The prefix may be left out only while the server serves exactly " +
    "one exchange (GET /public/v1/exchanges lists one); otherwise the subscription is refused with `exchange_required`. " +
    "Server messages always name the prefixed form.",
  "",
  "**Subscribing**: `subscribe` is answered by `subscribed`, then a snapshot with `seq` 0 (the latest 100 closed " +
    "candles, or the current signals), then each update with `seq` one more than the message before it. A jump in " +
    "`seq` means something was lost: send `subscribe` again for a fresh snapshot (seq restarts at 0). A snapshot may " +
    "also come again later (next seq) when the server itself may have missed updates; it replaces what the client holds. " +
    "Candle open times strictly increase within a topic. An `error` that names a topic means that topic is not subscribed.",
  "",
  "**Heartbeat**: the server sends `{\"type\":\"ping\"}` every `pingIntervalSeconds` (30 by default, given in `welcome`); " +
    "answer `{\"type\":\"pong\"}`. A connection that has not answered a ping when the next one is due is closed with 4000. " +
    "Clients may send `ping` too and get a `pong`.",
  "",
  "**Limits and close codes**: 4000 heartbeat timeout; 4008 slow consumer (more than `queueLimit` messages, 1000 by " +
    "default, waited for the client: it reads too slowly and is dropped rather than slowing others); 4029 too many " +
    "connections (a key may hold 5 concurrent connections across all servers; the next is accepted and closed at once " +
    "with 4029). At most 200 topics per connection. Malformed or unknown messages get an `error` message and the " +
    "connection stays open. 1001, 1005 or 1006 when a server stops: reconnect with back-off and subscribe again."
].join("\n")

/** The document, with a server entry for `host` (`host:port`) reached over `protocol`. */
export const document = (server: { readonly host: string; readonly protocol: "ws" | "wss" } = { host: "localhost:8080", protocol: "ws" }) => {
  const { payload, schemas } = payloads()
  const channelMessages: Record<string, Json> = {}
  const componentMessages: Record<string, Json> = {}
  for (const m of messages) {
    channelMessages[m.key] = { $ref: `#/components/messages/${m.key}` }
    componentMessages[m.key] = {
      name: m.key,
      title: m.key,
      summary: m.summary,
      contentType: "application/json",
      payload: payload[m.key] ?? null,
      examples: examplesOf(m.schema).map((example, i) => ({ name: `${m.key}${i + 1}`, payload: example as Json }))
    }
  }
  const ref = (key: string) => ({ $ref: `#/channels/stream/messages/${key}` })
  // The application described is the server: it receives what clients send and sends the rest.
  const operations: Record<string, Json> = {}
  for (const m of messages) {
    operations[m.key] = {
      action: m.from === "client" ? "receive" : "send",
      channel: { $ref: "#/channels/stream" },
      summary: m.summary,
      messages: [ref(m.key)],
      ...(m.replies.length === 0 ? {} : { reply: { channel: { $ref: "#/channels/stream" }, messages: m.replies.map(ref) } })
    }
  }
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Livermore public stream",
      version: "1.0.0",
      description
    },
    defaultContentType: "application/json",
    servers: {
      public: {
        host: server.host,
        protocol: server.protocol,
        description: "The server this document was fetched from",
        security: [
          { $ref: "#/components/securitySchemes/apiKeyHeader" },
          { $ref: "#/components/securitySchemes/apiKeyQuery" }
        ]
      }
    },
    channels: {
      stream: {
        address: streamPath,
        title: "Stream",
        description: "The one channel: every message of a connection, both ways.",
        messages: channelMessages,
        bindings: {
          ws: {
            method: "GET",
            headers: {
              type: "object",
              properties: { "X-API-Key": { type: "string", description: "Your API key (a UUID)" } }
            },
            query: {
              type: "object",
              properties: {
                api_key: { type: "string", description: "Your API key, for clients that cannot set headers (browsers)" }
              }
            },
            bindingVersion: "0.1.0"
          }
        }
      }
    },
    operations,
    components: {
      schemas,
      messages: componentMessages,
      securitySchemes: {
        apiKeyHeader: { type: "httpApiKey", name: "X-API-Key", in: "header", description: "Your API key (a UUID)" },
        apiKeyQuery: {
          type: "httpApiKey",
          name: "api_key",
          in: "query",
          description: "The same key as a query parameter, for browsers (which cannot set WebSocket headers)"
        }
      }
    },
    "x-close-codes": {
      "4000": "Heartbeat timeout: no pong to the last ping",
      "4008": "Slow consumer: more messages waited for the client than queueLimit",
      "4029": "Too many connections for this API key (across every server)"
    }
  }
}

/** `GET /public/v1/asyncapi.json`, its server entry naming the host it was asked on. */
export const route = HttpLayerRouter.add(
  "GET",
  asyncApiPath,
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const host = request.headers.host ?? "localhost"
    const forwarded = (request.headers["x-forwarded-proto"] ?? "").split(",")[0]?.trim()
    return HttpServerResponse.unsafeJson(document({ host, protocol: forwarded === "https" ? "wss" : "ws" }))
  })
)
