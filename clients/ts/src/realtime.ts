import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { RealtimeService, type SubscribeResponse } from "../gen/infliq/realtime/v1/realtime_pb.js";

export interface SubscribeOptions {
  /** Receives every event except heartbeats, in sequence order. */
  onEvent: (event: SubscribeResponse) => void;
  /** Resume after this sequence (e.g. persisted across app restarts). */
  lastSequence?: bigint;
  /** connecting | open | reconnecting | closed */
  onStateChange?: (state: "connecting" | "open" | "reconnecting" | "closed") => void;
  /** Backoff bounds in milliseconds (default 500 and 30000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface Subscription {
  /** The last sequence delivered; persist it to resume later. */
  lastSequence(): bigint;
  close(): void;
}

export interface Realtime {
  /**
   * subscribe keeps RealtimeService.Subscribe open: it reconnects with
   * exponential backoff and jitter, resumes from the last sequence so no
   * event is lost, and refreshes the session when the token expired.
   */
  subscribe(opts: SubscribeOptions): Subscription;
}

export function createRealtime(
  client: Client<typeof RealtimeService>,
  refresh: () => Promise<boolean>,
  expired: () => void,
): Realtime {
  return {
    subscribe(opts) {
      let last = opts.lastSequence ?? 0n;
      let closed = false;
      let ctl = new AbortController();
      const min = opts.minBackoffMs ?? 500;
      const max = opts.maxBackoffMs ?? 30_000;
      const state = (s: Parameters<NonNullable<SubscribeOptions["onStateChange"]>>[0]) => opts.onStateChange?.(s);

      const loop = async () => {
        let attempt = 0;
        while (!closed) {
          state(attempt === 0 ? "connecting" : "reconnecting");
          try {
            for await (const ev of client.subscribe({ lastSequence: last }, { signal: ctl.signal })) {
              attempt = 0;
              state("open");
              if (ev.event.case === "heartbeat") continue;
              if (ev.sequence > 0n && ev.sequence <= last) continue; // replay overlap
              if (ev.sequence > last) last = ev.sequence;
              opts.onEvent(ev);
            }
          } catch (e) {
            if (closed) break;
            const err = ConnectError.from(e);
            if (err.code === Code.Unauthenticated && !(await refresh().catch(() => false))) {
              expired();
              break;
            }
          }
          if (closed) break;
          const delay = Math.min(max, min * 2 ** attempt) * (0.5 + Math.random() / 2);
          attempt++;
          await new Promise((r) => setTimeout(r, delay));
          ctl = new AbortController();
        }
        state("closed");
      };
      void loop();
      return {
        lastSequence: () => last,
        close() {
          closed = true;
          ctl.abort();
        },
      };
    },
  };
}
