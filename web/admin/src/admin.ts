// AdminService over the session's transport, and the labels the pages show
// for its enums.
import { core } from "./api.ts";
import { AdminService, Action, Outcome, ReportStatus, Role, TargetKind, type Target } from "../../../clients/ts/gen/infliq/admin/v1/admin_pb.ts";

export const admin = core.service(AdminService);
export { Action, Outcome, ReportStatus, Role, TargetKind, type Target };

export const kindName: Record<TargetKind, string> = {
  [TargetKind.UNSPECIFIED]: "all",
  [TargetKind.USER]: "user",
  [TargetKind.POST]: "post",
  [TargetKind.COMMENT]: "comment",
  [TargetKind.STORY]: "story",
  [TargetKind.MESSAGE]: "message",
};

export function kindFromName(s: string): TargetKind {
  for (const [k, v] of Object.entries(kindName)) if (v === s) return Number(k) as TargetKind;
  return TargetKind.UNSPECIFIED;
}

export const actionName: Record<Action, string> = {
  [Action.UNSPECIFIED]: "–",
  [Action.DISMISS]: "Dismissed",
  [Action.REMOVE_CONTENT]: "Removed content",
  [Action.RESTORE_CONTENT]: "Restored content",
  [Action.SUSPEND_USER]: "Suspended user",
  [Action.BAN_USER]: "Banned user",
  [Action.UNSUSPEND_USER]: "Unsuspended user",
  [Action.WARN_USER]: "Warned user",
  [Action.GRANT_ROLE]: "Granted role",
  [Action.REVOKE_ROLE]: "Revoked role",
};

export const outcomeName: Record<Outcome, string> = {
  [Outcome.UNSPECIFIED]: "",
  [Outcome.DISMISSED]: "dismissed",
  [Outcome.CONTENT_REMOVED]: "content removed",
  [Outcome.USER_WARNED]: "user warned",
  [Outcome.USER_SUSPENDED]: "user suspended",
  [Outcome.USER_BANNED]: "user banned",
  [Outcome.REVERSED]: "reversed",
};

export const roleName: Record<Role, string> = {
  [Role.UNSPECIFIED]: "",
  [Role.MODERATOR]: "moderator",
  [Role.ADMIN]: "admin",
};

/** A target as the pages pass it around (and as requests accept it). */
export interface TargetRef {
  kind: TargetKind;
  id: string;
}

export function targetHref(t: TargetRef | undefined): string {
  if (!t) return "#/queue";
  return t.kind === TargetKind.USER ? `#/user/${t.id}` : `#/report/${kindName[t.kind]}/${t.id}`;
}
