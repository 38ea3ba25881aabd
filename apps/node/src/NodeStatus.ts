/** What the node reports about itself at `/health`: version, lifecycle state and storage backends. */
import { Clock, Context, Effect, Layer } from "effect"
import { Storage, type BackendReport } from "./Storage.js"
import { version } from "./Version.js"

/** The `/health` body. */
export interface HealthReport {
  /** `ok` when every backend answers, `degraded` otherwise. */
  readonly status: "ok" | "degraded"
  readonly version: string
  /** Lifecycle state of this node: it starts idle and serves nothing until told to start. */
  readonly state: "idle"
  readonly uptimeSeconds: number
  readonly storage: { readonly database: BackendReport; readonly cache: BackendReport }
}

/** The node's view of itself. */
export class NodeStatus extends Context.Tag("@livermore/node/NodeStatus")<
  NodeStatus,
  { readonly health: Effect.Effect<HealthReport> }
>() {}

export const layer = Layer.effect(
  NodeStatus,
  Effect.gen(function* () {
    const storage = yield* Storage
    const startedAt = yield* Clock.currentTimeMillis
    return {
      health: Effect.gen(function* () {
        const backends = yield* storage.check
        const now = yield* Clock.currentTimeMillis
        return {
          status: backends.database.reachable && backends.cache.reachable ? "ok" : "degraded",
          version,
          state: "idle",
          uptimeSeconds: Math.floor((now - startedAt) / 1000),
          storage: backends
        } as const
      })
    }
  })
)
