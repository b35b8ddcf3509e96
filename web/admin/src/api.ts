// The console's only link to the server: the SDK's session core (memory
// token store: the token never touches localStorage, sessionStorage or a
// cookie, so a reload signs out) and typed clients over its Connect
// transport. Same origin: the gateway serves both the page and the RPCs.
import { createInfliqCore, memoryTokenStore, classifyError, Code, ConnectError, type AppError } from "../../../clients/ts/src/core.ts";
import { AuthService } from "../../../clients/ts/gen/infliq/auth/v1/auth_pb.ts";

export const core = createInfliqCore({ baseUrl: location.origin, tokens: memoryTokenStore() });
export const auth = core.service(AuthService);

export { classifyError, Code, ConnectError, type AppError };

/** The message to show for a failed call. */
export function errorText(e: unknown): string {
  const err = classifyError(e);
  if (err.kind === "offline") return "The server could not be reached.";
  return err.message || "Something went wrong.";
}

export function isPermissionDenied(e: unknown): boolean {
  return ConnectError.from(e).code === Code.PermissionDenied;
}
