// React Query through @infliq/sdk/react, under jsdom, against the live
// backend: typed hooks, cursor paging, and a realtime message patched into
// the open chat's query without a refetch.
import { closeDom } from "./jsdom-setup.js";
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createElement, type ReactNode } from "react";
import { renderHook, waitFor, act, cleanup } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { InfliqProvider, useQuery, useInfiniteQuery, useMutation, useRealtimeSync, cursorPaging, olderMessages, useNotifications, useUnreadCount, useMarkRead } from "../src/react.js";
import { Kind } from "../src/notifications.js";
import { ChatService, FeedService, PostService, UserService, chat, post, type InfliqClient, type RealtimeState } from "../src/index.js";
import { startBackend, type Backend } from "./backend.js";

let be: Backend;
before(async () => {
  be = await startBackend();
});
after(() => {
  cleanup();
  be?.stop();
  closeDom();
});

function wrapper(client: InfliqClient, qc: QueryClient) {
  return ({ children }: { children?: ReactNode }) =>
    createElement(QueryClientProvider, { client: qc }, createElement(InfliqProvider, { client }, children));
}

test("hooks: query, mutation, infinite feed and followers, realtime message patched into the chat query", async () => {
  const stamp = String(Date.now()).slice(-7);
  let listMessagesCalls = 0;
  const counting: typeof fetch = (input, init) => {
    if (String(typeof input === "string" ? input : (input as Request).url).endsWith(".ChatService/ListMessages")) listMessagesCalls++;
    return fetch(input, init);
  };
  const alice = await be.login("951" + stamp);
  const bob = await be.login("952" + stamp, { fetch: counting });
  const carol = await be.login("953" + stamp);
  const aliceId = (await alice.auth.getSession({})).userId;
  await bob.users.follow({ userId: aliceId });
  await carol.users.follow({ userId: aliceId });
  for (let i = 0; i < 3; i++) await alice.posts.createPost({ type: post.PostType.POST, content: `rq ${i} ${stamp}`, idempotencyKey: `rq${i}-${stamp}` });
  const room = await alice.chat.createChat({ type: chat.ChatType.DIRECT, participantIds: [(await bob.auth.getSession({})).userId] });
  const chatId = room.chat!.id;
  await alice.chat.sendMessage({ chatId, text: "first", clientMessageId: "m1-" + stamp });

  // gcTime Infinity for queries and mutations: no garbage-collection timer
  // (5 minutes by default) keeps the test process alive after the test.
  const qc = new QueryClient({
    defaultOptions: { queries: { retry: false, staleTime: Infinity, gcTime: Infinity }, mutations: { gcTime: Infinity } },
  });
  const states: RealtimeState[] = [];
  const { result } = renderHook(
    () => {
      useRealtimeSync(bob, { onStateChange: (s) => states.push(s) });
      return {
        me: useQuery(UserService.method.getMe, {}),
        feed: useInfiniteQuery(FeedService.method.globalFeed, { page: { limit: 1 } }, cursorPaging(1)),
        followers: useInfiniteQuery(UserService.method.listFollowers, { userId: aliceId, page: { limit: 1 } }, cursorPaging(1)),
        messages: useInfiniteQuery(ChatService.method.listMessages, { chatId, beforeId: "" }, olderMessages),
        like: useMutation(PostService.method.likePost),
      };
    },
    { wrapper: wrapper(bob, qc) },
  );
  await waitFor(() => assert.ok(result.current.me.data && result.current.messages.data && result.current.feed.data && result.current.followers.data));
  assert.ok(result.current.me.data?.user?.id);
  assert.deepEqual(result.current.messages.data?.pages[0].messages.map((m) => m.text), ["first"]);

  // Cursor paging: one post and one follower per page.
  await act(() => result.current.feed.fetchNextPage());
  await waitFor(() => assert.equal(result.current.feed.data?.pages.length, 2));
  assert.notEqual(result.current.feed.data?.pages[0].posts[0].id, result.current.feed.data?.pages[1].posts[0].id);
  await act(() => result.current.followers.fetchNextPage());
  await waitFor(() => assert.equal(result.current.followers.data?.pages.length, 2));
  const followerIds = result.current.followers.data!.pages.flatMap((p) => p.users.map((u) => u.id));
  assert.equal(new Set(followerIds).size, 2);

  // A mutation through the same transport.
  const postId = result.current.feed.data!.pages[0].posts[0].id;
  await act(() => result.current.like.mutateAsync({ postId }));
  assert.equal((await alice.posts.getPost({ postId })).post?.likesCount, 1);

  // Realtime: Alice's message appears in Bob's message query, no refetch.
  await waitFor(() => assert.equal(states.at(-1), "open"));
  const before = listMessagesCalls;
  await alice.chat.sendMessage({ chatId, text: "second", clientMessageId: "m2-" + stamp });
  await waitFor(() => assert.deepEqual(result.current.messages.data?.pages[0].messages.map((m) => m.text), ["first", "second"]), { timeout: 10_000 });
  assert.equal(listMessagesCalls, before, "the message arrived without a refetch");
  cleanup();
  qc.clear();
  await bob.signOut();
});

test("notification hooks live: a like reaches the inbox and the badge through the realtime hook, markRead clears it", async () => {
  const stamp = String(Date.now()).slice(-7);
  let lists = 0;
  const counting: typeof fetch = (input, init) => {
    if (String(typeof input === "string" ? input : (input as Request).url).endsWith(".NotificationService/ListNotifications")) lists++;
    return fetch(input, init);
  };
  const alice = await be.login("954" + stamp, { fetch: counting });
  const bob = await be.login("955" + stamp);
  const postId = (await alice.posts.createPost({ type: post.PostType.POST, content: `rqn ${stamp}`, idempotencyKey: `rqn-${stamp}` })).post!.id;
  const qc = new QueryClient({
    defaultOptions: { queries: { retry: false, staleTime: Infinity, gcTime: Infinity }, mutations: { gcTime: Infinity } },
  });
  const states: RealtimeState[] = [];
  const heard: string[] = [];
  const { result } = renderHook(
    () => {
      useRealtimeSync(alice, { onStateChange: (s) => states.push(s), onNotification: (u) => heard.push(u.notification?.postId ?? "") });
      return { inbox: useNotifications({ limit: 10 }), badge: useUnreadCount(), markRead: useMarkRead() };
    },
    { wrapper: wrapper(alice, qc) },
  );
  await waitFor(() => assert.ok(result.current.inbox.data && result.current.badge.data !== undefined));
  assert.equal(result.current.badge.data, 0);
  assert.equal(result.current.inbox.data?.pages[0].notifications.length, 0);
  await waitFor(() => assert.equal(states.at(-1), "open"));
  const before = lists;
  await bob.posts.likePost({ postId });
  await waitFor(() => assert.equal(result.current.badge.data, 1), { timeout: 15_000 });
  const group = result.current.inbox.data?.pages[0].notifications[0];
  assert.equal(group?.postId, postId);
  assert.equal(group?.kind, Kind.LIKE);
  assert.equal(group?.read, false);
  assert.deepEqual(heard, [postId]);
  assert.equal(lists, before, "the group arrived without a refetch");
  await act(() => result.current.markRead.mutateAsync(undefined));
  // The caches are patched at once; observers re-render on the next tick.
  await waitFor(() => assert.equal(result.current.badge.data, 0));
  await waitFor(() => assert.equal(result.current.inbox.data?.pages[0].notifications[0].read, true));
  assert.equal(lists, before, "markRead patched the caches");
  assert.equal(await alice.notifications.unreadCount(), 0);
  cleanup();
  qc.clear();
  await alice.signOut();
  await bob.signOut();
});
