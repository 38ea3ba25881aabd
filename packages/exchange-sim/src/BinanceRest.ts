/**
 * Binance spot REST market data (`/api/v3/...`): klines, exchangeInfo, ticker/24hr, time and ping, with
 * request weights, `X-MBX-USED-WEIGHT-1M`, 429/418 + `Retry-After`, and errors as `{"code","msg"}` (exchanges.md §1.5–1.6).
 */
import * as Hash from "./internal/hash.js"
import { json, type Reply, type RestRequest, withHeaders } from "./internal/http.js"
import type { Interval } from "./Intervals.js"
import * as Intervals from "./Intervals.js"
import type { Bar, Market, SimSymbol } from "./Market.js"
import * as M from "./Market.js"
import type { BinanceWeights } from "./RateLimits.js"
import type { SimClock } from "./SimClock.js"
import type { Stats } from "./Stats.js"

/** What the Binance REST codec needs from the server. */
export interface BinanceRestContext {
  readonly market: Market
  readonly clock: SimClock
  readonly weights: BinanceWeights
  readonly stats: Stats
  /** Wall-clock ms (rate limits run in real time). */
  readonly realNow: () => number
  /** Whether this request should fail with an injected 500 (`restErrorRate` fault). */
  readonly injectError: () => boolean
  /** REQUEST_WEIGHT limit and window as published in exchangeInfo. */
  readonly weightPerMinute: number
  readonly weightWindowMs: number
}

/** Binance writes prices and quantities with 8 decimals. */
const WIDTH = 8

/** A Binance API error (HTTP 400 unless said otherwise). */
class ApiError {
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly status = 400
  ) {}
}

const LONG = /^-?[0-9]{1,20}$/
const SYMBOL = /^[A-Z0-9-_.]{1,20}$/

const illegal = (name: string, range: string) =>
  new ApiError(-1100, `Illegal characters found in parameter '${name}'; legal range is '${range}'.`)
const mandatory = (name: string) =>
  new ApiError(-1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`)
const invalidSymbol = () => new ApiError(-1121, "Invalid symbol.")

/** Query parameters, checked for duplicates and for names the endpoint does not read. */
const readParams = (query: URLSearchParams, allowed: ReadonlyArray<string>): Map<string, string> => {
  const out = new Map<string, string>()
  let sent = 0
  for (const [key, value] of query) {
    sent++
    if (out.has(key)) throw new ApiError(-1101, "Duplicate values for a parameter detected.")
    out.set(key, value)
  }
  const read = [...out.keys()].filter((k) => allowed.includes(k)).length
  if (read !== sent) {
    throw new ApiError(-1104, `Not all sent parameters were read; read '${read}' parameter(s) but was sent '${sent}'.`)
  }
  return out
}

const long = (params: Map<string, string>, name: string): number | undefined => {
  const raw = params.get(name)
  if (raw === undefined) return undefined
  if (!LONG.test(raw)) throw illegal(name, "^(-)?[0-9]{1,20}$")
  return Number(raw)
}

const symbolParam = (market: Market, raw: string): SimSymbol => {
  if (!SYMBOL.test(raw)) throw illegal("symbol", "^[A-Z0-9-_.]{1,20}$")
  const s = market.bySymbol(raw)
  if (s === undefined) throw invalidSymbol()
  return s
}

const symbolsParam = (market: Market, raw: string): ReadonlyArray<SimSymbol> => {
  const range = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'
  let names: unknown
  try {
    names = JSON.parse(raw)
  } catch {
    throw illegal("symbols", range)
  }
  if (!Array.isArray(names) || names.length === 0) throw illegal("symbols", range)
  return names.map((name: unknown) => {
    if (typeof name !== "string" || !SYMBOL.test(name)) throw illegal("symbols", range)
    const s = market.bySymbol(name)
    if (s === undefined) throw invalidSymbol()
    return s
  })
}

const px = (s: SimSymbol, ticks: number): string => M.formatPrice(s, ticks, WIDTH)
const qty = (s: SimSymbol, units: number): string => M.formatVolume(s, units, WIDTH)
const quote = (units: number): string => M.formatQuote(units, WIDTH)

/** One kline row: open time, o, h, l, c, volume, close time, quote volume, trades, taker base, taker quote, "0". */
export const klineRow = (s: SimSymbol, bar: Bar): ReadonlyArray<string | number> => [
  bar.openTime,
  px(s, bar.open),
  px(s, bar.high),
  px(s, bar.low),
  px(s, bar.close),
  qty(s, bar.volume),
  bar.endTime - 1,
  quote(bar.quoteVolume),
  bar.trades,
  qty(s, bar.takerBaseVolume),
  quote(bar.takerQuoteVolume),
  "0"
]

const klines = (ctx: BinanceRestContext, query: URLSearchParams): Reply => {
  const params = readParams(query, ["symbol", "interval", "startTime", "endTime", "limit", "timeZone"])
  const rawSymbol = params.get("symbol")
  if (rawSymbol === undefined || rawSymbol === "") throw mandatory("symbol")
  if (!SYMBOL.test(rawSymbol)) throw illegal("symbol", "^[A-Z0-9-_.]{1,20}$")
  const rawInterval = params.get("interval")
  if (rawInterval === undefined || rawInterval === "") throw mandatory("interval")
  const startTime = long(params, "startTime")
  const endTime = long(params, "endTime")
  const rawLimit = params.get("limit")
  let limit = 500
  if (rawLimit !== undefined) {
    if (!/^-?[0-9]{1,10}$/.test(rawLimit)) throw illegal("limit", "^(-)?[0-9]{1,10}$")
    limit = Number(rawLimit)
    if (limit < 1 || limit > 1000) throw new ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
  }
  const timeZone = params.get("timeZone")
  // Only UTC is simulated: start/end are UTC either way, but other zones would shift daily buckets.
  if (timeZone !== undefined && !["0", "+0", "-0", "00:00", "+00:00", "-00:00", "UTC"].includes(timeZone)) {
    throw new ApiError(-1130, "Data sent for parameter 'timeZone' is not valid.")
  }
  const interval = Intervals.binance.get(rawInterval)
  if (interval === undefined) throw new ApiError(-1120, "Invalid interval.")
  const s = ctx.market.bySymbol(rawSymbol)
  if (s === undefined) throw invalidSymbol()
  if (startTime !== undefined && endTime !== undefined && startTime > endTime) {
    throw new ApiError(-1023, "Start time is greater than end time.")
  }
  const now = ctx.clock.now()
  const rows = select(ctx.market, s, interval, startTime, endTime, limit, now)
  return json(
    200,
    rows.map((bar) => klineRow(s, bar))
  )
}

/** The §1.5 window rules; inclusion is by open time. */
const select = (
  market: Market,
  s: SimSymbol,
  interval: Interval,
  startTime: number | undefined,
  endTime: number | undefined,
  limit: number,
  now: number
): ReadonlyArray<Bar> => {
  const to = endTime === undefined ? now : Math.min(endTime, now)
  if (startTime === undefined) return M.range(market, s, interval, Number.MIN_SAFE_INTEGER, to, now, limit, true)
  return M.range(market, s, interval, startTime, to, now, limit, false)
}

const exchangeInfo = (ctx: BinanceRestContext, query: URLSearchParams): Reply => {
  const params = readParams(query, ["symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"])
  const symbol = params.get("symbol")
  const symbolsRaw = params.get("symbols")
  const status = params.get("symbolStatus")
  if (symbol !== undefined && symbolsRaw !== undefined) {
    throw new ApiError(-1128, "Combination of optional parameters invalid.")
  }
  if (status !== undefined && !["TRADING", "HALT", "BREAK", "END_OF_DAY", "CANCEL_ONLY"].includes(status)) {
    throw new ApiError(-1122, "Invalid symbolStatus.")
  }
  let chosen: ReadonlyArray<SimSymbol> = ctx.market.symbols
  if (symbol !== undefined) chosen = [symbolParam(ctx.market, symbol)]
  if (symbolsRaw !== undefined) chosen = symbolsParam(ctx.market, symbolsRaw)
  // Every simulated symbol trades.
  if (status !== undefined && status !== "TRADING") chosen = []
  const window = ctx.weightWindowMs
  const [unit, unitMs] = window % 86_400_000 === 0 ? ["DAY", 86_400_000] : window % 60_000 === 0 ? ["MINUTE", 60_000] : ["SECOND", 1000]
  return json(200, {
    timezone: "UTC",
    serverTime: ctx.clock.now(),
    rateLimits: [
      {
        rateLimitType: "REQUEST_WEIGHT",
        interval: unit,
        intervalNum: Math.max(1, Math.round(window / unitMs)),
        limit: ctx.weightPerMinute
      },
      { rateLimitType: "ORDERS", interval: "SECOND", intervalNum: 10, limit: 100 },
      { rateLimitType: "ORDERS", interval: "DAY", intervalNum: 1, limit: 200_000 },
      { rateLimitType: "RAW_REQUESTS", interval: "MINUTE", intervalNum: 5, limit: 300_000 }
    ],
    exchangeFilters: [],
    symbols: chosen.map((s) => ({
      symbol: s.binance,
      status: "TRADING",
      baseAsset: s.base,
      baseAssetPrecision: 8,
      quoteAsset: s.binanceQuote,
      quotePrecision: 8,
      quoteAssetPrecision: 8,
      baseCommissionPrecision: 8,
      quoteCommissionPrecision: 8,
      orderTypes: ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
      icebergAllowed: true,
      ocoAllowed: true,
      otoAllowed: true,
      quoteOrderQtyMarketAllowed: true,
      allowTrailingStop: true,
      cancelReplaceAllowed: true,
      isSpotTradingAllowed: true,
      isMarginTradingAllowed: false,
      filters: [
        { filterType: "PRICE_FILTER", minPrice: px(s, 1), maxPrice: "1000000.00000000", tickSize: px(s, 1) },
        { filterType: "LOT_SIZE", minQty: qty(s, 1), maxQty: "9000000.00000000", stepSize: qty(s, 1) },
        {
          filterType: "NOTIONAL",
          minNotional: "5.00000000",
          applyMinToMarket: true,
          maxNotional: "9000000.00000000",
          applyMaxToMarket: false,
          avgPriceMins: 5
        }
      ],
      permissions: [],
      permissionSets: [["SPOT"]],
      defaultSelfTradePreventionMode: "EXPIRE_MAKER",
      allowedSelfTradePreventionModes: ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]
    }))
  })
}

/** Rolling 24 h ticker fields (FULL or MINI) for `s` at sim time `now`. */
export const ticker24h = (market: Market, s: SimSymbol, now: number, full: boolean): Record<string, unknown> => {
  const r = market.rolling24h(s, now)
  const mini = {
    symbol: s.binance,
    openPrice: px(s, r.open),
    highPrice: px(s, r.high),
    lowPrice: px(s, r.low),
    lastPrice: px(s, r.last),
    volume: qty(s, r.volume),
    quoteVolume: quote(r.quoteVolume),
    openTime: r.openTime,
    closeTime: r.closeTime,
    firstId: r.firstTradeId,
    lastId: r.lastTradeId,
    count: r.trades
  }
  if (!full) return mini
  const change = r.last - r.open
  const book = bookOf(market, s, now)
  return {
    symbol: s.binance,
    priceChange: px(s, change),
    priceChangePercent: r.open === 0 ? "0.000" : ((change / r.open) * 100).toFixed(3),
    weightedAvgPrice: px(s, r.volume === 0 ? r.last : Math.round((r.quoteVolume * 10 ** M.QUOTE_DECIMALS) / r.volume)),
    prevClosePrice: px(s, r.prevClose),
    lastPrice: px(s, r.last),
    lastQty: qty(s, book.lastQty),
    bidPrice: px(s, book.bid),
    bidQty: qty(s, book.bidQty),
    askPrice: px(s, book.ask),
    askQty: qty(s, book.askQty),
    openPrice: mini.openPrice,
    highPrice: mini.highPrice,
    lowPrice: mini.lowPrice,
    volume: mini.volume,
    quoteVolume: mini.quoteVolume,
    openTime: r.openTime,
    closeTime: r.closeTime,
    firstId: r.firstTradeId,
    lastId: r.lastTradeId,
    count: r.trades
  }
}

/** A one-tick-wide top of book around the last price, with sizes drawn per 10 s of sim time. */
export const bookOf = (
  market: Market,
  s: SimSymbol,
  now: number
): { readonly bid: number; readonly ask: number; readonly bidQty: number; readonly askQty: number; readonly lastQty: number } => {
  const last = market.rolling24h(s, now).last
  const step = Math.floor(now / 10_000)
  const size = (tag: number) =>
    Math.max(1, Math.round(10 ** (s.volumeDecimals + 1) * Hash.uniform(market.options.seed, s.index, 900 + tag, step) * 5))
  return { bid: Math.max(1, last - 1), ask: last + 1, bidQty: size(1), askQty: size(2), lastQty: size(3) }
}

const tickerWeight = (query: URLSearchParams): number => {
  if (query.has("symbol")) return 2
  const raw = query.get("symbols")
  if (raw === null) return 80
  let count = 0
  try {
    const parsed: unknown = JSON.parse(raw)
    count = Array.isArray(parsed) ? parsed.length : 0
  } catch {
    count = 0
  }
  return count <= 20 ? 2 : count <= 100 ? 40 : 80
}

const ticker = (ctx: BinanceRestContext, query: URLSearchParams): Reply => {
  const params = readParams(query, ["symbol", "symbols", "type"])
  const type = params.get("type") ?? "FULL"
  if (type !== "FULL" && type !== "MINI") throw new ApiError(-1130, "Data sent for parameter 'type' is not valid.")
  const symbol = params.get("symbol")
  const symbolsRaw = params.get("symbols")
  if (symbol !== undefined && symbolsRaw !== undefined) {
    throw new ApiError(-1128, "Combination of optional parameters invalid.")
  }
  const now = ctx.clock.now()
  const full = type === "FULL"
  if (symbol !== undefined) return json(200, ticker24h(ctx.market, symbolParam(ctx.market, symbol), now, full))
  const chosen = symbolsRaw === undefined ? ctx.market.symbols : symbolsParam(ctx.market, symbolsRaw)
  return json(
    200,
    chosen.map((s) => ticker24h(ctx.market, s, now, full))
  )
}

interface Route {
  readonly template: string
  readonly weight: (query: URLSearchParams) => number
  readonly handle: (ctx: BinanceRestContext, query: URLSearchParams) => Reply
}

const routeList: ReadonlyArray<Route> = [
    { template: "/api/v3/klines", weight: () => 2, handle: klines },
    { template: "/api/v3/exchangeInfo", weight: () => 20, handle: exchangeInfo },
    { template: "/api/v3/ticker/24hr", weight: tickerWeight, handle: ticker },
    {
      template: "/api/v3/time",
      weight: () => 1,
      handle: (ctx, query) => {
        readParams(query, [])
        return json(200, { serverTime: ctx.clock.now() })
      }
    },
    {
      template: "/api/v3/ping",
      weight: () => 1,
      handle: (_ctx, query) => {
        readParams(query, [])
        return json(200, {})
      }
    }
]

const routes: ReadonlyMap<string, Route> = new Map(routeList.map((r) => [r.template, r]))

/** Whether `path` belongs to the Binance REST surface. */
export const owns = (path: string): boolean => path.startsWith("/api/v3/") && !path.startsWith("/api/v3/brokerage/")

/** The stats key of a request: `"<METHOD> <template>"`. */
export const statsKey = (request: RestRequest): string => {
  const route = request.method === "GET" ? routes.get(request.path) : undefined
  return `${request.method} ${route?.template ?? "(unmatched)"}`
}

const apiError = (e: ApiError): Reply => json(e.status, { code: e.code, msg: e.msg })

/** Answer one Binance REST request: weight accounting, then the endpoint. */
export const handle = (ctx: BinanceRestContext, request: RestRequest): Reply => {
  const route = request.method === "GET" ? routes.get(request.path) : undefined
  const verdict = ctx.weights.check(ctx.realNow(), route?.weight(request.query) ?? 1)
  const weightHeader = { "X-MBX-USED-WEIGHT-1M": String(verdict.usedWeight) }
  if (verdict._tag === "Banned") {
    ctx.stats.banned++
    return json(
      418,
      { code: -1003, msg: `Way too much request weight used; IP banned until ${ctx.realNow() + verdict.retryAfterSeconds * 1000}. Please use WebSocket Streams for live updates to avoid bans.` },
      { ...weightHeader, "Retry-After": String(verdict.retryAfterSeconds) }
    )
  }
  if (verdict._tag === "RateLimited") {
    ctx.stats.rateLimited++
    return json(
      429,
      { code: -1003, msg: "Too much request weight used; current limit is " + `${ctx.weightPerMinute} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.` },
      { ...weightHeader, "Retry-After": String(verdict.retryAfterSeconds) }
    )
  }
  if (route === undefined) {
    return json(404, { code: -1000, msg: `Unknown endpoint ${request.method} ${request.path}.` }, weightHeader)
  }
  if (ctx.injectError()) {
    ctx.stats.restErrors++
    return json(500, { code: -1000, msg: "An unknown error occurred while processing the request." }, weightHeader)
  }
  try {
    return withHeaders(route.handle(ctx, request.query), weightHeader)
  } catch (e) {
    if (e instanceof ApiError) return withHeaders(apiError(e), weightHeader)
    throw e
  }
}
