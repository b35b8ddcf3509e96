// Type-checked (tsc --noEmit) tour of every service: if an RPC is renamed or
// a field changes type, this file stops compiling.
import { createInfliqClient, memoryTokenStore, classifyError, call, chat, notify, post } from "../src/index.js";

export async function tour(baseUrl: string): Promise<void> {
  const client = createInfliqClient({
    baseUrl,
    tokens: memoryTokenStore(),
    onSessionExpired: () => console.log("session expired: show the login screen"),
  });

  // Auth: OTP login stores the session in the token store automatically.
  await client.auth.sendOtp({ phone: "9876543210" });
  const login = await client.auth.verifyOtp({ phone: "9876543210", otp: "123456" });
  const session = await client.auth.getSession({});
  console.log(login.created, session.userId);

  // Every other service.
  const userLimits = await client.users.getLimits({});
  const postLimits = await client.posts.getLimits({});
  const feedLimits = await client.feed.getLimits({});
  const chatLimits = await client.chat.getLimits({});
  const callConfig = await client.calls.getCallConfig({});
  const uploadPolicy = await client.media.getUploadPolicy({});
  console.log(userLimits.maxSearchResults, postLimits.maxContentLength, feedLimits.storyTtlSeconds,
    chatLimits.maxMessageLength, callConfig.ringTimeoutSeconds, uploadPolicy.allowedFolders);

  // The app's main calls, one per legacy route it used.
  const me = await client.users.getMe({});
  await client.users.updateMe({ name: "Asha" });
  const created = await client.posts.createPost({ type: post.PostType.POST, content: "hello", idempotencyKey: "k1" });
  await client.feed.globalFeed({});
  await client.feed.storyFeed({});
  await client.posts.toggleLike({ postId: created.post?.id ?? "" });
  const room = await client.chat.createChat({ type: chat.ChatType.DIRECT, participantIds: ["65a1b2c3d4e5f60718293a4b"] });
  await client.chat.sendMessage({ chatId: room.chat?.id ?? "", text: "hi", clientMessageId: "m1" });
  const started = await client.calls.initiateCall({ receiverId: "65a1b2c3d4e5f60718293a4b", type: call.CallType.VIDEO });
  await client.calls.createCallToken({ roomName: started.call?.id ?? "" });
  await client.media.getUploadPolicy({});
  console.log(me.user?.id);

  // Notifications: the inbox, the badge, preferences, this device's push token.
  const inbox = await client.notifications.list({ limit: 20, kinds: [notify.Kind.LIKE, notify.Kind.COMMENT] });
  const unread = await client.notifications.unreadCount();
  await client.notifications.markRead(inbox.notifications[0]?.id);
  await client.notifications.updatePreferences({ kinds: [{ kind: notify.Kind.LIKE, inbox: true, push: false }], timeZone: "Asia/Kolkata" });
  await client.notifications.registerPushToken("ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]", "android");
  const off = client.onNotification(({ notification, unreadCount }) => console.log(notification?.kind, unreadCount));
  off.close();
  console.log(unread, inbox.page?.nextCursor);

  // Realtime: resumes from the last sequence after reconnects.
  const sub = client.realtime.subscribe({
    lastSequence: "0",
    onEvent: (ev) => {
      if (ev.event.case === "notification") console.log(ev.event.value.title);
    },
  });
  sub.close();

  // Errors sorted for the UI.
  try {
    await client.auth.sendOtp({ phone: "" });
  } catch (e) {
    const err = classifyError(e);
    if (err.kind === "validation") console.log(err.fields.phone);
    if (err.kind === "rate_limited") console.log(`retry in ${err.retryAfterSeconds}s`);
  }

  await client.auth.logout({});
}
