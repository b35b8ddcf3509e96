import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { MediaService, type MediaObject } from "../gen/infliq/media/v1/media_pb.js";
import { OfflineError } from "./errors.js";

/** A file on the device (React Native: an image picker's uri) or a Blob/File. */
export type UploadSource = Blob | { uri: string; name?: string };

export interface UploadFileOptions {
  file: UploadSource;
  /** The file's type, e.g. "image/jpeg" (the server checks it against the bytes). */
  contentType: string;
  /** Exact size in bytes; required for a uri, read from a Blob otherwise. */
  size?: number;
  /** Target folder (see GetUploadPolicy); default "general". */
  folder?: string;
  /** Upload progress of the bytes to storage. */
  onProgress?: (progress: { loaded: number; total: number }) => void;
  /** Cancels the upload (the object is then never completed). */
  signal?: AbortSignal;
}

/** What uploadFile needs from the environment; tests swap XMLHttpRequest. */
export interface UploadEnv {
  fetch?: typeof globalThis.fetch;
  /** The gateway; a gateway-relative upload URL (development stack) resolves against it. */
  baseUrl?: string;
  XMLHttpRequest?: new () => XhrLike;
}

/** The part of XMLHttpRequest uploadFile uses. */
export interface XhrLike {
  open(method: string, url: string): void;
  send(body: unknown): void;
  abort(): void;
  status: number;
  responseText: string;
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
}

/**
 * uploadFile uploads one file in one call: CreateUpload (a presigned POST
 * policy), the POST of the bytes straight to storage, then CompleteUpload,
 * which checks the bytes and returns the stored object. Progress comes from
 * XMLHttpRequest where it exists (React Native, browsers), since fetch
 * cannot report upload progress; elsewhere fetch reports completion only.
 */
export async function uploadFile(media: Client<typeof MediaService>, o: UploadFileOptions, env: UploadEnv = {}): Promise<MediaObject> {
  const blob = isBlob(o.file) ? o.file : undefined;
  const size = o.size ?? blob?.size;
  if (size === undefined) throw new ConnectError("size is required to upload a uri", Code.InvalidArgument);
  const abortable = { signal: o.signal };
  const up = await media.createUpload({ folder: o.folder ?? "", contentType: o.contentType, sizeBytes: String(size) }, abortable);
  const form = new FormData();
  for (const [k, v] of Object.entries(up.fields)) form.append(k, v);
  if (blob) form.append("file", blob);
  else {
    const f = o.file as { uri: string; name?: string };
    // React Native's FormData sends { uri, name, type } as a file part.
    form.append("file", { uri: f.uri, name: f.name ?? up.key.split("/").pop() ?? "upload", type: o.contentType } as unknown as Blob);
  }
  const url = env.baseUrl ? new URL(up.url, env.baseUrl).toString() : up.url;
  const Xhr = env.XMLHttpRequest ?? (globalThis as { XMLHttpRequest?: new () => XhrLike }).XMLHttpRequest;
  if (Xhr) await postXhr(new Xhr(), url, form, size, o);
  else await postFetch(env.fetch ?? globalThis.fetch, url, form, size, o);
  const done = await media.completeUpload({ key: up.key }, abortable);
  if (!done.object) throw new ConnectError("upload not recorded", Code.Internal);
  return done.object;
}

function isBlob(v: unknown): v is Blob {
  return typeof Blob !== "undefined" && v instanceof Blob;
}

const canceled = () => new ConnectError("upload canceled", Code.Canceled);

function storageError(status: number, body: string): ConnectError {
  const code = /EntityTooLarge|EntityTooSmall|InvalidArgument|MalformedPOST/.test(body)
    ? Code.InvalidArgument
    : status === 403
      ? Code.PermissionDenied
      : status >= 500
        ? Code.Unavailable
        : Code.Unknown;
  return new ConnectError(`storage refused the upload (HTTP ${status})`, code);
}

function postXhr(xhr: XhrLike, url: string, form: FormData, size: number, o: UploadFileOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(canceled());
    const onAbort = () => xhr.abort();
    o.signal?.addEventListener("abort", onAbort, { once: true });
    const settle = (err?: unknown) => {
      o.signal?.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve();
    };
    xhr.open("POST", url);
    xhr.upload.onprogress = (e) => o.onProgress?.({ loaded: e.loaded, total: e.lengthComputable ? e.total : size });
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        o.onProgress?.({ loaded: size, total: size });
        settle();
      } else settle(storageError(xhr.status, xhr.responseText));
    };
    xhr.onerror = () =>
      settle(new ConnectError("could not reach storage", Code.Unavailable, undefined, undefined, new OfflineError("offline")));
    xhr.onabort = () => settle(canceled());
    xhr.send(form);
  });
}

async function postFetch(f: typeof globalThis.fetch, url: string, form: FormData, size: number, o: UploadFileOptions): Promise<void> {
  let res: Response;
  try {
    res = await f(url, { method: "POST", body: form, signal: o.signal });
  } catch (e) {
    if (o.signal?.aborted) throw canceled();
    throw new ConnectError("could not reach storage", Code.Unavailable, undefined, undefined, new OfflineError("offline", { cause: e }));
  }
  if (!res.ok) throw storageError(res.status, await res.text().catch(() => ""));
  o.onProgress?.({ loaded: size, total: size });
}
