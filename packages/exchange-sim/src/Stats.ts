/** Counters of what the simulator served (`GET /__sim/stats`), reset by `POST /__sim/reset`. */

/** Live gauges, read from the open connections when a snapshot is taken. */
export interface Gauges {
  readonly binanceConnections: number
  readonly binanceSubscriptions: number
  readonly coinbaseConnections: number
  readonly coinbaseSubscriptions: number
}

/** What `GET /__sim/stats` answers. */
export interface StatsSnapshot {
  /** REST requests per `"<METHOD> <path template>"` (no query), e.g. `"GET /api/v3/klines"`; refused ones included. */
  readonly rest: Readonly<Record<string, number>>
  /** Binance 429 answers plus Coinbase 429 answers. */
  readonly rateLimited: number
  /** Binance 418 answers. */
  readonly banned: number
  /** 500s injected by the `restErrorRate` fault. */
  readonly restErrors: number
  /** WebSocket connections open now (both venues). */
  readonly wsConnections: number
  /** WebSocket connections accepted since the last reset. */
  readonly wsConnectionsTotal: number
  /** Subscriptions open now: Binance streams plus Coinbase (channel, product) pairs (`heartbeats` counts one). */
  readonly subscriptions: number
  readonly binance: { readonly connections: number; readonly subscriptions: number }
  readonly coinbase: { readonly connections: number; readonly subscriptions: number }
  /** Inbound WebSocket messages (text frames; Binance also ping/pong frames). */
  readonly wsMessagesIn: number
  /** Outbound WebSocket text frames (garbage frames included). */
  readonly wsMessagesOut: number
  /** Garbage frames sent by the `malformedFrames` fault. */
  readonly malformedFramesSent: number
  /** Connections dropped by the `dropConnections` fault. */
  readonly droppedConnections: number
  /** Connections the server closed, by reason (`rate`, `streams`, `pong-timeout`, `lifetime`, `subscribe-timeout`, `idle`, …). */
  readonly wsClosedByServer: Readonly<Record<string, number>>
}

/** The mutable counters. */
export class Stats {
  rest: Record<string, number> = {}
  rateLimited = 0
  banned = 0
  restErrors = 0
  wsConnectionsTotal = 0
  wsMessagesIn = 0
  wsMessagesOut = 0
  malformedFramesSent = 0
  droppedConnections = 0
  wsClosedByServer: Record<string, number> = {}

  /** One REST request under `key` (`"<METHOD> <template>"`). */
  countRest(key: string): void {
    this.rest[key] = (this.rest[key] ?? 0) + 1
  }

  /** One connection closed by the server for `reason`. */
  countClose(reason: string): void {
    this.wsClosedByServer[reason] = (this.wsClosedByServer[reason] ?? 0) + 1
  }

  /** Zero every counter. */
  reset(): void {
    this.rest = {}
    this.rateLimited = 0
    this.banned = 0
    this.restErrors = 0
    this.wsConnectionsTotal = 0
    this.wsMessagesIn = 0
    this.wsMessagesOut = 0
    this.malformedFramesSent = 0
    this.droppedConnections = 0
    this.wsClosedByServer = {}
  }

  /** The counters with the live `gauges`, as `GET /__sim/stats` answers. */
  snapshot(gauges: Gauges): StatsSnapshot {
    return {
      rest: { ...this.rest },
      rateLimited: this.rateLimited,
      banned: this.banned,
      restErrors: this.restErrors,
      wsConnections: gauges.binanceConnections + gauges.coinbaseConnections,
      wsConnectionsTotal: this.wsConnectionsTotal,
      subscriptions: gauges.binanceSubscriptions + gauges.coinbaseSubscriptions,
      binance: { connections: gauges.binanceConnections, subscriptions: gauges.binanceSubscriptions },
      coinbase: { connections: gauges.coinbaseConnections, subscriptions: gauges.coinbaseSubscriptions },
      wsMessagesIn: this.wsMessagesIn,
      wsMessagesOut: this.wsMessagesOut,
      malformedFramesSent: this.malformedFramesSent,
      droppedConnections: this.droppedConnections,
      wsClosedByServer: { ...this.wsClosedByServer }
    }
  }
}
