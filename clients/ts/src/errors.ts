import { Code, ConnectError } from "@connectrpc/connect";
import { ViolationsSchema } from "../gen/buf/validate/validate_pb.js";

/** The machine-readable reason the server attaches to every error. */
export const reasonHeader = "infliq-error-reason";

/** An error sorted into the cases an app screen handles. */
export type AppError =
  | { kind: "validation"; message: string; fields: Record<string, string[]> }
  | { kind: "rate_limited"; message: string; retryAfterSeconds: number }
  | { kind: "not_found"; message: string }
  | { kind: "forbidden"; message: string }
  | { kind: "unauthenticated"; message: string }
  | { kind: "conflict"; message: string; reason: string }
  | { kind: "unavailable"; message: string }
  | { kind: "unknown"; message: string; reason: string };

/** classifyError maps any thrown value onto AppError. */
export function classifyError(err: unknown): AppError {
  const e = ConnectError.from(err);
  const message = e.rawMessage;
  const reason = e.metadata.get(reasonHeader) ?? "";
  switch (e.code) {
    case Code.InvalidArgument: {
      const fields: Record<string, string[]> = {};
      for (const v of e.findDetails(ViolationsSchema).flatMap((d) => d.violations)) {
        const path = v.field?.elements.map((el) => el.fieldName).join(".") || "_";
        (fields[path] ??= []).push(v.message);
      }
      return { kind: "validation", message, fields };
    }
    case Code.ResourceExhausted: {
      const s = Number(e.metadata.get("retry-after") ?? "");
      return { kind: "rate_limited", message, retryAfterSeconds: Number.isFinite(s) && s > 0 ? s : 1 };
    }
    case Code.NotFound:
      return { kind: "not_found", message };
    case Code.PermissionDenied:
      return { kind: "forbidden", message };
    case Code.Unauthenticated:
      return { kind: "unauthenticated", message };
    case Code.FailedPrecondition:
    case Code.AlreadyExists:
    case Code.Aborted:
      return { kind: "conflict", message, reason };
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return { kind: "unavailable", message };
    default:
      return { kind: "unknown", message, reason };
  }
}
