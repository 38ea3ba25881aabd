/** The network event log with filters by exchange, type and time. */
import type { NetworkEvent } from "@livermore/admin-rpc/shared"
import { Lifecycle } from "@livermore/domain"
import { DateTime } from "effect"
import { useCallback, useEffect, useState } from "react"
import { time } from "../format.js"
import { useCall } from "../hooks.js"
import type { AdminRuntime } from "../rpc.js"

const types: ReadonlyArray<Lifecycle.EventType> = Lifecycle.EventType.literals

export const LogsPage = ({ runtime }: { runtime: AdminRuntime }) => {
  const { run, error, busy } = useCall(runtime)
  const [events, setEvents] = useState<ReadonlyArray<NetworkEvent>>([])
  const [exchange, setExchange] = useState("")
  const [type, setType] = useState<Lifecycle.EventType | "">("")
  const [since, setSince] = useState("")

  const load = useCallback(async () => {
    const sinceTime = since === "" ? undefined : DateTime.make(new Date(since))
    const found = await run((admin) =>
      admin.NetworkLog({
        ...(exchange === "" ? {} : { exchange: exchange as never }),
        ...(type === "" ? {} : { types: [type] }),
        ...(sinceTime === undefined || sinceTime._tag === "None" ? {} : { since: DateTime.toUtc(sinceTime.value) }),
        limit: 500
      })
    )
    if (found !== null) setEvents(found)
  }, [run, exchange, type, since])

  useEffect(() => {
    void load()
  }, [load])

  return (
    <section>
      <h2>Logs</h2>
      <form className="inline" onSubmit={(event) => event.preventDefault()}>
        <input name="exchange" placeholder="exchange (all)" value={exchange} onChange={(e) => setExchange(e.target.value.trim())} />
        <select name="type" value={type} onChange={(e) => setType(e.target.value as Lifecycle.EventType | "")}>
          <option value="">every type</option>
          {types.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <input name="since" type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} />
        <button type="button" onClick={() => void load()} disabled={busy}>
          Refresh
        </button>
      </form>
      {error !== null && <p className="error" role="alert">{error}</p>}
      <table>
        <thead>
          <tr>
            <th>At</th>
            <th>Exchange</th>
            <th>Type</th>
            <th>Transition</th>
            <th>Instance</th>
            <th>Message</th>
          </tr>
        </thead>
        <tbody data-testid="log-rows">
          {events.map((entry) => (
            <tr key={`${entry.exchangeName}-${entry.id}`}>
              <td>{time(entry.event.at)}</td>
              <td>{entry.exchangeName}</td>
              <td>{entry.event.type}</td>
              <td>{entry.event.from === undefined ? "" : `${entry.event.from} → ${entry.event.to ?? ""}`}</td>
              <td className="mono">{entry.event.instanceId}</td>
              <td>{entry.event.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {events.length === 0 && !busy && <p>No events match.</p>}
    </section>
  )
}
