/** How a node runs (domain.md §9). */
import { Schema } from "effect"

/**
 * `exchange` ingests one exchange (optionally serving the APIs too), `pw-host` serves the public API from Redis
 * only, `all` does everything on one machine.
 */
export const Mode = Schema.Literal("exchange", "pw-host", "all").annotations({ identifier: "Mode" })
export type Mode = typeof Mode.Type
