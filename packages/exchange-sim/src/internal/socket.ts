/** What a protocol session may do to its connection; the server implements it over a `ws` socket. */
export interface Outbound {
  /** Send a text frame (the server counts it and applies the frame faults). */
  readonly send: (text: string) => void
  /** Close with a close frame; `statsReason` keys `wsClosedByServer`. */
  readonly close: (code: number, reason: string, statsReason: string) => void
  /** Drop the TCP connection without a close frame (the client sees 1006). */
  readonly terminate: (statsReason: string) => void
  /** Send a ping frame with `payload`. */
  readonly ping: (payload: Buffer) => void
}

/** A protocol session on one connection, driven by the server's timers. */
export interface Session {
  readonly venue: "binance" | "coinbase"
  /** Open subscriptions (for stats). */
  readonly subscriptionCount: () => number
  /** An inbound text frame. */
  readonly onText: (text: string, realNow: number, simNow: number) => void
  /** Market loop: push whatever is due at sim time `simNow`. */
  readonly tick: (simNow: number, realNow: number) => void
  /** Housekeeping every ~100 ms of real time: keepalive, timeouts, lifetime. */
  readonly housekeep: (realNow: number, simNow: number) => void
  /** Pretend nothing is due until `realNow` (while the `silence` fault holds). */
  readonly stall: (realNow: number) => void
}
