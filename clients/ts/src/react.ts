// @infliq/sdk/react: TanStack Query through @connectrpc/connect-query, with
// cursor paging helpers and realtime events patched into the cache.
import { createElement, useEffect, type ReactNode } from "react";
import { useQueryClient, type InfiniteData, type QueryClient } from "@tanstack/react-query";
import { createConnectQueryKey, TransportProvider } from "@connectrpc/connect-query";
import { create } from "@bufbuild/protobuf";
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

/**
 * attachRealtime keeps queries fresh from the realtime stream: a new message
 * is appended to the open chat's ListMessages queries (finite and
 * infinite) without a refetch, and ListChats is invalidated.
 */
export function attachRealtime(
  client: Pick<InfliqCore, "transport"> & { realtime: Realtime },
  queryClient: QueryClient,
  opts: Omit<SubscribeOptions, "onEvent"> & { onEvent?: SubscribeOptions["onEvent"] } = {},
): Subscription {
  return client.realtime.subscribe({
    ...opts,
    onEvent: (ev) => {
      opts.onEvent?.(ev);
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
export function useRealtimeSync(
  client: Pick<InfliqCore, "transport"> & { realtime: Realtime },
  opts?: Omit<SubscribeOptions, "onEvent"> & { onEvent?: SubscribeOptions["onEvent"] },
): void {
  const queryClient = useQueryClient();
  useEffect(() => {
    const sub = attachRealtime(client, queryClient, opts);
    return () => sub.close();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, queryClient]);
}
