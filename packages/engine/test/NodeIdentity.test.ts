/**
 * NodeIdentity: public-IP detection against local HTTP servers on 127.0.0.1 (an IP, garbage, an error, silence),
 * the local fallback, and the admin lookup against a real Postgres.
 */
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { UsersRepo } from "@livermore/store"
import { Clock, Effect, Exit, Layer, Logger } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as NodeIdentity from "../src/NodeIdentity.js"
import { MigratedStore, shared } from "./storeDatabase.js"

/** A documentation address (RFC 5737): what the fake service says our public IP is. */
const PUBLIC_IP = "203.0.113.7"

/**
 * A fake public-IP service on 127.0.0.1: `/ip` answers the IP (with a trailing newline, like checkip), `/ip6` an
 * IPv6 address, `/garbage` HTML, `/error` a 503, `/hang` never answers. Closed with the scope.
 */
const ipService = Effect.acquireRelease(
  Effect.async<{ readonly server: Server; readonly url: (path: string) => string }>((resume) => {
    const server = createServer((request, response) => {
      switch (request.url) {
        case "/ip":
          response.end(`${PUBLIC_IP}\n`)
          return
        case "/ip6":
          response.end("2001:db8::1")
          return
        case "/garbage":
          response.end("<html>hello, not an address</html>")
          return
        case "/error":
          response.writeHead(503).end("busy")
          return
        case "/hang":
          return
        default:
          response.writeHead(404).end()
      }
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ server, url: (path: string) => `http://127.0.0.1:${port}${path}` }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

/** Run `effect` with warnings captured instead of printed; returns its result and the warning messages. */
const captureWarnings = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const result = yield* Effect.provide(effect, Logger.replace(Logger.defaultLogger, logger))
    return { result, warnings: warnings as ReadonlyArray<string> }
  })

const detect = (options: NodeIdentity.PublicIpOptions) =>
  NodeIdentity.detectAddress(options).pipe(Effect.provide(FetchHttpClient.layer))

describe("NodeIdentity: pure parts", () => {
  it("localAddress takes the first non-internal IPv4, else 127.0.0.1", () => {
    const info = (address: string, family: "IPv4" | "IPv6", internal: boolean): os.NetworkInterfaceInfo =>
      family === "IPv4"
        ? { address, family, internal, netmask: "255.255.255.0", mac: "00:00:00:00:00:00", cidr: null }
        : { address, family, internal, netmask: "ffff::", mac: "00:00:00:00:00:00", cidr: null, scopeid: 0 }
    assert.strictEqual(
      NodeIdentity.localAddress({
        lo: [info("127.0.0.1", "IPv4", true)],
        eth0: [info("fe80::1", "IPv6", false), info("192.0.2.10", "IPv4", false)],
        eth1: [info("198.51.100.4", "IPv4", false)]
      }),
      "192.0.2.10"
    )
    assert.strictEqual(NodeIdentity.localAddress({ lo: [info("127.0.0.1", "IPv4", true)] }), "127.0.0.1")
    assert.strictEqual(NodeIdentity.localAddress({}), "127.0.0.1")
  })

  it("instance ids name the host and process, with a random suffix", () => {
    assert.strictEqual(NodeIdentity.makeInstanceId("node-1.example", 4242, "a1b2c3d4"), "node-1.example-4242-a1b2c3d4")
    assert.strictEqual(NodeIdentity.makeInstanceId("my host_01", 7, "00ff00ff"), "my-host-01-7-00ff00ff")
    assert.strictEqual(NodeIdentity.makeInstanceId("", 7, "00ff00ff"), "host-7-00ff00ff")
  })
})

describe("NodeIdentity: public IP", () => {
  it.scopedLive("a service answering an IP gives ipSource public", () =>
    Effect.gen(function* () {
      const service = yield* ipService
      assert.deepStrictEqual(yield* detect({ urls: [service.url("/ip")] }), { ipAddress: PUBLIC_IP, ipSource: "public" })
      assert.deepStrictEqual(yield* detect({ urls: [service.url("/ip6")] }), { ipAddress: "2001:db8::1", ipSource: "public" })
    })
  )

  it.scopedLive("the first valid answer wins over garbage, errors and silence", () =>
    Effect.gen(function* () {
      const service = yield* ipService
      const started = yield* Clock.currentTimeMillis
      const address = yield* detect({
        urls: [service.url("/hang"), service.url("/garbage"), service.url("/error"), service.url("/ip")],
        timeout: "5 seconds"
      })
      assert.deepStrictEqual(address, { ipAddress: PUBLIC_IP, ipSource: "public" })
      assert.isBelow((yield* Clock.currentTimeMillis) - started, 2_000, "did not wait for the silent service")
    })
  )

  it.scopedLive("garbage and errors fall back to the local address, with a warning naming why", () =>
    Effect.gen(function* () {
      const service = yield* ipService
      const { result, warnings } = yield* captureWarnings(
        detect({ urls: [service.url("/garbage"), service.url("/error")] })
      )
      assert.deepStrictEqual(result, { ipAddress: NodeIdentity.localAddress(), ipSource: "local" })
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], `${service.url("/garbage")}: not an IP address: "<html>hello, not an address</html>"`)
      assert.include(warnings[0], `${service.url("/error")}: HTTP 503`)
    })
  )

  it.scopedLive("a service that never answers falls back within the timeout", () =>
    Effect.gen(function* () {
      const service = yield* ipService
      const started = yield* Clock.currentTimeMillis
      const { result, warnings } = yield* captureWarnings(detect({ urls: [service.url("/hang")], timeout: "300 millis" }))
      const elapsed = (yield* Clock.currentTimeMillis) - started
      assert.deepStrictEqual(result, { ipAddress: NodeIdentity.localAddress(), ipSource: "local" })
      assert.isAtLeast(elapsed, 250)
      assert.isBelow(elapsed, 1_500)
      assert.include(warnings[0], "no answer within 300ms")
    })
  )

  it.scopedLive("a refused connection falls back too; disabled detection asks nobody", () =>
    Effect.gen(function* () {
      const service = yield* ipService
      const refused = yield* Effect.async<string>((resume) => {
        // A port that was just free: bind, note it, close.
        const probe = createServer()
        probe.listen(0, "127.0.0.1", () => {
          const { port } = probe.address() as AddressInfo
          probe.close(() => resume(Effect.succeed(`http://127.0.0.1:${port}/ip`)))
        })
      })
      const { result, warnings } = yield* captureWarnings(detect({ urls: [refused] }))
      assert.strictEqual(result.ipSource, "local")
      assert.include(warnings[0], refused)
      const disabled = yield* captureWarnings(detect({ urls: [service.url("/ip")], disabled: true }))
      assert.deepStrictEqual(disabled.result, { ipAddress: NodeIdentity.localAddress(), ipSource: "local" })
      assert.deepStrictEqual(disabled.warnings, [])
    })
  )

  it.effect("bad options are typed errors", () =>
    Effect.gen(function* () {
      const noUrls = yield* Effect.flip(detect({ urls: [] }))
      assert.strictEqual(noUrls._tag, "InvalidIdentityOptions")
      assert.include(noUrls.message, "publicIp.urls is empty")
      const notHttp = yield* Effect.flip(detect({ urls: ["ftp://example.com"] }))
      assert.include(notHttp.message, "http:// or https://")
      const zero = yield* Effect.flip(detect({ urls: ["https://api.ipify.org"], timeout: 0 }))
      assert.include(zero.message, "publicIp.timeout")
    })
  )
})

describe("NodeIdentity: layer with the admin from Postgres", () => {
  const withStore = shared(MigratedStore)

  const build = (options: NodeIdentity.Options) =>
    Effect.flatMap(NodeIdentity.NodeIdentity, Effect.succeed).pipe(
      Effect.provide(NodeIdentity.layer(options).pipe(Layer.provide(FetchHttpClient.layer)))
    )

  it.live("detects hostname, public IP and the admin's display name (email matched case-insensitively)", () =>
    Effect.gen(function* () {
      const service = yield* ipService
      const users = yield* UsersRepo.UsersRepo
      yield* users.upsert({
        identityProvider: "clerk",
        subject: "user_ada",
        email: "Ada@Example.com",
        displayName: "Ada Lovelace",
        role: "admin"
      })
      const identity = yield* build({ adminEmail: " ada@example.com ", publicIp: { urls: [service.url("/ip")] } })
      assert.strictEqual(identity.hostname, os.hostname())
      assert.strictEqual(identity.ipAddress, PUBLIC_IP)
      assert.strictEqual(identity.ipSource, "public")
      assert.strictEqual(identity.adminEmail, "Ada@Example.com")
      assert.strictEqual(identity.adminDisplayName, "Ada Lovelace")
      assert.match(identity.instanceId, new RegExp(`-${process.pid}-[0-9a-f]{8}$`))
      const again = yield* build({ publicIp: { urls: [service.url("/ip")] } })
      assert.notStrictEqual(again.instanceId, identity.instanceId, "each build is a new instance")
    }).pipe(Effect.scoped, withStore)
  )

  it.live("no admin email: admin fields are null; a user without a display name gives null", () =>
    Effect.gen(function* () {
      const service = yield* ipService
      const none = yield* build({ adminEmail: null, publicIp: { urls: [service.url("/garbage")], timeout: "1 second" } })
      assert.strictEqual(none.adminEmail, null)
      assert.strictEqual(none.adminDisplayName, null)
      assert.strictEqual(none.ipSource, "local")

      const users = yield* UsersRepo.UsersRepo
      yield* users.upsert({ identityProvider: "clerk", subject: "user_nameless", email: "nameless@example.com" })
      const nameless = yield* build({ adminEmail: "nameless@example.com", publicIp: { disabled: true } })
      assert.strictEqual(nameless.adminEmail, "nameless@example.com")
      assert.strictEqual(nameless.adminDisplayName, null)
    }).pipe(Effect.scoped, withStore)
  )

  it.live("an email that matches no user, or several, is a typed error with a clear message", () =>
    Effect.gen(function* () {
      const unknown = yield* Effect.flip(build({ adminEmail: "nobody@example.com", publicIp: { disabled: true } }))
      assert.strictEqual(unknown._tag, "UnknownAdmin")
      assert.include(unknown.message, `No user has the admin email "nobody@example.com"`)

      const users = yield* UsersRepo.UsersRepo
      const a = yield* users.upsert({ identityProvider: "clerk", subject: "user_twin_a", email: "twin@example.com" })
      const b = yield* users.upsert({ identityProvider: "github", subject: "twin", email: "TWIN@example.com" })
      const ambiguous = yield* Effect.flip(build({ adminEmail: "twin@example.com", publicIp: { disabled: true } }))
      assert.strictEqual(ambiguous._tag, "AmbiguousAdmin")
      assert.include(ambiguous.message, `ids ${a.id}, ${b.id}`)

      const malformed = yield* Effect.exit(build({ adminEmail: "not-an-email", publicIp: { disabled: true } }))
      assert.isTrue(Exit.isFailure(malformed))
      assert.include(String(malformed), "InvalidIdentityOptions")
    }).pipe(withStore)
  )
})
