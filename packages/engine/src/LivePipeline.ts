/**
 * The live data path of one exchange (domain.md §3, §4, §7, DESIGN.md's "hot data flows as Streams"):
 *
 *   adapter stream ─► chunk ─► Ingest (one pipelined write per kind) ─► closed candles ─► SeriesTrack per series
 *     ─► MACD-V step + indicator key + update ─► alert rules ─► `channel:alerts:{id}` (once) ─► AlertOutbox
 *
 * A closed candle is applied only when it follows the last one applied; anything after a hole waits while the
 * hole is fetched from REST (GapRepair), in a fiber of its own so one series' repair never holds up another's
 * candles. A reconnect, a sequence gap and a staleness check all start repairs up to the latest settled close.
 * Alerts fire only on fresh candles, so a series that went stale fires nothing until repaired (and repaired
 * history is not news). Cache writes are retried with back-off: a Redis restart pauses the pipeline, the socket
 * buffer absorbs it (or the adapter reconnects and the gap is repaired), and nothing is dropped on the floor.
 */
import { Bus, type CacheError, CandleCache, IndicatorStore, Keys, PublicCatalog, type TickerCache } from "@livermore/cache"
import { Alert, type Candle, type Market, Timeframe } from "@livermore/domain"
import { ExchangeAdapter, type ExchangeError, type MarketEvent } from "@livermore/exchange"
import type { AlertRules } from "@livermore/indicators"
import { Chunk, Clock, Duration, Effect, Ref, Schedule, type Scope, Stream } from "effect"
import * as AlertFactory from "./AlertFactory.js"
import { AlertOutbox } from "./AlertOutbox.js"
import * as GapRepair from "./GapRepair.js"
import * as IndicatorRecord from "./IndicatorRecord.js"
import * as Ingest from "./Ingest.js"
import * as Metrics from "./Metrics.js"
import { SeriesTrack } from "./SeriesTrack.js"

/** What the pipeline serves and how it behaves. */
export interface Options {
  readonly symbols: ReadonlyArray<Market.SymbolId>
  readonly timeframes: ReadonlyArray<Timeframe.Timeframe>
  /** Added to 2 × timeframe before a series counts as stale and a candle as too old to alert on. Default 30 s. */
  readonly staleGrace?: Duration.DurationInput | undefined
  /** How long after a boundary a close counts as settled on the exchange, for repairs up to "now". Default 5 s. */
  readonly settle?: Duration.DurationInput | undefined
  /** How often series are checked for staleness. Default 5 s. */
  readonly staleCheckInterval?: Duration.DurationInput | undefined
  /** Repairs fetching at once (the adapter's governor paces them anyway). Default 4. */
  readonly repairConcurrency?: number | undefined
  /** First and longest delay between attempts of a failed repair or cache write. Default 200 ms and 30 s. */
  readonly retryBase?: Duration.DurationInput | undefined
  readonly retryCap?: Duration.DurationInput | undefined
  /** How long an alert's "published once" claim lasts. Default 7 days. */
  readonly alertOnceTtl?: Duration.DurationInput | undefined
  /** Series primed at once. Default 16. */
  readonly primeConcurrency?: number | undefined
  /** Told of each connection event (the lifecycle follows them). */
  readonly onConnection?: ((event: Ingest.ConnectionEvent) => Effect.Effect<void>) | undefined
  /** Told the number of stale series after each check. */
  readonly onStaleCount?: ((count: number) => Effect.Effect<void>) | undefined
  /**
   * Told, for each alert published from live data, the milliseconds from the arrival of the chunk holding its
   * closing candle at the pipeline to the alert's publication (what `livermore_close_to_alert_latency_seconds`
   * records; benchmarks take exact samples here).
   */
  readonly onAlertLatency?: ((milliseconds: number) => void) | undefined
}

/** What priming found. */
export interface PrimeReport {
  readonly series: number
  /** Series that resumed from their stored state (catching up on cached candles). */
  readonly resumed: number
  /** Series recomputed from the cache (no state, or one the cache no longer reaches). */
  readonly recomputed: number
  /** Series with no closed candle cached. */
  readonly empty: number
  /** Alerts fired while catching up (fresh candles a restart would otherwise have missed). */
  readonly alerts: number
}

/** One exchange's live pipeline. */
export interface LivePipeline {
  /** Load every series' state (stored, or recomputed from the cache) before live data flows. */
  readonly prime: Effect.Effect<PrimeReport, CacheError.CacheError>
  /** Consume the adapter's live stream until it ends; fails only when the adapter gives up reconnecting. */
  readonly run: Effect.Effect<void, ExchangeError.ExchangeError>
  /** The live tracks, by `seriesId`. */
  readonly tracks: ReadonlyMap<string, SeriesTrack>
  /** Alerts published so far. */
  readonly alertsPublished: Effect.Effect<number>
}

/** Most events handled (and written) as one batch. */
export const maxBatch = 1024

/**
 * The adapter's events in batches of whatever has arrived since the last batch was taken (up to `maxBatch`),
 * never waiting for more: one event at a time while the feed is quiet (no added latency), large batches when it
 * is busy or while a write is in flight (one round trip for many updates). Adapters emit one chunk per socket
 * message, so without this every update would cost its own round trip. The buffer between is bounded: a pipeline
 * that cannot keep up pushes back on the socket, whose own bound then drops and repairs the connection.
 */
export const batched = <A, E>(events: Stream.Stream<A, E>): Stream.Stream<A, E> =>
  Stream.unwrapScoped(
    Effect.map(Stream.toQueueOfElements(events, { capacity: 16 * maxBatch }), (queue) =>
      Stream.fromQueue(queue, { maxChunkSize: maxBatch }).pipe(Stream.flattenExitOption)
    )
  )

/** The map key of a series. */
export const seriesId = (symbol: string, timeframe: Timeframe.Timeframe): string => `${symbol}\u0000${timeframe}`

type Env =
  | ExchangeAdapter.ExchangeAdapter
  | CandleCache.CandleCache
  | IndicatorStore.IndicatorStore
  | Bus.Bus
  | AlertOutbox
  | TickerCache.TickerCache
  | PublicCatalog.PublicCatalog

/** Build the pipeline for `options.symbols` × `options.timeframes` over the services of the environment. */
export const make = (options: Options): Effect.Effect<LivePipeline, never, Env> =>
  Effect.gen(function* () {
    const services = yield* Effect.context<Env>()
    const adapter = yield* ExchangeAdapter.ExchangeAdapter
    const cache = yield* CandleCache.CandleCache
    const indicators = yield* IndicatorStore.IndicatorStore
    const bus = yield* Bus.Bus
    const outbox = yield* AlertOutbox
    const catalog = yield* PublicCatalog.PublicCatalog
    const exchange = adapter.exchange
    const exchangeId = exchange.id
    const graceMs = Duration.toMillis(options.staleGrace ?? Duration.seconds(30))
    const settleMs = Duration.toMillis(options.settle ?? Duration.seconds(5))
    const staleCheckInterval = Duration.decode(options.staleCheckInterval ?? Duration.seconds(5))
    const retryBase = Duration.decode(options.retryBase ?? Duration.millis(200))
    const retryCap = Duration.decode(options.retryCap ?? Duration.seconds(30))
    const alertOnceTtl = Duration.decode(options.alertOnceTtl ?? Duration.days(7))
    const repairs = yield* Effect.makeSemaphore(Math.max(1, options.repairConcurrency ?? 4))
    const published = yield* Ref.make(0)

    const tracks = new Map<string, SeriesTrack>()
    const bySymbol = new Map<string, Array<SeriesTrack>>()
    for (const symbol of options.symbols) {
      const siblings: Array<SeriesTrack> = []
      for (const timeframe of options.timeframes) {
        const track = new SeriesTrack({ exchangeId, symbol, timeframe })
        tracks.set(seriesId(symbol, timeframe), track)
        siblings.push(track)
      }
      bySymbol.set(symbol, siblings)
    }

    const backoff = Schedule.exponential(retryBase).pipe(
      Schedule.modifyDelay((_, delay) => Duration.min(delay, retryCap))
    )
    /** Retry a write that failed (Redis restarting, a connection being replaced) until it lands. */
    const persistently = <A>(what: string, effect: Effect.Effect<A, CacheError.CacheError>): Effect.Effect<A> =>
      effect.pipe(
        Effect.tapError((error) => Effect.logWarning(`${what} failed, retrying: ${error.message}`)),
        Effect.retry(backoff),
        Effect.orDie
      )

    /**
     * Publish and hand over the alerts, then write (and publish) the records of `dirty`. Alerts go first: they
     * are what latency matters for, and a record is the mark of work done — a crash between the two replays the
     * candle after a restart, and the alert's once-claim keeps the replay from publishing it again.
     */
    const emit = (
      dirty: ReadonlySet<SeriesTrack>,
      fired: ReadonlyArray<readonly [SeriesTrack, AlertRules.Fired]>,
      now: number,
      publish = true,
      arrivedAt?: number
    ): Effect.Effect<void> =>
      Effect.gen(function* () {
        for (const [track, rule] of fired) {
          const alert = AlertFactory.make(exchange, track, rule, bySymbol.get(track.series.symbol) ?? [track], now)
          const once = {
            key: Keys.alertOnce(exchangeId, alert.symbol, alert.timeframe, alert.label, alert.candleOpenTime),
            ttl: alertOnceTtl
          }
          const first = yield* persistently(
            "Alert publication",
            bus.publishOnce(Keys.alertsChannel(exchangeId), Alert.Alert, alert, once)
          )
          if (first) {
            yield* Ref.update(published, (n) => n + 1)
            if (arrivedAt !== undefined) {
              const latency = performance.now() - arrivedAt
              options.onAlertLatency?.(latency)
              yield* Metrics.recordCloseToAlertLatency(exchange.name, Duration.millis(latency))
            }
            yield* Effect.logInfo(`Alert ${alert.label} on ${alert.symbol} ${alert.timeframe}`).pipe(
              Effect.annotateLogs({ value: alert.value, price: alert.price, candleOpenTime: alert.candleOpenTime })
            )
            // The public alert history (read by pw-host nodes from Redis alone); only the publishing instance
            // appends, so the feed holds each alert once.
            yield* persistently("Alert feed", catalog.appendAlert(alert))
          }
          // Offered even when it was already published: the store's uniqueness makes a second offer harmless, and
          // it covers a crash between the publication and the store.
          yield* outbox.offer(alert)
        }
        if (dirty.size > 0) {
          const records: Array<readonly [Keys.SeriesKey, IndicatorRecord.IndicatorRecord]> = []
          for (const track of dirty) {
            track.stale = track.isStale(now, graceMs)
            records.push([
              track.series,
              IndicatorRecord.make({
                series: track.series,
                accumulator: track.accumulator,
                alerts: track.alerts,
                lastOpenTime: track.lastOpenTime,
                stale: track.stale,
                now
              })
            ])
          }
          yield* persistently("Indicator write", indicators.setMany(IndicatorRecord.IndicatorRecord, records))
          if (publish) {
            yield* persistently(
              "Indicator publication",
              bus.publishBatch(
                IndicatorRecord.IndicatorRecord,
                records.map(([series, record]) => [Keys.indicatorChannel(series), record] as const)
              )
            )
          }
        }
      })

    /** Apply what follows `lastOpenTime` without a hole: the candles given, then any held ones they reach. */
    const applyInOrder = (
      track: SeriesTrack,
      candles: ReadonlyArray<Candle.Candle>,
      now: number,
      fired: Array<readonly [SeriesTrack, AlertRules.Fired]>
    ): number => {
      let applied = 0
      const step = (candle: Candle.Candle) => {
        if (track.lastOpenTime !== null && candle.openTime !== track.lastOpenTime + track.timeframeMs) return
        for (const rule of track.apply(candle, now, graceMs, true)) fired.push([track, rule])
        applied++
      }
      for (const candle of candles) step(candle)
      for (const candle of track.ready()) step(candle)
      return applied
    }

    /**
     * Fill the holes of `track` (before its held candles, or up to `upTo`), applying as it goes, until nothing is
     * missing. The caller has set `track.repairing`; it is cleared in the same synchronous step that finds no more
     * hole, so no candle can be held after the last look.
     */
    const repair = (track: SeriesTrack, upTo: number | undefined): Effect.Effect<void> =>
      Effect.gen(function* () {
        const { series } = track
        while (true) {
          const now = yield* Clock.currentTimeMillis
          const fired: Array<readonly [SeriesTrack, AlertRules.Fired]> = []
          const range = yield* Effect.sync(() => {
            const drained = applyInOrder(track, [], now, fired)
            const missing = track.missing(upTo)
            if (missing === undefined) track.repairing = false
            return { missing, drained }
          })
          if (range.drained > 0 || fired.length > 0) yield* emit(new Set([track]), fired, now)
          if (range.missing === undefined) return
          const { from, to } = range.missing
          yield* Metrics.recordGapsFound(exchange.name, series.timeframe)
          yield* Effect.logDebug(
            `Repairing ${series.symbol} ${series.timeframe}: ${Timeframe.countBetween(series.timeframe, from, to)} candle(s) from ${new Date(from).toISOString()}`
          )
          const repaired = yield* repairs.withPermits(1)(
            GapRepair.fetchRange(series, range.missing, track.accumulator.prevClose)
          ).pipe(
            Effect.tapError((error) =>
              Effect.logWarning(`Repair of ${series.symbol} ${series.timeframe} failed, retrying: ${error.message}`)
            ),
            Effect.retry(backoff),
            Effect.orDie
          )
          const after = yield* Clock.currentTimeMillis
          const repairedFired: Array<readonly [SeriesTrack, AlertRules.Fired]> = []
          yield* Effect.sync(() => applyInOrder(track, repaired.candles, after, repairedFired))
          yield* emit(new Set([track]), repairedFired, after)
          yield* Metrics.recordGapsRepaired(exchange.name, series.timeframe)
        }
      }).pipe(Effect.provide(services))

    // Repairs run in the scope of `run`: stopping the live stream stops them too.
    const startRepair = (scope: Scope.Scope, track: SeriesTrack, upTo?: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (track.repairing) return Effect.void
        track.repairing = true
        return Effect.asVoid(Effect.forkIn(repair(track, upTo), scope))
      })

    /** Repair every served timeframe of `symbols` up to the latest settled close. */
    const repairAll = (scope: Scope.Scope, symbols: ReadonlyArray<Market.SymbolId>, now: number) =>
      Effect.forEach(
        symbols,
        (symbol) =>
          Effect.forEach(bySymbol.get(symbol) ?? [], (track) =>
            startRepair(scope, track, Timeframe.lastClosedOpenTime(track.series.timeframe, now - settleMs))
          ),
        { discard: true }
      )

    const handle = (scope: Scope.Scope, events: Chunk.Chunk<MarketEvent.MarketEvent>) =>
      Effect.gen(function* () {
        const arrivedAt = performance.now()
        const sorted = Ingest.sort(exchangeId, events)
        yield* Metrics.recordWsMessages(exchange.name, Chunk.size(events))
        yield* persistently("Candle write", Ingest.write(exchangeId, sorted).pipe(Effect.provide(services)))
        const now = yield* Clock.currentTimeMillis
        for (const event of sorted.connection) {
          if (options.onConnection !== undefined) yield* options.onConnection(event)
          if (event._tag === "Reconnected" || event._tag === "Gap") yield* repairAll(scope, event.symbols, now)
        }
        const dirty = new Set<SeriesTrack>()
        const fired: Array<readonly [SeriesTrack, AlertRules.Fired]> = []
        const gaps: Array<SeriesTrack> = []
        for (const { series, candle } of sorted.closed) {
          const track = tracks.get(seriesId(series.symbol, series.timeframe))
          if (track === undefined) continue
          switch (track.classify(candle)) {
            case "next":
              for (const rule of track.apply(candle, now, graceMs, true)) fired.push([track, rule])
              dirty.add(track)
              break
            case "gap":
              gaps.push(track)
              break
            default:
          }
        }
        yield* emit(dirty, fired, now, true, arrivedAt)
        for (const track of gaps) yield* startRepair(scope, track)
        // Counted per timeframe once per chunk: a tagged metric per candle would cost more than the candle.
        const written = new Map<Timeframe.Timeframe, number>()
        for (const { series } of sorted.candles) written.set(series.timeframe, (written.get(series.timeframe) ?? 0) + 1)
        for (const [timeframe, count] of written) yield* Metrics.recordCandlesWritten(exchange.name, timeframe, count)
      })

    const checkStaleness = (scope: Scope.Scope) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const changed = new Set<SeriesTrack>()
        let stale = 0
        for (const track of tracks.values()) {
          const isStale = track.isStale(now, graceMs)
          if (isStale !== track.stale) {
            changed.add(track)
            yield* isStale
              ? Effect.logWarning(
                  `${track.series.symbol} ${track.series.timeframe} is stale: last close ${new Date(track.lastOpenTime ?? 0).toISOString()}; no alerts until repaired`
                )
              : Effect.logInfo(`${track.series.symbol} ${track.series.timeframe} is fresh again`)
          }
          if (!isStale) continue
          stale++
          yield* startRepair(scope, track, Timeframe.lastClosedOpenTime(track.series.timeframe, now - settleMs))
        }
        yield* emit(changed, [], now)
        yield* Metrics.setStaleSeries(exchange.name, stale)
        if (options.onStaleCount !== undefined) yield* options.onStaleCount(stale)
      })

    const prime: Effect.Effect<PrimeReport, CacheError.CacheError> = Effect.gen(function* () {
      const all = [...tracks.values()]
      const stored = yield* indicators.getMany(
        all.map((track) => track.series),
        IndicatorRecord.IndicatorRecord
      )
      const now = yield* Clock.currentTimeMillis
      const report = { series: all.length, resumed: 0, recomputed: 0, empty: 0, alerts: 0 }
      const fired: Array<readonly [SeriesTrack, AlertRules.Fired]> = []
      yield* Effect.forEach(
        all,
        (track, i) =>
          Effect.gen(function* () {
            const record = stored[i]
            const saved = record !== undefined && record._tag === "Some" ? record.value : undefined
            const last = saved?.lastOpenTime ?? null
            let cached = (yield* cache.range(track.series, last === null ? 0 : last + 1, Number.MAX_SAFE_INTEGER)).filter(
              (candle) => candle.closed
            )
            if (last !== null && cached.length > 0 && cached[0]!.openTime !== last + track.timeframeMs) {
              // The stored state is behind what the cache still holds: recomputing needs all of it.
              cached = (yield* cache.range(track.series, 0, Number.MAX_SAFE_INTEGER)).filter((candle) => candle.closed)
            }
            const { primed, fired: caughtUp } = track.prime(saved, cached, now, graceMs)
            for (const rule of caughtUp) fired.push([track, rule])
            if (primed._tag === "Resumed") report.resumed++
            else if (primed._tag === "Recomputed") report.recomputed++
            else report.empty++
          }),
        { concurrency: Math.max(1, options.primeConcurrency ?? 16), discard: true }
      )
      yield* emit(new Set(all.filter((track) => track.lastOpenTime !== null)), fired, now, false)
      report.alerts = fired.length
      return report
    }).pipe(Effect.withSpan("LivePipeline.prime", { attributes: { exchange: exchange.name, series: tracks.size } }))

    const run: Effect.Effect<void, ExchangeError.ExchangeError> = Effect.scoped(
      Effect.gen(function* () {
        const scope = yield* Effect.scope
        // Held candles found while priming (a hole after the stored state) are repaired first.
        for (const track of tracks.values()) if (track.pending.size > 0) yield* startRepair(scope, track)
        yield* Effect.forkIn(
          checkStaleness(scope).pipe(Effect.repeat(Schedule.spaced(staleCheckInterval)), Effect.asVoid),
          scope
        )
        yield* batched(adapter.stream({ symbols: options.symbols, timeframes: options.timeframes, tickers: true })).pipe(
          Stream.chunks,
          Stream.runForEach((events) => handle(scope, events))
        )
      })
    ).pipe(Effect.provide(services))

    return {
      prime,
      run,
      tracks,
      alertsPublished: Ref.get(published)
    } satisfies LivePipeline
  })
