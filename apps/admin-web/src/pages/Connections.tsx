/** The signed-in admin's exchange connections (`user_exchanges`): a list and a setup dialog to add or edit one. */
import type { ConnectionView, ExchangeCard } from "@livermore/admin-rpc/shared"
import type { Exchange } from "@livermore/domain"
import { useCallback, useEffect, useState } from "react"
import { useCall } from "../hooks.js"
import type { AdminRuntime } from "../rpc.js"

interface Draft {
  readonly id: number | undefined
  readonly exchange: string
  readonly displayName: string
  readonly apiKey: string
  readonly apiSecret: string
  readonly isActive: boolean
  readonly isDefault: boolean
}

const blank = (exchange: string): Draft => ({
  id: undefined,
  exchange,
  displayName: "",
  apiKey: "",
  apiSecret: "",
  isActive: true,
  isDefault: false
})

export const Connections = ({ runtime, cards }: { runtime: AdminRuntime; cards: ReadonlyArray<ExchangeCard> }) => {
  const { run, error, busy } = useCall(runtime)
  const [list, setList] = useState<ReadonlyArray<ConnectionView>>([])
  const [draft, setDraft] = useState<Draft | null>(null)

  const refresh = useCallback(async () => {
    const found = await run((admin) => admin.ListConnections())
    if (found !== null) setList(found)
  }, [run])

  useEffect(() => {
    void refresh()
  }, [refresh])

  const save = async (d: Draft) => {
    const credentials = d.apiKey.trim() === "" && d.apiSecret.trim() === "" ? null : { apiKey: d.apiKey.trim(), apiSecret: d.apiSecret.trim() }
    const saved = await run((admin) =>
      admin.SaveConnection({
        ...(d.id === undefined ? {} : { id: d.id }),
        exchange: d.exchange as Exchange.ExchangeName,
        displayName: d.displayName,
        credentials,
        isActive: d.isActive,
        isDefault: d.isDefault
      })
    )
    if (saved !== null) {
      setDraft(null)
      await refresh()
    }
  }

  return (
    <section>
      <h3>
        Your connections{" "}
        <button type="button" onClick={() => setDraft(blank(cards[0]?.name ?? ""))}>
          Add connection
        </button>
      </h3>
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Exchange</th>
            <th>Credentials (variable names)</th>
            <th>Active</th>
            <th>Default</th>
            <th />
          </tr>
        </thead>
        <tbody data-testid="connection-rows">
          {list.map((c) => (
            <tr key={c.id}>
              <td>{c.displayName}</td>
              <td>{c.exchange}</td>
              <td className="mono">{c.credentials === null ? "public data only" : `${c.credentials.apiKey} / ${c.credentials.apiSecret}`}</td>
              <td>{c.isActive ? "yes" : "no"}</td>
              <td>{c.isDefault ? "default" : ""}</td>
              <td>
                <button
                  type="button"
                  onClick={() =>
                    setDraft({
                      id: c.id,
                      exchange: c.exchange,
                      displayName: c.displayName,
                      apiKey: c.credentials?.apiKey ?? "",
                      apiSecret: c.credentials?.apiSecret ?? "",
                      isActive: c.isActive,
                      isDefault: c.isDefault
                    })
                  }
                >
                  Edit
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {draft !== null && (
        <div className="modal" role="dialog" aria-label="Exchange setup">
          <form
            onSubmit={(event) => {
              event.preventDefault()
              void save(draft)
            }}
          >
            <h3>{draft.id === undefined ? "Add a connection" : "Edit connection"}</h3>
            <label>
              Exchange
              <select
                name="connection-exchange"
                value={draft.exchange}
                disabled={draft.id !== undefined}
                onChange={(e) => setDraft({ ...draft, exchange: e.target.value })}
              >
                {cards.map((card) => (
                  <option key={card.name} value={card.name}>
                    {card.displayName} ({card.name})
                  </option>
                ))}
              </select>
            </label>
            <label>
              Display name
              <input name="connection-name" value={draft.displayName} onChange={(e) => setDraft({ ...draft, displayName: e.target.value })} />
            </label>
            <label>
              API key variable (its name, not the key)
              <input name="connection-key-var" placeholder="COINBASE_API_KEY" value={draft.apiKey} onChange={(e) => setDraft({ ...draft, apiKey: e.target.value })} />
            </label>
            <label>
              API secret variable
              <input name="connection-secret-var" placeholder="COINBASE_API_SECRET" value={draft.apiSecret} onChange={(e) => setDraft({ ...draft, apiSecret: e.target.value })} />
            </label>
            <label className="check">
              <input type="checkbox" name="connection-active" checked={draft.isActive} onChange={(e) => setDraft({ ...draft, isActive: e.target.checked })} />
              Active
            </label>
            <label className="check">
              <input type="checkbox" name="connection-default" checked={draft.isDefault} onChange={(e) => setDraft({ ...draft, isDefault: e.target.checked })} />
              Default (replaces your current default)
            </label>
            {error !== null && <p className="error" role="alert">{error}</p>}
            <div className="actions">
              <button type="submit" disabled={busy}>
                Save
              </button>
              <button type="button" onClick={() => setDraft(null)}>
                Cancel
              </button>
            </div>
          </form>
        </div>
      )}
    </section>
  )
}
