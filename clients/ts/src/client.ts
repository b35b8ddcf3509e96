import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AuthService } from "../gen/infliq/auth/v1/auth_pb.js";
import { UserService } from "../gen/infliq/user/v1/user_pb.js";
import { PostService } from "../gen/infliq/post/v1/post_pb.js";
import { FeedService } from "../gen/infliq/feed/v1/feed_pb.js";
import { ChatService } from "../gen/infliq/chat/v1/chat_pb.js";
import { CallService } from "../gen/infliq/call/v1/call_pb.js";
import { MediaService } from "../gen/infliq/media/v1/media_pb.js";
import { RealtimeService } from "../gen/infliq/realtime/v1/realtime_pb.js";
import { memoryTokenStore, type TokenStore } from "./tokens.js";
import { createRealtime, type Realtime } from "./realtime.js";

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
  /** Called once when the session cannot be refreshed any more (log out). */
  onSessionExpired?: () => void;
  /**
   * Builds the transport from the SDK's interceptors (tests pass
   * createRouterTransport here); baseUrl and fetch are then ignored.
   */
  transport?: (interceptors: Interceptor[]) => Transport;
}

export interface InfliqClient {
  auth: Client<typeof AuthService>;
  users: Client<typeof UserService>;
  posts: Client<typeof PostService>;
  feed: Client<typeof FeedService>;
  chat: Client<typeof ChatService>;
  calls: Client<typeof CallService>;
  media: Client<typeof MediaService>;
  realtime: Realtime;
  tokens: TokenStore;
  /** Refreshes the session now; false when it is gone. Single-flight. */
  refresh(): Promise<boolean>;
}

// Calls whose responses carry a new session, and calls that end it.
const sessionMethods = new Set(["VerifyOtp", "Login", "Register", "Refresh"]);

/** createInfliqClient returns typed clients for every service. */
export function createInfliqClient(opts: InfliqClientOptions): InfliqClient {
  const tokens = opts.tokens ?? memoryTokenStore();
  let inflight: Promise<boolean> | undefined;
  let expiredNotified = false;

  // The refresh call goes through its own transport without the auth
  // interceptor, so a failing refresh never recurses.
  const makeTransport =
    opts.transport ?? ((interceptors: Interceptor[]) => createConnectTransport({ baseUrl: opts.baseUrl, fetch: opts.fetch, interceptors }));
  const bare = makeTransport([requestId]);
  const refresher = createClient(AuthService, bare);

  const refresh = (): Promise<boolean> => {
    inflight ??= (async () => {
      try {
        const rt = await tokens.getRefreshToken();
        if (!rt) return false;
        const res = await refresher.refresh({ refreshToken: rt });
        if (!res.session) return false;
        await tokens.setTokens({ accessToken: res.session.accessToken, refreshToken: res.session.refreshToken });
        expiredNotified = false;
        return true;
      } catch (e) {
        if (ConnectError.from(e).code === Code.Unavailable) throw e; // offline: keep the session
        await tokens.clear();
        return false;
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };

  const expired = () => {
    if (!expiredNotified) {
      expiredNotified = true;
      opts.onSessionExpired?.();
    }
  };

  const auth: Interceptor = (next) => async (req) => {
    const sent = await tokens.getAccessToken();
    if (sent) req.header.set("Authorization", `Bearer ${sent}`);
    let res;
    try {
      res = await next(req);
    } catch (e) {
      const err = ConnectError.from(e);
      if (err.code !== Code.Unauthenticated || req.method.name === "Refresh" || sessionMethods.has(req.method.name)) throw e;
      // Another call may have refreshed while this one was in flight.
      const current = await tokens.getAccessToken();
      if (!current || current === sent) {
        if (!(await refresh())) {
          expired();
          throw e;
        }
      }
      req.header.set("Authorization", `Bearer ${await tokens.getAccessToken()}`);
      res = await next(req);
    }
    if (!res.stream) {
      const msg = res.message as { session?: { accessToken: string; refreshToken: string } };
      if (sessionMethods.has(req.method.name) && msg.session?.accessToken) {
        await tokens.setTokens({ accessToken: msg.session.accessToken, refreshToken: msg.session.refreshToken });
        expiredNotified = false;
      } else if (req.method.name === "Logout") {
        await tokens.clear();
      }
    }
    return res;
  };

  const t = makeTransport([requestId, auth]);

  return {
    auth: createClient(AuthService, t),
    users: createClient(UserService, t),
    posts: createClient(PostService, t),
    feed: createClient(FeedService, t),
    chat: createClient(ChatService, t),
    calls: createClient(CallService, t),
    media: createClient(MediaService, t),
    realtime: createRealtime(createClient(RealtimeService, t), refresh, expired),
    tokens,
    refresh,
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
