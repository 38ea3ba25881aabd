/**
 * What an instance says about itself in its status and lock (domain.md §5): its hostname, the public IP detected
 * at start (or a local address with `ipSource: "local"` when no lookup answered), the admin it runs for, and its
 * instance id. Detection runs once, while the layer is built.
 */
import { HttpClient, type HttpClientError } from "@effect/platform"
import { SqlClient, SqlSchema } from "@effect/sql"
import type { Status } from "@livermore/domain"
import { StoreError, UsersRepo } from "@livermore/store"
import { Array as Arr, Config, Context, Data, Duration, Effect, Layer, Option, Order, Ref, Schema } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { randomBytes } from "node:crypto"
import { isIP } from "node:net"
import * as os from "node:os"

/** The identity of this process run. */
export interface Identity {
  /**
   * `<hostname>-<pid>-<8 hex>`: one process run. Readable in logs, events and the lock value (which host, which
   * process), and unique across restarts thanks to the random suffix (pids are reused). See `makeInstanceId`.
   */
  readonly instanceId: string
  /** `os.hostname()`. */
  readonly hostname: string
  /** The public IP detected at start, or a local address (`ipSource: "local"`). */
  readonly ipAddress: string
  readonly ipSource: Status.IpSource
  /** The admin user's email as stored in `users`; null when no admin is configured. */
  readonly adminEmail: string | null
  /** The admin user's display name; null when no admin is configured or the user has none. */
  readonly adminDisplayName: string | null
}

/** This instance's identity, for the status projection, events and the lock. */
export class NodeIdentity extends Context.Tag("@livermore/engine/NodeIdentity")<NodeIdentity, Identity>() {}

/** An IPv4 or IPv6 address, surrounding whitespace (a trailing newline) trimmed. */
export const IpAddress = Schema.Trim.pipe(
  Schema.filter((s) => isIP(s) !== 0, { message: () => "not an IPv4 or IPv6 address" })
).annotations({ identifier: "IpAddress" })

/** Public-IP detection. */
export interface PublicIpOptions {
  /**
   * Services answering a GET with the caller's IP as plain text. All are asked at once; the first valid answer
   * wins. Default `defaultIpUrls`.
   */
  readonly urls?: ReadonlyArray<string> | undefined
  /** Bound on detection as a whole (every request shares it). Default 3 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Skip detection and report the local address (air-gapped hosts). Default false. */
  readonly disabled?: boolean | undefined
}

/** What the layer needs. */
export interface Options {
  /** The email of the user the instance runs for, looked up in `users`; null or absent: no admin. */
  readonly adminEmail?: string | null | undefined
  readonly publicIp?: PublicIpOptions | undefined
}

/** Default public-IP services (both answer plain text, both over HTTPS). */
export const defaultIpUrls: ReadonlyArray<string> = ["https://api.ipify.org", "https://checkip.amazonaws.com"]

/** Default bound on public-IP detection. */
export const defaultTimeout: Duration.Duration = Duration.seconds(3)

/** The options are unusable; `detail` says which and why. */
export class InvalidIdentityOptions extends Data.TaggedError("InvalidIdentityOptions")<{
  readonly detail: string
}> {
  override get message(): string {
    return `NodeIdentity: ${this.detail}`
  }
}

/** No user has the configured admin email. */
export class UnknownAdmin extends Schema.TaggedError<UnknownAdmin>()("UnknownAdmin", {
  email: Schema.String
}) {
  override get message(): string {
    return `No user has the admin email "${this.email}"; sign in once through the admin UI to create the user, or fix the configured admin email`
  }
}

/** Several users share the configured admin email (one per identity provider), so it names no one. */
export class AmbiguousAdmin extends Schema.TaggedError<AmbiguousAdmin>()("AmbiguousAdmin", {
  email: Schema.String,
  userIds: Schema.Array(Schema.Number)
}) {
  override get message(): string {
    return `${this.userIds.length} users (ids ${this.userIds.join(", ")}) have the admin email "${this.email}"; it must name exactly one`
  }
}

/** One public-IP service that gave no usable answer, and why. */
export interface FailedLookup {
  readonly url: string
  readonly reason: string
}

/** No public-IP service gave a valid address. */
export class PublicIpUnavailable extends Data.TaggedError("PublicIpUnavailable")<{
  readonly attempts: ReadonlyArray<FailedLookup>
}> {
  override get message(): string {
    return this.attempts.length === 0
      ? "no public IP: no service to ask"
      : `no public IP: ${this.attempts.map((a) => `${a.url}: ${a.reason}`).join("; ")}`
  }
}

/** Where the address came from. */
export interface Address {
  readonly ipAddress: string
  readonly ipSource: Status.IpSource
}

const HttpUrl = Schema.String.pipe(
  Schema.pattern(/^https?:\/\/\S+$/, { message: () => "a public-IP service must be an http:// or https:// URL" })
)
const Email = Schema.Trim.pipe(
  Schema.pattern(/^[^\s@]+@[^\s@]+$/, { message: () => "the admin email must look like name@domain" })
)

interface Resolved {
  readonly adminEmail: string | null
  readonly urls: ReadonlyArray<string>
  readonly timeout: Duration.Duration
  readonly disabled: boolean
}

const invalid = (what: string) => (error: { readonly message: string }) =>
  new InvalidIdentityOptions({ detail: `${what}: ${error.message}` })

const resolvePublicIp = (options: PublicIpOptions) =>
  Effect.gen(function* () {
    const disabled = options.disabled ?? false
    const urls = yield* Schema.decodeUnknown(Schema.Array(HttpUrl))(options.urls ?? defaultIpUrls).pipe(
      Effect.mapError(invalid("publicIp.urls"))
    )
    if (urls.length === 0 && !disabled) {
      return yield* new InvalidIdentityOptions({
        detail: "publicIp.urls is empty; list at least one service, or set publicIp.disabled"
      })
    }
    const timeout = options.timeout === undefined ? Option.some(defaultTimeout) : Duration.decodeUnknown(options.timeout)
    if (Option.isNone(timeout) || !Duration.isFinite(timeout.value) || Duration.toMillis(timeout.value) <= 0) {
      return yield* new InvalidIdentityOptions({
        detail: `publicIp.timeout must be a positive, finite duration, got ${String(options.timeout)}`
      })
    }
    return { urls, timeout: timeout.value, disabled }
  })

const resolve = (options: Options): Effect.Effect<Resolved, InvalidIdentityOptions> =>
  Effect.gen(function* () {
    const adminEmail = yield* Schema.decodeUnknown(Schema.NullOr(Email))(options.adminEmail ?? null).pipe(
      Effect.mapError(invalid("adminEmail"))
    )
    return { adminEmail, ...(yield* resolvePublicIp(options.publicIp ?? {})) }
  })

/**
 * The instance id of a process run: the hostname (characters outside `A-Za-z0-9.-` replaced by `-`), the pid and
 * a random suffix. Chosen over a bare UUID so an operator reading the lock or an event sees which host and process
 * holds it; the suffix keeps it unique when a pid is reused after a restart.
 */
export const makeInstanceId = (hostname: string, pid: number, suffix: string): string => {
  const host = hostname.replace(/[^A-Za-z0-9.-]/g, "-").replace(/^-+|-+$/g, "")
  return `${host === "" ? "host" : host}-${pid}-${suffix}`
}

/** The first non-internal IPv4 address of `interfaces` (default: this host's), else `127.0.0.1`. */
export const localAddress = (
  interfaces: NodeJS.Dict<ReadonlyArray<os.NetworkInterfaceInfo>> = os.networkInterfaces()
): string => {
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      if (info.family === "IPv4" && !info.internal) return info.address
    }
  }
  return "127.0.0.1"
}

const excerpt = (text: string): string => {
  const trimmed = text.trim()
  return JSON.stringify(trimmed.length > 40 ? `${trimmed.slice(0, 40)}…` : trimmed)
}

const describeHttpError = (error: HttpClientError.HttpClientError): string => {
  if (error._tag === "ResponseError" && error.reason === "StatusCode") return `HTTP ${error.response.status}`
  const cause = error.cause instanceof Error ? error.cause : undefined
  // fetch reports "fetch failed" and keeps the socket error (ECONNREFUSED, ENOTFOUND…) one level down.
  const inner = cause?.cause instanceof Error ? `: ${cause.cause.message}` : ""
  return `${error.reason}${cause ? `: ${cause.message}${inner}` : ""}`
}

/**
 * Ask every service at once for this host's public IP; the first answer that decodes as an IP address wins and the
 * others are interrupted. Each request is bounded by `timeout`. Fails with every service's reason (in `urls` order)
 * if none answers.
 */
export const detectPublicIp = Effect.fn("NodeIdentity.detectPublicIp")(function* (
  urls: ReadonlyArray<string>,
  timeout: Duration.DurationInput
) {
  const client = HttpClient.filterStatusOk(yield* HttpClient.HttpClient)
  const decode = Schema.decodeUnknown(IpAddress)
  const failures = yield* Ref.make<ReadonlyArray<FailedLookup>>([])
  const ask = (url: string) =>
    client.get(url).pipe(
      Effect.flatMap((response) => response.text),
      Effect.mapError(describeHttpError),
      Effect.flatMap((body) => Effect.mapError(decode(body), () => `not an IP address: ${excerpt(body)}`)),
      Effect.timeoutFail({ duration: timeout, onTimeout: () => `no answer within ${Duration.format(timeout)}` }),
      Effect.tapError((reason) => Ref.update(failures, (all) => [...all, { url, reason }]))
    )
  // raceAll, not validateFirst: with concurrency, validateFirst waits for every request before returning.
  const [first, ...rest] = urls.map(ask)
  const raced = first === undefined ? Effect.fail("no services") : Effect.raceAll([first, ...rest])
  return yield* raced.pipe(
    Effect.catchAll(() =>
      Effect.flatMap(Ref.get(failures), (attempts) =>
        Effect.fail(
          new PublicIpUnavailable({
            attempts: Arr.sort(attempts, Order.mapInput(Order.number, (a: FailedLookup) => urls.indexOf(a.url)))
          })
        )
      )
    )
  )
})

/**
 * This host's address for the status: the public IP when a service answers (`ipSource: "public"`), otherwise the
 * local address (`localAddress`, `ipSource: "local"`) with a warning naming why. Never fails on a lookup failure.
 */
export const detectAddress = Effect.fn("NodeIdentity.detectAddress")(function* (options: PublicIpOptions = {}) {
  const { urls, timeout, disabled } = yield* resolvePublicIp(options)
  const local = (): Address => ({ ipAddress: localAddress(), ipSource: "local" })
  if (disabled) {
    const address = local()
    yield* Effect.logInfo(`Public IP detection disabled; reporting local address ${address.ipAddress}`)
    return address
  }
  return yield* detectPublicIp(urls, timeout).pipe(
    Effect.map((ipAddress): Address => ({ ipAddress, ipSource: "public" })),
    Effect.catchTag("PublicIpUnavailable", (error) =>
      Effect.sync(local).pipe(
        Effect.tap((address) =>
          Effect.logWarning(`Public IP detection failed (${error.message}); reporting local address ${address.ipAddress}`)
        )
      )
    )
  )
})

/**
 * The user whose email is `email` (case-insensitive). `UsersRepo` has no lookup by email, so it is done here over
 * the `SqlClient`, decoding rows with the repository's `User` schema.
 */
export const adminByEmail = Effect.fn("NodeIdentity.adminByEmail")(
  function* (email: string) {
    const sql = yield* SqlClient.SqlClient
    const find = SqlSchema.findAll({
      Request: Schema.String,
      Result: UsersRepo.User,
      execute: (wanted) => sql`SELECT * FROM users WHERE lower(email) = lower(${wanted}) ORDER BY id`
    })
    const users = yield* find(email.trim())
    const [first, ...others] = users
    if (first === undefined) return yield* new UnknownAdmin({ email })
    if (others.length > 0) return yield* new AmbiguousAdmin({ email, userIds: users.map((u) => u.id) })
    return first
  },
  StoreError.wrap("NodeIdentity.adminByEmail")
)

/**
 * Detect the identity: hostname, address (public or local; never fails on that) and admin (fails when the email
 * matches no user, or several), concurrently.
 */
export const make = Effect.fn("NodeIdentity.make")(function* (options: Options = {}) {
  const settings = yield* resolve(options)
  const hostname = os.hostname()
  const instanceId = makeInstanceId(hostname, process.pid, randomBytes(4).toString("hex"))
  const [address, admin] = yield* Effect.all(
    [
      detectAddress({ urls: settings.urls, timeout: settings.timeout, disabled: settings.disabled }),
      settings.adminEmail === null
        ? Effect.succeed(Option.none<UsersRepo.User>())
        : Effect.map(adminByEmail(settings.adminEmail), Option.some)
    ],
    { concurrency: 2 }
  )
  const identity: Identity = {
    instanceId,
    hostname,
    ipAddress: address.ipAddress,
    ipSource: address.ipSource,
    adminEmail: Option.match(admin, {
      onNone: () => null,
      onSome: (user) => Option.getOrElse(user.email, () => settings.adminEmail)
    }),
    adminDisplayName: Option.match(admin, { onNone: () => null, onSome: (user) => Option.getOrNull(user.displayName) })
  }
  yield* Effect.logInfo(
    `Node identity: ${hostname} at ${identity.ipAddress} (${identity.ipSource}), admin ${identity.adminEmail ?? "none"}`
  ).pipe(Effect.annotateLogs({ instanceId }))
  return NodeIdentity.of(identity)
})

/** The errors building the identity can fail with. */
export type NodeIdentityError = InvalidIdentityOptions | UnknownAdmin | AmbiguousAdmin | StoreError.StoreError

/** The identity, detected when the layer is built. */
export const layer = (
  options: Options = {}
): Layer.Layer<NodeIdentity, NodeIdentityError, HttpClient.HttpClient | SqlClient.SqlClient> =>
  Layer.effect(NodeIdentity, make(options))

/**
 * `layer` from configuration:
 * - `LIVERMORE_ADMIN_EMAIL`: the admin user's email; absent: no admin.
 * - `LIVERMORE_PUBLIC_IP_URLS`: comma-separated public-IP services, default `defaultIpUrls`.
 * - `LIVERMORE_PUBLIC_IP_TIMEOUT`: bound on detection, default `3 seconds`.
 * - `LIVERMORE_PUBLIC_IP_DISABLED`: `true` to skip detection, default `false`.
 */
export const layerConfig: Layer.Layer<
  NodeIdentity,
  NodeIdentityError | ConfigError,
  HttpClient.HttpClient | SqlClient.SqlClient
> = Layer.unwrapEffect(
  Effect.map(
    Config.all({
      adminEmail: Config.option(Config.string("LIVERMORE_ADMIN_EMAIL").pipe(Config.withDescription("The admin user's email"))),
      urls: Config.array(Config.string(), "LIVERMORE_PUBLIC_IP_URLS").pipe(
        Config.withDescription("Public-IP services (plain-text answers), comma-separated"),
        Config.withDefault(defaultIpUrls)
      ),
      timeout: Config.duration("LIVERMORE_PUBLIC_IP_TIMEOUT").pipe(Config.withDefault(defaultTimeout)),
      disabled: Config.boolean("LIVERMORE_PUBLIC_IP_DISABLED").pipe(Config.withDefault(false))
    }),
    ({ adminEmail, urls, timeout, disabled }) =>
      layer({ adminEmail: Option.getOrNull(adminEmail), publicIp: { urls, timeout, disabled } })
  )
)

/** A fixed identity for tests of other modules; `overrides` over a local, admin-less one. */
export const layerTest = (overrides: Partial<Identity> = {}): Layer.Layer<NodeIdentity> =>
  Layer.succeed(
    NodeIdentity,
    NodeIdentity.of({
      instanceId: "test-host-1-00000000",
      hostname: "test-host",
      ipAddress: "127.0.0.1",
      ipSource: "local",
      adminEmail: null,
      adminDisplayName: null,
      ...overrides
    })
  )
