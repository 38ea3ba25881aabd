/**
 * What the node reports about itself at `/health` (domain.md §9): the mode and what matters in it — for a node
 * serving an exchange, the lifecycle state and whether its WebSocket is connected; for `pw-host`, that Redis
 * answers — plus version, uptime and the storage backends.
 */
import type { Mode } from "@livermore/domain"
import { ExchangeRunner } from "@livermore/engine"
import { Clock, Context, DateTime, Effect, Layer, Option } from "effect"
import { type BackendReport, Storage } from "./Storage.js"
import { version } from "./Version.js"

/** The exchange part of the report. */
export interface ExchangeHealth {
  readonly exchangeId: number
  readonly exchangeName: string
  readonly instanceId: string
  readonly state: string
  /** Live data is flowing: `active` and not paused. */
  readonly websocketConnected: boolean
  readonly paused: boolean
  readonly symbolCount: number
  readonly lastHeartbeat: string | null
  readonly lastError: string | null
}

/** The `/health` body. */
export interface HealthReport {
  /**
   * `ok` when every backend the mode needs answers and the exchange (if any) is neither reconnecting nor stopped
   * by a failure; `degraded` otherwise. An idle node, or one stopped on request, is `ok`: waiting for `start` is
   * a normal state.
   */
  readonly status: "ok" | "degraded"
  readonly version: string
  readonly mode: Mode.Mode
  /** Lifecycle state of the exchange served, `idle` when the node serves none. */
  readonly state: string
  readonly uptimeSeconds: number
  readonly exchange: ExchangeHealth | null
  /** `database` is null in `pw-host`, which uses none. */
  readonly storage: { readonly database: BackendReport | null; readonly cache: BackendReport }
}

/** The node's view of itself. */
export class NodeStatus extends Context.Tag("@livermore/node/NodeStatus")<
  NodeStatus,
  { readonly health: Effect.Effect<HealthReport> }
>() {}

/** The report for `mode`, over the runner when this node serves an exchange. */
export const layer = (mode: Mode.Mode) =>
  Layer.effect(
    NodeStatus,
    Effect.gen(function* () {
      const storage = yield* Storage
      const runner = yield* Effect.serviceOption(ExchangeRunner.ExchangeRunner)
      const startedAt = yield* Clock.currentTimeMillis
      return {
        health: Effect.gen(function* () {
          const backends = yield* storage.check
          const now = yield* Clock.currentTimeMillis
          const exchange: ExchangeHealth | null = Option.isNone(runner)
            ? null
            : yield* Effect.map(runner.value.info, (info) => ({
                exchangeId: info.status.exchangeId,
                exchangeName: info.status.exchangeName,
                instanceId: info.status.instanceId,
                state: info.status.connectionState,
                websocketConnected: info.status.connectionState === "active" && !info.paused,
                paused: info.paused,
                symbolCount: info.status.symbolCount,
                lastHeartbeat: info.status.lastHeartbeat === null ? null : DateTime.formatIso(info.status.lastHeartbeat),
                lastError: info.status.lastError
              }))
          // pw-host reads everything from Redis; the database matters only where the node ingests or serves keys.
          const backendsOk = backends.cache.reachable && (backends.database?.reachable ?? true)
          // Reconnecting, or stopped by a failure (a refused lock, a connection given up): someone should look.
          const exchangeOk =
            exchange === null ||
            (exchange.state !== "reconnecting" && !(exchange.state === "stopped" && exchange.lastError !== null))
          return {
            status: backendsOk && exchangeOk ? "ok" : "degraded",
            version,
            mode,
            state: exchange?.state ?? "idle",
            uptimeSeconds: Math.floor((now - startedAt) / 1000),
            exchange,
            storage: backends
          } as const
        })
      }
    })
  )
