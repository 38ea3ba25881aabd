/**
 * Symbols: an exchange's shared top N pool (Tier 1) and the admin's watchlist (Tier 2), each with its volume,
 * liquidity grade and cached candles. Symbols are added one at a time or in bulk (pasted or from a file), always
 * checked against the exchange's current listing first and previewed with their metrics; the serving instance
 * follows the change at its next `reload-settings`, which the page offers to send.
 */
import type { AdminUser, CandlesCached, SymbolCheck, WatchlistView } from "@livermore/admin-rpc/shared"
import type { Exchange, Market } from "@livermore/domain"
import { FileImport } from "../FileImport.js"
import { useCallback, useEffect, useState } from "react"
import { useCall, useStream } from "../hooks.js"
import type { AdminRuntime } from "../rpc.js"

const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 })
const volume = (value: number | null): string => (value === null ? "–" : compact.format(value))
const cachedText = (counts: CandlesCached): string =>
  (Object.entries(counts) as Array<[string, number]>).map(([tf, n]) => `${tf} ${n}`).join(" · ")

/**
 * Pasted or imported text as symbols: separated by commas, semicolons, tabs, spaces or new lines; quotes, a
 * `symbol` header and plain numbers (a CSV's other columns, such as quantities) are dropped.
 */
const parseList = (text: string): Array<string> => [
  ...new Set(
    text
      .split(/[\s,;]+/)
      .map((s) => s.trim().replace(/^"|"$/g, ""))
      .filter((s) => s !== "" && !/^symbols?$/i.test(s) && !/^[-+]?[\d.]+$/.test(s))
  )
]

const statusText: Record<SymbolCheck["status"], string> = {
  new: "can be added",
  top: "already followed (top N)",
  watched: "already on the watchlist",
  repeated: "repeated in the input",
  unknown: "not listed by the exchange"
}

export const SymbolsPage = ({ runtime, user }: { runtime: AdminRuntime; user: AdminUser }) => {
  const { value: cards } = useStream(runtime, (admin) => admin.WatchNetwork())
  const names = (cards ?? []).map((card) => card.name)
  const [exchange, setExchange] = useState("")
  const chosen = exchange !== "" ? exchange : (cards?.find((c) => c.status !== null)?.name ?? names[0] ?? "")
  const card = cards?.find((c) => c.name === chosen)
  const [view, setView] = useState<WatchlistView | null>(null)
  const [input, setInput] = useState("")
  const [preview, setPreview] = useState<ReadonlyArray<SymbolCheck> | null>(null)
  const [saved, setSaved] = useState<string | null>(null)
  const { run, error, busy } = useCall(runtime)

  const load = useCallback(async () => {
    if (chosen === "") return
    const found = await run((admin) => admin.Watchlist({ exchange: chosen as Exchange.ExchangeName }))
    if (found !== null) setView(found)
  }, [run, chosen])

  useEffect(() => {
    setPreview(null)
    setSaved(null)
    void load()
  }, [load])

  const check = async (symbols: ReadonlyArray<string>) => {
    if (symbols.length === 0) return
    const checks = await run((admin) => admin.CheckSymbols({ exchange: chosen as Exchange.ExchangeName, symbols }))
    if (checks !== null) setPreview(checks)
  }

  const save = async (symbols: ReadonlyArray<Market.SymbolId>, what: string) => {
    const next = await run((admin) => admin.SetWatchlist({ exchange: chosen as Exchange.ExchangeName, symbols }))
    if (next !== null) {
      setView(next)
      setPreview(null)
      setInput("")
      setSaved(what)
    }
  }

  const watched = (view?.watchlist ?? []).flatMap((c) => (c.symbol === null ? [] : [c.symbol]))
  const addable = (preview ?? []).flatMap((c) => (c.status === "new" && c.symbol !== null ? [c.symbol] : []))

  const addFromPreview = () => save([...watched, ...addable], `${addable.length} added`)
  const remove = (symbol: Market.SymbolId) => save(watched.filter((s) => s !== symbol), `${symbol} removed`)

  const importFile = async (file: File) => {
    const symbols = parseList(await file.text())
    setInput(symbols.join("\n"))
    await check(symbols)
  }

  const instanceId = card?.status?.instanceId ?? null
  const reload = async () => {
    if (instanceId === null) return
    const result = await run((admin) => admin.SendCommand({ instanceId, command: { _tag: "reload-settings" } }))
    if (result === null) return
    setSaved("applied: the instance reloaded its symbols")
    // Added symbols were warmed up before the command finished: show their cached candles.
    await load()
  }

  const followedBy = view?.followedBy ?? null
  const mine = followedBy !== null && followedBy === user.email

  return (
    <section>
      <h2>Symbols</h2>
      <div className="inline">
        <label>
          Exchange{" "}
          <select name="symbols-exchange" value={chosen} onChange={(e) => setExchange(e.target.value)}>
            {names.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
      </div>
      {view !== null && (
        <p className="hint" data-testid="followed-by">
          {followedBy === null
            ? `No instance serves ${view.exchange} now; the watchlist applies when one starts.`
            : mine
              ? `The serving instance follows your settings.`
              : `The serving instance follows the settings of ${followedBy}, not yours (${user.email ?? user.subject}): your watchlist is kept but not followed there.`}
        </p>
      )}
      {view?.listingError !== null && view?.listingError !== undefined && (
        <p className="error" role="alert">
          The watchlist could not be checked: {view.listingError}
        </p>
      )}
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {saved !== null && (
        <div className="notice" role="status" data-testid="watchlist-saved">
          Watchlist saved ({saved}).{" "}
          {instanceId !== null && !saved.startsWith("applied") && (
            <button type="button" onClick={() => void reload()} disabled={busy}>
              Apply now (reload-settings)
            </button>
          )}
        </div>
      )}

      <h3>Add to the watchlist</h3>
      <form
        className="stack"
        onSubmit={(event) => {
          event.preventDefault()
          void check(parseList(input))
        }}
      >
        <textarea
          name="symbols-input"
          rows={3}
          placeholder="One or more symbols: BTCUSDT, eth/usdt, SOL-USD … (commas, spaces or one per line)"
          value={input}
          onChange={(e) => setInput(e.target.value)}
        />
        <div className="inline">
          <button type="submit" disabled={busy || parseList(input).length === 0}>
            Check
          </button>
          <FileImport label="Import a file (.txt, .csv)" name="symbols-file" accept=".txt,.csv,text/plain,text/csv" onFile={(file) => void importFile(file)} />
        </div>
      </form>
      {preview !== null && (
        <div data-testid="symbols-preview">
          <table>
            <thead>
              <tr>
                <th>Input</th>
                <th>Symbol</th>
                <th>Check</th>
                <th>24 h volume (quote)</th>
                <th>24 h volume (USD)</th>
                <th>Liquidity</th>
                <th>Candles cached</th>
              </tr>
            </thead>
            <tbody>
              {preview.map((c) => (
                <tr key={c.input} className={c.status === "unknown" ? "bad" : ""} data-testid={`check-${c.input}`}>
                  <td className="mono">{c.input}</td>
                  <td className="mono">{c.symbol ?? "–"}</td>
                  <td>{statusText[c.status]}</td>
                  <td>
                    {volume(c.quoteVolume24h)} {c.quoteAsset ?? ""}
                  </td>
                  <td>{volume(c.quoteVolumeUsd)}</td>
                  <td>{c.liquidityGrade ?? "–"}</td>
                  <td className="mono">{cachedText(c.candlesCached)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="inline">
            <button type="button" onClick={() => void addFromPreview()} disabled={busy || addable.length === 0}>
              Add {addable.length} new {addable.length === 1 ? "symbol" : "symbols"}
            </button>
            <button type="button" onClick={() => setPreview(null)}>
              Cancel
            </button>
          </div>
        </div>
      )}

      <h3>Watchlist ({watched.length})</h3>
      <table data-testid="watchlist">
        <thead>
          <tr>
            <th>Symbol</th>
            <th>Base / quote</th>
            <th>24 h volume (quote)</th>
            <th>24 h volume (USD)</th>
            <th>Liquidity</th>
            <th>Candles cached</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(view?.watchlist ?? []).map((c) => (
            <tr key={c.input} data-testid={`watched-${c.input}`}>
              <td className="mono">{c.input}</td>
              <td>{c.baseAsset === null ? "–" : `${c.baseAsset} / ${c.quoteAsset}`}</td>
              <td>{volume(c.quoteVolume24h)}</td>
              <td>{volume(c.quoteVolumeUsd)}</td>
              <td>{c.status === "unknown" ? "no longer listed" : (c.liquidityGrade ?? "–")}</td>
              <td className="mono">{cachedText(c.candlesCached)}</td>
              <td>
                {c.symbol !== null && (
                  <button type="button" className="danger" onClick={() => void remove(c.symbol!)} disabled={busy}>
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <h3>Top {view?.top.length ?? 0} by volume (shared pool)</h3>
      <table data-testid="top-pool">
        <thead>
          <tr>
            <th>Rank</th>
            <th>Symbol</th>
            <th>24 h volume (quote)</th>
            <th>Liquidity</th>
            <th>Candles cached</th>
          </tr>
        </thead>
        <tbody>
          {(view?.top ?? []).map((s) => (
            <tr key={s.symbol}>
              <td>{s.rank ?? "–"}</td>
              <td className="mono">{s.symbol}</td>
              <td>
                {volume(s.quoteVolume24h)} {s.quoteAsset}
              </td>
              <td>{s.liquidityGrade}</td>
              <td className="mono">{cachedText(s.candlesCached)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}
