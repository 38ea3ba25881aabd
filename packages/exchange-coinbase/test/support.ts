/** Shared test helpers: exchange rows and frame builders. */
import { Exchange, Market } from "@livermore/domain"
import { Option } from "effect"

/** A Coinbase-protocol exchange row pointing at `urls`, with the seeded Coinbase limits unless overridden. */
export const coinbaseRow = (
  urls: { readonly wsUrl: string; readonly restUrl: string },
  limits: Partial<{
    restWeightPerMinute: number
    candlesPerRequest: number
    wsMessagesPerSecond: number
    wsMaxStreamsPerConnection: number
  }> = {},
  adapter: Exchange.AdapterKind = "coinbase"
): Exchange.Exchange =>
  new Exchange.Exchange({
    id: Exchange.ExchangeId.make(7),
    name: Exchange.ExchangeName.make("sim_coinbase"),
    displayName: "Coinbase (simulator)",
    adapter,
    wsUrl: urls.wsUrl,
    restUrl: urls.restUrl,
    timeframes: ["5m", "15m", "1h", "4h", "1d"],
    apiLimits: new Exchange.ApiLimits({
      restWeightPerMinute: limits.restWeightPerMinute ?? 600,
      candlesPerRequest: limits.candlesPerRequest ?? 350,
      wsMessagesPerSecond: limits.wsMessagesPerSecond ?? 8,
      wsMaxStreamsPerConnection: limits.wsMaxStreamsPerConnection ?? 100,
      wsMaxConnectionHours: Option.none()
    }),
    fees: new Exchange.Fees({ maker: 0.006, taker: 0.012 }),
    geoRestrictions: [],
    isActive: true
  })

/** A symbol id. */
export const sym = (id: string): Market.SymbolId => Market.SymbolId.make(id)

/** A server envelope as Coinbase sends it. */
export const frame = (channel: string, sequence: number, time: number, events: ReadonlyArray<unknown>): string =>
  JSON.stringify({ channel, client_id: "", timestamp: new Date(time).toISOString(), sequence_num: sequence, events })

/** A candles update frame with one candle per entry. */
export const candlesFrame = (
  sequence: number,
  time: number,
  candles: ReadonlyArray<{ product: string; start: number; open: number; high: number; low: number; close: number; volume: number }>
): string =>
  frame("candles", sequence, time, [
    {
      type: "update",
      candles: candles.map((c) => ({
        start: String(c.start / 1000),
        open: String(c.open),
        high: String(c.high),
        low: String(c.low),
        close: String(c.close),
        volume: String(c.volume),
        product_id: c.product
      }))
    }
  ])

/** A heartbeats frame. */
export const heartbeatFrame = (sequence: number, time: number, counter: number | string): string =>
  frame("heartbeats", sequence, time, [{ current_time: new Date(time).toISOString(), heartbeat_counter: counter }])
