import { Code, ConnectError } from "@connectrpc/connect";
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** The machine-readable reason the server attaches to every error. */
export const reasonHeader = "infliq-error-reason";

interface Base {
  /** Safe to show; from the server, or a short text for client-side failures. */
  message: string;
  /** Machine-readable reason (e.g. "MEDIA_RATE_LIMIT"); "" when none. */
  reason: string;
  /** What was thrown, for logs and error reporters. */
  cause: unknown;
}

/** An error sorted into the cases an app screen handles. */
export type AppError =
  | (Base & { kind: "validation"; fields: Record<string, string[]> })
  | (Base & { kind: "rate_limited"; retryAfterSeconds: number })
  | (Base & { kind: "not_found" })
  | (Base & { kind: "forbidden" })
  | (Base & { kind: "unauthenticated" })
  | (Base & { kind: "conflict" })
  /** The server or a dependency is down: retry later. */
  | (Base & { kind: "unavailable" })
  /** The request never reached the server (no network, DNS, TLS): retry when online. */
  | (Base & { kind: "offline" })
  /** The call's deadline passed. */
  | (Base & { kind: "timeout" })
  /** The app aborted the call (AbortSignal). */
  | (Base & { kind: "canceled" })
  | (Base & { kind: "unknown" });

export type AppErrorKind = AppError["kind"];

/**
 * isNetworkError reports a failure to reach the server at all: fetch rejects
 * with a TypeError ("Network request failed" on React Native, "fetch failed"
 * on Node, "Failed to fetch" in browsers) and Connect wraps it as Unknown.
 */
export function isNetworkError(err: unknown): boolean {
  for (let e: unknown = err, i = 0; e != null && i < 8; i++) {
    if (e instanceof TypeError) return true;
    if (e instanceof OfflineError) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** OfflineError is what the SDK throws when a refresh could not reach the server. */
export class OfflineError extends Error {
  override name = "OfflineError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** classifyError maps any thrown value onto AppError. */
export function classifyError(err: unknown): AppError {
  const e = ConnectError.from(err);
  const message = e.rawMessage;
  const reason = e.metadata.get(reasonHeader) ?? "";
  const base = { message, reason, cause: err };
  switch (e.code) {
    case Code.InvalidArgument:
      return { kind: "validation", ...base, fields: fieldErrors(e) };
    case Code.ResourceExhausted: {
      const s = Number(e.metadata.get("retry-after") ?? "");
      return { kind: "rate_limited", ...base, retryAfterSeconds: Number.isFinite(s) && s > 0 ? s : 1 };
    }
    case Code.NotFound:
      return { kind: "not_found", ...base };
    case Code.PermissionDenied:
      return { kind: "forbidden", ...base };
    case Code.Unauthenticated:
      return { kind: "unauthenticated", ...base };
    case Code.FailedPrecondition:
    case Code.AlreadyExists:
    case Code.Aborted:
      return { kind: "conflict", ...base };
    case Code.DeadlineExceeded:
      return { kind: "timeout", ...base };
    case Code.Canceled:
      return { kind: "canceled", ...base };
    case Code.Unavailable:
      return { kind: isNetworkError(err) ? "offline" : "unavailable", ...base };
    default:
      return { kind: isNetworkError(err) ? "offline" : "unknown", ...base };
  }
}

const violationsType = "buf.validate.Violations";

/**
 * fieldErrors reads the server's buf.validate.Violations detail into
 * { "phone": ["…"], "page.cursor": ["…"] }. It decodes the few fields it
 * needs by hand, so the protovalidate descriptors stay out of app bundles.
 */
function fieldErrors(e: ConnectError): Record<string, string[]> {
  const fields: Record<string, string[]> = {};
  for (const d of e.details) {
    let bytes: Uint8Array;
    if ("desc" in d) {
      if (d.desc.typeName !== violationsType) continue;
      bytes = toBinary(d.desc, create(d.desc, d.value as never));
    } else {
      if (d.type !== violationsType) continue;
      bytes = d.value;
    }
    for (const v of readRepeated(bytes, 1)) {
      let path = "";
      let msg = "";
      const r = new BinaryReader(v);
      while (r.pos < r.len) {
        const [no, wt] = r.tag();
        if (no === 5 && wt === WireType.LengthDelimited) {
          path = readRepeated(r.bytes(), 1)
            .map((el) => {
              const er = new BinaryReader(el);
              let name = "";
              while (er.pos < er.len) {
                const [n, w] = er.tag();
                if (n === 2 && w === WireType.LengthDelimited) name = er.string();
                else er.skip(w, n);
              }
              return name;
            })
            .filter(Boolean)
            .join(".");
        } else if (no === 3 && wt === WireType.LengthDelimited) {
          msg = r.string();
        } else {
          r.skip(wt, no);
        }
      }
      (fields[path || "_"] ??= []).push(msg);
    }
  }
  return fields;
}

function readRepeated(bytes: Uint8Array, field: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === field && wt === WireType.LengthDelimited) out.push(r.bytes());
    else r.skip(wt, no);
  }
  return out;
}
