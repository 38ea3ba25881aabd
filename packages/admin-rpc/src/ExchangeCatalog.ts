/**
 * What an exchange lists right now, for checking the symbols an admin adds to a watchlist: its products and their
 * 24 h volumes, read over the exchange's public REST API (no instance needs to be running) and ranked as the
 * symbol universe ranks them. Kept for a minute per exchange, so a bulk import or a retyped symbol costs no extra
 * requests.
 */
import type { Exchange, Market } from "@livermore/domain"
import { SymbolUniverse } from "@livermore/engine"
import { ExchangeAdapter } from "@livermore/exchange"
import { ExchangesRepo } from "@livermore/store"
import { Cache, Context, Duration, Effect, Layer, Schema } from "effect"

/** One exchange's listing. */
export interface Listing {
  readonly exchange: Exchange.Exchange
  readonly products: ReadonlyArray<Market.Product>
  /** Every product with a USD-comparable 24 h volume, most traded first. */
  readonly ranking: SymbolUniverse.Ranking
  /** ms since the epoch. */
  readonly fetchedAt: number
}

/** The exchange could not be asked (unknown name, REST unreachable, a malformed answer). */
export class CatalogUnavailable extends Schema.TaggedError<CatalogUnavailable>()("CatalogUnavailable", {
  exchange: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.exchange}: its listing could not be read (${this.reason})`
  }
}

export class ExchangeCatalog extends Context.Tag("@livermore/admin-rpc/ExchangeCatalog")<
  ExchangeCatalog,
  {
    /** The listing of the exchange named `name`, at most `timeToLive` old. */
    readonly listing: (name: Exchange.ExchangeName) => Effect.Effect<Listing, CatalogUnavailable>
  }
>() {}

export interface Options {
  /** The adapter that reads `exchange`'s REST API (the node's choice by the row's `adapter` column). */
  readonly adapterFor: (exchange: Exchange.Exchange) => Layer.Layer<ExchangeAdapter.ExchangeAdapter, unknown>
  /** How long a listing is reused; default one minute. */
  readonly timeToLive?: Duration.DurationInput | undefined
}

const describe = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)

export const make = (options: Options) =>
  Effect.gen(function* () {
    const exchanges = yield* ExchangesRepo.ExchangesRepo
    const read = (name: Exchange.ExchangeName) =>
      Effect.gen(function* () {
        const exchange = yield* exchanges.byName(name)
        const adapter = yield* Effect.map(Layer.build(options.adapterFor(exchange)), (context) =>
          Context.get(context, ExchangeAdapter.ExchangeAdapter)
        )
        const [products, volumes] = yield* Effect.all([adapter.products, adapter.volumes24h], { concurrency: 2 })
        return {
          exchange,
          products,
          ranking: SymbolUniverse.rank(products, volumes),
          fetchedAt: Date.now()
        } satisfies Listing
      }).pipe(
        Effect.scoped,
        Effect.mapError((error) => new CatalogUnavailable({ exchange: name, reason: describe(error) })),
        Effect.withSpan("ExchangeCatalog.read", { attributes: { exchange: name } })
      )
    const cache = yield* Cache.makeWith({
      capacity: 64,
      lookup: read,
      // A failure is not kept: the next call asks the exchange again.
      timeToLive: (exit) => (exit._tag === "Success" ? (options.timeToLive ?? Duration.minutes(1)) : Duration.zero)
    })
    return ExchangeCatalog.of({ listing: (name) => cache.get(name) })
  })

export const layer = (options: Options) => Layer.effect(ExchangeCatalog, make(options))
