// Notifications only: the session core, auth for the login, and the
// notifications entry point (inbox, badge, push token, realtime updates),
// so the bundle carries no other service.
import { createInfliqCore, classifyError } from "@infliq/sdk/core";
import { AuthService } from "@infliq/sdk/auth";
import { createNotifications, Kind } from "@infliq/sdk/notifications";

export async function run(baseUrl: string, phone: string, otpFor: (phone: string) => Promise<string>): Promise<string[]> {
  const log: string[] = [];
  const core = createInfliqCore({ baseUrl });
  const auth = core.service(AuthService);
  const notifications = createNotifications(core);
  await auth.sendOtp({ phone });
  await auth.verifyOtp({ phone, otp: await otpFor("+91" + phone) });
  // After login: the app passes getExpoPushTokenAsync({ projectId }).data here.
  await notifications.registerPushToken(`ExponentPushToken[pkg${phone}]`, "android");
  const page = await notifications.list({ limit: 5, kinds: [Kind.LIKE, Kind.FOLLOW] });
  log.push("inbox:" + page.notifications.length);
  log.push("unread:" + (await notifications.unreadCount()));
  log.push("marked:" + (await notifications.markRead()));
  const bad = await notifications.markRead("nope").catch(classifyError);
  log.push("bad:" + (typeof bad === "number" ? bad : bad.kind));
  const opened = await new Promise<boolean>((resolve) => {
    const sub = notifications.onNotification(() => {}, {
      onStateChange: (s) => {
        if (s === "open") {
          sub.close();
          resolve(true);
        }
      },
    });
  });
  log.push("realtime:" + opened);
  await core.signOut(); // forgets the push token on the server, then revokes
  log.push("token:" + String(notifications.pushToken()));
  return log;
}
