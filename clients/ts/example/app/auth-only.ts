// Auth only: the session core and one service's entry point, so the bundle
// carries no other service.
import { createInfliqCore, classifyError } from "@infliq/sdk/core";
import { AuthService } from "@infliq/sdk/auth";

export async function run(baseUrl: string, phone: string, otpFor: (phone: string) => Promise<string>): Promise<string> {
  const core = createInfliqCore({ baseUrl });
  const auth = core.service(AuthService);
  await auth.sendOtp({ phone });
  await auth.verifyOtp({ phone, otp: await otpFor("+91" + phone) });
  const me = await auth.getSession({}).catch(classifyError);
  await core.signOut();
  return "userId" in me ? me.userId : me.kind;
}
