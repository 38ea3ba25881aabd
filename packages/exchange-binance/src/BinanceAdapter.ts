/**
 * The `ExchangeAdapter` for every exchange row whose adapter is `binance`: binance.com, binance.us and the
 * Binance-protocol simulator differ only in their row (URLs, limits), never in code.
 */
import type { HttpClient } from "@effect/platform"
import type { Exchange } from "@livermore/domain"
import { ExchangeAdapter } from "@livermore/exchange"
import { type Context, Effect, Layer, Ref } from "effect"
import { BinanceConfig } from "./BinanceConfig.js"
import * as BinanceRest from "./BinanceRest.js"
import * as BinanceSocket from "./BinanceSocket.js"

/** Dies with a clear message unless `exchange` is served by the Binance protocol: no silent fallback (domain.md §1). */
const requireBinance = (exchange: Exchange.Exchange): Effect.Effect<void> =>
  exchange.adapter === "binance"
    ? Effect.void
    : Effect.dieMessage(
        `BinanceAdapter: exchange "${exchange.name}" (id ${exchange.id}) uses the "${exchange.adapter}" adapter, not "binance"`
      )

/** The adapter of `exchange` over the exchange's `Governor`, which it shares with any other REST caller. */
export const make = (
  exchange: Exchange.Exchange
): Effect.Effect<Context.Tag.Service<ExchangeAdapter.ExchangeAdapter>, never, BinanceRest.Governor> =>
  Effect.gen(function* () {
    yield* requireBinance(exchange)
    const settings = yield* BinanceConfig
    const governor = yield* BinanceRest.Governor
    const malformedFrames = yield* Ref.make(0)
    const clock = yield* BinanceRest.makeServerClock({ exchange, governor, settings })
    const rest = BinanceRest.make({ exchange, governor, settings, clock })
    return ExchangeAdapter.ExchangeAdapter.of({
      exchange,
      stream: BinanceSocket.make({ exchange, settings, malformedFrames }),
      history: rest.history,
      products: rest.products,
      volumes24h: rest.volumes24h,
      restStats: governor.stats,
      malformedFrames: Ref.get(malformedFrames)
    })
  })

/**
 * The adapter over a `Governor` provided from outside: use it with `BinanceRest.layerGovernor(exchange)` when
 * `BinanceAccount` should share the same REST budget.
 */
export const layerWithGovernor = (
  exchange: Exchange.Exchange
): Layer.Layer<ExchangeAdapter.ExchangeAdapter, never, BinanceRest.Governor> =>
  Layer.effect(ExchangeAdapter.ExchangeAdapter, make(exchange))

/**
 * The adapter of `exchange`, with its own REST governor (budget from `exchange.apiLimits`). Dies at build time
 * if the row is not a Binance-protocol exchange.
 */
export const layer = (exchange: Exchange.Exchange): Layer.Layer<ExchangeAdapter.ExchangeAdapter, never, HttpClient.HttpClient> =>
  // Checked before the governor is built, so a wrong row fails before anything else is set up.
  Layer.unwrapEffect(
    Effect.as(
      requireBinance(exchange),
      layerWithGovernor(exchange).pipe(Layer.provide(BinanceRest.layerGovernor(exchange)))
    )
  )
