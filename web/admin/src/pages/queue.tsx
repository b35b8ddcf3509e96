// The reports queue: one row per reported target, oldest open report first,
// with its age against the 24 h promise; filters by kind, status and age.
import { useState } from "preact/hooks";
import { admin, kindName, outcomeName, ReportStatus, TargetKind, targetHref } from "../admin.ts";
import type { QueueItem } from "../../../../clients/ts/gen/infliq/admin/v1/admin_pb.ts";
import { age, dueIn, dur, durSeconds, OVERDUE_SECONDS, since, when } from "../format.ts";
import { ErrorLine, Loading, useAsync } from "../ui.tsx";

const ages: [string, number][] = [
  ["any age", 0],
  ["older than 1 hour", 3600],
  ["older than 12 hours", 12 * 3600],
  ["older than 24 hours", 24 * 3600],
  ["older than 3 days", 72 * 3600],
];

export function Queue() {
  const [kind, setKind] = useState<TargetKind>(TargetKind.UNSPECIFIED);
  const [status, setStatus] = useState<ReportStatus>(ReportStatus.OPEN);
  const [minAge, setMinAge] = useState(0);
  const [more, setMore] = useState<{ items: QueueItem[]; cursor: string }>({ items: [], cursor: "" });
  const [moreError, setMoreError] = useState<unknown>();

  const req = (cursor: string) =>
    admin.listReportQueue({
      page: { cursor, limit: 50 },
      kind,
      status,
      minAge: minAge ? dur(minAge) : undefined,
    });
  const first = useAsync(async () => {
    const res = await req("");
    setMore({ items: [], cursor: res.page?.nextCursor ?? "" });
    return res;
  }, [kind, status, minAge]);

  const loadMore = async () => {
    setMoreError(undefined);
    try {
      const res = await req(more.cursor);
      setMore({ items: [...more.items, ...res.items], cursor: res.page?.nextCursor ?? "" });
    } catch (e) {
      setMoreError(e);
    }
  };

  const items = [...(first.data?.items ?? []), ...more.items];
  const oldest = items.reduce((m, it) => Math.max(m, durSeconds(it.oldestOpenAge) ?? 0), 0);
  return (
    <section>
      <div class="page-head">
        <h1>Reports queue</h1>
        {first.data && (
          <div class="stats">
            <span class="stat" data-testid="open-targets"><b>{first.data.openTargets}</b> open targets</span>
            {status === ReportStatus.OPEN && items.length > 0 && (
              <span class={`stat ${oldest >= OVERDUE_SECONDS ? "overdue" : ""}`} data-testid="oldest-age">
                oldest open report: <b>{age(oldest)}</b>
              </span>
            )}
          </div>
        )}
      </div>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Kind
          <select name="kind" value={String(kind)} onChange={(e) => setKind(Number(e.currentTarget.value) as TargetKind)}>
            {Object.entries(kindName).map(([k, v]) => <option key={k} value={k}>{v}</option>)}
          </select>
        </label>
        <label>
          Status
          <select name="status" value={String(status)} onChange={(e) => setStatus(Number(e.currentTarget.value) as ReportStatus)}>
            <option value={String(ReportStatus.OPEN)}>open</option>
            <option value={String(ReportStatus.RESOLVED)}>resolved</option>
          </select>
        </label>
        <label>
          Age
          <select name="age" value={String(minAge)} onChange={(e) => setMinAge(Number(e.currentTarget.value))}>
            {ages.map(([l, s]) => <option key={s} value={String(s)}>{l}</option>)}
          </select>
        </label>
        <button type="button" onClick={first.reload}>Refresh</button>
      </form>
      <ErrorLine error={first.error} />
      {first.loading && !first.data ? <Loading /> : items.length === 0 ? (
        <p class="empty">Nothing here: no {status === ReportStatus.OPEN ? "open" : "resolved"} reports match.</p>
      ) : (
        <table class="grid" data-testid="queue">
          <thead>
            <tr><th>Kind</th><th>Target</th><th>Author</th><th>Reports</th><th>Reasons</th><th>{status === ReportStatus.OPEN ? "Oldest open" : "Outcome"}</th><th>Last report</th></tr>
          </thead>
          <tbody>
            {items.map((it) => {
              const a = durSeconds(it.oldestOpenAge);
              return (
                <tr key={`${it.target?.kind}-${it.target?.id}`} data-testid="queue-row" data-target-id={it.target?.id}>
                  <td><span class={`kind k-${kindName[it.target?.kind ?? 0]}`}>{kindName[it.target?.kind ?? 0]}</span></td>
                  <td class="snippet"><a href={targetHref(it.target)}>{it.snippet || it.target?.id}</a></td>
                  <td>{it.author ? <a href={`#/user/${it.author.id}`}>{it.author.name || it.author.id}</a> : "–"}</td>
                  <td>{it.openCount} open / {it.reportCount}</td>
                  <td>{it.reasons.join(", ")}</td>
                  {status === ReportStatus.OPEN ? (
                    <td data-testid="age" class={a !== undefined && a >= OVERDUE_SECONDS ? "overdue" : ""} title={when(it.oldestOpenAt)}>
                      {a !== undefined ? age(a) : "–"}
                      {a !== undefined && <small class="due">{a >= OVERDUE_SECONDS ? "overdue" : `due in ${dueIn(OVERDUE_SECONDS - a)}`}</small>}
                    </td>
                  ) : (
                    <td>{outcomeName[it.outcome]}</td>
                  )}
                  <td title={when(it.lastReportedAt)}>{since(it.lastReportedAt)} ago</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <ErrorLine error={moreError} />
      {more.cursor && <button type="button" onClick={loadMore}>Load more</button>}
    </section>
  );
}
