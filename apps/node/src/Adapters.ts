/**
 * Which protocol adapter serves an exchange row: chosen by the row's `adapter` column, never by its name, so
 * binance.com, binance.us and the Binance-protocol simulator share one adapter (domain.md §1). A row without an
 * adapter never reaches here: the repository refuses it with `ExchangeNotSupported`.
 */
import type { HttpClient } from "@effect/platform"
import type { Exchange } from "@livermore/domain"
import type { ExchangeAdapter } from "@livermore/exchange"
import { BinanceAdapter } from "@livermore/exchange-binance"
import { CoinbaseAdapter } from "@livermore/exchange-coinbase"
import type { Layer } from "effect"
import type { ConfigError } from "effect/ConfigError"

/**
 * The adapter of `exchange`. Coinbase's tunables come from the `COINBASE_*` keys (its credentials among them);
 * Binance's defaults are the venue's documented limits, taken from the row.
 */
export const layerFor = (
  exchange: Exchange.Exchange
): Layer.Layer<ExchangeAdapter.ExchangeAdapter, ConfigError, HttpClient.HttpClient> => {
  switch (exchange.adapter) {
    case "binance":
      return BinanceAdapter.layer(exchange)
    case "coinbase":
      return CoinbaseAdapter.layerConfig(exchange)
  }
}
