/**
 * `livermore demo` (`pnpm demo`): the simulator and a node in one process, the node autostarted on `sim_binance`
 * and reading the simulator's clock, on embedded storage unless REDIS_URL / DATABASE_URL say otherwise. The market
 * runs fast (300× by default: a 5-minute candle closes every second) and the first symbol is scripted to crash and
 * recover, so candles, indicator values and alerts are on screen within seconds.
 */
import { Command, Options } from "@effect/cli"
import { Bus, IndicatorStore, Keys, StatusStore } from "@livermore/cache"
import { Alert, Exchange, Market, Timeframe } from "@livermore/domain"
import { IndicatorRecord } from "@livermore/engine"
import { ExchangeSim, SimClock } from "@livermore/exchange-sim"
import { ExchangesRepo } from "@livermore/store"
import { Console, Duration, Effect, Layer, Option, Schedule, Stream } from "effect"
import * as path from "node:path"
import * as NodeLayer from "./NodeLayer.js"
import * as NodeSettings from "./NodeSettings.js"
import * as Storage from "./Storage.js"

const speed = Options.float("speed").pipe(
  Options.withDefault(300),
  Options.withDescription("How many times faster than the wall clock the simulated market runs (default 300: a 5m candle per second)")
)
const symbols = Options.integer("symbols").pipe(
  Options.withDefault(20),
  Options.withDescription("Simulated symbols, 1–1000 (default 20)")
)

/** A fall that takes MACD-V through −150 and −200, then a recovery that reverses it. */
const crashLegs = [
  { bars: 24, drift: -0.012 },
  { bars: 20, drift: 0.015 }
]

const fmt = (value: number | null, digits = 2) => (value === null ? "—" : value.toFixed(digits))

/**
 * Once `sim_binance` is active, lets the market run (`begin`), then prints every alert as it arrives and the 5m
 * indicators of the first symbols every few seconds.
 */
const printer = (watched: ReadonlyArray<Market.SymbolId>, begin: Effect.Effect<void>) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const exchange = yield* (yield* ExchangesRepo.ExchangesRepo).byName("sim_binance")
      const bus = yield* Bus.Bus
      const indicators = yield* IndicatorStore.IndicatorStore
      const statuses = yield* StatusStore.StatusStore
      // Started in the background: the node's own layers (HTTP, control) must come up while this waits.
      const whenActive = Effect.gen(function* () {
        while (true) {
          const status = yield* Effect.orElseSucceed(statuses.get(exchange.id), Option.none)
          if (Option.isSome(status) && status.value.connectionState === "active") break
          yield* Effect.sleep("200 millis")
        }
        yield* begin
      })
      const alerts = yield* bus.subscribe(Keys.alertsChannel(exchange.id), Alert.Alert)
      yield* Effect.forkScoped(whenActive)
      yield* Effect.forkScoped(
        Stream.runForEach(alerts, (alert) =>
          Console.log(
            `ALERT  ${alert.label.padEnd(20)} ${alert.symbol} ${alert.timeframe}  MACD-V ${alert.value.toFixed(1)}  ` +
              `price ${alert.price}  candle ${new Date(alert.candleOpenTime).toISOString()}  bias ${alert.details.bias}`
          )
        )
      )
      const report = Effect.gen(function* () {
        const rows = yield* Effect.forEach(watched, (symbol) =>
          Effect.map(
            Effect.orElseSucceed(indicators.get({ exchangeId: exchange.id, symbol, timeframe: "5m" }, IndicatorRecord.IndicatorRecord), Option.none),
            (record) => [symbol, record] as const
          )
        )
        for (const [symbol, record] of rows) {
          if (Option.isNone(record)) {
            yield* Console.log(`5m     ${symbol}: warming up`)
            continue
          }
          const r = record.value
          const candle = r.lastOpenTime === null ? "—" : new Date(r.lastOpenTime + Timeframe.durationMs["5m"]).toISOString()
          yield* Console.log(
            `5m     ${symbol}: closed ${candle}  MACD-V ${fmt(r.value)}  signal ${fmt(r.signal)}  ` +
              `histogram ${fmt(r.histogram)}  stage ${r.stage ?? r.reason ?? "—"}${r.stale ? "  (stale)" : ""}`
          )
        }
      })
      yield* Effect.forkScoped(Effect.repeat(Effect.delay(report, "3 seconds"), Schedule.forever))
    })
  )

export const command = Command.make("demo", { speed, symbols }, (flags) =>
  Effect.gen(function* () {
    const now = Date.now()
    const start = Timeframe.floor("5m", now)
    const sim = yield* ExchangeSim.make({
      port: 0,
      symbols: flags.symbols,
      // Paused until the node is active: warmup then covers the history up to the start, and the market moves
      // (the crash included) only once the live stream is there to see it.
      speed: 0,
      startTime: start,
      scripts: [{ symbol: "BTCUSDT", from: start + Timeframe.durationMs["5m"], legs: crashLegs }]
    })
    const choice = yield* Storage.choiceConfig
    const demoChoice: Storage.StorageChoice = { ...choice, dataDir: path.join(choice.dataDir, "demo") }
    const settings = yield* NodeSettings.config({
      mode: Option.some("all"),
      exchange: Option.none(),
      autostart: Option.some("sim_binance"),
      takeover: false
    })
    yield* Effect.logInfo(
      `Demo: simulator on ${sim.url} (${flags.symbols} symbols, ${flags.speed}× real time; BTCUSDT crashes and recovers), ` +
        `node on sim_binance; Ctrl-C to stop`
    )
    for (const line of Storage.describeChoice(demoChoice)) yield* Effect.logInfo(`Storage ${line}`)
    const watched = sim.market.symbols.slice(0, 3).map((s) => Market.SymbolId.make(s.binance))
    const node = NodeLayer.make(
      settings,
      demoChoice,
      {
        // Only the simulated exchange moves to the demo's simulator; the admin UI's symbol checks use this too.
        patchRow: (row) => (row.name === "sim_binance" ? new Exchange.Exchange({ ...row, wsUrl: sim.wsUrl, restUrl: sim.url }) : row),
        // Staleness is judged on the simulator's clock: at 300× a one-second pause of this process is five
        // minutes of market, so the grace is widened to keep a hiccup from looking like a dead feed.
        pipeline: { staleGrace: Duration.minutes(Math.max(1, flags.speed / 20)) }
      },
      printer(
        watched,
        Effect.zipRight(
          sim.setClock({ speed: flags.speed }),
          Effect.logInfo(`Demo: sim_binance is active; the market runs at ${flags.speed}× from now`)
        )
      )
    )
    return yield* Layer.launch(node.pipe(Layer.provide(Layer.setClock(SimClock.effectClock(() => sim.clock.now())))))
  }).pipe(Effect.scoped)
).pipe(
  Command.withDescription(
    "Run the simulator and a node on sim_binance in one process (embedded storage unless REDIS_URL/DATABASE_URL are " +
      "set): candles, indicator values and alerts flow within seconds. Data goes under LIVERMORE_DATA_DIR/demo."
  )
)
