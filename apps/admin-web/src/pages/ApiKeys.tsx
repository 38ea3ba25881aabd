/** Public API keys: create (the key is shown once), list, revoke, regenerate. */
import type { ApiKeyView, CreatedApiKey } from "@livermore/admin-rpc/shared"
import { useCallback, useEffect, useState } from "react"
import { time } from "../format.js"
import { useCall } from "../hooks.js"
import type { AdminRuntime } from "../rpc.js"

export const ApiKeysPage = ({ runtime }: { runtime: AdminRuntime }) => {
  const { run, error, busy } = useCall(runtime)
  const [keys, setKeys] = useState<ReadonlyArray<ApiKeyView>>([])
  const [name, setName] = useState("")
  const [shown, setShown] = useState<CreatedApiKey | null>(null)

  const refresh = useCallback(async () => {
    const listed = await run((admin) => admin.ListApiKeys())
    if (listed !== null) setKeys(listed)
  }, [run])

  useEffect(() => {
    void refresh()
  }, [refresh])

  const create = async () => {
    const created = await run((admin) => admin.CreateApiKey({ name }))
    if (created !== null) {
      setShown(created)
      setName("")
      await refresh()
    }
  }
  const revoke = async (key: ApiKeyView) => {
    if (!window.confirm(`Revoke "${key.name}" (${key.prefix}…)? Requests with it get 401 at once.`)) return
    await run((admin) => admin.RevokeApiKey({ id: key.id }))
    await refresh()
  }
  const regenerate = async (key: ApiKeyView) => {
    if (!window.confirm(`Replace "${key.name}" (${key.prefix}…) with a new key? The old one stops working at once.`)) return
    const created = await run((admin) => admin.RegenerateApiKey({ id: key.id }))
    if (created !== null) setShown(created)
    await refresh()
  }

  return (
    <section>
      <h2>API keys</h2>
      <form
        className="inline"
        onSubmit={(event) => {
          event.preventDefault()
          void create()
        }}
      >
        <input name="key-name" placeholder="What the key is for" value={name} onChange={(e) => setName(e.target.value)} />
        <button type="submit" disabled={busy || name.trim() === ""}>
          Create key
        </button>
      </form>
      {error !== null && <p className="error" role="alert">{error}</p>}
      {shown !== null && (
        <div className="secret" role="status">
          <p>
            Key for <strong>{shown.key.name}</strong> — copy it now, it is not shown again. Send it as the{" "}
            <code>X-API-Key</code> header.
          </p>
          <code className="key" data-testid="new-key">{shown.secret}</code>
          <button type="button" onClick={() => setShown(null)}>
            Done
          </button>
        </div>
      )}
      <table>
        <thead>
          <tr>
            <th>Id</th>
            <th>Prefix</th>
            <th>Name</th>
            <th>Created</th>
            <th>Last used</th>
            <th>Revoked</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id} data-testid={`key-${key.id}`}>
              <td>{key.id}</td>
              <td className="mono">{key.prefix}…</td>
              <td>{key.name}</td>
              <td>{time(key.createdAt)}</td>
              <td>{time(key.lastUsedAt)}</td>
              <td>{time(key.revokedAt)}</td>
              <td>
                {key.revokedAt === null && (
                  <>
                    <button type="button" onClick={() => void regenerate(key)}>
                      Regenerate
                    </button>
                    <button type="button" className="danger" onClick={() => void revoke(key)}>
                      Revoke
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}
