/**
 * Control commands through the admin RPC reach an instance over the real control channel (Redis pub/sub) and come
 * back as typed results: a success with its data, the instance's refusal, no instance at all; each is recorded
 * in the instance's history with the admin as its issuer.
 */
import { assert, layer } from "@effect/vitest"
import { ControlChannel } from "@livermore/engine"
import { AdminTokensRepo, UsersRepo } from "@livermore/store"
import { Effect, Layer, Redacted } from "effect"
import * as S from "./support.js"

const instanceId = `instance-${crypto.randomUUID()}`

/** A stand-in instance on the real control channel: answers status, refuses pause, records everything. */
const Instance = ControlChannel.layer(instanceId, (command) => {
  switch (command._tag) {
    case "status":
      return Effect.succeed({ connectionState: "active", issuedBy: command.issuedBy })
    case "pause":
      return Effect.fail("already paused")
    default:
      return Effect.succeed({ ran: command._tag })
  }
})

const ServerAndInstance = Layer.provideMerge(Instance, S.serverLayer(S.settings()))

layer(ServerAndInstance, { excludeTestServices: true, timeout: "60 seconds" })("admin RPC control", (it) => {
  it.effect("a command's result, a refusal and a missing instance are typed; the history names the admin", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const user = yield* (yield* UsersRepo.UsersRepo).upsert({
          identityProvider: "local",
          subject: "ops@example.com",
          email: "ops@example.com",
          role: "admin"
        })
        const { secret } = yield* (yield* AdminTokensRepo.AdminTokensRepo).create({ userId: user.id, name: "control" })
        const client = yield* S.client({ token: Redacted.value(secret) })

        const status = yield* client.SendCommand({ instanceId, command: { _tag: "status" } })
        assert.deepStrictEqual(status.data, { connectionState: "active", issuedBy: "ops@example.com" })
        assert.strictEqual(status.instanceId, instanceId)

        const refused = yield* Effect.flip(client.SendCommand({ instanceId, command: { _tag: "pause" } }))
        assert.strictEqual(refused._tag, "CommandRejected")
        assert.include(refused.message, "already paused")

        const backfill = yield* client.SendCommand({
          instanceId,
          command: { _tag: "force-backfill", timeframes: ["1d"] }
        })
        assert.deepStrictEqual(backfill.data, { ran: "force-backfill" })

        const nobody = yield* Effect.flip(client.SendCommand({ instanceId: "no-such-instance", command: { _tag: "status" } }))
        assert.strictEqual(nobody._tag, "CommandNotAcknowledged")

        const history = yield* client.CommandHistory({ instanceId })
        assert.deepStrictEqual(
          history.map((h) => [h.name, h.outcome, h.issuedBy]),
          [
            ["force-backfill", "succeeded", "ops@example.com"],
            ["pause", "failed", "ops@example.com"],
            ["status", "succeeded", "ops@example.com"]
          ]
        )
        assert.strictEqual(history[1]!.error, "already paused")
        assert.lengthOf(yield* client.CommandHistory({ instanceId, limit: 1 }), 1)
      })
    ), 30_000
  )
})
