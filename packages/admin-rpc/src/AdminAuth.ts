/**
 * Who may call the admin RPC, shared by the server and the browser: every call carries `Authorization: Bearer …`
 * (an OIDC JWT or a local `lva_…` token), the server's `AdminAuth` middleware turns it into the `CurrentAdmin`, and
 * anything else fails with `AdminUnauthorized` — typed on the client too.
 */
import { RpcMiddleware } from "@effect/rpc"
import { Context, Schema } from "effect"

/** How the caller proved who they are. */
export const AuthMethod = Schema.Literal("oidc", "local-token").annotations({ identifier: "AuthMethod" })
export type AuthMethod = typeof AuthMethod.Type

/** The signed-in person, as the `users` table knows them. */
export class AdminUser extends Schema.Class<AdminUser>("AdminUser")({
  userId: Schema.Int,
  /** The identity provider (`local` for local tokens) and its id for the person. */
  identityProvider: Schema.String,
  subject: Schema.String,
  email: Schema.NullOr(Schema.String),
  displayName: Schema.NullOr(Schema.String),
  role: Schema.Literal("admin", "viewer"),
  method: AuthMethod
}) {}

/** The caller of the current RPC (provided by `AdminAuth`). */
export class CurrentAdmin extends Context.Tag("@livermore/admin-rpc/CurrentAdmin")<CurrentAdmin, AdminUser>() {}

/**
 * Why a call was refused: no bearer token; one that is malformed, unknown, badly signed or from another issuer;
 * one that expired or was revoked; a valid one whose user is not an admin; or the server could not check it (its
 * database or identity provider did not answer — try again).
 */
export const UnauthorizedReason = Schema.Literal(
  "missing",
  "invalid",
  "expired",
  "revoked",
  "forbidden",
  "unavailable"
).annotations({
  identifier: "UnauthorizedReason"
})
export type UnauthorizedReason = typeof UnauthorizedReason.Type

/** The call was refused; `message` says why in words an operator can act on (never the token). */
export class AdminUnauthorized extends Schema.TaggedError<AdminUnauthorized>()("AdminUnauthorized", {
  reason: UnauthorizedReason,
  message: Schema.String
}) {}

/** The admin RPC's authentication: every RPC of `AdminRpcs` runs behind it. */
export class AdminAuth extends RpcMiddleware.Tag<AdminAuth>()("@livermore/admin-rpc/AdminAuth", {
  provides: CurrentAdmin,
  failure: AdminUnauthorized,
  requiredForClient: true
}) {}
