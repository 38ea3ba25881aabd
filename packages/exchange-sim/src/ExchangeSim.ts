/**
 * The simulator as a scoped resource: `make(options)` starts one server speaking both venues' protocols on one
 * port and stops it when the scope closes; `layer(options)` provides it as the `ExchangeSim` service.
 */
import { Context, Data, Effect, Either, Layer, ParseResult, type Scope } from "effect"
import type * as Faults from "./Faults.js"
import * as Market from "./Market.js"
import * as Options from "./Options.js"
import type * as Scripts from "./Scripts.js"
import { SimServer } from "./Server.js"
import * as SimClock from "./SimClock.js"
import type { StatsSnapshot } from "./Stats.js"

/** One line: the first issue of each option (an optional field also reports "Expected undefined", which says nothing). */
const firstIssuePerPath = (error: ParseResult.ParseError): string => {
  const issues = new Map<string, string>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const path = issue.path.join(".")
    if (!issues.has(path)) issues.set(path, issue.message)
  }
  return [...issues].map(([path, message]) => `${path}: ${message}`).join("; ")
}

/** The simulator could not start: bad options, or the port could not be bound. */
export class SimError extends Data.TaggedError("SimError")<{
  readonly reason: "InvalidOptions" | "Listen"
  readonly cause: unknown
}> {
  override get message(): string {
    if (this.reason === "InvalidOptions") {
      const detail = ParseResult.isParseError(this.cause) ? firstIssuePerPath(this.cause) : String(this.cause)
      return `exchange-sim: invalid options: ${detail}`
    }
    return `exchange-sim: cannot listen: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/** A running simulator. */
export interface SimHandle {
  /** The decoded options it runs with. */
  readonly options: Options.SimOptions
  /** The bound port. */
  readonly port: number
  /** `http://<host>:<port>`: Binance REST base (`/api/v3/...`) and the control surface (`/__sim/...`). */
  readonly url: string
  /** `ws://<host>:<port>`: the `ws_url` of both simulator rows in sql/0003. */
  readonly wsUrl: string
  readonly binance: {
    /** REST base: append `/api/v3/klines` etc. */
    readonly restUrl: string
    /** Raw streams: `ws://…/ws` (append `/<stream>` or send SUBSCRIBE). */
    readonly wsUrl: string
    /** Combined streams: `ws://…/stream` (append `?streams=a/b`). */
    readonly streamUrl: string
  }
  readonly coinbase: {
    /** REST base `http://…/api/v3/brokerage` (append `/market/products/...`). */
    readonly restUrl: string
    /** WebSocket `ws://…/`. */
    readonly wsUrl: string
  }
  /** `http://…/__sim/stats`. */
  readonly statsUrl: string
  /** The market, for computing expected candles in tests (pure; see `Market.range`). */
  readonly market: Market.Market
  /** The sim clock (read synchronously). */
  readonly clock: SimClock.SimClock
  /** Sim time now, ms. */
  readonly now: Effect.Effect<number>
  /** Counters and gauges, as `GET /__sim/stats`. */
  readonly stats: Effect.Effect<StatsSnapshot>
  /** The standing faults, as `GET /__sim/faults`. */
  readonly faults: Effect.Effect<Faults.Faults>
  /** Change faults / fire one-shot faults, as `POST /__sim/faults`; returns the standing faults. */
  readonly setFaults: (request: Faults.FaultsRequest) => Effect.Effect<Faults.Faults>
  /** Jump the sim clock and/or change its speed (0 pauses), as `POST /__sim/clock`. */
  readonly setClock: (change: { readonly time?: number; readonly speed?: number }) => Effect.Effect<void>
  /** Zero counters, forget rate-limit usage and bans, clear faults, as `POST /__sim/reset` (scripts stay). */
  readonly reset: Effect.Effect<void>
  /** The installed price scripts, oldest first, as `GET /__sim/script`. */
  readonly scripts: Effect.Effect<ReadonlyArray<Scripts.Script>>
  /**
   * Install a price script, as `POST /__sim/script`: every price of its symbol after `from` is scaled by the
   * script's factor. Returns every installed script; fails when the script is malformed (e.g. `from` not on a
   * 5-minute boundary), names no simulated symbol, or moves the price by more than a factor of 100.
   */
  readonly script: (script: Scripts.Script) => Effect.Effect<ReadonlyArray<Scripts.Script>, Scripts.ScriptError>
  /** Remove every price script, as `DELETE /__sim/script`. */
  readonly clearScripts: Effect.Effect<void>
}

/** The simulator service. */
export class ExchangeSim extends Context.Tag("@livermore/exchange-sim/ExchangeSim")<ExchangeSim, SimHandle>() {}

/** Start a simulator living as long as the scope. */
export const make = (
  input: Options.SimOptionsInput = {}
): Effect.Effect<SimHandle, SimError, Scope.Scope> =>
  Effect.gen(function* () {
    const options = yield* Options.decode(input).pipe(
      Effect.mapError((cause) => new SimError({ reason: "InvalidOptions", cause }))
    )
    const startTime = options.startTime ?? Date.now()
    if (startTime < options.listedAt) {
      return yield* new SimError({
        reason: "InvalidOptions",
        cause: `startTime ${new Date(startTime).toISOString()} is before listedAt ${new Date(options.listedAt).toISOString()}`
      })
    }
    const market = Market.make({
      seed: options.seed,
      symbols: options.symbols,
      illiquidRatio: options.illiquidRatio,
      emptyBucketProbability: options.emptyBucketProbability,
      listedAt: options.listedAt
    })
    for (const [i, script] of options.scripts.entries()) {
      const added = market.addScript(script)
      if (Either.isLeft(added)) {
        return yield* new SimError({ reason: "InvalidOptions", cause: `scripts.${i}: ${added.left.message}` })
      }
    }
    const clock = SimClock.make(startTime, options.speed)
    const server = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const s = new SimServer(options, market, clock)
          await s.listen()
          return s
        },
        catch: (cause) => new SimError({ reason: "Listen", cause })
      }),
      (s) => Effect.promise(() => s.close())
    )
    const host = options.host.includes(":") ? `[${options.host}]` : options.host
    const url = `http://${host}:${server.port}`
    const wsUrl = `ws://${host}:${server.port}`
    return {
      options,
      port: server.port,
      url,
      wsUrl,
      binance: { restUrl: url, wsUrl: `${wsUrl}/ws`, streamUrl: `${wsUrl}/stream` },
      coinbase: { restUrl: `${url}/api/v3/brokerage`, wsUrl: `${wsUrl}/` },
      statsUrl: `${url}/__sim/stats`,
      market,
      clock,
      now: Effect.sync(() => clock.now()),
      stats: Effect.sync(() => server.statsSnapshot()),
      faults: Effect.sync(() => server.currentFaults()),
      setFaults: (request) => Effect.sync(() => server.applyFaults(request)),
      setClock: (change) => Effect.sync(() => server.setClock(change)),
      reset: Effect.sync(() => server.reset()),
      scripts: Effect.sync(() => server.currentScripts()),
      script: (script) => Effect.suspend(() => server.addScript(script)),
      clearScripts: Effect.sync(() => server.clearScripts())
    } satisfies SimHandle
  })

/** The simulator as a layer (started on build, stopped on release). */
export const layer = (input: Options.SimOptionsInput = {}): Layer.Layer<ExchangeSim, SimError> =>
  Layer.scoped(ExchangeSim, make(input))
