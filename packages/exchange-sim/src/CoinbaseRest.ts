/**
 * Coinbase Advanced Trade public REST (`/api/v3/brokerage/market/...` and `/api/v3/brokerage/time`): products,
 * one product, candles (newest first, seconds as strings, empty buckets omitted, ≤ 350 per request), with
 * 10 requests/s per IP and errors as `{"error","error_details","message"}` (exchanges.md §2.5–2.7).
 */
import { json, type Reply, type RestRequest } from "./internal/http.js"
import * as Intervals from "./Intervals.js"
import type { Market, SimSymbol } from "./Market.js"
import * as M from "./Market.js"
import type { RequestsPerSecond } from "./RateLimits.js"
import type { SimClock } from "./SimClock.js"
import type { Stats } from "./Stats.js"

/** What the Coinbase REST codec needs from the server. */
export interface CoinbaseRestContext {
  readonly market: Market
  readonly clock: SimClock
  readonly limiter: RequestsPerSecond
  readonly stats: Stats
  readonly realNow: () => number
  readonly injectError: () => boolean
  /** Largest candle count per request (350). */
  readonly maxCandles: number
}

const PREFIX = "/api/v3/brokerage"
const PRODUCTS = `${PREFIX}/market/products`

class ApiError {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly message: string
  ) {}
}

const invalid = (message: string) => new ApiError(400, "INVALID_ARGUMENT", message)

const errorReply = (e: ApiError): Reply => json(e.status, { error: e.error, error_details: e.message, message: e.message })

const iso = (ms: number): string => new Date(ms).toISOString()

/** A product object of `/market/products`. */
export const product = (market: Market, s: SimSymbol, now: number): Record<string, unknown> => {
  const r = market.rolling24h(s, now)
  const tick = M.formatPrice(s, 1)
  const step = M.formatVolume(s, 1)
  const change = r.open === 0 ? 0 : ((r.last - r.open) / r.open) * 100
  return {
    product_id: s.coinbase,
    price: M.formatPrice(s, r.last),
    price_percentage_change_24h: change.toFixed(8),
    volume_24h: M.formatVolume(s, r.volume),
    volume_percentage_change_24h: "0",
    base_increment: step,
    quote_increment: tick,
    quote_min_size: "1",
    quote_max_size: "150000000",
    base_min_size: step,
    base_max_size: "100000000",
    base_name: s.base,
    quote_name: "US Dollar",
    watched: false,
    is_disabled: false,
    new: false,
    status: "online",
    cancel_only: false,
    limit_only: false,
    post_only: false,
    trading_disabled: false,
    auction_mode: false,
    product_type: "SPOT",
    quote_currency_id: s.coinbaseQuote,
    base_currency_id: s.base,
    fcm_trading_session_details: null,
    mid_market_price: "",
    alias: "",
    alias_to: [],
    base_display_symbol: s.base,
    quote_display_symbol: s.coinbaseQuote,
    view_only: false,
    price_increment: tick,
    display_name: `${s.base}-${s.coinbaseQuote}`,
    product_venue: "CBE",
    approximate_quote_24h_volume: M.formatQuote(r.quoteVolume),
    high_24h: M.formatPrice(s, r.high),
    low_24h: M.formatPrice(s, r.low),
    best_bid_price: "",
    best_ask_price: "",
    new_at: iso(s.listedAt)
  }
}

const nonNegativeInt = (raw: string | null, name: string): number | undefined => {
  if (raw === null) return undefined
  if (!/^[0-9]{1,15}$/.test(raw)) throw invalid(`invalid value for ${name}: "${raw}"`)
  return Number(raw)
}

const products = (ctx: CoinbaseRestContext, query: URLSearchParams): Reply => {
  const limit = nonNegativeInt(query.get("limit"), "limit")
  const offset = nonNegativeInt(query.get("offset"), "offset") ?? 0
  const type = query.get("product_type")
  if (type !== null && !["SPOT", "FUTURE", "UNKNOWN_PRODUCT_TYPE"].includes(type)) {
    throw invalid(`invalid value for enum field product_type: "${type}"`)
  }
  const ids = query.getAll("product_ids")
  let chosen: ReadonlyArray<SimSymbol> = type === "FUTURE" ? [] : ctx.market.symbols
  if (ids.length > 0) chosen = chosen.filter((s) => ids.includes(s.coinbase))
  const total = chosen.length
  const page = chosen.slice(offset, limit === undefined || limit === 0 ? undefined : offset + limit)
  const now = ctx.clock.now()
  return json(200, {
    products: page.map((s) => product(ctx.market, s, now)),
    num_products: total
  })
}

const productById = (ctx: CoinbaseRestContext, id: string): Reply => {
  const s = ctx.market.byProduct(id)
  if (s === undefined) throw new ApiError(404, "NOT_FOUND", `Product ${id} not supported`)
  return json(200, product(ctx.market, s, ctx.clock.now()))
}

const SECONDS = /^[0-9]{1,12}$/

const candles = (ctx: CoinbaseRestContext, id: string, query: URLSearchParams): Reply => {
  const s = ctx.market.byProduct(id)
  if (s === undefined) throw invalid("ProductID is invalid")
  const startRaw = query.get("start")
  const endRaw = query.get("end")
  if (startRaw === null || startRaw === "" || endRaw === null || endRaw === "") {
    throw invalid("start and end argument is invalid - both are required")
  }
  if (!SECONDS.test(startRaw)) throw invalid(`invalid value for start: "${startRaw}" (unix seconds expected)`)
  if (!SECONDS.test(endRaw)) throw invalid(`invalid value for end: "${endRaw}" (unix seconds expected)`)
  const granularity = query.get("granularity")
  if (granularity === null || granularity === "" || granularity === "UNKNOWN_GRANULARITY") {
    throw invalid("granularity argument is invalid - granularity is required")
  }
  const interval = Intervals.coinbase.get(granularity)
  if (interval === undefined) throw invalid(`invalid value for enum field granularity: "${granularity}"`)
  const limitRaw = query.get("limit")
  let limit = ctx.maxCandles
  if (limitRaw !== null) {
    if (!/^[0-9]{1,9}$/.test(limitRaw)) throw invalid(`invalid value for limit: "${limitRaw}"`)
    limit = Number(limitRaw)
    if (limit === 0) limit = ctx.maxCandles
    if (limit > ctx.maxCandles) throw invalid(`limit must be less than or equal to ${ctx.maxCandles}`)
  }
  const start = Number(startRaw) * 1000
  const end = Number(endRaw) * 1000
  if (start > end) throw invalid("start and end argument is invalid - start must be before end")
  // Bounds are inclusive by open time; a span that names more buckets than the limit is refused, not truncated.
  const requested = Math.max(0, Math.floor((Intervals.openTimeOf(interval, end) - Intervals.ceilOpenTime(interval, start)) / interval.ms) + 1)
  if (requested > limit) {
    throw invalid(`start and end argument is invalid - number of candles requested should be less than ${limit}`)
  }
  const now = ctx.clock.now()
  const bars = M.range(ctx.market, s, interval, start, end, now, limit, false)
  const out: Array<Record<string, string>> = []
  for (let i = bars.length - 1; i >= 0; i--) {
    const bar = bars[i]!
    // Coinbase publishes no candle for a bucket in which nothing traded.
    if (bar.trades === 0) continue
    out.push({
      start: String(bar.openTime / 1000),
      low: M.formatPrice(s, bar.low),
      high: M.formatPrice(s, bar.high),
      open: M.formatPrice(s, bar.open),
      close: M.formatPrice(s, bar.close),
      volume: M.formatVolume(s, bar.volume)
    })
  }
  return json(200, { candles: out })
}

const time = (ctx: CoinbaseRestContext): Reply => {
  const now = ctx.clock.now()
  return json(200, { iso: iso(now), epochSeconds: String(Math.floor(now / 1000)), epochMillis: String(now) })
}

const safeDecode = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

type Matched =
  | { readonly template: string; readonly run: (ctx: CoinbaseRestContext, query: URLSearchParams) => Reply }
  | undefined

const match = (request: RestRequest): Matched => {
  if (request.method !== "GET") return undefined
  const path = request.path
  if (path === `${PREFIX}/time`) return { template: `${PREFIX}/time`, run: (ctx) => time(ctx) }
  if (path === PRODUCTS) return { template: PRODUCTS, run: products }
  if (!path.startsWith(`${PRODUCTS}/`)) return undefined
  const rest = path.slice(PRODUCTS.length + 1).split("/")
  const id = safeDecode(rest[0] ?? "")
  if (id === "") return undefined
  if (rest.length === 1) return { template: `${PRODUCTS}/{product_id}`, run: (ctx) => productById(ctx, id) }
  if (rest.length === 2 && rest[1] === "candles") {
    return { template: `${PRODUCTS}/{product_id}/candles`, run: (ctx, query) => candles(ctx, id, query) }
  }
  return undefined
}

/** Whether `path` belongs to the Coinbase REST surface. */
export const owns = (path: string): boolean => path.startsWith(`${PREFIX}/`)

/** The stats key of a request: `"<METHOD> <template>"`. */
export const statsKey = (request: RestRequest): string => `${request.method} ${match(request)?.template ?? "(unmatched)"}`

/** Answer one Coinbase REST request: rate limit, then the endpoint. */
export const handle = (ctx: CoinbaseRestContext, request: RestRequest): Reply => {
  if (!ctx.limiter.allow(ctx.realNow())) {
    ctx.stats.rateLimited++
    return json(429, { error: "rate_limit_exceeded", error_details: "Too many requests", message: "Too many requests" })
  }
  const matched = match(request)
  if (matched === undefined) return errorReply(new ApiError(404, "NOT_FOUND", "Not Found"))
  if (ctx.injectError()) {
    ctx.stats.restErrors++
    return errorReply(new ApiError(500, "INTERNAL", "Internal error"))
  }
  try {
    return matched.run(ctx, request.query)
  } catch (e) {
    if (e instanceof ApiError) return errorReply(e)
    throw e
  }
}
