/**
 * The Coinbase Advanced Trade adapter: `ExchangeAdapter` for one exchange row whose `adapter` is `coinbase`
 * (the real venue or the simulator), from the REST client and the live stream of this package.
 */
import type { HttpClient } from "@effect/platform"
import type { Exchange } from "@livermore/domain"
import { ExchangeAdapter } from "@livermore/exchange"
import { type Context, Effect, Layer, Ref, type Scope } from "effect"
import type { ConfigError } from "effect/ConfigError"
import * as CoinbaseConfig from "./CoinbaseConfig.js"
import * as CoinbaseRest from "./CoinbaseRest.js"
import * as CoinbaseSocket from "./CoinbaseSocket.js"
import * as ExchangeClock from "./internal/exchangeClock.js"

/** Why `exchange` cannot be served by this adapter, if it cannot. */
export const unsupported = (exchange: Exchange.Exchange): string | undefined => {
  const row = `exchange "${exchange.name}" (id ${exchange.id})`
  if (exchange.adapter !== "coinbase") {
    return `CoinbaseAdapter: ${row} speaks the "${exchange.adapter}" protocol, not "coinbase"; build it with that adapter`
  }
  if (!/^wss?:\/\/\S+$/.test(exchange.wsUrl)) return `CoinbaseAdapter: ${row} has ws_url "${exchange.wsUrl}", not a ws:// or wss:// URL`
  if (!/^https?:\/\/\S+$/.test(exchange.restUrl)) {
    return `CoinbaseAdapter: ${row} has rest_url "${exchange.restUrl}", not an http:// or https:// URL`
  }
  return undefined
}

/** The adapter with resolved settings; dies at once, with the reason, for a row it cannot serve. */
export const make = (
  exchange: Exchange.Exchange,
  config: CoinbaseConfig.CoinbaseConfig
): Effect.Effect<Context.Tag.Service<ExchangeAdapter.ExchangeAdapter>, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function* () {
    const problem = unsupported(exchange)
    if (problem !== undefined) return yield* Effect.dieMessage(problem)
    // One clock for both halves: the stream learns Coinbase's time from frame timestamps, and REST uses it to
    // tell the still-forming candle from closed ones.
    const clock = ExchangeClock.make()
    const malformedFrames = yield* Ref.make(0)
    const rest = yield* CoinbaseRest.make({ exchange, config, clock })
    return ExchangeAdapter.ExchangeAdapter.of({
      exchange,
      stream: (subscription) => CoinbaseSocket.stream({ exchange, config, malformedFrames, clock }, subscription),
      history: rest.history,
      products: rest.products,
      volumes24h: rest.volumes24h,
      restStats: rest.stats,
      malformedFrames: Ref.get(malformedFrames)
    })
  }).pipe(Effect.withSpan("CoinbaseAdapter.make", { attributes: { exchange: exchange.name } }))

/**
 * The adapter for `exchange`, with `options` over the documented defaults (`CoinbaseConfig`). Building it dies
 * with a clear message when the row is not a Coinbase-protocol exchange.
 */
export const layer = (
  exchange: Exchange.Exchange,
  options: CoinbaseConfig.Options = {}
): Layer.Layer<ExchangeAdapter.ExchangeAdapter, never, HttpClient.HttpClient> =>
  Layer.scoped(
    ExchangeAdapter.ExchangeAdapter,
    Effect.flatMap(Effect.sync(() => CoinbaseConfig.make(options)), (config) => make(exchange, config))
  )

/** The adapter for `exchange` with its tunables read from the `COINBASE_*` environment keys. */
export const layerConfig = (
  exchange: Exchange.Exchange
): Layer.Layer<ExchangeAdapter.ExchangeAdapter, ConfigError, HttpClient.HttpClient> =>
  Layer.scoped(ExchangeAdapter.ExchangeAdapter, Effect.flatMap(CoinbaseConfig.config, (config) => make(exchange, config)))
