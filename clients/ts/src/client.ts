import type { Client } from "@connectrpc/connect";
import { AuthService } from "../gen/infliq/auth/v1/auth_pb.js";
import { UserService } from "../gen/infliq/user/v1/user_pb.js";
import { PostService } from "../gen/infliq/post/v1/post_pb.js";
import { FeedService } from "../gen/infliq/feed/v1/feed_pb.js";
import { ChatService } from "../gen/infliq/chat/v1/chat_pb.js";
import { CallService } from "../gen/infliq/call/v1/call_pb.js";
import { MediaService, type MediaObject } from "../gen/infliq/media/v1/media_pb.js";
import { createInfliqCore, type InfliqCore, type InfliqClientOptions } from "./session.js";
import { createRealtime, type Realtime } from "./realtime.js";
import { createNotifications, type NotificationsClient } from "./notify.js";
import { uploadFile, type UploadFileOptions } from "./upload.js";

export type { InfliqClientOptions } from "./session.js";

export type MediaClient = Client<typeof MediaService> & {
  /** CreateUpload → POST to storage → CompleteUpload, with progress and cancel. */
  uploadFile(opts: UploadFileOptions): Promise<MediaObject>;
};

export interface InfliqClient extends InfliqCore {
  auth: Client<typeof AuthService>;
  users: Client<typeof UserService>;
  posts: Client<typeof PostService>;
  feed: Client<typeof FeedService>;
  chat: Client<typeof ChatService>;
  calls: Client<typeof CallService>;
  media: MediaClient;
  realtime: Realtime;
  notifications: NotificationsClient;
  /**
   * Calls cb for every new or updated notification group, with the unread
   * count (client.notifications.onNotification).
   */
  onNotification: NotificationsClient["onNotification"];
}

/**
 * createInfliqClient returns typed clients for every service. An app that
 * uses a few services bundles less with createInfliqCore and the
 * per-service entry points ("@infliq/sdk/auth", …).
 */
export function createInfliqClient(opts: InfliqClientOptions): InfliqClient {
  const core = createInfliqCore(opts);
  const media = core.service(MediaService);
  const realtime = createRealtime(core);
  const notifications = createNotifications(core, realtime);
  return {
    ...core,
    auth: core.service(AuthService),
    users: core.service(UserService),
    posts: core.service(PostService),
    feed: core.service(FeedService),
    chat: core.service(ChatService),
    calls: core.service(CallService),
    media: { ...media, uploadFile: (o: UploadFileOptions) => uploadFile(media, o, { fetch: opts.fetch, baseUrl: opts.baseUrl }) },
    realtime,
    notifications,
    onNotification: notifications.onNotification,
  };
}
