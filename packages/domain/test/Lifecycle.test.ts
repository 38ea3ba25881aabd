import { assert, describe, it } from "@effect/vitest"
import { DateTime, Either, FastCheck as fc, Schema } from "effect"
import { ExchangeId } from "../src/Exchange.js"
import * as Lifecycle from "../src/Lifecycle.js"

const state = fc.constantFrom(...Lifecycle.states)

// The table of domain.md §5, written out independently of the implementation.
const allowed = new Set([
  "idle→starting",
  "starting→warming",
  "warming→active",
  "active→stopping",
  "stopping→stopped",
  "active→reconnecting",
  "reconnecting→active",
  "stopped→starting",
  "starting→stopping",
  "warming→stopping",
  "reconnecting→stopping"
])

describe("Lifecycle", () => {
  it.prop("allows exactly the transitions of domain.md §5", [state, state], ([from, to]) => {
    const result = Lifecycle.transition(from, to)
    if (allowed.has(`${from}→${to}`)) {
      assert.deepStrictEqual(result, Either.right(to))
    } else {
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "InvalidTransition")
        assert.include(result.left.message, `from ${from} to ${to}`)
      }
    }
  })

  it("the table has no transition beyond the contract", () => {
    const table = Lifecycle.states.flatMap((from) => Lifecycle.transitions[from].map((to) => `${from}→${to}`))
    assert.deepStrictEqual(new Set(table), allowed)
  })

  it.prop("every state reaches stopped, and stopped reaches active again", [state], ([start]) => {
    const reachable = (from: Lifecycle.ConnectionState): Set<Lifecycle.ConnectionState> => {
      const seen = new Set<Lifecycle.ConnectionState>([from])
      const queue = [from]
      while (queue.length > 0) {
        for (const next of Lifecycle.transitions[queue.shift()!]) {
          if (!seen.has(next)) {
            seen.add(next)
            queue.push(next)
          }
        }
      }
      return seen
    }
    assert.isTrue(reachable(start).has("stopped"))
    assert.isTrue(reachable("stopped").has("active"))
  })

  it.prop("a random walk along allowed edges never reaches an invalid state", [fc.array(fc.nat(), { maxLength: 60 })], ([choices]) => {
    let current: Lifecycle.ConnectionState = "idle"
    for (const choice of choices) {
      const options: ReadonlyArray<Lifecycle.ConnectionState> = Lifecycle.transitions[current]
      const next: Lifecycle.ConnectionState = options[choice % options.length]!
      current = Either.getOrThrow(Lifecycle.transition(current, next))
    }
    assert.include(Lifecycle.states, current)
  })

  it("round-trips an event through its encoded (Redis/JSON) form", () => {
    const event = Lifecycle.LifecycleEvent.make({
      type: "transition",
      exchangeId: ExchangeId.make(1),
      instanceId: "host-a:1234",
      from: "idle",
      to: "starting",
      at: DateTime.unsafeMake("2026-11-21T10:00:00.000Z"),
      message: "start requested",
      lockEpoch: 3
    })
    const encoded = Schema.encodeSync(Lifecycle.LifecycleEvent)(event)
    assert.strictEqual(encoded.at, "2026-11-21T10:00:00.000Z")
    assert.deepStrictEqual(Schema.decodeUnknownSync(Lifecycle.LifecycleEvent)(JSON.parse(JSON.stringify(encoded))), event)
  })

  it("rejects an event with an unknown state", () => {
    const decoded = Schema.decodeUnknownEither(Lifecycle.LifecycleEvent)({
      type: "transition",
      exchangeId: 1,
      instanceId: "x",
      to: "flying",
      at: "2026-11-21T10:00:00.000Z",
      message: ""
    })
    assert.isTrue(Either.isLeft(decoded))
  })
})
