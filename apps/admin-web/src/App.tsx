/** The admin UI: sign in with a token, then the pages over one RPC connection. */
import type { AdminUser } from "@livermore/admin-rpc/shared"
import { Effect, Exit } from "effect"
import { useEffect, useState } from "react"
import { ApiKeysPage } from "./pages/ApiKeys.js"
import { ControlPage } from "./pages/Control.js"
import { LogsPage } from "./pages/Logs.js"
import { NetworkPage } from "./pages/Network.js"
import { SettingsPage } from "./pages/Settings.js"
import { SignalsPage } from "./pages/Signals.js"
import { SymbolsPage } from "./pages/Symbols.js"
import { Admin, type AdminRuntime, connect, describeError, savedToken, saveToken } from "./rpc.js"

const pages = {
  network: "Network",
  control: "Control",
  symbols: "Symbols",
  signals: "Signals",
  settings: "Settings",
  keys: "API keys",
  logs: "Logs"
} as const
type Page = keyof typeof pages

interface Session {
  readonly runtime: AdminRuntime
  readonly user: AdminUser
}

const pageFromHash = (): Page => {
  const name = window.location.hash.replace(/^#\/?/, "")
  return name in pages ? (name as Page) : "network"
}

export const App = () => {
  const [session, setSession] = useState<Session | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [page, setPage] = useState<Page>(pageFromHash)

  useEffect(() => {
    const onHash = () => setPage(pageFromHash())
    window.addEventListener("hashchange", onHash)
    return () => window.removeEventListener("hashchange", onHash)
  }, [])

  const signIn = async (token: string) => {
    setBusy(true)
    setError(null)
    const runtime = connect(token)
    const exit = await runtime.runPromiseExit(Effect.flatMap(Admin, (admin) => admin.WhoAmI()))
    setBusy(false)
    if (Exit.isSuccess(exit)) {
      saveToken(token)
      setSession({ runtime, user: exit.value })
    } else {
      await runtime.dispose()
      saveToken(null)
      const failure = exit.cause._tag === "Fail" ? exit.cause.error : exit.cause
      setError(describeError(failure))
    }
  }

  // biome-ignore lint/correctness/useExhaustiveDependencies: sign in with the saved token once, on load
  useEffect(() => {
    const token = savedToken()
    if (token !== null) void signIn(token)
  }, [])

  const signOut = async () => {
    saveToken(null)
    await session?.runtime.dispose()
    setSession(null)
  }

  if (session === null) return <SignIn onSubmit={signIn} error={error} busy={busy} />

  return (
    <div className="shell">
      <header>
        <strong>Livermore admin</strong>
        <nav>
          {(Object.keys(pages) as Array<Page>).map((name) => (
            <a key={name} href={`#/${name}`} className={name === page ? "active" : ""} data-testid={`nav-${name}`}>
              {pages[name]}
            </a>
          ))}
        </nav>
        <span className="who" data-testid="who">
          {session.user.displayName ?? session.user.email ?? session.user.subject} ({session.user.role})
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        {page === "network" && <NetworkPage runtime={session.runtime} />}
        {page === "control" && <ControlPage runtime={session.runtime} />}
        {page === "symbols" && <SymbolsPage runtime={session.runtime} user={session.user} />}
        {page === "signals" && <SignalsPage runtime={session.runtime} />}
        {page === "settings" && <SettingsPage runtime={session.runtime} />}
        {page === "keys" && <ApiKeysPage runtime={session.runtime} />}
        {page === "logs" && <LogsPage runtime={session.runtime} />}
      </main>
    </div>
  )
}

const SignIn = (props: { onSubmit: (token: string) => void; error: string | null; busy: boolean }) => {
  const [token, setToken] = useState("")
  return (
    <form
      className="signin"
      onSubmit={(event) => {
        event.preventDefault()
        props.onSubmit(token.trim())
      }}
    >
      <h1>Livermore admin</h1>
      <label>
        Admin token or sign-in token
        <input
          name="token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(event) => setToken(event.target.value)}
          placeholder="lva_… (livermore admin-token create --user EMAIL)"
        />
      </label>
      <button type="submit" disabled={props.busy || token.trim() === ""}>
        {props.busy ? "Signing in…" : "Sign in"}
      </button>
      {props.error !== null && (
        <p className="error" role="alert">
          {props.error}
        </p>
      )}
    </form>
  )
}
