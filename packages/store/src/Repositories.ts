/** Every repository of the store in one layer, for apps that want them all over one connection. */
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import * as AdminTokensRepo from "./AdminTokensRepo.js"
import * as AlertsRepo from "./AlertsRepo.js"
import * as ApiKeysRepo from "./ApiKeysRepo.js"
import * as ExchangeSymbolsRepo from "./ExchangeSymbolsRepo.js"
import * as ExchangesRepo from "./ExchangesRepo.js"
import * as PositionsRepo from "./PositionsRepo.js"
import * as UserExchangesRepo from "./UserExchangesRepo.js"
import * as UsersRepo from "./UsersRepo.js"

/** The services `layer` provides. */
export type Repositories =
  | AdminTokensRepo.AdminTokensRepo
  | AlertsRepo.AlertsRepo
  | ApiKeysRepo.ApiKeysRepo
  | ExchangeSymbolsRepo.ExchangeSymbolsRepo
  | ExchangesRepo.ExchangesRepo
  | PositionsRepo.PositionsRepo
  | UserExchangesRepo.UserExchangesRepo
  | UsersRepo.UsersRepo

/** All repositories over the `SqlClient` of a store layer (`StoreClient.layerPg`, `layerEmbedded`, …). */
export const layer: Layer.Layer<Repositories, never, SqlClient.SqlClient> = Layer.mergeAll(
  AdminTokensRepo.layer,
  AlertsRepo.layer,
  ApiKeysRepo.layer,
  ExchangeSymbolsRepo.layer,
  ExchangesRepo.layer,
  PositionsRepo.layer,
  UserExchangesRepo.layer,
  UsersRepo.layer
)
