import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AuthService, UserService, PostService, FeedService, ChatService, CallService, MediaService, RealtimeService, NotificationService,
} from "../src/index.js";

test("every service is generated with its package name", () => {
  const names = [AuthService, UserService, PostService, FeedService, ChatService, CallService, MediaService, RealtimeService, NotificationService]
    .map((s) => s.typeName);
  assert.deepEqual(names, [
    "infliq.auth.v1.AuthService", "infliq.user.v1.UserService", "infliq.post.v1.PostService",
    "infliq.feed.v1.FeedService", "infliq.chat.v1.ChatService", "infliq.call.v1.CallService",
    "infliq.media.v1.MediaService", "infliq.realtime.v1.RealtimeService", "infliq.notify.v1.NotificationService",
  ]);
});

test("method kinds match the schema", () => {
  assert.equal(AuthService.method.getSession.methodKind, "unary");
  assert.equal(RealtimeService.method.subscribe.methodKind, "server_streaming");
});

// Defect 6: no field of ours is a bigint (JSON.stringify throws on one).
// Timestamps (google.protobuf) keep bigint seconds: read them with
// timestampDate, persist caches with serialize/deserialize.
test("no 64-bit field of the public API is a bigint", async () => {
  const { ScalarType } = await import("@bufbuild/protobuf");
  const files = [
    (await import("../src/auth.js")).file_infliq_auth_v1_auth,
    (await import("../src/user.js")).file_infliq_user_v1_user,
    (await import("../src/post.js")).file_infliq_post_v1_post,
    (await import("../src/feed.js")).file_infliq_feed_v1_feed,
    (await import("../src/chat.js")).file_infliq_chat_v1_chat,
    (await import("../src/call.js")).file_infliq_call_v1_call,
    (await import("../src/media.js")).file_infliq_media_v1_media,
    (await import("../src/realtime-entry.js")).file_infliq_realtime_v1_realtime,
    (await import("../src/notifications.js")).file_infliq_notify_v1_notify,
    (await import("../src/common.js")).file_infliq_common_v1_common,
  ];
  const long = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);
  const bigints: string[] = [];
  let checked = 0;
  for (const f of files) {
    for (const m of f.messages) {
      for (const field of m.fields) {
        const f2 = field.fieldKind === "scalar" ? field : field.fieldKind === "list" && field.listKind === "scalar" ? field : undefined;
        if (f2 && long.has(f2.scalar)) {
          checked++;
          if (!f2.longAsString) bigints.push(`${m.typeName}.${field.name}`);
        }
      }
    }
  }
  assert.ok(checked >= 13, `only ${checked} 64-bit fields found`);
  assert.deepEqual(bigints, []);
});

test("the public package carries no internal service and no protovalidate descriptor", async () => {
  const all = await import("../src/index.js");
  const names = Object.keys(all).concat(...["auth", "user", "chat", "notify"].map((p) => Object.keys((all as unknown as Record<string, object>)[p])));
  assert.deepEqual(names.filter((n) => /Internal|validate/i.test(n)), []);
  const deps = all.auth.file_infliq_auth_v1_auth.dependencies.map((d) => d.name);
  assert.deepEqual(deps, ["google/protobuf/timestamp"]);
  // notify's rules (Expo token pattern, kinds) stay on the server too.
  const notifyDeps = all.notify.file_infliq_notify_v1_notify.dependencies.map((d) => d.name);
  assert.deepEqual(notifyDeps, ["google/protobuf/timestamp", "infliq/common/v1/common"]);
});
