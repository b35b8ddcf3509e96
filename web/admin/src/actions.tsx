// The moderation actions. Each opens the confirmation dialog; nothing is
// sent before the moderator confirms.
import { useState } from "preact/hooks";
import { admin, kindName, Role, TargetKind, type TargetRef } from "./admin.ts";
import type { Me } from "./main.tsx";
import { dur } from "./format.ts";
import { Confirm, type ConfirmRequest } from "./ui.tsx";

export const durations: [string, number][] = [
  ["1 hour", 3600],
  ["1 day", 86400],
  ["7 days", 7 * 86400],
  ["30 days", 30 * 86400],
];

function useConfirm(onDone: () => void) {
  const [req, setReq] = useState<ConfirmRequest>();
  const dialog = (
    <Confirm
      req={req}
      onDone={(ok) => {
        setReq(undefined);
        if (ok) onDone();
      }}
    />
  );
  return { ask: setReq, dialog };
}

/** Dismiss, remove or restore a reported target. */
export function ContentActions({ target, removed, hasOpen, onDone }: { target: TargetRef; removed: boolean; hasOpen: boolean; onDone: () => void }) {
  const { ask, dialog } = useConfirm(onDone);
  const what = kindName[target.kind];
  const t = { kind: target.kind, id: target.id };
  return (
    <div class="action-row">
      {hasOpen && (
        <button type="button" data-action="dismiss" onClick={() => ask({
          title: "Dismiss the reports?",
          body: <p>The open reports on this {what} are closed with no action; reporters see “dismissed”.</p>,
          confirmLabel: "Dismiss reports",
          reason: true,
          run: (reason) => admin.dismiss({ target: t, reason }),
        })}>Dismiss reports</button>
      )}
      {target.kind !== TargetKind.USER && !removed && (
        <button type="button" class="danger" data-action="remove" onClick={() => ask({
          title: `Remove this ${what}?`,
          body: <p>The {what} is hidden everywhere (feeds and caches included) until restored. Its open reports are resolved.</p>,
          confirmLabel: `Remove ${what}`,
          danger: true,
          reason: true,
          run: (reason) => admin.removeContent({ target: t, reason: reason || `Removed from the console` }),
        })}>Remove {what}</button>
      )}
      {target.kind !== TargetKind.USER && removed && (
        <button type="button" data-action="restore" onClick={() => ask({
          title: `Restore this ${what}?`,
          body: <p>The {what} becomes visible again.</p>,
          confirmLabel: `Restore ${what}`,
          reason: true,
          run: (reason) => admin.restoreContent({ target: t, reason: reason || `Restored from the console` }),
        })}>Restore {what}</button>
      )}
      {dialog}
    </div>
  );
}

/** Warn, suspend, ban or unsuspend a user (optionally answering a target's reports). */
export function UserActions({ userId, name, suspended, target, me, onDone }: {
  userId: string; name: string; suspended: boolean; target?: TargetRef; me: Me; onDone: () => void;
}) {
  const { ask, dialog } = useConfirm(onDone);
  const [seconds, setSeconds] = useState(86400);
  const t = target ? { kind: target.kind, id: target.id } : undefined;
  const label = durations.find(([, s]) => s === seconds)?.[0] ?? `${seconds}s`;
  return (
    <div class="action-row">
      <button type="button" data-action="warn" onClick={() => ask({
        title: `Warn ${name}?`,
        body: <p>They receive the message below as a notice from the moderators.</p>,
        message: "Message the user reads",
        confirmLabel: "Send warning",
        reason: true,
        run: (reason, message) => admin.warnUser({ userId, message, reason, target: t }),
      })}>Warn</button>
      {!suspended && (
        <>
          <select name="duration" aria-label="Suspension length" value={String(seconds)} onChange={(e) => setSeconds(Number(e.currentTarget.value))}>
            {durations.map(([l, s]) => <option key={s} value={String(s)}>{l}</option>)}
          </select>
          <button type="button" class="danger" data-action="suspend" onClick={() => ask({
            title: `Suspend ${name} for ${label}?`,
            body: <p>Their sessions end at once, login is refused until the suspension ends, and their content is hidden meanwhile.</p>,
            confirmLabel: `Suspend for ${label}`,
            danger: true,
            reason: true,
            run: (reason) => admin.suspendUser({ userId, duration: dur(seconds), reason: reason || "Suspended from the console", target: t }),
          })}>Suspend</button>
          {me.roles.includes(Role.ADMIN) && (
            <button type="button" class="danger" data-action="ban" onClick={() => ask({
              title: `Ban ${name}?`,
              body: <p>A suspension with no end. Only an admin can lift it.</p>,
              confirmLabel: "Ban",
              danger: true,
              reason: true,
              run: (reason) => admin.banUser({ userId, reason: reason || "Banned from the console", target: t }),
            })}>Ban</button>
          )}
        </>
      )}
      {suspended && (
        <button type="button" data-action="unsuspend" onClick={() => ask({
          title: `Lift the suspension of ${name}?`,
          body: <p>They can sign in again and their content is shown again.</p>,
          confirmLabel: "Unsuspend",
          reason: true,
          run: (reason) => admin.unsuspendUser({ userId, reason: reason || "Unsuspended from the console" }),
        })}>Unsuspend</button>
      )}
      {dialog}
    </div>
  );
}
