// Shared widgets: the confirmation dialog every action goes through, error
// and loading lines.
import { useEffect, useRef, useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import { errorText } from "./api.ts";

export function ErrorLine({ error }: { error: unknown }) {
  if (!error) return null;
  return <p class="error" role="alert">{errorText(error)}</p>;
}

export function Loading() {
  return <p class="muted">Loading…</p>;
}

export interface ConfirmRequest {
  title: string;
  body: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  /** Ask for a reason (stored in the moderation log). */
  reason?: boolean;
  /** Ask for a text the user will read, with this label (required). */
  message?: string;
  run: (reason: string, message: string) => Promise<unknown>;
}

/**
 * Confirm is a modal <dialog>: nothing runs until the moderator presses
 * the confirm button; Escape or Cancel closes it without acting.
 */
export function Confirm({ req, onDone }: { req: ConfirmRequest | undefined; onDone: (ok: boolean) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState("");
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (req && !d.open) {
      setReason("");
      setMessage("");
      setError(undefined);
      d.showModal();
    } else if (!req && d.open) d.close();
  }, [req]);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!req || busy) return;
    setBusy(true);
    setError(undefined);
    try {
      await req.run(reason.trim(), message.trim());
      onDone(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} class="confirm" onCancel={(e) => { e.preventDefault(); if (!busy) onDone(false); }}>
      {req && (
        <form method="dialog" onSubmit={submit}>
          <h2>{req.title}</h2>
          <div class="confirm-body">{req.body}</div>
          {req.message && (
            <label>
              {req.message}
              <textarea name="message" maxLength={2000} rows={3} required value={message} onInput={(e) => setMessage(e.currentTarget.value)} />
            </label>
          )}
          {req.reason && (
            <label>
              Reason (kept in the moderation log)
              <textarea name="reason" maxLength={500} rows={3} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
            </label>
          )}
          <ErrorLine error={error} />
          <div class="actions">
            <button type="button" onClick={() => onDone(false)} disabled={busy}>Cancel</button>
            <button type="submit" class={req.danger ? "danger" : "primary"} disabled={busy || (!!req.message && !message.trim())} data-testid="confirm">
              {busy ? "Working…" : req.confirmLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

/** useAsync runs load when deps change; reload() runs it again. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ data: s.data, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}
