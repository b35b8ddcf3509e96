// One reported target: the content preview (media through the media
// proxy), every report on it, the actions, and what was done before.
import { admin, kindFromName, kindName, outcomeName, ReportStatus, TargetKind } from "../admin.ts";
import type { Me } from "../main.tsx";
import { ContentActions, UserActions } from "../actions.tsx";
import { age, durSeconds, mediaSrc, OVERDUE_SECONDS, when } from "../format.ts";
import { ErrorLine, Loading, useAsync } from "../ui.tsx";
import { LogTable } from "./log.tsx";
import type { ContentPreview } from "../../../../clients/ts/gen/infliq/admin/v1/admin_pb.ts";

export function ReportDetail({ kind, id, me }: { kind: string; id: string; me: Me }) {
  const target = { kind: kindFromName(kind), id };
  const { data, error, loading, reload } = useAsync(() => admin.getReportTarget({ target }), [kind, id]);
  if (loading && !data) return <Loading />;
  if (!data) return <ErrorLine error={error} />;
  const item = data.item;
  const p = data.preview;
  const open = item?.status === ReportStatus.OPEN;
  const a = durSeconds(item?.oldestOpenAge);
  const author = p?.author ?? item?.author;
  return (
    <section data-testid="report-detail">
      <div class="page-head">
        <h1>Reported {kindName[target.kind]}</h1>
        <div class="stats">
          <span class={`stat ${open ? "open" : "resolved"}`} data-testid="status">{open ? "open" : `resolved${item?.outcome ? ": " + outcomeName[item.outcome] : ""}`}</span>
          {open && a !== undefined && (
            <span class={`stat ${a >= OVERDUE_SECONDS ? "overdue" : ""}`} data-testid="age">waiting <b>{age(a)}</b></span>
          )}
          <span class="stat">{item?.openCount ?? 0} open / {item?.reportCount ?? 0} reports</span>
        </div>
      </div>
      <ErrorLine error={error} />
      <div class="two">
        <div>
          <h2>Content</h2>
          {p ? <Preview p={p} /> : <p class="muted">No preview.</p>}
          <h2>Actions</h2>
          {target.kind !== TargetKind.USER && (
            <ContentActions target={target} removed={!!p?.removed} hasOpen={open} onDone={reload} />
          )}
          {author && (
            <>
              <h3>{target.kind === TargetKind.USER ? "The user" : "The author"}: <a href={`#/user/${author.id}`}>{author.name || author.id}</a></h3>
              {target.kind === TargetKind.USER && open && <ContentActions target={target} removed={false} hasOpen={open} onDone={reload} />}
              <UserActions userId={author.id} name={author.name || "this user"} suspended={!!p?.authorSuspended} target={target} me={me} onDone={reload} />
            </>
          )}
        </div>
        <div>
          <h2>Reports</h2>
          <table class="grid" data-testid="reports">
            <thead><tr><th>When</th><th>Reporter</th><th>Reason</th><th>Details</th><th>Status</th></tr></thead>
            <tbody>
              {data.reports.map((r) => (
                <tr key={r.id}>
                  <td>{when(r.createdAt)}</td>
                  <td>{r.reporter ? <a href={`#/user/${r.reporter.id}`}>{r.reporter.name || r.reporter.id}</a> : "–"}</td>
                  <td>{r.reason}</td>
                  <td>{r.details}</td>
                  <td>{r.status === ReportStatus.OPEN ? "open" : outcomeName[r.outcome] || "resolved"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>History</h2>
          {data.history.length ? <LogTable entries={data.history} /> : <p class="muted">No action taken yet.</p>}
        </div>
      </div>
    </section>
  );
}

function Preview({ p }: { p: ContentPreview }) {
  return (
    <article class="preview" data-testid="preview">
      <div class="flags">
        {p.removed && <span class="flag removed" data-testid="removed">removed by a moderator</span>}
        {p.authorSuspended && <span class="flag suspended">author suspended</span>}
        {p.missing && <span class="flag">deleted or gone</span>}
      </div>
      {p.author && <p class="muted">by <a href={`#/user/${p.author.id}`}>{p.author.name || p.author.id}</a> · {when(p.createdAt)}</p>}
      {p.text && <p class="text">{p.text}</p>}
      <div class="media">
        {p.media.map((m, i) =>
          m.type === "video" ? (
            <video key={i} controls preload="metadata" src={mediaSrc(m.url)} poster={m.thumbnailUrl ? mediaSrc(m.thumbnailUrl) : undefined} />
          ) : (
            <img key={i} src={mediaSrc(m.url)} alt="reported media" loading="lazy" referrerpolicy="no-referrer" />
          ),
        )}
      </div>
    </article>
  );
}
