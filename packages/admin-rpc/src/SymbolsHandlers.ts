/**
 * The Symbols and Settings pages' procedures: an exchange's top N pool and the admin's watchlist with their metrics,
 * symbols checked against the exchange's current listing before they are added, and the settings document
 * validated by `UserSettings` before it is stored. Instances apply saved settings at their next `reload-settings`.
 */
import { type CacheError, CandleCache, StatusStore } from "@livermore/cache"
import { type Exchange, type Market, Timeframe, UserSettings } from "@livermore/domain"
import { ExchangeSymbolsRepo, ExchangesRepo, LiquidityGrade, type StoreError, UsersRepo } from "@livermore/store"
import { Array as Arr, Effect, Either, Option, Predicate } from "effect"
import { CurrentAdmin } from "./AdminAuth.js"
import {
  type CandlesCached,
  type CheckStatus,
  ListingUnavailable,
  PoolSymbol,
  SettingsDocument,
  SettingsInvalid,
  SymbolCheck,
  SymbolsRejected,
  WatchlistView
} from "./AdminRpcs.js"
import { ExchangeCatalog, type Listing } from "./ExchangeCatalog.js"
import { exchangeNamed as exchangeNamedIn, failed, symbolViewFields } from "./internal/handlerSupport.js"

/** What an admin may type for a symbol, reduced to letters and digits: `btc/usdt`, `BTC-USDT` and `btcusdt` meet. */
const looseKey = (text: string): string => text.toUpperCase().replace(/[^A-Z0-9]/g, "")

/** The exchange's spelling of `input`, if it lists it: an exact match first, then a loose one. */
const resolver = (listing: Listing) => {
  const exact = new Map<string, Market.SymbolId>(listing.products.map((p) => [p.symbol, p.symbol]))
  const loose = new Map<string, Market.SymbolId>()
  for (const p of listing.products) if (!loose.has(looseKey(p.symbol))) loose.set(looseKey(p.symbol), p.symbol)
  return (input: string): Market.SymbolId | undefined => {
    const trimmed = input.trim()
    return exact.get(trimmed) ?? exact.get(trimmed.toUpperCase()) ?? loose.get(looseKey(trimmed))
  }
}

const settingsIssues = (issues: ReadonlyArray<UserSettings.Issue>) =>
  new SettingsInvalid({
    issues,
    message: `The settings were not saved: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`
  })

export const make = Effect.gen(function* () {
  const exchanges = yield* ExchangesRepo.ExchangesRepo
  const users = yield* UsersRepo.UsersRepo
  const symbolsRepo = yield* ExchangeSymbolsRepo.ExchangeSymbolsRepo
  const candles = yield* CandleCache.CandleCache
  const statuses = yield* StatusStore.StatusStore
  const catalog = yield* ExchangeCatalog

  const exchangeNamed = (name: Exchange.ExchangeName) => exchangeNamedIn(exchanges, name)

  const listingOf = (name: Exchange.ExchangeName) =>
    catalog.listing(name).pipe(
      Effect.mapError((error) => new ListingUnavailable({ exchange: name, message: error.message }))
    )

  const cachedCounts = (exchangeId: Exchange.ExchangeId, symbol: Market.SymbolId) =>
    Effect.map(
      Effect.forEach(Timeframe.all, (timeframe) => candles.count({ exchangeId, symbol, timeframe }), { concurrency: 5 }),
      (counts): CandlesCached => Object.fromEntries(Timeframe.all.map((tf, i) => [tf, counts[i]!])) as CandlesCached
    )

  /** The signed-in admin's settings, decoded; a stored document that no longer validates is an error here. */
  const currentSettings = Effect.gen(function* () {
    const admin = yield* CurrentAdmin
    const user = yield* users.byId(admin.userId)
    return { userId: admin.userId, stored: user.settings, decoded: UserSettings.validate(user.settings) }
  })

  /** Check `inputs` against `listing`, given what is already followed; every input gets a row, in order. */
  const check = (
    exchangeId: Exchange.ExchangeId,
    listing: Listing,
    inputs: ReadonlyArray<string>,
    top: ReadonlySet<string>,
    watched: ReadonlySet<string>
  ) => {
    const resolve = resolver(listing)
    const ranked = new Map(listing.ranking.ranked.map((r) => [r.symbol as string, r]))
    const products = new Map(listing.products.map((p) => [p.symbol as string, p]))
    const seen = new Set<string>()
    return Effect.forEach(
      inputs,
      (input) => {
        const symbol = resolve(input)
        const status: CheckStatus =
          symbol === undefined
            ? "unknown"
            : seen.has(symbol)
              ? "repeated"
              : top.has(symbol)
                ? "top"
                : watched.has(symbol)
                  ? "watched"
                  : "new"
        if (symbol !== undefined) seen.add(symbol)
        const product = symbol === undefined ? undefined : products.get(symbol)
        const rank = symbol === undefined ? undefined : ranked.get(symbol)
        return Effect.map(
          symbol === undefined ? Effect.succeed(Option.none<CandlesCached>()) : Effect.asSome(cachedCounts(exchangeId, symbol)),
          (counts) =>
            new SymbolCheck({
              input,
              symbol: symbol ?? null,
              status,
              baseAsset: product?.baseAsset ?? null,
              quoteAsset: product?.quoteAsset ?? null,
              quoteVolume24h: rank?.quoteVolume ?? null,
              quoteVolumeUsd: rank?.quoteVolumeUsd ?? null,
              liquidityGrade: rank === undefined ? null : LiquidityGrade.fromQuoteVolumeUsd(rank.quoteVolumeUsd),
              candlesCached: Option.getOrElse(counts, () => emptyCounts)
            })
        )
      },
      { concurrency: 8 }
    )
  }

  const watchlistView = Effect.fn("AdminRpc.Watchlist")(function* (name: Exchange.ExchangeName) {
    const exchange = yield* exchangeNamed(name)
    const settings = yield* currentSettings
    const watchlist = Either.match(settings.decoded, {
      onLeft: () => [] as ReadonlyArray<Market.SymbolId>,
      onRight: (s) => s.watchlist[name] ?? []
    })
    const pool = yield* symbolsRepo.listByExchange(exchange.id, 1)
    const top = yield* Effect.forEach(
      pool,
      (row) =>
        Effect.map(
          cachedCounts(exchange.id, row.symbol),
          (candlesCached) =>
            new PoolSymbol({ ...symbolViewFields(row), candlesCached })
        ),
      { concurrency: 8 }
    )
    const status = yield* statuses.get(exchange.id)
    const listing = yield* Effect.either(listingOf(name))
    const checked = yield* Either.match(listing, {
      // The exchange cannot be asked: the watchlist still shows, unchecked, with what the cache holds.
      onLeft: () =>
        Effect.forEach(watchlist, (symbol) =>
          Effect.map(
            cachedCounts(exchange.id, symbol),
            (candlesCached) =>
              new SymbolCheck({
                input: symbol,
                symbol,
                status: "watched",
                baseAsset: null,
                quoteAsset: null,
                quoteVolume24h: null,
                quoteVolumeUsd: null,
                liquidityGrade: null,
                candlesCached
              })
          )
        ),
      onRight: (found) =>
        Effect.map(
          check(exchange.id, found, watchlist, new Set(top.map((t) => t.symbol)), new Set()),
          // On the watchlist itself, a listed symbol is "watched", whatever else it is.
          Arr.map((c) => (c.status === "new" ? new SymbolCheck({ ...c, status: "watched" }) : c))
        )
    })
    return new WatchlistView({
      exchange: name,
      top,
      watchlist: checked,
      followedBy: Option.getOrNull(Option.flatMap(status, (s) => Option.fromNullable(s.adminEmail))),
      listingError: Either.isLeft(listing) ? listing.left.message : null
    })
  })

  const checkSymbols = Effect.fn("AdminRpc.CheckSymbols")(function* (
    name: Exchange.ExchangeName,
    inputs: ReadonlyArray<string>
  ) {
    const exchange = yield* exchangeNamed(name)
    const listing = yield* listingOf(name)
    const settings = yield* currentSettings
    const watched = Either.match(settings.decoded, { onLeft: () => [], onRight: (s) => s.watchlist[name] ?? [] })
    const pool = yield* symbolsRepo.listByExchange(exchange.id, 1)
    return yield* check(exchange.id, listing, inputs, new Set(pool.map((p) => p.symbol)), new Set(watched))
  })

  const setWatchlist = Effect.fn("AdminRpc.SetWatchlist")(function* (
    name: Exchange.ExchangeName,
    symbols: ReadonlyArray<Market.SymbolId>
  ) {
    yield* exchangeNamed(name)
    const listing = yield* listingOf(name)
    const listed = new Set<string>(listing.products.map((p) => p.symbol))
    const unknown = symbols.filter((s) => !listed.has(s))
    if (unknown.length > 0) {
      return yield* new SymbolsRejected({
        exchange: name,
        unknown,
        message: `${name} does not list ${unknown.join(", ")}; the watchlist was not changed`
      })
    }
    const settings = yield* currentSettings
    if (Either.isLeft(settings.decoded)) return yield* settingsIssues(settings.decoded.left)
    const next = { ...UserSettings.encode(settings.decoded.right) }
    next.watchlist = { ...next.watchlist, [name]: [...symbols] }
    const decoded = UserSettings.validate(next)
    if (Either.isLeft(decoded)) return yield* settingsIssues(decoded.left)
    yield* users.setSettings(settings.userId, UserSettings.encode(decoded.right))
    yield* Effect.logInfo(`Watchlist of ${name} saved: ${symbols.length} symbols`)
    return yield* watchlistView(name)
  })

  const document = (stored: unknown) =>
    Either.match(UserSettings.validate(stored), {
      onLeft: (issues) => new SettingsDocument({ document: stored, issues }),
      onRight: (settings) => new SettingsDocument({ document: UserSettings.encode(settings), issues: [] })
    })

  const getSettings = Effect.map(currentSettings, (s) => document(s.stored)).pipe(Effect.withSpan("AdminRpc.GetSettings"))

  const saveSettings = Effect.fn("AdminRpc.SaveSettings")(function* (input: unknown) {
    const admin = yield* CurrentAdmin
    const decoded = UserSettings.validate(input)
    if (Either.isLeft(decoded)) return yield* settingsIssues(decoded.left)
    const saved = yield* users.setSettings(admin.userId, UserSettings.encode(decoded.right))
    yield* Effect.logInfo(`Settings of user ${admin.userId} saved`)
    return document(saved.settings)
  })

  /** Storage failures become `AdminRequestFailed` saying what failed; the typed domain errors pass through. */
  const storage = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>) =>
    Effect.catchIf(effect, isStorageError<E>, failed(what))

  return {
    Watchlist: ({ exchange }: { readonly exchange: Exchange.ExchangeName }) =>
      storage("reading the watchlist", watchlistView(exchange)),
    CheckSymbols: ({ exchange, symbols }: { readonly exchange: Exchange.ExchangeName; readonly symbols: ReadonlyArray<string> }) =>
      storage("checking the symbols", checkSymbols(exchange, symbols)),
    SetWatchlist: ({
      exchange,
      symbols
    }: { readonly exchange: Exchange.ExchangeName; readonly symbols: ReadonlyArray<Market.SymbolId> }) =>
      storage("saving the watchlist", setWatchlist(exchange, symbols)),
    GetSettings: () => storage("reading the settings", getSettings),
    SaveSettings: ({ document: input }: { readonly document: unknown }) => storage("saving the settings", saveSettings(input))
  }
})

type StorageError = StoreError.StoreError | StoreError.RecordNotFound | CacheError.CacheError

const isStorageError = <E>(error: E): error is Extract<E, StorageError> =>
  Predicate.isTagged(error, "StoreError") || Predicate.isTagged(error, "RecordNotFound") || Predicate.isTagged(error, "CacheError")

const emptyCounts: CandlesCached = { "5m": 0, "15m": 0, "1h": 0, "4h": 0, "1d": 0 }
