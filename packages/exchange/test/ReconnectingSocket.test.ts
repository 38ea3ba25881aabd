import { createHash } from "node:crypto"
import { type AddressInfo, createServer, type Socket } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, type Duration, Effect, Fiber, Ref, Schedule, Stream } from "effect"
import { type WebSocket, WebSocketServer } from "ws"
import * as ReconnectingSocket from "../src/ReconnectingSocket.js"

type SocketEvent = ReconnectingSocket.SocketEvent

/** What the test server saw of one client connection. */
interface ServerConnection {
  readonly index: number
  readonly socket: WebSocket
  readonly openedAt: number
  readonly frames: Array<{ readonly text: string; readonly at: number }>
  closed?: { readonly at: number; readonly code: number }
}

/** A `ws` server on 127.0.0.1:0; `behave` scripts each connection (0-based index). Closed with the scope. */
const testServer = (behave: (connection: ServerConnection) => void = () => {}) =>
  Effect.gen(function* () {
    const connections: Array<ServerConnection> = []
    const wss = yield* Effect.acquireRelease(
      Effect.async<WebSocketServer>((resume) => {
        const wss: WebSocketServer = new WebSocketServer({ host: "127.0.0.1", port: 0 }, () =>
          resume(Effect.succeed(wss))
        )
      }),
      (wss) =>
        Effect.async<void>((resume) => {
          for (const client of wss.clients) client.terminate()
          wss.close(() => resume(Effect.void))
        })
    )
    wss.on("connection", (socket) => {
      const connection: ServerConnection = { index: connections.length, socket, openedAt: Date.now(), frames: [] }
      connections.push(connection)
      socket.on("message", (data) => connection.frames.push({ text: String(data), at: Date.now() }))
      socket.on("close", (code) => {
        connection.closed = { at: Date.now(), code }
      })
      behave(connection)
    })
    const { port } = wss.address() as AddressInfo
    return { url: `ws://127.0.0.1:${port}`, connections }
  })

/** Poll `check` every 10 ms until it holds; fail after `within`. */
const eventually = (check: () => boolean, within: Duration.DurationInput = "3 seconds") =>
  Effect.suspend(() => (check() ? Effect.void : Effect.fail("not yet"))).pipe(
    Effect.retry(Schedule.spaced("10 millis")),
    Effect.timeoutFail({ duration: within, onTimeout: () => new Error("condition not met in time") })
  )

/** A port on which nothing listens. */
const closedPort = Effect.scoped(
  Effect.map(testServer(), (server) => Number(new URL(server.url).port))
)

const baseOptions = (url: string): ReconnectingSocket.Options => ({
  exchange: "testex",
  url,
  onConnect: Effect.succeed(["subscribe"]),
  outboundPerSecond: 100,
  idleTimeout: "2 seconds",
  backoff: { initial: "20 millis", max: "100 millis" }
})

const collect = (stream: Stream.Stream<SocketEvent, unknown>, n: number) =>
  stream.pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray), Effect.timeout("5 seconds"))

const opened = (event: SocketEvent | undefined) => {
  assert.strictEqual(event?._tag, "Opened")
  if (event?._tag !== "Opened") throw new Error("expected Opened")
  return event
}

const texts = (events: ReadonlyArray<SocketEvent>) =>
  events.flatMap((event) => (event._tag === "Message" ? [event.text] : []))

describe("ReconnectingSocket", () => {
  it.scopedLive("emits Opened after the subscribe frames were sent, then each text (and binary) frame", () =>
    Effect.gen(function* () {
      const server = yield* testServer((connection) =>
        connection.socket.on("message", () => {
          // Answers only after the subscribe: the client must already have emitted Opened before these.
          connection.socket.send("one")
          connection.socket.send(Buffer.from("two: ünïcode", "utf8"), { binary: true })
        })
      )
      const events = yield* collect(
        ReconnectingSocket.make({ ...baseOptions(server.url), onConnect: Effect.succeed(["sub-a", "sub-b"]) }),
        5
      )
      const first = opened(events[0])
      assert.isUndefined(first.downSince)
      assert.deepStrictEqual(texts(events), ["one", "two: ünïcode", "one", "two: ünïcode"])
      assert.deepStrictEqual(
        server.connections[0]?.frames.map((f) => f.text),
        ["sub-a", "sub-b"]
      )
    })
  )

  it.scopedLive("reconnects after the server drops the connection, says Lost at once, replays onConnect and reports downSince", () =>
    Effect.gen(function* () {
      const server = yield* testServer((connection) =>
        connection.socket.once("message", () => {
          connection.socket.send(`hello ${connection.index}`)
          if (connection.index === 0) setTimeout(() => connection.socket.terminate(), 20)
        })
      )
      const connects = yield* Ref.make(0)
      const onConnect = Effect.map(Ref.updateAndGet(connects, (n) => n + 1), (n) => [`subscribe #${n}`])
      const events = yield* collect(ReconnectingSocket.make({ ...baseOptions(server.url), onConnect }), 5)
      assert.deepStrictEqual(
        events.map((e) => e._tag),
        ["Opened", "Message", "Lost", "Opened", "Message"]
      )
      assert.deepStrictEqual(texts(events), ["hello 0", "hello 1"])
      const first = opened(events[0])
      const lost = events[2]
      const second = opened(events[3])
      assert.strictEqual(lost?._tag === "Lost" ? lost.since : undefined, second.downSince, "one outage, one moment")
      assert.isDefined(second.downSince)
      assert.isAtLeast(second.downSince!, first.at)
      assert.isAtMost(second.downSince!, second.at)
      assert.deepStrictEqual(
        server.connections.map((c) => c.frames.map((f) => f.text)),
        [["subscribe #1"], ["subscribe #2"]],
        "onConnect is evaluated again on every connect"
      )
    })
  )

  it.scopedLive("an idle connection (no frames at all) is terminated and replaced after idleTimeout", () =>
    Effect.gen(function* () {
      const server = yield* testServer()
      const events = yield* collect(ReconnectingSocket.make({ ...baseOptions(server.url), idleTimeout: "300 millis" }), 3)
      const first = opened(events[0])
      assert.strictEqual(events[1]?._tag, "Lost")
      const second = opened(events[2])
      assert.isDefined(second.downSince)
      // Data stopped at the last inbound frame (here: the open), so that is when it was lost.
      assert.isAtLeast(second.downSince!, first.at - 50)
      assert.isAtLeast(second.at - first.at, 300)
      yield* eventually(() => server.connections[0]?.closed !== undefined)
      assert.strictEqual(server.connections.length, 2)
    })
  )

  it.scopedLive("server pings alone keep an otherwise silent connection alive", () =>
    Effect.gen(function* () {
      const server = yield* testServer((connection) => {
        const timer = setInterval(() => connection.socket.ping(), 80)
        connection.socket.on("close", () => clearInterval(timer))
      })
      const events = yield* ReconnectingSocket.make({ ...baseOptions(server.url), idleTimeout: "300 millis" }).pipe(
        Stream.interruptAfter("1200 millis"),
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray)
      )
      assert.deepStrictEqual(
        events.map((e) => e._tag),
        ["Opened"]
      )
      assert.strictEqual(server.connections.length, 1)
    })
  )

  it.scopedLive("onConnect frames are spaced by 1 / outboundPerSecond", () =>
    Effect.gen(function* () {
      const server = yield* testServer()
      const frames = ["s1", "s2", "s3", "s4", "s5"]
      const events = yield* collect(
        ReconnectingSocket.make({ ...baseOptions(server.url), onConnect: Effect.succeed(frames), outboundPerSecond: 10 }),
        1
      )
      opened(events[0])
      yield* eventually(() => server.connections[0]?.frames.length === frames.length)
      const at = server.connections[0]!.frames.map((f) => f.at)
      const gaps = at.slice(1).map((t, i) => t - at[i]!)
      // 100 ms apart at the client; receive times jitter, so allow slack per gap but not in total.
      for (const gap of gaps) assert.isAtLeast(gap, 60, `gaps ${gaps.join(", ")}`)
      assert.isAtLeast(at[at.length - 1]! - at[0]!, 4 * 100 - 30, `gaps ${gaps.join(", ")}`)
    })
  )

  it.scopedLive("fails with Disconnected after maxAttempts consecutive failed connects", () =>
    Effect.gen(function* () {
      const port = yield* closedPort
      const error = yield* ReconnectingSocket.make({
        ...baseOptions(`ws://127.0.0.1:${port}`),
        maxAttempts: 3
      }).pipe(Stream.runDrain, Effect.flip, Effect.timeout("5 seconds"))
      assert.strictEqual(error._tag, "Disconnected")
      assert.strictEqual(error.exchange, "testex")
      assert.include(error.reason, "3 consecutive failed connection attempts")
    })
  )

  it.scopedLive("interrupting the stream closes the socket at the server", () =>
    Effect.gen(function* () {
      const server = yield* testServer((connection) => connection.socket.send("hi"))
      const fiber = yield* ReconnectingSocket.make(baseOptions(server.url)).pipe(Stream.runDrain, Effect.fork)
      yield* eventually(() => server.connections[0]?.frames.length === 1)
      yield* Fiber.interrupt(fiber)
      yield* eventually(() => server.connections[0]?.closed !== undefined)
      assert.strictEqual(server.connections[0]?.closed?.code, 1000)
      assert.strictEqual(server.connections.length, 1)
    })
  )

  it.scopedLive("maxLifetime opens and subscribes a replacement before closing the old connection", () =>
    Effect.gen(function* () {
      const server = yield* testServer((connection) => {
        const timer = setInterval(() => connection.socket.send(`c${connection.index}`), 20)
        connection.socket.on("close", () => clearInterval(timer))
      })
      const events = yield* ReconnectingSocket.make({ ...baseOptions(server.url), maxLifetime: "300 millis" }).pipe(
        Stream.takeUntil((event) => event._tag === "Message" && event.text === "c1"),
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray),
        Effect.timeout("5 seconds")
      )
      const openings = events.filter((e) => e._tag === "Opened")
      assert.strictEqual(openings.length, 2)
      assert.isUndefined(opened(openings[1]).downSince, "nothing was missed")
      const second = events.findIndex((e, i) => i > 0 && e._tag === "Opened")
      assert.notInclude(texts(events.slice(second)), "c0", "the old connection stops forwarding at the switch")
      assert.include(texts(events.slice(0, second)), "c0")
      yield* eventually(() => server.connections[0]?.closed !== undefined)
      assert.isAtLeast(server.connections[0]!.closed!.at, server.connections[1]!.frames[0]!.at)
    })
  )

  it.scopedLive("a consumer that falls behind the buffer gets a reconnect with downSince, not silent loss", () =>
    Effect.gen(function* () {
      const server = yield* testServer((connection) =>
        connection.socket.once("message", () => {
          if (connection.index === 0) for (let i = 0; i < 200; i++) connection.socket.send(`m${i}`)
          else connection.socket.send("after")
        })
      )
      const events = yield* ReconnectingSocket.make({ ...baseOptions(server.url), bufferSize: 16 }).pipe(
        // A slow consumer: it first sits on `Opened` while the burst arrives.
        Stream.tap((event) =>
          event._tag === "Opened" && event.downSince === undefined ? Effect.sleep("300 millis") : Effect.void
        ),
        Stream.takeUntil((event) => event._tag === "Message" && event.text === "after"),
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray),
        Effect.timeout("5 seconds")
      )
      const burst = texts(events).filter((t) => t !== "after")
      assert.isBelow(burst.length, 200)
      // What was delivered is a gap-free prefix: frames are never dropped from the middle.
      assert.deepStrictEqual(
        burst,
        burst.map((_, i) => `m${i}`)
      )
      const reopened = events.filter((e) => e._tag === "Opened")
      assert.strictEqual(reopened.length, 2)
      assert.include(
        events.flatMap((e) => (e._tag === "Lost" ? [e.reason] : [])).join(),
        "consumer too slow",
        "the overflow is said as a loss before the reconnect"
      )
      assert.isDefined(opened(reopened[1]).downSince)
    })
  )

  it.scopedLive("a frame matching recycleWhen (a shutdown notice) replaces the connection without a gap", () =>
    Effect.gen(function* () {
      const server = yield* testServer((connection) =>
        connection.socket.once("message", () =>
          connection.socket.send(connection.index === 0 ? "serverShutdown" : `ready ${connection.index}`)
        )
      )
      const events = yield* collect(
        ReconnectingSocket.make({ ...baseOptions(server.url), recycleWhen: (text) => text === "serverShutdown" }),
        4
      )
      assert.deepStrictEqual(
        events.map((e) => (e._tag === "Opened" ? `Opened ${e.downSince}` : e._tag === "Message" ? e.text : "Lost")),
        ["Opened undefined", "serverShutdown", "Opened undefined", "ready 1"]
      )
      yield* eventually(() => server.connections[0]?.closed !== undefined)
      assert.strictEqual(server.connections[0]?.closed?.code, 1000)
    })
  )

  it.scopedLive("interruption does not hang on a server that never answers the closing handshake", () =>
    Effect.gen(function* () {
      // Completes the HTTP upgrade by hand, then ignores every frame, the close frame included.
      const sockets: Array<{ readonly socket: Socket; closed: boolean }> = []
      const tcp = yield* Effect.acquireRelease(
        Effect.async<ReturnType<typeof createServer>>((resume) => {
          const tcp = createServer((socket) => {
            const entry = { socket, closed: false }
            sockets.push(entry)
            socket.on("close", () => {
              entry.closed = true
            })
            socket.once("data", (request) => {
              const key = /sec-websocket-key: *(\S+)/i.exec(String(request))?.[1] ?? ""
              const accept = createHash("sha1")
                .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
                .digest("base64")
              socket.write(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                  `Sec-WebSocket-Accept: ${accept}\r\n\r\n`
              )
            })
          })
          tcp.listen(0, "127.0.0.1", () => resume(Effect.succeed(tcp)))
        }),
        (tcp) =>
          Effect.async<void>((resume) => {
            for (const { socket } of sockets) socket.destroy()
            tcp.close(() => resume(Effect.void))
          })
      )
      const { port } = tcp.address() as AddressInfo
      const fiber = yield* ReconnectingSocket.make(baseOptions(`ws://127.0.0.1:${port}`)).pipe(
        Stream.take(1),
        Stream.runDrain,
        Effect.fork
      )
      const started = Date.now()
      yield* Fiber.join(fiber).pipe(Effect.timeout("4 seconds"))
      assert.isBelow(Date.now() - started, 3500)
      yield* eventually(() => sockets[0]?.closed === true)
    })
  )

  it("backoffDelay doubles from initial, caps at max and jitters within [50 %, 100 %]", () => {
    assert.strictEqual(ReconnectingSocket.backoffDelay(500, 30_000, 0, 1), 500)
    assert.strictEqual(ReconnectingSocket.backoffDelay(500, 30_000, 3, 1), 4000)
    assert.strictEqual(ReconnectingSocket.backoffDelay(500, 30_000, 3, 0), 2000)
    assert.strictEqual(ReconnectingSocket.backoffDelay(500, 30_000, 10, 1), 30_000)
    assert.strictEqual(ReconnectingSocket.backoffDelay(500, 30_000, 5000, 0.5), 22_500)
  })
})
