/**
 * Child process of `candles.ts`: the baseline — the least a Node server must do to answer the candles
 * endpoint from the same Redis key: a Fastify route, one ZREVRANGEBYSCORE … LIMIT on ioredis, JSON.parse of
 * each member, the public candle fields with ISO times, and the `{ data, meta }` envelope (with the same cursor).
 * No authentication, no rate limit, no catalog lookups, no schema validation. Same IPC protocol as the
 * Livermore server: sends `{ port }`, stops on `"stop"`.
 */
import Fastify from "fastify"
import { Redis } from "ioredis"
import { benchExchange, redisUrl } from "./common.js"

const prefix = process.argv[2]
if (prefix === undefined || process.send === undefined) {
  throw new Error("fastify-server.ts is started by candles.ts (a namespace argument and an IPC channel)")
}
const send = process.send.bind(process)

/** A cached candle member as `Candle.toJson` writes it. */
interface StoredCandle {
  readonly openTime: number
  readonly open: number
  readonly high: number
  readonly low: number
  readonly close: number
  readonly volume: number
  readonly closed: boolean
  readonly synthetic: boolean
}

interface Route {
  Params: { exchange: string; symbol: string; timeframe: string }
  Querystring: { limit?: string }
}

const exchangeIds = new Map<string, number>([[benchExchange.name, benchExchange.id]])
const redis = new Redis(redisUrl)
const app = Fastify({ logger: false })

app.get<Route>("/public/v1/exchanges/:exchange/candles/:symbol/:timeframe", async (request, reply) => {
  const { exchange, symbol, timeframe } = request.params
  const exchangeId = exchangeIds.get(exchange)
  if (exchangeId === undefined) {
    return reply.code(404).send({ error: { code: "not_found", message: "no such exchange" } })
  }
  const limit = request.query.limit === undefined ? 100 : Number(request.query.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    return reply.code(400).send({ error: { code: "bad_request", message: "limit must be an integer from 1 to 1000" } })
  }
  const members = await redis.zrevrangebyscore(
    `${prefix}candles:${exchangeId}:${symbol}:${timeframe}`,
    Number.MAX_SAFE_INTEGER,
    0,
    "LIMIT",
    0,
    limit + 1
  )
  const more = members.length > limit
  const newestFirst = (more ? members.slice(0, limit) : members).map((member) => JSON.parse(member) as StoredCandle)
  const candles = newestFirst.reverse()
  const cursor = more
    ? Buffer.from(
        JSON.stringify({ k: "candles", q: `${exchange}|${symbol}|${timeframe}||`, p: candles[0]!.openTime }),
        "utf8"
      ).toString("base64url")
    : null
  return {
    data: candles.map((c) => ({
      time: new Date(c.openTime).toISOString(),
      open: c.open,
      high: c.high,
      low: c.low,
      close: c.close,
      volume: c.volume,
      closed: c.closed,
      synthetic: c.synthetic
    })),
    meta: { cursor, hasMore: more, count: candles.length }
  }
})

await app.listen({ port: 0, host: "127.0.0.1" })
const address = app.server.address()
if (address === null || typeof address === "string") throw new Error("the server is not on TCP")
send({ port: address.port })

process.on("message", (message) => {
  if (message === "stop") {
    void app
      .close()
      .then(() => redis.quit())
      .finally(() => process.exit(0))
  }
})
