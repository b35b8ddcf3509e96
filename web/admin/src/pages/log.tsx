// The append-only moderation log, newest first.
import { useState } from "preact/hooks";
import { Action, actionName, admin, kindName, targetHref } from "../admin.ts";
import type { LogEntry } from "../../../../clients/ts/gen/infliq/admin/v1/admin_pb.ts";
import { when } from "../format.ts";
import { ErrorLine, Loading, useAsync } from "../ui.tsx";

export function LogTable({ entries }: { entries: LogEntry[] }) {
  return (
    <table class="grid" data-testid="log">
      <thead><tr><th>When</th><th>Moderator</th><th>Action</th><th>Target</th><th>Reason</th><th>Detail</th><th>Reports closed</th></tr></thead>
      <tbody>
        {entries.map((e) => (
          <tr key={e.id} data-testid="log-row" data-action={Action[e.action]}>
            <td>{when(e.createdAt)}</td>
            <td>{e.actor?.id ? <a href={`#/user/${e.actor.id}`}>{e.actor.name || e.actor.id}</a> : <span class="muted">infliq CLI</span>}</td>
            <td><span class={`act a-${e.action}`}>{actionName[e.action]}</span></td>
            <td>{e.target ? <a href={targetHref(e.target)}>{kindName[e.target.kind]} {e.target.id.slice(-6)}</a> : "–"}</td>
            <td>{e.reason}</td>
            <td>{e.detail}</td>
            <td>{e.resolvedReports || ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ModerationLog() {
  const [action, setAction] = useState<Action>(Action.UNSPECIFIED);
  const [more, setMore] = useState<{ entries: LogEntry[]; cursor: string }>({ entries: [], cursor: "" });
  const [moreError, setMoreError] = useState<unknown>();
  const req = (cursor: string) => admin.listModerationLog({ page: { cursor, limit: 50 }, action });
  const first = useAsync(async () => {
    const res = await req("");
    setMore({ entries: [], cursor: res.page?.nextCursor ?? "" });
    return res;
  }, [action]);
  const loadMore = async () => {
    setMoreError(undefined);
    try {
      const res = await req(more.cursor);
      setMore({ entries: [...more.entries, ...res.entries], cursor: res.page?.nextCursor ?? "" });
    } catch (e) {
      setMoreError(e);
    }
  };
  const entries = [...(first.data?.entries ?? []), ...more.entries];
  return (
    <section>
      <div class="page-head"><h1>Moderation log</h1></div>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Action
          <select name="action" value={String(action)} onChange={(e) => setAction(Number(e.currentTarget.value) as Action)}>
            {Object.entries(actionName).map(([k, v]) => <option key={k} value={k}>{Number(k) === 0 ? "every action" : v}</option>)}
          </select>
        </label>
        <button type="button" onClick={first.reload}>Refresh</button>
      </form>
      <ErrorLine error={first.error} />
      {first.loading && !first.data ? <Loading /> : entries.length ? <LogTable entries={entries} /> : <p class="empty">No actions yet.</p>}
      <ErrorLine error={moreError} />
      {more.cursor && <button type="button" onClick={loadMore}>Load more</button>}
    </section>
  );
}
