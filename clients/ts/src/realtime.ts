import { Code, ConnectError } from "@connectrpc/connect";
import { RealtimeService, type SubscribeResponse } from "../gen/infliq/realtime/v1/realtime_pb.js";
import { classifyError, type AppError } from "./errors.js";
import type { InfliqCore } from "./session.js";

/**
 * waiting (no session yet: starts at sign-in) | connecting | open |
 * reconnecting | closed (close(), sign-out or an expired session).
 */
export type RealtimeState = "waiting" | "connecting" | "open" | "reconnecting" | "closed";

export interface SubscribeOptions {
  /** Receives every event except heartbeats, in sequence order. */
  onEvent: (event: SubscribeResponse) => void;
  /** Resume after this sequence (e.g. persisted across app restarts; a decimal string). */
  lastSequence?: string;
  /** Called on state transitions only. */
  onStateChange?: (state: RealtimeState) => void;
  /** Called when the stream fails (it then reconnects, unless the session ended). */
  onError?: (error: AppError) => void;
  /** Chats whose typing and read events to receive (the open chat screens; at most 20). */
  chatIds?: string[];
  /** Backoff bounds in milliseconds (default 500 and 30000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface Subscription {
  /** The last sequence delivered; persist it to resume later. */
  lastSequence(): string;
  state(): RealtimeState;
  /** Replaces the chats whose typing and read events arrive (restarts the stream, losing nothing). */
  setChatIds(chatIds: string[]): void;
  close(): void;
}

export interface Realtime {
  /**
   * subscribe keeps RealtimeService.Subscribe open while there is a session:
   * it waits for sign-in, reconnects with exponential backoff and jitter,
   * resumes from the last sequence so no event is lost, restarts after a
   * token refresh, and closes at sign-out.
   */
  subscribe(opts: SubscribeOptions): Subscription;
}

export function createRealtime(core: InfliqCore): Realtime {
  const client = core.service(RealtimeService);
  return {
    subscribe(opts) {
      let last = opts.lastSequence || "0";
      let chatIds = [...(opts.chatIds ?? [])];
      let closed = false;
      let restart = false;
      let ctl: AbortController | undefined;
      let current: RealtimeState | undefined;
      let wake: (() => void) | undefined;
      const min = opts.minBackoffMs ?? 500;
      const max = opts.maxBackoffMs ?? 30_000;

      const set = (s: RealtimeState) => {
        if (s === current) return;
        current = s;
        opts.onStateChange?.(s);
      };
      // nap waits ms (forever when undefined) or until woken.
      const nap = (ms?: number) =>
        new Promise<void>((resolve) => {
          const t = ms === undefined ? undefined : setTimeout(done, ms);
          function done() {
            if (t !== undefined) clearTimeout(t);
            wake = undefined;
            resolve();
          }
          wake = done;
        });
      const poke = () => {
        ctl?.abort();
        wake?.();
      };
      const close = () => {
        if (closed) return;
        closed = true;
        off();
        poke();
      };
      const off = core.onAuthStateChange((event) => {
        if (event === "signedOut") close();
        else {
          // signedIn starts a waiting stream; tokenRefreshed restarts an
          // open one with the new token.
          restart = true;
          poke();
        }
      });

      const loop = async () => {
        let attempt = 0;
        while (!closed) {
          if (!(await core.tokens.getAccessToken())) {
            set("waiting");
            await nap();
            continue;
          }
          set(attempt === 0 ? "connecting" : "reconnecting");
          restart = false;
          ctl = new AbortController();
          try {
            for await (const ev of client.subscribe({ lastSequence: last, chatIds }, { signal: ctl.signal })) {
              attempt = 0;
              set("open");
              if (ev.event.case === "heartbeat") continue;
              const seq = BigInt(ev.sequence || "0");
              if (seq > 0n && seq <= BigInt(last)) continue; // replay overlap
              if (seq > BigInt(last)) last = ev.sequence;
              opts.onEvent(ev);
            }
          } catch (e) {
            if (closed) break;
            if (restart) continue;
            if (ConnectError.from(e).code === Code.Unauthenticated) {
              let ok = true;
              try {
                ok = await core.refresh();
              } catch (re) {
                opts.onError?.(classifyError(re)); // offline: keep trying
              }
              if (!ok) break; // the server ended the session
              if (restart) continue;
            } else {
              opts.onError?.(classifyError(e));
            }
          }
          if (closed) break;
          if (restart) continue;
          const delay = Math.min(max, min * 2 ** attempt) * (0.5 + Math.random() / 2);
          attempt++;
          set("reconnecting");
          await nap(delay);
        }
        close();
        set("closed");
      };
      void loop();
      return {
        lastSequence: () => last,
        state: () => current ?? "connecting",
        setChatIds(ids) {
          chatIds = [...ids];
          restart = true;
          poke();
        },
        close,
      };
    },
  };
}
