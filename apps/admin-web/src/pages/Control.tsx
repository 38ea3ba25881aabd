/**
 * Control of one instance: its status, pause/resume, reload settings, force backfill, clear cache, switch mode,
 * stop — each sent over the control channel and answered — and the instance's command history.
 */
import type { CommandRecord, CommandRequest, CommandResult } from "@livermore/admin-rpc/shared"
import { useCallback, useEffect, useState } from "react"
import { time } from "../format.js"
import { useCall, useStream } from "../hooks.js"
import type { AdminRuntime } from "../rpc.js"

const simple: ReadonlyArray<{ readonly label: string; readonly command: CommandRequest }> = [
  { label: "Status", command: { _tag: "status" } },
  { label: "Pause", command: { _tag: "pause" } },
  { label: "Resume", command: { _tag: "resume" } },
  { label: "Reload settings", command: { _tag: "reload-settings" } },
  { label: "Force backfill", command: { _tag: "force-backfill" } },
  { label: "Clear cache", command: { _tag: "clear-cache" } }
]

export const ControlPage = ({ runtime }: { runtime: AdminRuntime }) => {
  const { value: cards } = useStream(runtime, (admin) => admin.WatchNetwork())
  const instances = (cards ?? []).flatMap((card) =>
    card.status === null ? [] : [{ id: card.status.instanceId, label: `${card.displayName} — ${card.status.instanceId} (${card.status.connectionState})` }]
  )
  const [chosen, setChosen] = useState("")
  const instanceId = chosen !== "" ? chosen : (instances[0]?.id ?? "")
  const { run, error, busy } = useCall(runtime)
  const [result, setResult] = useState<CommandResult | null>(null)
  const [history, setHistory] = useState<ReadonlyArray<CommandRecord>>([])
  const [mode, setMode] = useState<"exchange" | "pw-host" | "all">("exchange")

  const refresh = useCallback(async () => {
    if (instanceId === "") return
    const found = await run((admin) => admin.CommandHistory({ instanceId, limit: 50 }))
    if (found !== null) setHistory(found)
  }, [run, instanceId])

  useEffect(() => {
    void refresh()
  }, [refresh])

  const send = async (command: CommandRequest) => {
    setResult(null)
    const answer = await run((admin) => admin.SendCommand({ instanceId, command }))
    if (answer !== null) setResult(answer)
    await refresh()
  }

  const stop = () => {
    const reason = window.prompt("Why stop this instance? (recorded in its history)")
    if (reason !== null && reason.trim() !== "") void send({ _tag: "stop", reason: reason.trim() })
  }

  return (
    <section>
      <h2>Control</h2>
      {instances.length === 0 ? (
        <p>No instance is reporting a status. Start a node (`pnpm livermore start --exchange NAME`).</p>
      ) : (
        <>
          <label className="inline">
            Instance
            <select name="instance" value={instanceId} onChange={(e) => setChosen(e.target.value)}>
              {instances.map((i) => (
                <option key={i.id} value={i.id}>
                  {i.label}
                </option>
              ))}
            </select>
          </label>
          <div className="actions">
            {simple.map(({ label, command }) => (
              <button key={label} type="button" disabled={busy} onClick={() => void send(command)}>
                {label}
              </button>
            ))}
            <select name="mode" value={mode} onChange={(e) => setMode(e.target.value as typeof mode)}>
              <option value="exchange">exchange</option>
              <option value="all">all</option>
              <option value="pw-host">pw-host</option>
            </select>
            <button type="button" disabled={busy} onClick={() => void send({ _tag: "switch-mode", mode })}>
              Switch mode
            </button>
            <button type="button" className="danger" disabled={busy} onClick={stop}>
              Stop
            </button>
          </div>
        </>
      )}
      {busy && <p role="status">Waiting for the instance…</p>}
      {error !== null && <p className="error" role="alert">{error}</p>}
      {result !== null && (
        <pre className="result" data-testid="command-result">
          {JSON.stringify(result.data, null, 2)}
        </pre>
      )}
      <h3>History</h3>
      <table>
        <thead>
          <tr>
            <th>Issued</th>
            <th>Command</th>
            <th>By</th>
            <th>Finished</th>
            <th>Outcome</th>
          </tr>
        </thead>
        <tbody data-testid="history-rows">
          {history.map((h) => (
            <tr key={h.commandId}>
              <td>{time(h.issuedAt)}</td>
              <td>{h.name}</td>
              <td>{h.issuedBy}</td>
              <td>{time(h.finishedAt)}</td>
              <td className={h.outcome === "failed" ? "error" : ""}>{h.outcome === "failed" ? `failed: ${h.error}` : "succeeded"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}
