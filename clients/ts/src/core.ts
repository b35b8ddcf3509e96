// @infliq/sdk/core: the session (tokens, refresh, auth events, sign-out),
// the authenticated transport and the error helpers, without any service.
// Import services from their entry points ("@infliq/sdk/auth", …) and call
// core.service(AuthService), so an app bundles only what it uses.
export { createInfliqCore, type InfliqCore, type InfliqClientOptions, type AuthEvent, type SignOutTask } from "./session.js";
export { memoryTokenStore, keyValueTokenStore, type AsyncKeyValue, type TokenStore, type Tokens } from "./tokens.js";
export { classifyError, isNetworkError, OfflineError, reasonHeader, type AppError, type AppErrorKind } from "./errors.js";
export { serialize, deserialize } from "./json.js";
export { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
export { timestampDate, timestampFromDate, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
