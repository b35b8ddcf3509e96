// Type-checked (tsc --noEmit) tour of every service: if an RPC is renamed or
// a field changes type, this file stops compiling.
import { createInfliqClient, memoryTokenStore, classifyError } from "../src/index.js";

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

  // Realtime: resumes from the last sequence after reconnects.
  const sub = client.realtime.subscribe({
    lastSequence: 0n,
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
