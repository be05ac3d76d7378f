/**
 * Names for the API's shapes. Every type here is an alias of the schema generated from the OpenAPI
 * document (`exchange openapi > frontend/openapi.json && npm run gen:api` -> schema.ts); nothing is
 * written by hand.
 */
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Order = Schemas["Order"];
export type OrderCreate = Schemas["OrderCreate"];
export type Fill = Schemas["Fill"];
export type Market = Schemas["MarketOut"];
export type Asset = Schemas["AssetOut"];
export type Ticker = Schemas["Ticker"];
export type Balance = Schemas["Balance"];
export type Book = Schemas["Book"];
export type Estimate = Schemas["Estimate"];
export type SideEstimate = Schemas["SideEstimate"];
export type SpendEstimate = Schemas["SpendEstimate"];
export type Trade = Schemas["Trade"];
export type Candle = Schemas["Candle"];
export type TokenPair = Schemas["TokenPair"];
export type Account = Schemas["Account"];
export type CancelAllResult = Schemas["CancelAllResult"];
export type ErrorBody = Schemas["ErrorBody"];
export type OrderPage = Schemas["OrderPage"];
export type HistoryFill = Schemas["HistoryFill"];
export type FillPage = Schemas["FillPage"];
export type Position = Schemas["Position"];
export type TransferPage = Schemas["TransferPage"];
export type SortKey = Schemas["SortKey"];
export type SortOrder = Schemas["SortOrder"];
/** A login session of the account (`GET /api/auth/sessions`); not the terminal's own `Session` (lib/session.ts). */
export type LoginSession = Schemas["Session"];
