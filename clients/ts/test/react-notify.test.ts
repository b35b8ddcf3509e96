// The notification hooks of @infliq/sdk/react under jsdom against an
// in-memory router: the inbox and the badge as queries, a realtime update
// moved to the top of the inbox and the badge without a refetch, markRead
// updating both, and useNotificationUpdates on its own stream.
import { closeDom } from "./jsdom-setup.js";
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createElement, type ReactNode } from "react";
import { renderHook, waitFor, act, cleanup } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createRouterTransport, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { InfliqProvider, useNotifications, useUnreadCount, useMarkRead, useRealtimeSync, useNotificationUpdates } from "../src/react.js";
import { createInfliqClient, memoryTokenStore, NotificationService, RealtimeService, type InfliqClient } from "../src/index.js";
import { Kind, NotificationSchema, type Notification, type NotificationUpdate } from "../src/notifications.js";
import type { SubscribeResponseSchema } from "../gen/infliq/realtime/v1/realtime_pb.js";

after(() => {
  cleanup();
  closeDom();
});

type Event = MessageInitShape<typeof SubscribeResponseSchema>;

// A fake notify tier: groups newest first, a read marker, and a realtime
// stream fed by push().
function fakeServer() {
  const g = (id: string, kind: Kind, ms: number) =>
    create(NotificationSchema, { id: id.repeat(24), kind, postId: "65a1b2c3d4e5f60718293a4b", actorsCount: "1", latestAt: timestampFromMs(ms) });
  const state = { groups: [g("c", Kind.LIKE, 3000), g("b", Kind.FOLLOW, 2000), g("a", Kind.LIKE, 1000)], marker: 0, lists: 0, counts: 0, seq: 0 };
  const unread = () => String(state.groups.filter((x) => Number(x.latestAt!.seconds) * 1000 > state.marker).length);
  const streams = new Set<(e: Event) => void>();
  const routes = (r: ConnectRouter) => {
    r.service(NotificationService, {
      listNotifications: (req) => {
        state.lists++;
        const all = state.groups.filter((x) => req.kinds.length === 0 || req.kinds.includes(x.kind));
        const start = Number(req.page?.cursor || "0");
        const limit = req.page?.limit || 20;
        const page = all.slice(start, start + limit).map((x) => ({ ...x, read: Number(x.latestAt!.seconds) * 1000 <= state.marker }));
        return { notifications: page, page: { nextCursor: start + limit < all.length ? String(start + limit) : "" }, unreadCount: unread() };
      },
      getUnreadCount: () => (state.counts++, { unreadCount: unread() }),
      markRead: (req) => {
        state.marker = req.target.case === "all" ? Infinity : Number(state.groups.find((x) => x.id === req.target.value)!.latestAt!.seconds) * 1000;
        return { unreadCount: unread() };
      },
    });
    r.service(RealtimeService, {
      async *subscribe(_req, ctx): AsyncGenerator<Event> {
        const queue: Event[] = [{ sequence: "0", event: { case: "heartbeat", value: {} } }];
        let wake: (() => void) | undefined;
        const feed = (e: Event) => (queue.push(e), wake?.());
        streams.add(feed);
        ctx.signal.addEventListener("abort", () => wake?.());
        try {
          while (!ctx.signal.aborted) {
            const e = queue.shift();
            if (e) yield e;
            else await new Promise<void>((res) => (wake = res));
          }
        } finally {
          streams.delete(feed);
        }
      },
    });
  };
  // A group changed: new activity, an actor gone, or (no actors left) deleted.
  const push = (n: Notification) => {
    const rest = state.groups.filter((x) => x.id !== n.id);
    const at = rest.findIndex((x) => x.latestAt!.seconds < n.latestAt!.seconds);
    if (n.actorsCount !== "0") rest.splice(at < 0 ? rest.length : at, 0, n);
    state.groups = rest;
    const update = { notification: n, unreadCount: unread() };
    for (const s of streams) s({ sequence: String(++state.seq), event: { case: "notification", value: { id: n.id, type: "like", update } } });
  };
  return { state, routes, push, g, streams };
}

function setup() {
  const server = fakeServer();
  const client = createInfliqClient({
    baseUrl: "http://unused",
    tokens: memoryTokenStore({ accessToken: "a", refreshToken: "r" }),
    transport: (interceptors: Interceptor[]) => createRouterTransport(server.routes, { transport: { interceptors } }),
  });
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity, gcTime: Infinity }, mutations: { gcTime: Infinity } } });
  const wrapper = ({ children }: { children?: ReactNode }) =>
    createElement(QueryClientProvider, { client: qc }, createElement(InfliqProvider, { client }, children));
  return { server, client, qc, wrapper };
}

const ids = (pages: { notifications: Notification[] }[] | undefined) => (pages ?? []).flatMap((p) => p.notifications.map((n) => n.id[0] + (n.read ? "" : "*")));

test("inbox and badge hooks: realtime updates patch both without a refetch; markRead marks read up to a group, then all", async () => {
  const { server, client, qc, wrapper } = setup();
  const seen: NotificationUpdate[] = [];
  const { result } = renderHook(
    () => {
      useRealtimeSync(client, { onNotification: (u) => seen.push(u) });
      return {
        inbox: useNotifications({ limit: 2 }),
        likes: useNotifications({ limit: 10, kinds: [Kind.LIKE] }),
        follows: useNotifications({ limit: 10, kinds: [Kind.FOLLOW] }),
        badge: useUnreadCount(),
        markRead: useMarkRead(),
      };
    },
    { wrapper },
  );
  await waitFor(() => assert.ok(result.current.inbox.data && result.current.badge.data !== undefined && result.current.likes.data && result.current.follows.data));
  assert.equal(result.current.badge.data, 3);
  assert.deepEqual(ids(result.current.inbox.data?.pages), ["c*", "b*"]);
  await act(() => result.current.inbox.fetchNextPage());
  await waitFor(() => assert.deepEqual(ids(result.current.inbox.data?.pages), ["c*", "b*", "a*"]));
  assert.deepEqual(ids(result.current.likes.data?.pages), ["c*", "a*"]);

  // Group "a" grows: it moves to the top of the inbox and of the likes, not into the follows.
  await waitFor(() => assert.equal(server.streams.size, 1));
  const lists = server.state.lists;
  const counts = server.state.counts;
  await act(async () => server.push(server.g("a", Kind.LIKE, 4000)));
  await waitFor(() => assert.deepEqual(ids(result.current.inbox.data?.pages), ["a*", "c*", "b*"]));
  assert.deepEqual(ids(result.current.likes.data?.pages), ["a*", "c*"]);
  assert.deepEqual(ids(result.current.follows.data?.pages), ["b*"]);
  assert.equal(result.current.badge.data, 3);
  // A new group raises the badge.
  await act(async () => server.push(server.g("d", Kind.FOLLOW, 5000)));
  await waitFor(() => assert.equal(result.current.badge.data, 4));
  assert.deepEqual(ids(result.current.follows.data?.pages), ["d*", "b*"]);
  assert.deepEqual(seen.map((u) => [u.notification?.id[0], u.unreadCount]), [["a", "3"], ["d", "4"]]);
  // An actor leaves group "c" (an unlike): it stays in place with its new
  // count; a group left without actors ("b") goes.
  await act(async () => server.push(create(NotificationSchema, { ...server.g("c", Kind.LIKE, 3000), actorsCount: "5" })));
  await waitFor(() => assert.equal(result.current.inbox.data?.pages.flatMap((p) => p.notifications).find((n) => n.id[0] === "c")?.actorsCount, "5"));
  assert.deepEqual(ids(result.current.inbox.data?.pages), ["d*", "a*", "c*", "b*"]);
  await act(async () => server.push(create(NotificationSchema, { ...server.g("b", Kind.FOLLOW, 2000), actorsCount: "0" })));
  await waitFor(() => assert.deepEqual(ids(result.current.inbox.data?.pages), ["d*", "a*", "c*"]));
  assert.deepEqual(ids(result.current.follows.data?.pages), ["d*"]);
  assert.equal(result.current.badge.data, 3);
  assert.equal(server.state.lists, lists, "no refetch of the inbox");
  assert.equal(server.state.counts, counts, "no refetch of the badge");

  // Read up to "c" (3000): c and b are read, a (4000) and d (5000) are not.
  await act(() => result.current.markRead.mutateAsync("c".repeat(24)));
  // The caches are patched at once; observers re-render on the next tick.
  await waitFor(() => assert.equal(result.current.badge.data, 2));
  await waitFor(() => assert.deepEqual(ids(result.current.inbox.data?.pages), ["d*", "a*", "c"]));
  await waitFor(() => assert.deepEqual(ids(result.current.likes.data?.pages), ["a*", "c"]));
  await act(() => result.current.markRead.mutateAsync(undefined));
  await waitFor(() => assert.equal(result.current.badge.data, 0));
  await waitFor(() => assert.deepEqual(ids(result.current.inbox.data?.pages), ["d", "a", "c"]));
  assert.equal(server.state.lists, lists, "markRead patched the caches");
  cleanup();
  qc.clear();
});

test("useNotificationUpdates keeps the badge current on its own stream and calls back", async () => {
  const { server, client, qc, wrapper } = setup();
  const seen: string[] = [];
  const { result } = renderHook(
    () => {
      useNotificationUpdates(client as InfliqClient, (u) => seen.push(u.unreadCount));
      return useUnreadCount();
    },
    { wrapper },
  );
  await waitFor(() => assert.equal(result.current.data, 3));
  await waitFor(() => assert.equal(server.streams.size, 1));
  await act(async () => server.push(server.g("e", Kind.COMMENT, 6000)));
  await waitFor(() => assert.equal(result.current.data, 4));
  assert.deepEqual(seen, ["4"]);
  cleanup();
  await waitFor(() => assert.equal(server.streams.size, 0), { timeout: 5000 });
  qc.clear();
});
