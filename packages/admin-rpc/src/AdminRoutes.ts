/**
 * Where the admin RPC is served on the node's HTTP router: `/admin/rpc` over HTTP (NDJSON; unary calls and
 * streams) and `/admin/rpc/ws` over a WebSocket (JSON; what the web UI uses, one connection for every call and
 * live stream). Both run every call through `AdminAuth`.
 */
import { RpcSerialization, RpcServer } from "@effect/rpc"
import { Layer } from "effect"
import * as AdminHandlers from "./AdminHandlers.js"
import { AdminRpcs } from "./AdminRpcs.js"

export const httpPath = "/admin/rpc"
export const websocketPath = "/admin/rpc/ws"

export const layer = Layer.mergeAll(
  RpcServer.layerHttpRouter({ group: AdminRpcs, path: httpPath, protocol: "http" }).pipe(
    Layer.provide(RpcSerialization.layerNdjson)
  ),
  RpcServer.layerHttpRouter({ group: AdminRpcs, path: websocketPath, protocol: "websocket" }).pipe(
    Layer.provide(RpcSerialization.layerJson)
  )
).pipe(Layer.provide([AdminHandlers.layerHandlers, AdminHandlers.layerAuth]))
