import { createClient, type Client, type CallOptions } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  NotificationService,
  PushPlatform,
  type Kind,
  type ListNotificationsResponse,
  type NotificationUpdate,
  type Preferences,
  type PreferencesSchema,
} from "../gen/infliq/notify/v1/notify_pb.js";
import type { SubscribeResponse } from "../gen/infliq/realtime/v1/realtime_pb.js";
import type { InfliqCore } from "./session.js";
import { createRealtime, type Realtime, type SubscribeOptions, type Subscription } from "./realtime.js";

/** What list() takes: a page of groups, optionally of some kinds only. */
export interface ListOptions {
  /** Groups per page (the server caps it). */
  limit?: number;
  /** page.nextCursor of the previous page; empty for the first. */
  cursor?: string;
  /** Only these kinds; empty or absent means all. */
  kinds?: Kind[];
}

/** A device's OS: Platform.OS from react-native, or the enum. */
export type PushPlatformName = "ios" | "android" | PushPlatform;

/**
 * The notifications client: NotificationService's read RPCs as generated
 * (listNotifications, getUnreadCount) and helpers that take plain arguments.
 * The raw RPCs replaced by a helper stay reachable through
 * core.service(NotificationService).
 */
export type NotificationsClient = Omit<
  Client<typeof NotificationService>,
  "markRead" | "getPreferences" | "updatePreferences" | "registerPushToken" | "unregisterPushToken"
> & {
  /** One page of the inbox, most recently active groups first, with the unread count. */
  list(opts?: ListOptions, call?: CallOptions): Promise<ListNotificationsResponse>;
  /** Groups with activity after the read marker (the badge). */
  unreadCount(call?: CallOptions): Promise<number>;
  /**
   * Moves the read marker: to now without an id, else up to that group's
   * latest activity. Resolves to the unread count left.
   */
  markRead(upToId?: string, call?: CallOptions): Promise<number>;
  /** The caller's preferences (defaults when never set). */
  getPreferences(call?: CallOptions): Promise<Preferences>;
  /** Replaces the caller's preferences; resolves to what the server stored. */
  updatePreferences(prefs: MessageInitShape<typeof PreferencesSchema>, call?: CallOptions): Promise<Preferences>;
  /**
   * Registers this device's Expo push token for the current session and
   * remembers it, so sign-out forgets it on the server (best effort).
   */
  registerPushToken(token: string, platform: PushPlatformName, call?: CallOptions): Promise<void>;
  /** Forgets a token on the server (default: the one registered here); idempotent. */
  unregisterPushToken(token?: string, call?: CallOptions): Promise<void>;
  /** The push token registered through this client, if any. */
  pushToken(): string | undefined;
  /**
   * Calls cb for every new or updated group, with the unread count, from the
   * realtime stream (its own subscription, which follows the session like
   * realtime.subscribe). Close the returned subscription when done.
   */
  onNotification(cb: (update: NotificationUpdate) => void, opts?: Omit<SubscribeOptions, "onEvent">): Subscription;
};

/**
 * notificationUpdate returns the inbox update a realtime event carries (a
 * new or updated group with the unread count), for apps that route one
 * realtime subscription themselves.
 */
export function notificationUpdate(ev: SubscribeResponse): NotificationUpdate | undefined {
  return ev.event.case === "notification" ? ev.event.value.update : undefined;
}

/**
 * Where a tapped push leads, read from its `data` (the notify tier sets
 * `type` and the ids): an incoming call's ring screen, a chat, a post, a
 * profile, the call history, or the inbox for anything else.
 */
export type PushRoute =
  | { to: "call"; callId: string; callerId: string; callType: "audio" | "video" }
  | { to: "chat"; chatId: string }
  | { to: "post"; postId: string; notificationId: string }
  | { to: "profile"; userId: string }
  | { to: "callHistory"; callId: string }
  | { to: "inbox"; notificationId: string };

/**
 * pushRoute maps a push's data (expo-notifications:
 * response.notification.request.content.data) onto a PushRoute. It checks
 * every id it returns, so a malformed payload leads to the inbox.
 */
export function pushRoute(data: unknown): PushRoute {
  const d = (data && typeof data === "object" ? data : {}) as Record<string, unknown>;
  const id = (k: string) => (typeof d[k] === "string" && /^[0-9a-f]{24}$/.test(d[k] as string) ? (d[k] as string) : "");
  const notificationId = id("notificationId");
  switch (d.type) {
    case "call":
      if (id("callId") && id("callerId")) return { to: "call", callId: id("callId"), callerId: id("callerId"), callType: d.callType === "audio" ? "audio" : "video" };
      break;
    case "message":
      if (id("chatId")) return { to: "chat", chatId: id("chatId") };
      break;
    case "like":
    case "comment":
    case "mention":
      if (id("postId")) return { to: "post", postId: id("postId"), notificationId };
      break;
    case "follow":
      if (id("actorId")) return { to: "profile", userId: id("actorId") };
      break;
    case "missed_call":
    case "call_declined":
      if (id("callId")) return { to: "callHistory", callId: id("callId") };
  }
  return { to: "inbox", notificationId };
}

const platforms: Record<string, PushPlatform> = { ios: PushPlatform.IOS, android: PushPlatform.ANDROID };

/**
 * createNotifications is the notifications client over a session core:
 * NotificationService's RPCs as generated, plus the helpers above.
 * createInfliqClient builds it as client.notifications; an app that uses
 * createInfliqCore calls createNotifications(core) from
 * "@infliq/sdk/notifications". Errors are ConnectErrors: read them with
 * classifyError like any other call.
 */
export function createNotifications(core: InfliqCore, realtime?: Realtime): NotificationsClient {
  const rpc = core.service(NotificationService);
  let token: string | undefined;
  const count = (r: { unreadCount: string }) => Number(r.unreadCount);
  // Sign-out forgets the device's token while the session is still valid,
  // over the transport that never refreshes.
  core.beforeSignOut(async ({ transport, headers, signal }) => {
    const t = token;
    token = undefined;
    if (t) await createClient(NotificationService, transport).unregisterPushToken({ token: t }, { headers, signal });
  });
  return {
    listNotifications: rpc.listNotifications,
    getUnreadCount: rpc.getUnreadCount,
    list: (o = {}, call) => rpc.listNotifications({ page: { limit: o.limit ?? 0, cursor: o.cursor ?? "" }, kinds: o.kinds ?? [] }, call),
    unreadCount: async (call) => count(await rpc.getUnreadCount({}, call)),
    markRead: async (upToId, call) =>
      count(await rpc.markRead({ target: upToId === undefined ? { case: "all", value: true } : { case: "upToId", value: upToId } }, call)),
    getPreferences: async (call) => (await rpc.getPreferences({}, call)).preferences!,
    updatePreferences: async (prefs, call) => (await rpc.updatePreferences({ preferences: prefs }, call)).preferences!,
    async registerPushToken(t, platform, call) {
      await rpc.registerPushToken({ token: t, platform: typeof platform === "string" ? (platforms[platform] ?? PushPlatform.UNSPECIFIED) : platform }, call);
      token = t;
    },
    async unregisterPushToken(t = token, call) {
      if (!t) return;
      await rpc.unregisterPushToken({ token: t }, call);
      if (t === token) token = undefined;
    },
    pushToken: () => token,
    onNotification(cb, opts = {}) {
      realtime ??= createRealtime(core);
      return realtime.subscribe({
        ...opts,
        onEvent: (ev) => {
          const u = notificationUpdate(ev);
          if (u) cb(u);
        },
      });
    },
  };
}
