import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AuthService, UserService, PostService, FeedService, ChatService, CallService, MediaService, RealtimeService,
} from "../src/index.js";

test("every service is generated with its package name", () => {
  const names = [AuthService, UserService, PostService, FeedService, ChatService, CallService, MediaService, RealtimeService]
    .map((s) => s.typeName);
  assert.deepEqual(names, [
    "infliq.auth.v1.AuthService", "infliq.user.v1.UserService", "infliq.post.v1.PostService",
    "infliq.feed.v1.FeedService", "infliq.chat.v1.ChatService", "infliq.call.v1.CallService",
    "infliq.media.v1.MediaService", "infliq.realtime.v1.RealtimeService",
  ]);
});

test("method kinds match the schema", () => {
  assert.equal(AuthService.method.getSession.methodKind, "unary");
  assert.equal(RealtimeService.method.subscribe.methodKind, "server_streaming");
});
