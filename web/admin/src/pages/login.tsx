// Sign-in by phone OTP through AuthService (the same RPCs as the app). The
// session lands in the SDK's memory token store only.
import { useState } from "preact/hooks";
import { auth } from "../api.ts";
import { ErrorLine } from "../ui.tsx";

export function Login({ onSignedIn }: { onSignedIn: (phone: string) => void }) {
  const [phone, setPhone] = useState("");
  const [otp, setOtp] = useState("");
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const send = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await auth.sendOtp({ phone: phone.trim() });
      setSent(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const verify = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const res = await auth.verifyOtp({ phone: phone.trim(), otp: otp.trim() });
      onSignedIn(res.account?.phone || phone.trim());
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <main class="center">
      <section class="card login">
        <h1>INFLIQ moderation</h1>
        <p class="muted">Sign in with the phone number of a moderator or admin account.</p>
        {!sent ? (
          <form onSubmit={send}>
            <label>
              Phone number
              <input name="phone" type="tel" autocomplete="tel" required maxLength={32} value={phone}
                onInput={(e) => setPhone(e.currentTarget.value)} />
            </label>
            <button type="submit" class="primary" disabled={busy || !phone.trim()}>Send code</button>
          </form>
        ) : (
          <form onSubmit={verify}>
            <p>We sent a code to <strong>{phone}</strong>.</p>
            <label>
              Code
              <input name="otp" inputMode="numeric" autocomplete="one-time-code" required maxLength={16} value={otp}
                onInput={(e) => setOtp(e.currentTarget.value)} />
            </label>
            <div class="actions">
              <button type="button" onClick={() => { setSent(false); setOtp(""); setError(undefined); }}>Change number</button>
              <button type="submit" class="primary" disabled={busy || !otp.trim()}>Sign in</button>
            </div>
          </form>
        )}
        <ErrorLine error={error} />
      </section>
    </main>
  );
}
