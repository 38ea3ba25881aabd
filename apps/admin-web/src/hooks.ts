/** React glue for RPC calls and streams on the session's runtime. */
import { Cause, Effect, Exit, Fiber, Stream } from "effect"
import { useCallback, useEffect, useState } from "react"
import { Admin, type AdminRuntime, describeError } from "./rpc.js"

const messageOf = <E>(cause: Cause.Cause<E>): string => {
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some" ? describeError(failure.value) : Cause.pretty(cause)
}

/**
 * The last `keep` values of a stream while the component is mounted, newest first, and its failure. A change of
 * `key` ends the stream and starts `make` again (a new series to follow); `null` follows nothing.
 */
export const useStreamLatest = <A, E>(
  runtime: AdminRuntime,
  keep: number,
  make: (admin: Admin) => Stream.Stream<A, E>,
  key: string | null = ""
) => {
  const [values, setValues] = useState<ReadonlyArray<A>>([])
  const [error, setError] = useState<string | null>(null)
  // biome-ignore lint/correctness/useExhaustiveDependencies: the stream is chosen by its key, not per render
  useEffect(() => {
    setValues([])
    if (key === null) return

    const fiber = runtime.runFork(
      Effect.flatMap(Admin, (admin) =>
        Stream.runForEach(make(admin), (next) =>
          Effect.sync(() => {
            setValues((all) => [next, ...all].slice(0, keep))
            setError(null)
          })
        )
      )
    )
    fiber.addObserver((exit) => {
      if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) setError(messageOf(exit.cause))
    })
    return () => {
      runtime.runFork(Fiber.interrupt(fiber))
    }
  }, [runtime, key])
  return { values, error }
}

/** The latest value of a stream while the component is mounted (restarted when `key` changes), and its failure. */
export const useStream = <A, E>(runtime: AdminRuntime, make: (admin: Admin) => Stream.Stream<A, E>, key: string | null = "") => {
  const { values, error } = useStreamLatest(runtime, 1, make, key)
  return { value: values[0] ?? null, error }
}

/** Run a call; `run` resolves to its value or null, `error` holds the failure. */
export const useCall = (runtime: AdminRuntime) => {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const run = useCallback(
    async <A, E>(make: (admin: Admin) => Effect.Effect<A, E>): Promise<A | null> => {
      setBusy(true)
      const exit = await runtime.runPromiseExit(Effect.flatMap(Admin, make))
      setBusy(false)
      if (Exit.isSuccess(exit)) {
        setError(null)
        return exit.value
      }
      setError(messageOf(exit.cause))
      return null
    },
    [runtime]
  )
  return { run, error, busy }
}
