/**
 * The handlers of the public API: each reads the cache (candles, indicator records, statuses) and the public
 * catalog — never Postgres — and answers with whitelisted DTOs in the envelope. A cache failure becomes a 503
 * that says nothing about the backend; the detail goes to the log.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { CandleCache, type CacheError, IndicatorStore, PublicCatalog, StatusStore } from "@livermore/cache"
import { type Alert, Exchange, Market } from "@livermore/domain"
import { Context, Duration, Effect, Either, Layer, Option } from "effect"
import * as CandlePages from "./CandlePages.js"
import * as TtlMemo from "./internal/TtlMemo.js"
import { alertLimit, candleLimit, PublicApi, symbolLimit } from "./PublicApi.js"
import type * as Dto from "./PublicDto.js"
import { BadRequest, NotFound, Unavailable } from "./PublicErrors.js"
import * as Mapping from "./PublicMapping.js"
import { PublicApiConfig } from "./PublicApiConfig.js"
import * as Params from "./PublicParams.js"

/** Log the backend failure, answer 503 without its detail. */
const unavailable = (what: string) => (error: CacheError.CacheError) =>
  Effect.logWarning(`Public API: ${what} failed`, error.message).pipe(
    Effect.zipRight(Effect.fail(new Unavailable({ message: `${what} is temporarily unavailable; retry shortly` })))
  )

const page = <A>(data: ReadonlyArray<A>, cursor: string | null): { data: ReadonlyArray<A>; meta: Dto.Meta } => ({
  data,
  meta: { cursor, hasMore: cursor !== null, count: data.length }
})

/**
 * What the handlers share, built once: the services they read and the catalog lookups. The exchange and symbol
 * lists are read by nearly every request and change rarely, so each is reused for `PublicApiConfig.cacheTtl`.
 */
const make = Effect.gen(function* () {
  const catalog = yield* PublicCatalog.PublicCatalog
  const candles = yield* CandleCache.CandleCache
  const pages = yield* CandlePages.CandlePages
  const indicators = yield* IndicatorStore.IndicatorStore
  const statuses = yield* StatusStore.StatusStore
  const { cacheTtl } = yield* PublicApiConfig

  const ttl = { timeToLiveMs: Duration.toMillis(cacheTtl), capacity: 64 }
  const exchangeList = TtlMemo.make<ReadonlyArray<PublicCatalog.CatalogExchange>, Unavailable>(ttl)
  const readExchanges = () =>
    catalog.exchanges.pipe(
      Effect.map(Option.getOrElse(() => [] as ReadonlyArray<PublicCatalog.CatalogExchange>)),
      Effect.catchAll(unavailable("The exchange list"))
    )
  const exchangeRows = exchangeList.get("exchanges", readExchanges)

  /** The catalog row of the exchange named in a path among `rows`, or 404 naming where the list is. */
  const exchangeIn = (rows: ReadonlyArray<PublicCatalog.CatalogExchange>, name: string) =>
    Either.flatMap(Params.name(name, "exchange"), () => {
      const row = rows.find((e) => e.name === name)
      return row === undefined
        ? Either.left(new NotFound({ message: `No exchange named "${name}"; GET /public/v1/exchanges lists them` }))
        : Either.right(row)
    })

  /** The catalog row of the exchange named in a path, or 404 naming where the list is. */
  const exchangeNamed = (name: string) => Effect.flatMap(exchangeRows, (rows) => exchangeIn(rows, name))

  /** An exchange's symbols, in catalog order and by name. */
  interface SymbolList {
    readonly list: ReadonlyArray<PublicCatalog.CatalogSymbol>
    readonly byName: ReadonlyMap<string, PublicCatalog.CatalogSymbol>
  }
  const symbolMemo = TtlMemo.make<SymbolList, Unavailable>(ttl)
  const symbolLists = {
    get: (exchangeId: Exchange.ExchangeId) =>
      symbolMemo.get(String(exchangeId), () =>
        catalog.symbols(exchangeId).pipe(
          Effect.map(Option.getOrElse(() => [] as ReadonlyArray<PublicCatalog.CatalogSymbol>)),
          Effect.map((list) => ({ list, byName: new Map<string, PublicCatalog.CatalogSymbol>(list.map((s) => [s.symbol, s] as const)) })),
          Effect.catchAll(unavailable("The symbol list"))
        )
      )
  }
  const symbolsOf = (row: PublicCatalog.CatalogExchange) => Effect.map(symbolLists.get(row.id), ({ list }) => list)

  /** The symbol named in a path among `row`'s symbols, or 404. */
  const symbolIn = (row: PublicCatalog.CatalogExchange, symbols: SymbolList, symbol: string) => {
    const found = symbols.byName.get(symbol)
    return found === undefined
      ? Either.left(
          new NotFound({
            message: `${row.name} does not serve "${symbol}"; GET /public/v1/exchanges/${row.name}/symbols lists its symbols`
          })
        )
      : Either.right(found)
  }

  /** The symbol named in a path, served on `row`, or 404. */
  const symbolOn = (row: PublicCatalog.CatalogExchange, symbol: string) =>
    Effect.flatMap(Params.name(symbol, "symbol"), () =>
      Effect.flatMap(symbolLists.get(row.id), (symbols) => symbolIn(row, symbols, symbol))
    )

  /** A timeframe `row` serves, or 400 (not a timeframe) or 404 (not served there). */
  const timeframeIn = (row: PublicCatalog.CatalogExchange, value: string) =>
    Either.flatMap(Params.timeframe(value), (timeframe) =>
      row.timeframes.includes(timeframe)
        ? Either.right(timeframe)
        : Either.left(new NotFound({ message: `${row.name} does not serve the ${timeframe} timeframe` }))
    )

  return {
    catalog,
    candles,
    pages,
    indicators,
    statuses,
    exchangeRows,
    exchangeIn,
    exchangeNamed,
    symbolLists,
    symbolsOf,
    symbolIn,
    symbolOn,
    timeframeIn
  }
})

class Lookups extends Context.Tag("@livermore/public-api/PublicHandlers/Lookups")<
  Lookups,
  Effect.Effect.Success<typeof make>
>() {}

const gradeOrder = ["A", "B", "C", "D", "E"] as const

export const ExchangesLive = HttpApiBuilder.group(PublicApi, "exchanges", (handlers) =>
  Effect.gen(function* () {
    const ctx = yield* Lookups
    return handlers.handle("listExchanges", ({ request }) =>
      Effect.gen(function* () {
        yield* Params.onlyKnown(request, [])
        const rows = yield* ctx.exchangeRows
        const live = yield* ctx.statuses.list().pipe(Effect.catchAll(unavailable("Exchange status")))
        const data = rows.map((row) => Mapping.exchange(row, live.find((s) => s.exchangeId === row.id)))
        return page(data, null)
      })
    )
  })
)

export const SymbolsLive = HttpApiBuilder.group(PublicApi, "symbols", (handlers) =>
  Effect.gen(function* () {
    const ctx = yield* Lookups
    return handlers.handle("listSymbols", ({ path, urlParams, request }) =>
      Effect.gen(function* () {
        yield* Params.onlyKnown(request, ["grade", "limit", "cursor"])
        const row = yield* ctx.exchangeNamed(path.exchange)
        const grade = yield* Params.oneOf(urlParams.grade, "grade", gradeOrder)
        const limit = yield* Params.limit(urlParams.limit, symbolLimit.max, symbolLimit.fallback)
        const query = `${row.name}|${grade ?? ""}`
        const offset = (yield* Params.decodeCursor(urlParams.cursor, "symbols", query, "number")) ?? 0
        const worst = grade === undefined ? gradeOrder.length - 1 : gradeOrder.indexOf(grade)
        const eligible = (yield* ctx.symbolsOf(row)).filter((s) => gradeOrder.indexOf(s.liquidityGrade) <= worst)
        const slice = eligible.slice(offset, offset + limit)
        const next = offset + limit < eligible.length ? Params.encodeCursor("symbols", query, offset + limit) : null
        return page(slice.map(Mapping.symbol), next)
      })
    )
  })
)

const candleParams = ["from", "to", "limit", "cursor"]
type CandlesError = BadRequest | NotFound | Unavailable

export const CandlesLive = HttpApiBuilder.group(PublicApi, "candles", (handlers) =>
  Effect.gen(function* () {
    const ctx = yield* Lookups
    // The hot path: the checks are synchronous between the two catalog reads and the page (each a memo hit under
    // load), in the order the other endpoints check — names and exchange, timeframe, symbol, then the query.
    return handlers.handle("listCandles", ({ path, urlParams, request }) =>
      Effect.flatMap(ctx.exchangeRows, (rows): Effect.Effect<HttpServerResponse.HttpServerResponse, CandlesError> => {
        const checked = Either.gen(function* () {
          yield* Params.onlyKnown(request, candleParams)
          const row = yield* ctx.exchangeIn(rows, path.exchange)
          const timeframe = yield* ctx.timeframeIn(row, path.timeframe)
          yield* Params.name(path.symbol, "symbol")
          return { row, timeframe }
        })
        if (Either.isLeft(checked)) return Effect.fail(checked.left)
        const { row, timeframe } = checked.right
        return Effect.flatMap(ctx.symbolLists.get(row.id), (symbols): Effect.Effect<HttpServerResponse.HttpServerResponse, CandlesError> => {
          const page = Either.gen(function* () {
            yield* ctx.symbolIn(row, symbols, path.symbol)
            const { from, to } = yield* Params.range(urlParams)
            const limit = yield* Params.limit(urlParams.limit, candleLimit.max, candleLimit.fallback)
            const query = `${row.name}|${path.symbol}|${timeframe}|${from ?? ""}|${to ?? ""}`
            const before = yield* Params.decodeCursor(urlParams.cursor, "candles", query, "number")
            return {
              exchangeId: Exchange.ExchangeId.make(row.id),
              symbol: Market.SymbolId.make(path.symbol),
              timeframe,
              from: from ?? 0,
              upper: Math.min(to ?? Number.MAX_SAFE_INTEGER, before === undefined ? Number.MAX_SAFE_INTEGER : before - 1),
              limit,
              cursorQuery: query,
              cursor: (oldestOpenTime: number) => Params.encodeCursor("candles", query, oldestOpenTime)
            }
          })
          if (Either.isLeft(page)) return Effect.fail(page.left)
          return ctx.pages.get(page.right).pipe(
            Effect.catchAll(unavailable("Candle history")),
            // Already the encoded `CandlePage` (its type and encoding are the same; the contract tests decode it).
            Effect.map((body) => HttpServerResponse.uint8Array(body, { contentType: "application/json" }))
          )
        })
      })
    )
  })
)

export const SignalsLive = HttpApiBuilder.group(PublicApi, "signals", (handlers) =>
  Effect.gen(function* () {
    const ctx = yield* Lookups
    return handlers.handle("listSignals", ({ path, urlParams, request }) =>
      Effect.gen(function* () {
        yield* Params.onlyKnown(request, ["timeframe"])
        const row = yield* ctx.exchangeNamed(path.exchange)
        yield* ctx.symbolOn(row, path.symbol)
        const only = urlParams.timeframe === undefined ? undefined : yield* ctx.timeframeIn(row, urlParams.timeframe)
        const timeframes = only === undefined ? row.timeframes : [only]
        const exchangeId = Exchange.ExchangeId.make(row.id)
        const symbol = Market.SymbolId.make(path.symbol)
        const records = yield* ctx.indicators
          .getMany(
            timeframes.map((timeframe) => ({ exchangeId, symbol, timeframe })),
            Mapping.SignalSource
          )
          .pipe(Effect.catchAll(unavailable("Signals")))
        const data = timeframes.map((timeframe, i) =>
          Mapping.tradeSignal(row.name, path.symbol, timeframe, Option.getOrUndefined(records[i]!))
        )
        return page(data, null)
      })
    )
  })
)

export const AlertsLive = HttpApiBuilder.group(PublicApi, "alerts", (handlers) =>
  Effect.gen(function* () {
    const ctx = yield* Lookups
    return handlers.handle("listAlerts", ({ urlParams, request }) =>
      Effect.gen(function* () {
        yield* Params.onlyKnown(request, ["exchange", "symbol", "timeframe", "signalType", "direction", "from", "to", "limit", "cursor"])
        const exchange =
          urlParams.exchange === undefined ? undefined : (yield* ctx.exchangeNamed(urlParams.exchange)).name
        const symbol = urlParams.symbol === undefined ? undefined : yield* Params.name(urlParams.symbol, "symbol")
        const timeframe = yield* Params.optionalTimeframe(urlParams.timeframe)
        const signalType = yield* Params.oneOf(urlParams.signalType, "signalType", [
          "momentum_threshold",
          "momentum_reversal"
        ])
        const direction = yield* Params.oneOf(urlParams.direction, "direction", ["bullish", "bearish"])
        const { from, to } = yield* Params.range(urlParams)
        const limit = yield* Params.limit(urlParams.limit, alertLimit.max, alertLimit.fallback)
        const query = [exchange, symbol, timeframe, signalType, direction, from, to].map((v) => v ?? "").join("|")
        const before = yield* Params.decodeCursor(urlParams.cursor, "alerts", query, "string")
        if (before !== undefined && !/^\d{1,15}-\d{1,15}$/.test(before)) {
          return yield* new BadRequest({ message: "cursor does not point into the alert history" })
        }
        const matches = (alert: Alert.Alert): boolean =>
          (exchange === undefined || alert.exchangeName === exchange) &&
          (symbol === undefined || alert.symbol === symbol) &&
          (timeframe === undefined || alert.timeframe === timeframe) &&
          (signalType === undefined || Mapping.alertType(alert.label) === signalType) &&
          (direction === undefined || Mapping.alertDirection(alert.label) === direction) &&
          (from === undefined || alert.triggeredAt.epochMillis >= from) &&
          (to === undefined || alert.triggeredAt.epochMillis <= to)
        const found = yield* ctx.catalog
          .alertPage({ before, limit, matches })
          .pipe(Effect.catchAll(unavailable("Alert history")))
        const next = found.next === null ? null : Params.encodeCursor("alerts", query, found.next)
        return page(
          found.alerts.map((entry) => Mapping.alert(entry.id, entry.alert)),
          next
        )
      })
    )
  })
)

/** Every group's handlers. */
export const layer = Layer.mergeAll(ExchangesLive, SymbolsLive, CandlesLive, SignalsLive, AlertsLive).pipe(
  Layer.provide(Layer.effect(Lookups, make).pipe(Layer.provide(CandlePages.layer)))
)

