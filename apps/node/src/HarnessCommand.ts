/**
 * `livermore harness --exchange NAME`: the end-to-end check an operator runs on a new instance. For one row of
 * the `exchanges` table it loads the last 100 closed daily candles of the BTC symbol through the adapter's REST
 * `history`, writes them to the candle cache and reads them back from their key, then listens to the live
 * WebSocket stream for a few seconds; one report line per check, then PASS (exit 0) or FAIL (exit 1).
 */
import { Command, HelpDoc, Options } from "@effect/cli"
import { NodeHttpClient } from "@effect/platform-node"
import { CandleCache, Keys, RedisClient } from "@livermore/cache"
import { type Candle, type Exchange, Market, Timeframe } from "@livermore/domain"
import { ExchangeAdapter } from "@livermore/exchange"
import { ExchangesRepo, Migrations } from "@livermore/store"
import {
  Clock,
  Config,
  type Context,
  Console,
  Data,
  Duration,
  Effect,
  Either,
  identity,
  Layer,
  Logger,
  LogLevel,
  Option,
  Predicate,
  Ref,
  Stream
} from "effect"
import * as Adapters from "./Adapters.js"
import * as Storage from "./Storage.js"

/** Daily candles the REST check asks for. */
export const requestedCandles = 100
/** Fewest contiguous closed daily candles that pass: what warmup needs before indicators are trusted (domain.md §2). */
export const minimumCandles = 60
/** Bound on the REST step: a venue that has not answered by then is unreachable. */
const restTimeout = Duration.seconds(30)

/** The BTC symbol each protocol lists (exchanges.md: `BTCUSDT` on Binance, `BTC-USD` on Coinbase). */
export const defaultSymbol: Readonly<Record<Exchange.AdapterKind, Market.SymbolId>> = {
  binance: Market.SymbolId.make("BTCUSDT"),
  coinbase: Market.SymbolId.make("BTC-USD")
}

const exchangeName = Options.text("exchange").pipe(
  Options.withDescription("The exchange row to check, by name (sim_binance, coinbase, binance_us, …).")
)
const symbolOption = Options.text("symbol").pipe(
  Options.withSchema(Market.SymbolId),
  Options.optional,
  Options.withDescription("The symbol to check (default BTCUSDT on Binance-protocol rows, BTC-USD on Coinbase ones).")
)
const wsSeconds = Options.integer("ws-seconds").pipe(
  Options.filterMap(
    (seconds) => (seconds >= 1 && seconds <= 60 ? Option.some(seconds) : Option.none()),
    "--ws-seconds must be between 1 and 60"
  ),
  Options.withDefault(2),
  Options.withDescription("How long to listen to the live stream, 1–60 seconds (default 2).")
)

const help = HelpDoc.blocks([
  HelpDoc.p(
    "End-to-end check of one exchange row: REST history, the candle cache and the live WebSocket stream, " +
      "with the storage the node uses (REDIS_URL and DATABASE_URL, or the embedded default; migrations are " +
      "applied first, as start does)."
  ),
  HelpDoc.enumeration([
    HelpDoc.p(
      `rest history: the last ${requestedCandles} closed 1d candles of the symbol through the adapter's REST ` +
        `history; at least ${minimumCandles} must come back.`
    ),
    HelpDoc.p("cache write: those candles upserted into candles:{exchangeId}:{symbol}:1d (after REDIS_KEY_PREFIX)."),
    HelpDoc.p(
      "cache read: read back from that key: the candles written, contiguous, all closed, the newest at the last " +
        "closed day."
    ),
    HelpDoc.p(
      "websocket: the live stream of the symbol (smallest timeframe of the row, and tickers) for --ws-seconds: " +
        "at least one candle or ticker event, no malformed frame, no failure."
    )
  ]),
  HelpDoc.p(
    "Exit code 0 when every check passes, 1 otherwise. An unknown name, a row without an adapter or a venue " +
      "whose REST API cannot be reached stops it with one line on standard error. Quiet unless LOG_LEVEL is set."
  )
])

/** Why the harness stopped before it could judge the exchange. */
export class HarnessError extends Data.TaggedError("HarnessError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** Some check failed: the report has said which; this is the one line on standard error. */
export class HarnessFailed extends Data.TaggedError("HarnessFailed")<{
  readonly exchange: string
  readonly failed: ReadonlyArray<string>
}> {
  override get message(): string {
    return `harness FAIL on ${this.exchange}: ${this.failed.join(", ")}`
  }
}

/** The outcome of one check: one report line. */
export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
  readonly millis: number
}

/** `PASS  rest history   … (12 ms)`. */
export const formatCheck = (check: Check): string =>
  `${check.ok ? "PASS" : "FAIL"}  ${check.name.padEnd(13)} ${check.detail} (${check.millis} ms)`

const day = (openTime: number): string => new Date(openTime).toISOString().slice(0, 10)

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`

/** What the read-back check found wrong, empty when the series is as it should be. */
export const readBackProblems = (
  written: ReadonlyArray<Candle.Candle>,
  read: ReadonlyArray<Candle.Candle>,
  lastClosed: number
): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const dayMs = Timeframe.durationMs["1d"]
  const byOpenTime = new Map(read.map((candle) => [candle.openTime, candle] as const))
  const missing = written.filter((candle) => !byOpenTime.has(candle.openTime)).length
  const differing = written.filter((candle) => {
    const held = byOpenTime.get(candle.openTime)
    return (
      held !== undefined &&
      (held.open !== candle.open ||
        held.high !== candle.high ||
        held.low !== candle.low ||
        held.close !== candle.close ||
        held.volume !== candle.volume ||
        held.closed !== candle.closed)
    )
  }).length
  if (read.length < minimumCandles) problems.push(`only ${read.length} candles, ${minimumCandles} needed`)
  if (missing > 0) problems.push(`${plural(missing, "written candle")} missing`)
  if (differing > 0) problems.push(`${plural(differing, "candle")} differ from what was written`)
  const holes = read.flatMap((candle, i) => {
    const previous = read[i - 1]
    return previous !== undefined && candle.openTime - previous.openTime !== dayMs ? [previous.openTime] : []
  })
  if (holes.length > 0) problems.push(`not contiguous: ${plural(holes.length, "hole")}, the first after ${day(holes[0]!)}`)
  const forming = read.filter((candle) => !candle.closed).length
  if (forming > 0) problems.push(`${plural(forming, "candle")} not closed`)
  const newest = read[read.length - 1]
  if (newest === undefined) problems.push("no candle")
  else if (newest.openTime !== lastClosed) {
    problems.push(`newest ${day(newest.openTime)} is not the last closed day ${day(lastClosed)}`)
  }
  return problems
}

/** Counts of what the live stream delivered. */
interface LiveCounts {
  readonly candles: number
  readonly closedCandles: number
  readonly tickers: number
  readonly reconnects: number
  readonly gaps: number
  readonly other: number
}

const noEvents: LiveCounts = { candles: 0, closedCandles: 0, tickers: 0, reconnects: 0, gaps: 0, other: 0 }

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<readonly [A, number], E, R> =>
  Effect.map(Effect.timed(effect), ([duration, value]) => [value, Math.round(Duration.toMillis(duration))] as const)

type Adapter = Context.Tag.Service<ExchangeAdapter.ExchangeAdapter>

/** The innermost message of a failure's `cause` chain (`connect ECONNREFUSED 127.0.0.1:1` under a transport error). */
const rootMessage = (error: unknown): string => {
  let message = String(error)
  let current: unknown = error
  for (let depth = 0; depth < 8 && Predicate.isObject(current); depth++) {
    if (Predicate.hasProperty(current, "message") && typeof current.message === "string" && current.message !== "") {
      message = current.message
    }
    if (!Predicate.hasProperty(current, "cause")) break
    current = current.cause
  }
  return message
}

/**
 * The REST step. A transport failure or no answer in time means the venue cannot be reached: that stops the
 * harness with one line; any other failure (an HTTP status, a body that does not decode) is a failed check.
 */
const restHistory = (adapter: Adapter, symbol: Market.SymbolId, range: { readonly from: number; readonly to: number }) =>
  Effect.gen(function* () {
    const { exchange } = adapter
    const before = yield* adapter.restStats
    const [outcome, millis] = yield* timed(Effect.either(Effect.timeout(adapter.history(symbol, "1d", range), restTimeout)))
    if (Either.isLeft(outcome)) {
      const error = outcome.left
      if (error._tag === "TimeoutException") {
        return yield* new HarnessError({
          reason: `${exchange.name}: the REST API at ${exchange.restUrl} did not answer within ${Duration.format(restTimeout)}`
        })
      }
      if (error._tag === "RequestFailed" && error.status === undefined) {
        return yield* new HarnessError({
          reason: `${exchange.name}: cannot reach the REST API at ${exchange.restUrl} (${error.request}: ${rootMessage(error.cause)})`
        })
      }
    }
    const requests = (yield* adapter.restStats).requests - before.requests
    return { outcome, millis, requests }
  })

/** Listen to the live stream for `seconds`, counting what arrives. */
const listen = (adapter: Adapter, symbol: Market.SymbolId, timeframe: Timeframe.Timeframe, seconds: number) =>
  Effect.gen(function* () {
    const counts = yield* Ref.make(noEvents)
    const malformedBefore = yield* adapter.malformedFrames
    const [ended, millis] = yield* timed(
      adapter.stream({ symbols: [symbol], timeframes: [timeframe], tickers: true }).pipe(
        Stream.interruptAfter(Duration.seconds(seconds)),
        Stream.runForEach((event) =>
          Ref.update(counts, (c): LiveCounts => {
            switch (event._tag) {
              case "Candle":
                return event.symbol === symbol
                  ? { ...c, candles: c.candles + 1, closedCandles: c.closedCandles + (event.candle.closed ? 1 : 0) }
                  : { ...c, other: c.other + 1 }
              case "Ticker":
                return event.ticker.symbol === symbol ? { ...c, tickers: c.tickers + 1 } : { ...c, other: c.other + 1 }
              case "Reconnected":
                return { ...c, reconnects: c.reconnects + 1 }
              case "Disconnected":
                return c
              case "Gap":
                return { ...c, gaps: c.gaps + 1 }
            }
          })
        ),
        Effect.either
      )
    )
    const malformed = (yield* adapter.malformedFrames) - malformedBefore
    return { ended, counts: yield* Ref.get(counts), malformed, millis }
  })

/** Run every check against `exchange`, printing each line as it completes. */
const checks = (exchange: Exchange.Exchange, symbol: Market.SymbolId, seconds: number) =>
  Effect.gen(function* () {
    const adapter = yield* ExchangeAdapter.ExchangeAdapter
    const cache = yield* CandleCache.CandleCache
    const redis = yield* Effect.serviceOption(RedisClient.RedisClient)
    const results: Array<Check> = []
    const report = (check: Check) =>
      Effect.sync(() => results.push(check)).pipe(Effect.zipRight(Console.log(formatCheck(check))))

    const series = { exchangeId: exchange.id, symbol, timeframe: "1d" as const }
    const key = Option.match(redis, {
      onNone: () => `${Keys.candles(series)} (in-process memory)`,
      onSome: (client) => client.key(Keys.candles(series))
    })
    const now = yield* Clock.currentTimeMillis
    const lastClosed = Timeframe.lastClosedOpenTime("1d", now)
    const range = { from: lastClosed - (requestedCandles - 1) * Timeframe.durationMs["1d"], to: lastClosed }

    // 1. REST history
    const rest = yield* restHistory(adapter, symbol, range)
    const fetched = Either.getOrElse(rest.outcome, () => [])
    const closed = fetched.filter((candle) => candle.closed && candle.openTime >= range.from && candle.openTime <= range.to)
    yield* report({
      name: "rest history",
      ok: Either.isRight(rest.outcome) && closed.length >= minimumCandles,
      millis: rest.millis,
      detail: Either.match(rest.outcome, {
        onLeft: (error) => `GET history failed: ${error.message}`,
        onRight: () =>
          `${closed.length} of ${requestedCandles} closed 1d candles` +
          (closed.length === 0 ? "" : ` ${day(closed[0]!.openTime)} … ${day(closed[closed.length - 1]!.openTime)}`) +
          `, ${plural(rest.requests, "request")}` +
          (closed.length < minimumCandles ? `; at least ${minimumCandles} needed` : "")
      })
    })

    // 2. cache write, 3. cache read-back
    if (closed.length > 0) {
      const [written, writeMillis] = yield* timed(Effect.either(cache.upsertMany(series, closed)))
      yield* report({
        name: "cache write",
        ok: Either.isRight(written),
        millis: writeMillis,
        detail: Either.match(written, {
          onLeft: (error) => `upsert to ${key} failed: ${error.message}`,
          onRight: () => `${closed.length} candles upserted to ${key}`
        })
      })
      const [read, readMillis] = yield* timed(Effect.either(cache.range(series, range.from, range.to)))
      yield* report({
        name: "cache read",
        ok: Either.isRight(read) && readBackProblems(closed, read.right, lastClosed).length === 0,
        millis: readMillis,
        detail: Either.match(read, {
          onLeft: (error) => `read from ${key} failed: ${error.message}`,
          onRight: (candles) => {
            const problems = readBackProblems(closed, candles, lastClosed)
            return problems.length > 0
              ? `${candles.length} candles at ${key}: ${problems.join("; ")}`
              : `${candles.length} candles at ${key}: contiguous, all closed, newest ${day(lastClosed)} = last closed day`
          }
        })
      })
    } else {
      yield* report({ name: "cache", ok: false, millis: 0, detail: "skipped: REST returned no closed candle to write" })
    }

    // 4. live stream
    const timeframe = Timeframe.all.find((tf) => exchange.timeframes.includes(tf)) ?? Timeframe.base
    const live = yield* listen(adapter, symbol, timeframe, seconds)
    const { counts } = live
    const events = counts.candles + counts.tickers
    const failure = Either.match(live.ended, { onLeft: (error) => Option.some(error.message), onRight: () => Option.none() })
    yield* report({
      name: "websocket",
      ok: events > 0 && live.malformed === 0 && Option.isNone(failure),
      millis: live.millis,
      detail:
        `${symbol} ${timeframe} + ticker for ${seconds} s: ` +
        `${plural(counts.candles, "candle event")} (${counts.closedCandles} closed), ${plural(counts.tickers, "ticker event")}, ` +
        `${plural(counts.reconnects, "reconnect")}, ${plural(live.malformed, "malformed frame")}` +
        (counts.gaps > 0 ? `, ${plural(counts.gaps, "gap")}` : "") +
        (counts.other > 0 ? `, ${plural(counts.other, "event")} for other symbols` : "") +
        (events === 0 ? "; no live event arrived" : "") +
        Option.match(failure, { onNone: () => "", onSome: (message) => `; the stream failed: ${message}` })
    })
    return results
  })

/** Resolve the row, naming the known ones when `name` matches none. */
const resolve = (name: string) =>
  Effect.gen(function* () {
    const repo = yield* ExchangesRepo.ExchangesRepo
    return yield* repo.byName(name).pipe(
      Effect.catchTag("UnknownExchange", () =>
        Effect.flatMap(repo.catalog, (rows) => {
          const served = rows.filter((row) => Option.isSome(row.adapter)).map((row) => row.name)
          const listed = rows.filter((row) => Option.isNone(row.adapter)).map((row) => row.name)
          return Effect.fail(
            new HarnessError({
              reason:
                `No exchange named "${name}"; the exchanges table has ${served.join(", ") || "none"}` +
                (listed.length > 0 ? ` (and, without an adapter, ${listed.join(", ")})` : "")
            })
          )
        })
      )
    )
  })

/** The `harness` subcommand. */
export const command = Command.make(
  "harness",
  { exchange: exchangeName, symbol: symbolOption, wsSeconds },
  (flags) =>
    Effect.gen(function* () {
      const choice = yield* Storage.choiceConfig
      const logLevel = yield* Config.option(Config.logLevel("LOG_LEVEL"))
      const storage = Layer.merge(Storage.databaseLayer(choice), Storage.cacheLayer(choice))

      const run = Effect.gen(function* () {
        const migrations = yield* Migrations.run({ directory: Migrations.repoSqlDirectory() })
        const exchange = yield* resolve(flags.exchange)
        const symbol = Option.getOrElse(flags.symbol, () => defaultSymbol[exchange.adapter])
        const [database, cacheLine] = Storage.describeChoice(choice)
        yield* Console.log(
          `Harness: ${exchange.name} (${exchange.displayName}, id ${exchange.id}, ${exchange.adapter} protocol, ` +
            `${exchange.restUrl}, ${exchange.wsUrl}), symbol ${symbol}`
        )
        yield* Console.log(
          `  ${database}; migrations: ${migrations.applied.length === 0 ? "up to date" : `applied ${migrations.applied.length}`} ` +
            `(${migrations.applied.length + migrations.skipped.length})`
        )
        yield* Console.log(`  ${cacheLine}`)

        const adapter = Adapters.layerFor(exchange).pipe(Layer.provide(NodeHttpClient.layerUndici))
        const [results, millis] = yield* timed(Effect.provide(checks(exchange, symbol, flags.wsSeconds), adapter))
        const failed = results.filter((check) => !check.ok).map((check) => check.name)
        const total = `${exchange.name} ${symbol}: ${results.length - failed.length} of ${results.length} checks passed in ${(millis / 1000).toFixed(1)} s`
        if (failed.length > 0) {
          yield* Console.log(`FAIL  ${total}; failed: ${failed.join(", ")}`)
          return yield* new HarnessFailed({ exchange: exchange.name, failed })
        }
        yield* Console.log(`PASS  ${total}`)
      })

      return yield* run.pipe(
        Effect.provide(ExchangesRepo.layer.pipe(Layer.provideMerge(storage))),
        // Adapter and storage logs would interleave with the report; LOG_LEVEL set explicitly shows them.
        Option.isNone(logLevel) ? Logger.withMinimumLogLevel(LogLevel.Warning) : identity
      )
    })
).pipe(Command.withDescription(help))
