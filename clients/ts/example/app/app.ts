// A typical app module, as an Expo app writes it against the published
// package: OTP login, profile, post, feed, realtime, upload, logout. The
// packed-tarball test type-checks it under --strict with and without the DOM
// lib, runs it against the live backend and bundles it for React Native.
import { createInfliqClient, classifyError, memoryTokenStore, timestampDate, post, type AuthEvent, type UploadSource } from "@infliq/sdk";

// file: a Blob on the web and in tests, { uri } from an image picker on React Native.
export async function run(baseUrl: string, phone: string, otpFor: (phone: string) => Promise<string>, file: UploadSource, size: number): Promise<string[]> {
  const log: string[] = [];
  const events: AuthEvent[] = [];
  const client = createInfliqClient({ baseUrl, tokens: memoryTokenStore() });
  client.onAuthStateChange((e) => events.push(e));

  const bad = await client.auth.sendOtp({ phone: "" }).catch(classifyError);
  if (bad && "kind" in bad && bad.kind === "validation") log.push("validation:" + Object.keys(bad.fields).join(","));

  await client.auth.sendOtp({ phone });
  await client.auth.verifyOtp({ phone, otp: await otpFor("+91" + phone) });
  await client.users.updateMe({ name: "Example" });
  const created = await client.posts.createPost({ type: post.PostType.POST, content: "from the packed SDK", idempotencyKey: phone });
  const page = await client.feed.globalFeed({ page: { limit: 5 } });
  const mine = page.posts.find((p) => p.id === created.post?.id);
  if (mine?.createdAt) log.push("post:" + (timestampDate(mine.createdAt).getTime() > 0));

  const opened = await new Promise<boolean>((resolve) => {
    const sub = client.realtime.subscribe({
      onEvent: () => {},
      onStateChange: (s) => {
        if (s === "open") {
          sub.close();
          resolve(true);
        }
      },
    });
  });
  log.push("realtime:" + opened);

  let last = 0;
  const obj = await client.media.uploadFile({
    file,
    size,
    contentType: "image/png",
    folder: "posts",
    onProgress: (p) => (last = p.loaded / p.total),
  });
  log.push("upload:" + obj.sizeBytes + ":" + last);

  await client.signOut();
  log.push("events:" + events.join(","));
  return log;
}
