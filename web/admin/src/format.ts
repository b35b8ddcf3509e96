// Small formatting helpers shared by the pages.
import { timestampDate, type Timestamp } from "../../../clients/ts/src/core.ts";

export function toDate(t: Timestamp | undefined): Date | undefined {
  return t ? timestampDate(t) : undefined;
}

/** "3d 4h", "5h 12m", "42m", "under a minute" */
export function age(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 60) return "under a minute";
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m`;
}

export function since(t: Timestamp | undefined, now = Date.now()): string {
  const d = toDate(t);
  return d ? age((now - d.getTime()) / 1000) : "–";
}

export function when(t: Timestamp | undefined): string {
  const d = toDate(t);
  return d ? d.toISOString().replace("T", " ").slice(0, 16) + " UTC" : "–";
}

/**
 * Where the page loads a media URL from: the gateway's media proxy for a
 * proxy URL or a bare key (same origin), else the URL as given (the CDN or
 * bucket origin the console's CSP lists).
 */
export function mediaSrc(url: string): string {
  const proxy = "/api/media/proxy/";
  if (!url) return "";
  if (url.startsWith("/")) return url;
  try {
    const u = new URL(url);
    if (u.pathname.startsWith(proxy) || u.origin === location.origin) return u.pathname + u.search;
    return u.href;
  } catch {
    return proxy + url.replace(/^\/+/, "");
  }
}

export function isVideo(url: string): boolean {
  return /\.(mp4|mov|webm|m4v|m3u8)(\?|$)/i.test(url);
}

/** Seconds of a google.protobuf.Duration (undefined when unset). */
export function durSeconds(d: { seconds: bigint; nanos: number } | undefined): number | undefined {
  return d ? Number(d.seconds) + d.nanos / 1e9 : undefined;
}

/** A Duration init for a request. */
export function dur(seconds: number): { seconds: bigint } {
  return { seconds: BigInt(Math.round(seconds)) };
}

/** Time left on the 24 h promise, in hours and minutes ("23h 59m"). */
export function dueIn(seconds: number): string {
  const s = Math.max(0, seconds);
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** The 24 h promise: an open report older than a day is overdue. */
export const OVERDUE_SECONDS = 24 * 3600;
