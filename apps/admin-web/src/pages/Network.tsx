/**
 * A card per exchange with the live status of the instance serving it, refreshed every second; "Connect" starts an
 * idle instance of an exchange (a takeover of another instance's exchange only after an explicit confirmation), and
 * a warmup panel follows the run while the exchange warms.
 */
import { type ExchangeCard, ExchangeHeld } from "@livermore/admin-rpc/shared"
import type { Warmup } from "@livermore/domain"
import { Effect } from "effect"
import { useEffect, useState } from "react"
import { age, time } from "../format.js"
import { useCall, useStream, useStreamLatest } from "../hooks.js"
import type { AdminRuntime } from "../rpc.js"
import { Connections } from "./Connections.js"

export const NetworkPage = ({ runtime }: { runtime: AdminRuntime }) => {
  const { value: cards, error } = useStream(runtime, (admin) => admin.WatchNetwork())
  return (
    <section>
      <h2>Network</h2>
      {error !== null && <p className="error" role="alert">{error}</p>}
      {cards === null ? (
        <p>Loading…</p>
      ) : (
        <div className="cards">
          {cards.map((card) => (
            <Card key={card.exchangeId} card={card} runtime={runtime} />
          ))}
        </div>
      )}
      <Activity runtime={runtime} />
      {cards !== null && <Connections runtime={runtime} cards={cards} />}
    </section>
  )
}

/** States in which nothing serves the exchange, so "Connect" applies. */
const unserved = (state: string) => state === "offline" || state === "idle" || state === "stopped"

const Card = ({ card, runtime }: { card: ExchangeCard; runtime: AdminRuntime }) => {
  const status = card.status
  const state = status?.connectionState ?? "offline"
  const waiting = card.instances.filter((i) => i.connectionState === "idle" || i.connectionState === "stopped")
  const { run, error, busy } = useCall(runtime)
  const [held, setHeld] = useState<ExchangeHeld | null>(null)
  const [done, setDone] = useState<string | null>(null)
  // The panel stays once the run is seen, showing how it ended, until the exchange is no longer served.
  const [sawWarming, setSawWarming] = useState(false)
  useEffect(() => {
    if (state === "warming") setSawWarming(true)
    else if (state === "stopping" || state === "stopped") setSawWarming(false)
  }, [state])

  const connect = async (takeover: boolean) => {
    setDone(null)
    const outcome = await run((admin) =>
      // The confirmation is asked for here, not shown as an error.
      admin.Connect({ exchange: card.name, takeover }).pipe(Effect.catchTag("ExchangeHeld", (held) => Effect.succeed(held)))
    )
    if (outcome === null) return
    if (outcome instanceof ExchangeHeld) {
      setHeld(outcome)
      return
    }
    setHeld(null)
    // A short warmup can end between two refreshes of the card: follow it from the start.
    setSawWarming(true)
    setDone(`start sent to ${outcome.instanceId}`)
  }

  return (
    <article className={`card state-${state}`} data-testid={`card-${card.name}`}>
      <header>
        <h3>{card.displayName}</h3>
        <span className="badge" data-testid={`state-${card.name}`}>
          {state}
        </span>
      </header>
      <dl>
        <dt>Exchange</dt>
        <dd>{card.name}{card.isActive ? "" : " (inactive)"}</dd>
        <dt>Heartbeat</dt>
        <dd>{age(card.heartbeatAgeMs)}</dd>
        <dt>Host</dt>
        <dd>{status === null ? "–" : `${status.hostname} (${status.ipAddress ?? "no IP"})`}</dd>
        <dt>Instance</dt>
        <dd className="mono" data-testid={`instance-${card.name}`}>
          {status?.instanceId ?? "–"}
        </dd>
        <dt>Connected since</dt>
        <dd>{time(status?.connectedAt ?? null)}</dd>
        <dt>Symbols</dt>
        <dd data-testid={`symbols-${card.name}`}>{status?.symbolCount ?? "–"}</dd>
        <dt>Last error</dt>
        <dd className={status?.lastError ? "error" : ""}>{status?.lastError ?? "–"}</dd>
        <dt>Instances</dt>
        <dd data-testid={`waiting-${card.name}`}>
          {card.instances.length === 0
            ? "none"
            : card.instances.map((i) => `${i.hostname} (${i.instanceId}, ${i.connectionState})`).join(", ")}
        </dd>
      </dl>
      {(state === "warming" || sawWarming) && <WarmupPanel runtime={runtime} exchange={card.name} />}
      {waiting.length > 0 && (unserved(state) || waiting.every((i) => i.instanceId !== status?.instanceId)) && (
        <div className="actions">
          <button type="button" disabled={busy} onClick={() => connect(false)} data-testid={`connect-${card.name}`}>
            Connect
          </button>
        </div>
      )}
      {waiting.length === 0 && unserved(state) && (
        <p className="hint">No instance waits for this exchange: start one with livermore start --exchange {card.name}</p>
      )}
      {done !== null && <p className="hint">{done}</p>}
      {error !== null && <p className="error" role="alert">{error}</p>}
      {held !== null && (
        <div className="modal" role="dialog" aria-label="Take over">
          <form
            onSubmit={(event) => {
              event.preventDefault()
              void connect(true)
            }}
          >
            <h3>{card.name} is served by another instance</h3>
            <dl>
              <dt>Host</dt>
              <dd data-testid="holder-host">{held.holder.hostname}</dd>
              <dt>IP</dt>
              <dd>{held.holder.ipAddress ?? "–"}</dd>
              <dt>Connected since</dt>
              <dd>{time(held.holder.connectedAt)}</dd>
              <dt>State</dt>
              <dd>{held.holder.connectionState}</dd>
              <dt>Instance</dt>
              <dd className="mono">{held.holder.instanceId}</dd>
            </dl>
            <p>Taking over asks that instance to stop; its live data stops until this one is active.</p>
            <div className="actions">
              <button type="button" onClick={() => setHeld(null)}>
                Cancel
              </button>
              <button type="submit" disabled={busy} className="danger">
                Take over
              </button>
            </div>
          </form>
        </div>
      )}
    </article>
  )
}

/** Live warmup progress of one exchange; the stream ends with the run. */
const WarmupPanel = ({ runtime, exchange }: { runtime: AdminRuntime; exchange: ExchangeCard["name"] }) => {
  const { value, error } = useStream(runtime, (admin) => admin.WatchWarmup({ exchange }))
  const stats: Warmup.Stats | null = value
  return (
    <div className="warmup" data-testid={`warmup-${exchange}`}>
      <h4>Warmup</h4>
      {error !== null && <p className="error">{error}</p>}
      {stats === null ? (
        <p>Scanning the cache…</p>
      ) : (
        <>
          <progress max={100} value={stats.percentComplete} />
          <p data-testid={`warmup-percent-${exchange}`}>
            {stats.percentComplete.toFixed(0)}% · {stats.status} · {stats.completedPairs}/{stats.scheduledPairs} pairs
            {stats.etaSeconds === null ? "" : ` · about ${stats.etaSeconds} s left`}
          </p>
          <p>
            {stats.currentSymbol === null ? "" : `now ${stats.currentSymbol} ${stats.currentTimeframe ?? ""} · `}
            {stats.skippedPairs} already cached
          </p>
          {stats.failures.length > 0 && (
            <ul className="error">
              {stats.failures.map((f) => (
                <li key={`${f.symbol}-${f.timeframe}`}>
                  {f.symbol} {f.timeframe}: {f.error}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </div>
  )
}

/** The network's event log as it happens: the recent events, then each new one on top. */
const Activity = ({ runtime }: { runtime: AdminRuntime }) => {
  // Shown by time, newest first: the recent ones arrive newest first, the live ones after them.
  const { values, error } = useStreamLatest(runtime, 50, (admin) => admin.WatchActivity({ recent: 30 }))
  const events = [...values].sort((a, b) => b.event.at.epochMillis - a.event.at.epochMillis)
  return (
    <section className="activity">
      <h3>Activity</h3>
      {error !== null && <p className="error" role="alert">{error}</p>}
      {events.length === 0 ? (
        <p>No events yet.</p>
      ) : (
        <ul data-testid="activity">
          {events.map((e) => (
            <li key={`${e.exchangeName}-${e.id}`}>
              <span className="mono">{time(e.event.at)}</span> {e.exchangeName} <b>{e.event.type}</b> {e.event.message}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
