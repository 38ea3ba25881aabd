/**
 * The symbol universe of one exchange (domain.md §7): Tier 1 is the top N products by 24 h quote volume, the
 * shared pool kept in `exchange_symbols`; Tier 2 the user's held positions and watchlist outside it. A symbol in
 * both is Tier 1. The user's settings (`UserSettings`) may set this exchange's top N and watchlist.
 */
import { type Market, UserSettings } from "@livermore/domain"
import { ExchangeAdapter, type ExchangeError } from "@livermore/exchange"
import { ExchangeSymbolsRepo, LiquidityGrade, PositionsRepo, type StoreError, UsersRepo } from "@livermore/store"
import { Array as Arr, BigDecimal, type Context, Effect, Either, Order, Schema } from "effect"

/** What to refresh. */
export interface Options {
  /** Size of Tier 1, a positive integer, unless the user's settings set one for this exchange. */
  readonly topN: number
  /** The user whose positions and watchlist form Tier 2, and whose settings apply; null: no Tier 2. */
  readonly userId: number | null
  /**
   * Quote assets eligible for Tier 1 (e.g. `["USDT"]`). The exchange row carries no quote list (sql/0002), so it
   * is the caller's setting; absent: every quote is ranked.
   */
  readonly quoteAssets?: ReadonlyArray<string> | undefined
}

/** The universe after a refresh; every list is ordered by 24 h quote volume (in USD), most traded first. */
export interface Universe {
  readonly tier1: ReadonlyArray<Market.SymbolId>
  readonly tier2: ReadonlyArray<Market.SymbolId>
  /** `tier1` then `tier2`; no symbol twice. */
  readonly all: ReadonlyArray<Market.SymbolId>
}

/** `topN` is not a positive integer. */
export class InvalidTopN extends Schema.TaggedError<InvalidTopN>()("InvalidTopN", { topN: Schema.Number }) {
  override get message(): string {
    return `The symbol universe's top N must be a positive integer, got ${this.topN}`
  }
}

/** Nothing could be ranked, so Tier 1 would be empty; refused rather than wiping the shared pool. */
export class NoSymbolsRanked extends Schema.TaggedError<NoSymbolsRanked>()("NoSymbolsRanked", {
  exchange: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.exchange}: no symbol to rank for Tier 1 (${this.detail}); the stored Tier 1 was left as it was`
  }
}

/** The user's stored settings do not decode (edited outside the admin UI, which validates before saving). */
export class SettingsInvalid extends Schema.TaggedError<SettingsInvalid>()("SettingsInvalid", {
  userId: Schema.Number,
  issues: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `The settings of user ${this.userId} are invalid, so the symbol universe was left as it was: ${this.issues.join("; ")}`
  }
}

/** Anything `refresh` can fail with. */
export type SymbolUniverseError =
  | InvalidTopN
  | SettingsInvalid
  | NoSymbolsRanked
  | ExchangeError.ExchangeError
  | StoreError.StoreError
  | StoreError.RecordNotFound

/**
 * Quotes worth one US dollar, for converting quote volumes to USD: the grade thresholds are in USD, and quote
 * volumes in different quotes (USDT, BTC, TRY) cannot be compared until converted.
 */
export const usdQuotes: ReadonlySet<string> = new Set(["USD", "USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USDP", "DAI", "PYUSD"])

/** A tradable product with its 24 h volumes. */
export interface Ranked {
  readonly symbol: Market.SymbolId
  readonly baseAsset: string
  readonly quoteAsset: string
  /** Base-asset volume. */
  readonly volume: number
  /** Quote-asset volume, in quote units. */
  readonly quoteVolume: number
  /** Quote volume converted to USD (the ranking key). */
  readonly quoteVolumeUsd: number
}

/** The ranking of an exchange's products. */
export interface Ranking {
  /** Eligible products, most traded (in USD) first; ties by symbol. */
  readonly ranked: ReadonlyArray<Ranked>
  /** Products whose quote has no USD price on this exchange, so their volume cannot be compared. */
  readonly unpriced: ReadonlyArray<Market.SymbolId>
}

const byVolumeThenSymbol: Order.Order<Ranked> = Order.combine(
  Order.reverse(Order.mapInput(Order.number, (r: Ranked) => r.quoteVolumeUsd)),
  Order.mapInput(Order.string, (r: Ranked) => r.symbol)
)

/**
 * USD per unit of each non-USD quote, from the exchange's own most traded pair between that asset and a USD
 * quote, at its 24 h average price (quote volume / base volume): `ETHBTC` is priced through `BTCUSDT`, `USDTTRY`
 * prices TRY the other way round.
 */
const usdPrices = (rows: ReadonlyArray<Omit<Ranked, "quoteVolumeUsd">>): ReadonlyMap<string, number> => {
  const best = new Map<string, { readonly price: number; readonly weight: number }>()
  const offer = (asset: string, price: number, weight: number) => {
    const current = best.get(asset)
    if (Number.isFinite(price) && price > 0 && (current === undefined || weight > current.weight)) {
      best.set(asset, { price, weight })
    }
  }
  for (const r of rows) {
    if (r.volume <= 0 || r.quoteVolume <= 0) continue
    if (usdQuotes.has(r.quoteAsset) && !usdQuotes.has(r.baseAsset)) offer(r.baseAsset, r.quoteVolume / r.volume, r.quoteVolume)
    if (usdQuotes.has(r.baseAsset) && !usdQuotes.has(r.quoteAsset)) offer(r.quoteAsset, r.volume / r.quoteVolume, r.volume)
  }
  return new Map([...best].map(([asset, { price }]) => [asset, price]))
}

/**
 * Join `volumes` with `products` (volumes of symbols that are not tradable products are dropped), convert quote
 * volumes to USD and rank them. With `quoteAssets`, only products in those quotes are ranked.
 */
export const rank = (
  products: ReadonlyArray<Market.Product>,
  volumes: ReadonlyArray<ExchangeAdapter.Volume24h>,
  quoteAssets?: ReadonlyArray<string> | undefined
): Ranking => {
  const bySymbol = new Map(products.map((p) => [p.symbol, p]))
  const rows = volumes.flatMap((v) => {
    const product = bySymbol.get(v.symbol)
    return product === undefined
      ? []
      : [{ symbol: v.symbol, baseAsset: product.baseAsset, quoteAsset: product.quoteAsset, volume: v.volume, quoteVolume: v.quoteVolume }]
  })
  const prices = usdPrices(rows)
  const eligible = quoteAssets === undefined ? rows : rows.filter((r) => quoteAssets.includes(r.quoteAsset))
  const ranked: Array<Ranked> = []
  const unpriced: Array<Market.SymbolId> = []
  for (const r of eligible) {
    const price = usdQuotes.has(r.quoteAsset) ? 1 : prices.get(r.quoteAsset)
    if (price === undefined) unpriced.push(r.symbol)
    else ranked.push({ ...r, quoteVolumeUsd: r.quoteVolume * price })
  }
  return { ranked: Arr.sort(ranked, byVolumeThenSymbol), unpriced }
}

const TopN = Schema.Int.pipe(Schema.positive())

const settingsOf = (usersRepo: Context.Tag.Service<UsersRepo.UsersRepo>, userId: number) =>
  Effect.flatMap(usersRepo.byId(userId), (user) =>
    Either.match(UserSettings.validate(user.settings), {
      onLeft: (issues) => Effect.fail(new SettingsInvalid({ userId, issues: issues.map((i) => `${i.path}: ${i.message}`) })),
      onRight: Effect.succeed
    })
  )

const sample = (symbols: ReadonlyArray<string>): string =>
  `${symbols.slice(0, 5).join(", ")}${symbols.length > 5 ? `, … (${symbols.length})` : ""}`

/**
 * Rank the adapter's exchange, make the top `topN` its Tier 1 in `exchange_symbols` (symbols that fell out are
 * deleted, in one transaction) and add the user's positions outside it as Tier 2 (zero quantities ignored;
 * positions on symbols the exchange no longer lists are skipped with a warning). Tier 2 is returned, not stored.
 */
export const refresh = Effect.fn("SymbolUniverse.refresh")(function* (options: Options) {
  const adapter = yield* ExchangeAdapter.ExchangeAdapter
  const symbolsRepo = yield* ExchangeSymbolsRepo.ExchangeSymbolsRepo
  const positionsRepo = yield* PositionsRepo.PositionsRepo
  const usersRepo = yield* UsersRepo.UsersRepo
  const exchange = adapter.exchange

  const settings =
    options.userId === null ? UserSettings.empty : yield* settingsOf(usersRepo, options.userId)
  const chosenTopN = settings.topN[exchange.name] ?? options.topN
  const topN = yield* Schema.decodeUnknown(TopN)(chosenTopN).pipe(Effect.mapError(() => new InvalidTopN({ topN: chosenTopN })))
  const watchlist = settings.watchlist[exchange.name] ?? []
  const [products, volumes] = yield* Effect.all([adapter.products, adapter.volumes24h], { concurrency: 2 })
  const { ranked, unpriced } = rank(products, volumes, options.quoteAssets)
  if (unpriced.length > 0) {
    yield* Effect.logWarning(`${unpriced.length} symbols left out of the ranking: their quote has no USD price here: ${sample(unpriced)}`)
  }
  if (ranked.length === 0) {
    return yield* new NoSymbolsRanked({
      exchange: exchange.name,
      detail: `${products.length} products, ${volumes.length} volumes${
        options.quoteAssets === undefined ? "" : `, quote assets ${options.quoteAssets.join(", ")}`
      }${unpriced.length > 0 ? `, ${unpriced.length} unpriced` : ""}`
    })
  }

  const tier1 = ranked.slice(0, topN)
  const { deleted } = yield* symbolsRepo.replaceTier(
    exchange.id,
    1,
    tier1.map((r, i) => ({
      symbol: r.symbol,
      baseAsset: r.baseAsset,
      quoteAsset: r.quoteAsset,
      tier: 1 as const,
      rank: i + 1,
      volume24h: r.volume,
      quoteVolume24h: r.quoteVolume,
      liquidityGrade: LiquidityGrade.fromQuoteVolumeUsd(r.quoteVolumeUsd)
    }))
  )

  const inTier1 = new Set<string>(tier1.map((r) => r.symbol))
  const held =
    options.userId === null
      ? []
      : (yield* positionsRepo.listByUser(options.userId, exchange.id))
          .filter((p) => BigDecimal.isPositive(p.quantity) && !inTier1.has(p.symbol))
          .map((p) => p.symbol)
  const listed = new Set<string>(products.map((p) => p.symbol))
  const unlisted = held.filter((s) => !listed.has(s))
  if (unlisted.length > 0) {
    yield* Effect.logWarning(`Tier 2 skips positions on symbols the exchange does not list: ${sample(unlisted)}`)
  }
  const watched = watchlist.filter((s) => !inTier1.has(s))
  const unlistedWatched = watched.filter((s) => !listed.has(s))
  if (unlistedWatched.length > 0) {
    yield* Effect.logWarning(`Tier 2 skips watchlist symbols the exchange does not list: ${sample(unlistedWatched)}`)
  }
  const rankOf = new Map(ranked.map((r, i) => [r.symbol, i]))
  const tier2 = Arr.sort(
    Arr.dedupe([...held, ...watched].filter((s) => listed.has(s))),
    // Ranked symbols by their rank; unranked ones (filtered quote, unpriced) after them, by symbol.
    Order.combine(
      Order.mapInput(Order.number, (s: Market.SymbolId) => rankOf.get(s) ?? Number.MAX_SAFE_INTEGER),
      Order.string
    )
  )

  const universe: Universe = {
    tier1: tier1.map((r) => r.symbol),
    tier2,
    all: Arr.dedupe([...tier1.map((r) => r.symbol), ...tier2])
  }
  yield* Effect.logInfo(
    `Symbol universe: ${universe.tier1.length} Tier 1 (${deleted} dropped), ${universe.tier2.length} Tier 2`
  )
  return universe
}, (effect) =>
  Effect.flatMap(ExchangeAdapter.ExchangeAdapter, (adapter) => Effect.annotateLogs(effect, { exchange: adapter.exchange.name }))
)
