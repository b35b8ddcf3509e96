import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { AuthService } from "../gen/infliq/auth/v1/auth_pb.js";
import { memoryTokenStore, type TokenStore, type Tokens } from "./tokens.js";
import { isNetworkError, OfflineError } from "./errors.js";
import { createBinaryTransport } from "./transport.js";

export interface InfliqClientOptions {
  /** The gateway, e.g. "https://api.infliq.app". */
  baseUrl: string;
  /** Session storage; defaults to memory. */
  tokens?: TokenStore;
  /**
   * The fetch to use. On React Native pass `fetch` from "expo/fetch": it
   * streams responses, which RealtimeService.Subscribe needs.
   */
  fetch?: typeof globalThis.fetch;
  /**
   * Called once when the server refuses to refresh the session (log out).
   * A refresh that fails for lack of network keeps the session.
   */
  onSessionExpired?: () => void;
  /**
   * Builds the transport from the SDK's interceptors (tests pass
   * createRouterTransport here); baseUrl and fetch are then ignored.
   */
  transport?: (interceptors: Interceptor[]) => Transport;
  /**
   * How long sign-out waits for each of its server calls (the
   * beforeSignOut tasks, then Logout) before giving up on it; default 5000.
   * The local session is cleared before they start.
   */
  signOutTimeoutMs?: number;
}

/**
 * Auth state events, as Supabase's onAuthStateChange names them:
 * signedIn (OTP, login, register), tokenRefreshed, signedOut (logout or
 * a session the server refused to refresh).
 */
export type AuthEvent = "signedIn" | "signedOut" | "tokenRefreshed";

/** The session core: everything but the service clients. */
export interface InfliqCore {
  /** The authenticated transport, for createClient and @connectrpc/connect-query. */
  transport: Transport;
  tokens: TokenStore;
  baseUrl: string;
  fetch?: typeof globalThis.fetch;
  /**
   * Refreshes the session now: true when refreshed, false when the server
   * refused (the session is then cleared). Throws a ConnectError whose
   * classifyError kind is "offline" when the server could not be reached;
   * the session is kept. Single-flight.
   */
  refresh(): Promise<boolean>;
  /** Calls cb on every auth event; returns the unsubscribe function. */
  onAuthStateChange(cb: (event: AuthEvent, session: Tokens | undefined) => void): () => void;
  /**
   * Logs out: clears the session locally first (closing realtime
   * subscriptions, one signedOut event), then runs the beforeSignOut tasks
   * and revokes the session on the server when it can be reached, within
   * a few seconds. Never throws.
   */
  signOut(): Promise<void>;
  /** A typed client of any service over the authenticated transport. */
  service<S extends DescService>(service: S): Client<S>;
  /**
   * Registers a call to make with the ending session before logout revokes
   * it (the notifications module forgets the device's push token this way).
   * It runs through a transport that never refreshes, with the session's
   * bearer token in `headers`; it is best effort: errors are ignored and
   * `signal` aborts it after a few seconds. Returns the unregister function.
   */
  beforeSignOut(task: SignOutTask): () => void;
}

/** What a beforeSignOut task gets: call with these headers and signal over this transport. */
export type SignOutTask = (call: { transport: Transport; headers: Headers; signal: AbortSignal }) => Promise<unknown>;



// Calls whose responses carry a new session.
const sessionMethods = new Set(["VerifyOtp", "Login", "Register", "Refresh"]);

/**
 * createInfliqCore returns the session core without any service client, so
 * an app bundles only the services it imports (see the per-service entry
 * points). createInfliqClient builds on it.
 */
export function createInfliqCore(opts: InfliqClientOptions): InfliqCore {
  const tokens = opts.tokens ?? memoryTokenStore();
  const listeners = new Set<(event: AuthEvent, session: Tokens | undefined) => void>();
  let signedOut = false;
  let inflight: Promise<boolean> | undefined;

  const emit = (event: AuthEvent, session?: Tokens) => {
    for (const cb of [...listeners]) {
      try {
        cb(event, session);
      } catch {
        // a listener's failure is its own
      }
    }
  };

  const startSession = async (s: Tokens, event: AuthEvent) => {
    await tokens.setTokens(s);
    signedOut = false;
    emit(event, s);
  };

  // endSession clears the local session; signedOut fires once per session.
  const endSession = async (expired: boolean) => {
    try {
      await tokens.clear();
    } finally {
      if (!signedOut) {
        signedOut = true;
        emit("signedOut", undefined);
        if (expired) opts.onSessionExpired?.();
      }
    }
  };

  // The refresh and logout calls go through their own transport without the
  // auth interceptor, so a failing refresh never recurses.
  const makeTransport =
    opts.transport ?? ((interceptors: Interceptor[]) => createBinaryTransport({ baseUrl: opts.baseUrl, fetch: opts.fetch, interceptors }));
  const bareTransport = makeTransport([requestId]);
  const bare = createClient(AuthService, bareTransport);
  const signOutTasks = new Set<SignOutTask>();

  // remoteSignOut runs the sign-out tasks with the ending session's access
  // token, then (when logout is given) revokes the session; it never throws.
  const remoteSignOut = async (at: string | undefined, logout?: (signal: AbortSignal) => Promise<unknown>) => {
    // Each step has its own deadline, so a slow task leaves Logout its time.
    const bounded = async (fn: (signal: AbortSignal) => Promise<unknown>) => {
      const ctl = new AbortController();
      let timer: ReturnType<typeof setTimeout> | undefined;
      // The race ends the wait even for a task that ignores its signal.
      const deadline = new Promise<void>((res) => (timer = setTimeout(() => (ctl.abort(), res()), opts.signOutTimeoutMs ?? 5000)));
      try {
        await Promise.race([fn(ctl.signal), deadline]);
      } catch {
        // best effort: the local session is gone already
      } finally {
        clearTimeout(timer);
      }
    };
    if (at && signOutTasks.size) {
      const headers = new Headers({ Authorization: `Bearer ${at}` });
      await bounded((signal) => Promise.allSettled([...signOutTasks].map((t) => t({ transport: bareTransport, headers, signal }))));
    }
    if (logout) await bounded(logout);
  };

  const refresh = (): Promise<boolean> => {
    inflight ??= (async () => {
      try {
        const rt = await tokens.getRefreshToken();
        if (!rt) return false;
        let res;
        try {
          res = await bare.refresh({ refreshToken: rt });
        } catch (e) {
          const err = ConnectError.from(e);
          // Only the server's definite "no" ends the session.
          if (err.code === Code.Unauthenticated) {
            await endSession(true);
            return false;
          }
          if (isNetworkError(e)) {
            throw new ConnectError("Could not reach the server to refresh the session", Code.Unavailable, undefined, undefined,
              new OfflineError("offline", { cause: e }));
          }
          throw e;
        }
        if (!res.session?.accessToken) {
          await endSession(true);
          return false;
        }
        await startSession({ accessToken: res.session.accessToken, refreshToken: res.session.refreshToken }, "tokenRefreshed");
        return true;
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };

  const auth: Interceptor = (next) => async (req) => {
    const own = req.service.typeName === AuthService.typeName;
    const sent = await tokens.getAccessToken();
    if (sent) req.header.set("Authorization", `Bearer ${sent}`);
    if (own && req.method.name === "Logout") {
      // Local first, so no server call holds up leaving; the sign-out tasks
      // use the token before this Logout revokes it.
      await endSession(false);
      await remoteSignOut(sent);
      return await next(req);
    }
    let res;
    try {
      res = await next(req);
    } catch (e) {
      const err = ConnectError.from(e);
      if (err.code !== Code.Unauthenticated || (own && sessionMethods.has(req.method.name))) throw e;
      // Another call may have refreshed while this one was in flight.
      const current = await tokens.getAccessToken();
      if (!current || current === sent) {
        if (!(await refresh())) throw e;
      }
      req.header.set("Authorization", `Bearer ${await tokens.getAccessToken()}`);
      res = await next(req);
    }
    if (own && !res.stream && sessionMethods.has(req.method.name)) {
      const s = (res.message as { session?: { accessToken: string; refreshToken: string } }).session;
      if (s?.accessToken) {
        await startSession({ accessToken: s.accessToken, refreshToken: s.refreshToken }, req.method.name === "Refresh" ? "tokenRefreshed" : "signedIn");
      }
    }
    return res;
  };

  const transport = makeTransport([requestId, auth]);
  const clients = new Map<string, unknown>();

  return {
    transport,
    tokens,
    baseUrl: opts.baseUrl,
    fetch: opts.fetch,
    refresh,
    onAuthStateChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    async signOut() {
      let at: string | undefined;
      let rt: string | undefined;
      try {
        at = await tokens.getAccessToken();
        rt = await tokens.getRefreshToken();
      } finally {
        // The local session ends first: signedOut fires without waiting for the network.
        await endSession(false);
      }
      if (at || rt) {
        await remoteSignOut(at, (signal) => bare.logout({ refreshToken: rt ?? "" }, { headers: at ? { Authorization: `Bearer ${at}` } : {}, signal }));
      }
    },
    beforeSignOut(task) {
      signOutTasks.add(task);
      return () => signOutTasks.delete(task);
    },
    service<S extends DescService>(s: S): Client<S> {
      let c = clients.get(s.typeName) as Client<S> | undefined;
      if (!c) clients.set(s.typeName, (c = createClient(s, transport)));
      return c;
    },
  };
}

/** requestId sends an x-request-id so server logs can be matched to a call. */
const requestId: Interceptor = (next) => async (req) => {
  if (!req.header.has("x-request-id")) req.header.set("x-request-id", newRequestId());
  return next(req);
};

function newRequestId(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
