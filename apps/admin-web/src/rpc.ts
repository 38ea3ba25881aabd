/**
 * The browser's connection to the admin RPC: one WebSocket to `/admin/rpc/ws`, every call signed with the
 * session's bearer token (sent per message: a browser cannot set headers on a WebSocket).
 */
import { Headers } from "@effect/platform"
import { BrowserSocket } from "@effect/platform-browser"
import { RpcClient, RpcMiddleware, RpcSerialization } from "@effect/rpc"
import { AdminAuth, AdminRpcs } from "@livermore/admin-rpc/shared"
import { Effect, Layer, ManagedRuntime } from "effect"

export class Admin extends Effect.Service<Admin>()("Admin", { scoped: RpcClient.make(AdminRpcs) }) {}

export type AdminClient = Admin

const websocketUrl = (): string => {
  const { protocol, host } = window.location
  return `${protocol === "https:" ? "wss" : "ws"}://${host}/admin/rpc/ws`
}

/** A runtime whose `Admin` calls carry `token`. Dispose it on sign-out. */
export const connect = (token: string) =>
  ManagedRuntime.make(
    Admin.Default.pipe(
      Layer.provide(
        Layer.mergeAll(
          RpcClient.layerProtocolSocket({ retryTransientErrors: true }).pipe(
            Layer.provide(BrowserSocket.layerWebSocket(websocketUrl())),
            Layer.provide(RpcSerialization.layerJson)
          ),
          RpcMiddleware.layerClient(AdminAuth, ({ request }) =>
            Effect.succeed({ ...request, headers: Headers.set(request.headers, "authorization", `Bearer ${token}`) })
          )
        )
      )
    )
  )

export type AdminRuntime = ReturnType<typeof connect>

/** Where the session keeps its token: this tab only, gone when it closes. */
const storageKey = "livermore.admin.token"
export const savedToken = (): string | null => sessionStorage.getItem(storageKey)
export const saveToken = (token: string | null): void => {
  if (token === null) sessionStorage.removeItem(storageKey)
  else sessionStorage.setItem(storageKey, token)
}

/** A failure as one line for the screen. */
export const describeError = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  return String(error)
}
