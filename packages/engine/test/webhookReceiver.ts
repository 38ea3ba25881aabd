/** A real HTTP server on 127.0.0.1 that records every POST body (parsed JSON) by path, for notifier tests. */
import { Effect, type Scope } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export interface Receiver {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** Bodies received on `path`, in arrival order. */
  readonly bodies: (path: string) => ReadonlyArray<unknown>
}

/** Start a receiver answering 204 to every POST; closed with the scope. */
export const make: Effect.Effect<Receiver, never, Scope.Scope> = Effect.gen(function* () {
  const received = new Map<string, Array<unknown>>()
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const path = request.url ?? "/"
      const list = received.get(path) ?? []
      try {
        list.push(JSON.parse(Buffer.concat(chunks).toString("utf8")))
      } catch {
        list.push({ unparsable: Buffer.concat(chunks).toString("utf8") })
      }
      received.set(path, list)
      response.writeHead(204).end()
    })
  })
  yield* Effect.acquireRelease(
    Effect.async<void>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.void))
    }),
    () =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, bodies: (path) => received.get(path) ?? [] }
})
