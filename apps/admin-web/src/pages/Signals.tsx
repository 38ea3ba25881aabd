/**
 * Signals: the live alert feed, the alert history with filters (refreshed every 5 s), and a chart of a followed
 * series — candles, the MACD-V pane (MACD-V, signal, histogram) and alert markers — following it live over the
 * `WatchChart` stream. The series offered are the exchange's top N and the watchlist.
 */
import type { AlertView, Chart } from "@livermore/admin-rpc/shared"
import { type Alert, type Exchange, type Market, type Timeframe, UserSettings } from "@livermore/domain"
import { Either } from "effect"
import {
  CandlestickSeries,
  createChart,
  createSeriesMarkers,
  HistogramSeries,
  type IChartApi,
  LineSeries,
  type UTCTimestamp
} from "lightweight-charts"
import { useCallback, useEffect, useRef, useState } from "react"
import { time } from "../format.js"
import { useCall, useStream } from "../hooks.js"
import type { AdminRuntime } from "../rpc.js"

const timeframes: ReadonlyArray<Timeframe.Timeframe> = ["5m", "15m", "1h", "4h", "1d"]
/** Labels the history filter suggests; any level (a multiple of 50 beyond ±150) can be typed. */
const alertLabels = ["level_-200", "level_-150", "level_+150", "level_+200", "reversal_oversold", "reversal_overbought"]
const seconds = (ms: number) => (ms / 1000) as UTCTimestamp

export const SignalsPage = ({ runtime }: { runtime: AdminRuntime }) => {
  const { value: cards } = useStream(runtime, (admin) => admin.WatchNetwork())
  const served = (cards ?? []).filter((card) => card.status !== null).map((card) => card.name)
  const [exchange, setExchange] = useState<string>("")
  const chosenExchange = exchange !== "" ? exchange : (served[0] ?? "")
  const [symbols, setSymbols] = useState<ReadonlyArray<string>>([])
  const [symbol, setSymbol] = useState("")
  const [timeframe, setTimeframe] = useState<Timeframe.Timeframe>(UserSettings.empty.chart.timeframe)
  const [bars, setBars] = useState(UserSettings.empty.chart.bars)
  const [history, setHistory] = useState<ReadonlyArray<AlertView>>([])
  /** History filters; "" = any. */
  const [filter, setFilter] = useState({ symbol: "", timeframe: "", label: "" })
  const [live, setLive] = useState<ReadonlyArray<Alert.Alert>>([])
  const { run, error } = useCall(runtime)
  const { value: latest } = useStream(runtime, (admin) => admin.WatchAlerts())

  // The chart opens with the admin's chart settings (Settings page); stored settings that are invalid leave the defaults.
  useEffect(() => {
    void run((admin) => admin.GetSettings()).then((found) => {
      const settings = found === null ? Either.left([]) : UserSettings.validate(found.document)
      if (Either.isRight(settings)) {
        setTimeframe(settings.right.chart.timeframe)
        setBars(settings.right.chart.bars)
      }
    })
  }, [run])

  // The chart follows its series live: again on each close, and every 2 s for the forming candle.
  const seriesKey = chosenExchange === "" || symbol === "" ? null : `${chosenExchange}|${symbol}|${timeframe}|${bars}`
  const { value: chart, error: chartError } = useStream(
    runtime,
    (admin) =>
      admin.WatchChart({
        exchange: chosenExchange as Exchange.ExchangeName,
        symbol: symbol as Market.SymbolId,
        timeframe,
        limit: bars
      }),
    seriesKey
  )

  useEffect(() => {
    if (latest !== null) setLive((all) => [latest, ...all].slice(0, 50))
  }, [latest])

  useEffect(() => {
    if (chosenExchange === "") return
    void run((admin) => admin.Watchlist({ exchange: chosenExchange as Exchange.ExchangeName })).then((found) => {
      if (found === null) return
      const followed: ReadonlyArray<string> = [...new Set([...found.top.map((s) => s.symbol), ...found.watchlist.flatMap((c) => (c.symbol === null ? [] : [c.symbol]))])]
      setSymbols(followed)
      setSymbol((current) => (current !== "" && followed.includes(current) ? current : (followed[0] ?? "")))
    })
  }, [run, chosenExchange])

  const load = useCallback(async () => {
    if (chosenExchange === "") return
    const series = { exchange: chosenExchange as Exchange.ExchangeName }
    const alerts = await run((admin) =>
      admin.Alerts({
        exchange: series.exchange,
        ...(filter.symbol === "" ? {} : { symbol: filter.symbol as Market.SymbolId }),
        ...(filter.timeframe === "" ? {} : { timeframe: filter.timeframe as Timeframe.Timeframe }),
        ...(filter.label === "" ? {} : { label: filter.label }),
        limit: 100
      })
    )
    if (alerts !== null) setHistory(alerts)
  }, [run, chosenExchange, filter])

  useEffect(() => {
    void load()
    const timer = window.setInterval(() => void load(), 5_000)
    return () => window.clearInterval(timer)
  }, [load])

  return (
    <section>
      <h2>Signals</h2>
      <form className="inline" onSubmit={(event) => event.preventDefault()}>
        <select name="exchange" value={chosenExchange} onChange={(e) => setExchange(e.target.value)}>
          {served.length === 0 && <option value="">no exchange served</option>}
          {served.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        <select name="symbol" value={symbol} onChange={(e) => setSymbol(e.target.value)}>
          {symbols.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <select name="timeframe" value={timeframe} onChange={(e) => setTimeframe(e.target.value as Timeframe.Timeframe)}>
          {timeframes.map((tf) => (
            <option key={tf} value={tf}>
              {tf}
            </option>
          ))}
        </select>
      </form>
      {error !== null && <p className="error" role="alert">{error}</p>}
      {chartError !== null && <p className="error" role="alert">{chartError}</p>}
      <SeriesChart chart={chart} />
      <p className="muted" data-testid="chart-summary">
        {chart === null
          ? "No chart yet"
          : `${chart.bars.length} bars, ${chart.bars.filter((b) => b.macdV !== null).length} with MACD-V, ${chart.alerts.length} alerts`}
      </p>
      <h3>Live alerts</h3>
      <ul data-testid="live-alerts">
        {live.length === 0 && <li className="muted">Waiting for alerts…</li>}
        {live.map((a) => (
          <li key={`${a.exchangeId}-${a.symbol}-${a.timeframe}-${a.label}-${a.candleOpenTime}`}>
            {time(a.triggeredAt)} {a.exchangeName} {a.symbol} {a.timeframe} <strong>{a.label}</strong> at {a.price} (MACD-V{" "}
            {a.value.toFixed(1)})
          </li>
        ))}
      </ul>
      <h3>History</h3>
      <form className="inline" onSubmit={(event) => event.preventDefault()}>
        <select name="history-symbol" value={filter.symbol} onChange={(e) => setFilter({ ...filter, symbol: e.target.value })}>
          <option value="">every symbol</option>
          {symbols.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <select name="history-timeframe" value={filter.timeframe} onChange={(e) => setFilter({ ...filter, timeframe: e.target.value })}>
          <option value="">every timeframe</option>
          {timeframes.map((tf) => (
            <option key={tf} value={tf}>
              {tf}
            </option>
          ))}
        </select>
        <input
          name="history-label"
          list="alert-labels"
          placeholder="every signal (level_-150, reversal_oversold …)"
          value={filter.label}
          onChange={(e) => setFilter({ ...filter, label: e.target.value.trim() })}
        />
        <datalist id="alert-labels">
          {alertLabels.map((label) => (
            <option key={label} value={label} />
          ))}
        </datalist>
      </form>
      <table>
        <thead>
          <tr>
            <th>Triggered</th>
            <th>Symbol</th>
            <th>Timeframe</th>
            <th>Signal</th>
            <th>Price</th>
            <th>MACD-V</th>
            <th>Delivered</th>
          </tr>
        </thead>
        <tbody data-testid="alert-rows">
          {history.map(({ id, alert, notificationSent }) => (
            <tr key={id}>
              <td>{time(alert.triggeredAt)}</td>
              <td>{alert.symbol}</td>
              <td>{alert.timeframe}</td>
              <td>{alert.label}</td>
              <td>{alert.price}</td>
              <td>{alert.value.toFixed(1)}</td>
              <td>{notificationSent ? "yes" : "no"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}

/** Candles above, the MACD-V pane below, alerts as markers on the candles. */
const SeriesChart = ({ chart }: { chart: Chart | null }) => {
  const container = useRef<HTMLDivElement | null>(null)
  const api = useRef<IChartApi | null>(null)

  useEffect(() => {
    if (container.current === null) return
    const created = createChart(container.current, { height: 520, layout: { background: { color: "#ffffff" } } })
    api.current = created
    return () => {
      created.remove()
      api.current = null
    }
  }, [])

  useEffect(() => {
    const target = api.current
    if (target === null || chart === null) return
    for (const series of [...target.panes()].flatMap((pane) => pane.getSeries())) target.removeSeries(series)
    const candles = target.addSeries(CandlestickSeries, {})
    candles.setData(chart.bars.map((b) => ({ time: seconds(b.openTime), open: b.open, high: b.high, low: b.low, close: b.close })))
    const withValue = chart.bars.filter((b) => b.macdV !== null)
    target
      .addSeries(HistogramSeries, { color: "#9aa7bd", priceLineVisible: false }, 1)
      .setData(withValue.filter((b) => b.histogram !== null).map((b) => ({ time: seconds(b.openTime), value: b.histogram! })))
    target
      .addSeries(LineSeries, { color: "#2962ff", lineWidth: 2, priceLineVisible: false }, 1)
      .setData(withValue.map((b) => ({ time: seconds(b.openTime), value: b.macdV! })))
    target
      .addSeries(LineSeries, { color: "#ff6d00", lineWidth: 1, priceLineVisible: false }, 1)
      .setData(withValue.filter((b) => b.signal !== null).map((b) => ({ time: seconds(b.openTime), value: b.signal! })))
    createSeriesMarkers(
      candles,
      chart.alerts
        .map(({ alert }) => ({
          time: seconds(alert.candleOpenTime),
          position: alert.value >= 0 ? ("aboveBar" as const) : ("belowBar" as const),
          color: alert.value >= 0 ? "#c0392b" : "#2e9e5b",
          shape: alert.value >= 0 ? ("arrowDown" as const) : ("arrowUp" as const),
          text: alert.label
        }))
        .sort((a, b) => a.time - b.time)
    )
    target.timeScale().fitContent()
  }, [chart])

  return <div ref={container} className="chart" data-testid="chart" />
}
