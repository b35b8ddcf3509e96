// @infliq/sdk/react: TanStack Query through @connectrpc/connect-query, with
// cursor paging helpers and realtime events patched into the cache.
import { createElement, useEffect, useRef, type ReactNode } from "react";
import { useQueryClient, useMutation as useTanstackMutation, type InfiniteData, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { callUnaryMethod, createConnectQueryKey, TransportProvider, useInfiniteQuery, useQuery, useTransport } from "@connectrpc/connect-query";
import { create } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import {
  NotificationService,
  GetUnreadCountResponseSchema,
  ListNotificationsResponseSchema,
  type Kind,
  type ListNotificationsResponse,
  type Notification,
  type NotificationUpdate,
} from "../gen/infliq/notify/v1/notify_pb.js";
import { notificationUpdate, type NotificationsClient } from "./notify.js";
import { ChatService, ListMessagesResponseSchema, type ListMessagesResponse, type Message } from "../gen/infliq/chat/v1/chat_pb.js";
import type { PageRequest, PageResponse } from "../gen/infliq/common/v1/common_pb.js";
import type { InfliqCore } from "./session.js";
import type { Realtime, SubscribeOptions, Subscription } from "./realtime.js";

export {
  useQuery,
  useSuspenseQuery,
  useMutation,
  useInfiniteQuery,
  useSuspenseInfiniteQuery,
  useTransport,
  createConnectQueryKey,
  callUnaryMethod,
} from "@connectrpc/connect-query";

/** Provides the client's authenticated transport to the connect-query hooks. */
export function InfliqProvider(props: { client: Pick<InfliqCore, "transport">; children?: ReactNode }) {
  return createElement(TransportProvider, { transport: props.client.transport }, props.children);
}

/**
 * cursorPaging is the useInfiniteQuery options of every `page`-paged RPC
 * (feeds, followers, following, posts, chats):
 *   useInfiniteQuery(FeedService.method.globalFeed, { page: { limit: 20 } }, cursorPaging(20))
 */
export function cursorPaging(limit = 20) {
  return {
    pageParamKey: "page" as const,
    getNextPageParam: (last: { page?: PageResponse }): PageRequest | undefined =>
      last.page?.nextCursor ? ({ cursor: last.page.nextCursor, limit } as PageRequest) : undefined,
  };
}

/**
 * olderMessages pages a chat backwards: useInfiniteQuery(ChatService.method.listMessages,
 * { chatId, beforeId: "" }, olderMessages). Page 0 is the newest; each page is ascending.
 */
export const olderMessages = {
  pageParamKey: "beforeId" as const,
  getNextPageParam: (last: ListMessagesResponse): string | undefined =>
    last.hasMore && last.messages.length ? last.messages[0].id : undefined,
};

/** What attachRealtime and useRealtimeSync take: realtime.subscribe's options, with optional onEvent. */
export type RealtimeSyncOptions = Omit<SubscribeOptions, "onEvent"> & {
  onEvent?: SubscribeOptions["onEvent"];
  /** A new or updated notification group, after the caches were patched (e.g. show an in-app banner). */
  onNotification?: (update: NotificationUpdate) => void;
};

/**
 * attachRealtime keeps queries fresh from the realtime stream: a new message
 * is appended to the open chat's ListMessages queries (finite and
 * infinite) without a refetch, and ListChats is invalidated; a new or
 * updated notification group goes to the top of the ListNotifications
 * queries it belongs in, and the unread count is set (applyNotificationUpdate).
 */
export function attachRealtime(
  client: Pick<InfliqCore, "transport"> & { realtime: Realtime },
  queryClient: QueryClient,
  opts: RealtimeSyncOptions = {},
): Subscription {
  return client.realtime.subscribe({
    ...opts,
    onEvent: (ev) => {
      opts.onEvent?.(ev);
      const update = notificationUpdate(ev);
      if (update) {
        applyNotificationUpdate(queryClient, client.transport, update);
        opts.onNotification?.(update);
        return;
      }
      if (ev.event.case !== "message" || !ev.event.value.message) return;
      const msg = ev.event.value.message;
      const schema = ChatService.method.listMessages;
      const input = { chatId: msg.chatId };
      const finite = createConnectQueryKey({ schema, transport: client.transport, input, cardinality: "finite" });
      const infinite = createConnectQueryKey({ schema, transport: client.transport, input, cardinality: "infinite", pageParamKey: "beforeId" });
      queryClient.setQueriesData<ListMessagesResponse>({ queryKey: finite }, (d) => d && appendMessage(d, msg));
      queryClient.setQueriesData<InfiniteData<ListMessagesResponse>>({ queryKey: infinite }, (d) =>
        d && d.pages.length ? { ...d, pages: [appendMessage(d.pages[0], msg), ...d.pages.slice(1)] } : d,
      );
      void queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: ChatService.method.listChats, transport: client.transport, cardinality: undefined }),
      });
    },
  });
}

function appendMessage(page: ListMessagesResponse, msg: Message): ListMessagesResponse {
  if (page.messages.some((m) => m.id === msg.id)) return page;
  return create(ListMessagesResponseSchema, { ...page, messages: [...page.messages, msg] });
}

/** useRealtimeSync runs attachRealtime for the component's lifetime. */
export function useRealtimeSync(client: Pick<InfliqCore, "transport"> & { realtime: Realtime }, opts?: RealtimeSyncOptions): void {
  const queryClient = useQueryClient();
  useEffect(() => {
    const sub = attachRealtime(client, queryClient, opts);
    return () => sub.close();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, queryClient]);
}

// ---- Notifications ----

const listSchema = NotificationService.method.listNotifications;
const unreadSchema = NotificationService.method.getUnreadCount;

/** The ListNotifications queries (finite and infinite) of this transport, with their kind filters. */
function listQueries(queryClient: QueryClient, transport: Transport): { key: QueryKey; kinds: Kind[] }[] {
  const out: { key: QueryKey; kinds: Kind[] }[] = [];
  const keys = [
    createConnectQueryKey({ schema: listSchema, transport, cardinality: "finite" }),
    createConnectQueryKey({ schema: listSchema, transport, cardinality: "infinite" }),
  ];
  for (const queryKey of keys) {
    for (const q of queryClient.getQueryCache().findAll({ queryKey })) {
      const input = (q.queryKey[1] as { input?: { kinds?: Kind[] } }).input;
      out.push({ key: q.queryKey, kinds: input?.kinds ?? [] });
    }
  }
  return out;
}

// mapPages applies fn to a finite response or to every page of an infinite one.
function mapPages(
  d: ListNotificationsResponse | InfiniteData<ListNotificationsResponse> | undefined,
  fn: (page: ListNotificationsResponse, index: number) => ListNotificationsResponse,
) {
  if (!d) return d;
  if ("pages" in d) return { ...d, pages: d.pages.map(fn) };
  return fn(d, 0);
}

type ListData = ListNotificationsResponse | InfiniteData<ListNotificationsResponse>;

function pagesOf(d: ListData | undefined): ListNotificationsResponse[] {
  return d ? ("pages" in d ? d.pages : [d]) : [];
}

function setUnread(queryClient: QueryClient, transport: Transport, unreadCount: string) {
  queryClient.setQueriesData({ queryKey: createConnectQueryKey({ schema: unreadSchema, transport, cardinality: "finite" }) }, () =>
    create(GetUnreadCountResponseSchema, { unreadCount }),
  );
}

/**
 * applyNotificationUpdate patches the caches with a realtime inbox update:
 * a group with new activity moves to the top of the first page of each
 * ListNotifications query whose kind filter takes it (its older copy on any
 * page goes); one without (an actor left) is replaced where it is; one left
 * with no actor is removed. Every list's unreadCount and the GetUnreadCount
 * queries take the new count. No refetch.
 */
export function applyNotificationUpdate(queryClient: QueryClient, transport: Transport, update: NotificationUpdate): void {
  const n = update.notification;
  if (n) {
    // A group that lost every actor (unlikes, unfollows) leaves the lists.
    const gone = n.actorsCount === "0";
    for (const { key, kinds } of listQueries(queryClient, transport)) {
      const fits = !gone && (kinds.length === 0 || kinds.includes(n.kind));
      queryClient.setQueryData<ListData>(key, (d) => {
        const old = pagesOf(d).flatMap((p) => p.notifications).find((x) => x.id === n.id);
        // No newer activity (an actor left): the group keeps its place.
        const inPlace = fits && old !== undefined && latest(n) <= latest(old);
        return mapPages(d, (page, i) => {
          const notifications = inPlace
            ? page.notifications.map((x) => (x.id === n.id ? n : x))
            : page.notifications.filter((x) => x.id !== n.id);
          if (fits && !inPlace && i === 0) notifications.unshift(n);
          return create(ListNotificationsResponseSchema, { ...page, notifications, unreadCount: update.unreadCount });
        });
      });
    }
  }
  setUnread(queryClient, transport, update.unreadCount);
}

/**
 * useNotifications is the inbox as an infinite query (cursor paging), most
 * recently active groups first; `kinds` filters. Realtime updates land in it
 * through useRealtimeSync or useNotificationUpdates.
 */
export function useNotifications(opts: { limit?: number; kinds?: Kind[]; enabled?: boolean } = {}) {
  const limit = opts.limit ?? 20;
  return useInfiniteQuery(listSchema, { page: { limit }, kinds: opts.kinds ?? [] }, { ...cursorPaging(limit), enabled: opts.enabled });
}

/** useUnreadCount is the badge: GetUnreadCount as a number (data), kept current by realtime updates and useMarkRead. */
export function useUnreadCount(opts: { enabled?: boolean } = {}) {
  return useQuery(unreadSchema, {}, { select: (r) => Number(r.unreadCount), enabled: opts.enabled });
}

/**
 * useMarkRead moves the read marker: mutate() marks everything read,
 * mutate(groupId) up to that group's latest activity. On success the unread
 * count and the cached groups' read flags are updated without a refetch.
 */
export function useMarkRead() {
  const transport = useTransport();
  const queryClient = useQueryClient();
  return useTanstackMutation({
    mutationFn: (upToId?: string) =>
      callUnaryMethod(transport, NotificationService.method.markRead, {
        target: upToId === undefined ? { case: "all", value: true } : { case: "upToId", value: upToId },
      }),
    onSuccess: (res, upToId) => {
      // Up to a group: that group and every group not active after it.
      let bound: bigint | undefined;
      const all = listQueries(queryClient, transport);
      if (upToId !== undefined) {
        for (const { key } of all) {
          const d = queryClient.getQueryData<ListData>(key);
          const hit = pagesOf(d).flatMap((p) => p.notifications).find((x) => x.id === upToId);
          if (hit) bound = latest(hit);
        }
      }
      for (const { key } of all) {
        queryClient.setQueryData<ListData>(key, (d) =>
          mapPages(d, (page) =>
            create(ListNotificationsResponseSchema, {
              ...page,
              unreadCount: res.unreadCount,
              notifications: page.notifications.map((x) =>
                !x.read && (upToId === undefined || x.id === upToId || (bound !== undefined && latest(x) <= bound)) ? { ...x, read: true } : x,
              ),
            }),
          ),
        );
      }
      setUnread(queryClient, transport, res.unreadCount);
    },
  });
}

// latest is a group's latest activity in microseconds, for comparisons.
function latest(n: Notification): bigint {
  const t = n.latestAt;
  return t ? t.seconds * 1_000_000n + BigInt(Math.floor(t.nanos / 1000)) : 0n;
}

/**
 * useNotificationUpdates subscribes to the inbox's realtime updates for the
 * component's lifetime, patches the caches (applyNotificationUpdate) and
 * calls onUpdate. An app that already runs useRealtimeSync gets the same
 * from it (its onNotification option) on the one stream; this hook opens
 * its own.
 */
export function useNotificationUpdates(
  client: Pick<InfliqCore, "transport"> & { notifications: Pick<NotificationsClient, "onNotification"> },
  onUpdate?: (update: NotificationUpdate) => void,
  opts?: Omit<SubscribeOptions, "onEvent">,
): void {
  const queryClient = useQueryClient();
  const cb = useRef(onUpdate);
  cb.current = onUpdate;
  useEffect(() => {
    const sub = client.notifications.onNotification((u) => {
      applyNotificationUpdate(queryClient, client.transport, u);
      cb.current?.(u);
    }, opts);
    return () => sub.close();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, queryClient]);
}
