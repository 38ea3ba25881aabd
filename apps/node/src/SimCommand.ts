/** `livermore sim`: the local exchange simulator (Binance and Coinbase protocols on one port) until a signal. */
import { Command, HelpDoc, Options } from "@effect/cli"
import { ExchangeSim } from "@livermore/exchange-sim"
import { Data, Effect, Option } from "effect"

const port = Options.integer("port").pipe(
  Options.withDefault(7070),
  Options.withDescription("TCP port for both protocols (default 7070, the port of the sim_binance/sim_coinbase rows).")
)
const host = Options.text("host").pipe(
  Options.withDefault("127.0.0.1"),
  Options.withDescription("Interface to bind (default 127.0.0.1).")
)
const symbols = Options.integer("symbols").pipe(
  Options.withDefault(50),
  Options.withDescription("How many symbols, 1–1000 (default 50); the last fifth are illiquid.")
)
const seed = Options.integer("seed").pipe(
  Options.withDefault(1),
  Options.withDescription("Market seed (default 1): the same seed gives the same candles.")
)
const speed = Options.float("speed").pipe(
  Options.withDefault(1),
  Options.withDescription("Sim time runs this many times faster than the wall clock (default 1; 300 closes a 5m candle every second).")
)
const start = Options.text("start").pipe(
  Options.optional,
  Options.withDescription(
    "Sim time at start: ISO-8601 with a zone (2024-01-01T00:00:00Z) or ms since the epoch (default: now)."
  )
)

const help = HelpDoc.blocks([
  HelpDoc.p(
    "Serve a deterministic simulated market over the real Binance and Coinbase Advanced Trade protocols on one " +
      "port, until SIGINT or SIGTERM."
  ),
  HelpDoc.enumeration([
    HelpDoc.p("Binance REST: http://HOST:PORT/api/v3/klines, /exchangeInfo, /ticker/24hr, /time, /ping"),
    HelpDoc.p("Binance WS: ws://HOST:PORT/ws, /ws/<stream>, /stream?streams=a/b"),
    HelpDoc.p("Coinbase REST: http://HOST:PORT/api/v3/brokerage/market/products[/{id}[/candles]], /api/v3/brokerage/time"),
    HelpDoc.p("Coinbase WS: ws://HOST:PORT/"),
    HelpDoc.p(
      "Control: GET/POST /__sim/faults, GET /__sim/stats, POST /__sim/reset, GET/POST /__sim/clock, GET /__sim/symbols"
    )
  ]),
  HelpDoc.p("See packages/exchange-sim/README.md for the faults, limits and what differs from the real venues.")
])

/** `--start` could not be read as a time. */
class BadStart extends Data.TaggedError("BadStart")<{ readonly input: string }> {
  override get message(): string {
    return `--start: "${this.input}" is neither an ISO-8601 time with a zone nor ms since the epoch`
  }
}

const parseStart = (input: string): Effect.Effect<number, BadStart> => {
  const ms = /^[0-9]+$/.test(input) ? Number(input) : /(Z|[+-]\d\d:?\d\d)$/.test(input) ? Date.parse(input) : Number.NaN
  return Number.isFinite(ms) ? Effect.succeed(ms) : Effect.fail(new BadStart({ input }))
}

/** The `sim` subcommand. */
export const command = Command.make("sim", { port, host, symbols, seed, speed, start }, (flags) =>
  Effect.gen(function* () {
    const startTime = Option.isSome(flags.start) ? yield* parseStart(flags.start.value) : undefined
    const sim = yield* ExchangeSim.make({
      port: flags.port,
      host: flags.host,
      symbols: flags.symbols,
      seed: flags.seed,
      speed: flags.speed,
      ...(startTime === undefined ? {} : { startTime })
    })
    const first = sim.market.symbols[0]!
    yield* Effect.logInfo(
      `exchange-sim on ${sim.url}: ${sim.options.symbols} symbols, seed ${sim.options.seed}, speed ${sim.options.speed}, ` +
        `sim time ${new Date(sim.clock.now()).toISOString()}`
    )
    yield* Effect.logInfo(`Binance REST   ${sim.binance.restUrl}/api/v3/klines?symbol=${first.binance}&interval=5m`)
    yield* Effect.logInfo(`Binance WS     ${sim.binance.wsUrl}/${first.binance.toLowerCase()}@kline_5m  (combined: ${sim.binance.streamUrl}?streams=…)`)
    yield* Effect.logInfo(`Coinbase REST  ${sim.coinbase.restUrl}/market/products/${first.coinbase}/candles`)
    yield* Effect.logInfo(`Coinbase WS    ${sim.coinbase.wsUrl}`)
    yield* Effect.logInfo(`Stats          ${sim.statsUrl}  (faults: ${sim.url}/__sim/faults)`)
    yield* Effect.addFinalizer(() => Effect.logInfo("exchange-sim stopped"))
    return yield* Effect.never
  }).pipe(Effect.scoped)
).pipe(Command.withDescription(help))
