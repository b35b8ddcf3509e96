// User lookup (id, phone or name) and one user's page: profile, counts,
// reports against and by them, sessions, suspensions, notices, history.
import { useState } from "preact/hooks";
import { admin, outcomeName, ReportStatus, roleName, targetHref, kindName } from "../admin.ts";
import type { Me } from "../main.tsx";
import type { ReportEntry, UserRow } from "../../../../clients/ts/gen/infliq/admin/v1/admin_pb.ts";
import { UserActions } from "../actions.tsx";
import { toDate, when } from "../format.ts";
import { ErrorLine, Loading, useAsync } from "../ui.tsx";
import { LogTable } from "./log.tsx";

function suspendedNow(u: UserRow | undefined): boolean {
  if (!u) return false;
  const until = toDate(u.suspendedUntil);
  return u.banned || (!!until && until.getTime() > Date.now());
}

export function UserSearch() {
  const [q, setQ] = useState("");
  const [rows, setRows] = useState<UserRow[]>();
  const [error, setError] = useState<unknown>();
  const search = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      setRows((await admin.findUsers({ query: q.trim() })).users);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section>
      <div class="page-head"><h1>Users</h1></div>
      <form class="filters" onSubmit={search}>
        <label>
          Id, phone or name
          <input name="q" type="search" maxLength={100} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={!q.trim()}>Search</button>
      </form>
      <ErrorLine error={error} />
      {rows && (rows.length === 0 ? <p class="empty">No user matches.</p> : (
        <table class="grid">
          <thead><tr><th>Name</th><th>Phone</th><th>Joined</th><th>Status</th><th>Roles</th></tr></thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.user?.id}>
                <td><a href={`#/user/${r.user?.id}`}>{r.user?.name || r.user?.id}</a></td>
                <td>{r.phone}</td>
                <td>{when(r.createdAt)}</td>
                <td>{r.banned ? "banned" : suspendedNow(r) ? `suspended until ${when(r.suspendedUntil)}` : "active"}</td>
                <td>{r.roles.map((x) => roleName[x]).join(", ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </section>
  );
}

function Reports({ rows, by }: { rows: ReportEntry[]; by: boolean }) {
  if (!rows.length) return <p class="muted">None.</p>;
  return (
    <table class="grid">
      <thead><tr><th>When</th><th>{by ? "Target" : "Reporter"}</th><th>Reason</th><th>Status</th></tr></thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.id}>
            <td>{when(r.createdAt)}</td>
            <td>{by ? <a href={targetHref(r.target)}>{kindName[r.target?.kind ?? 0]} {r.target?.id.slice(-6)}</a> : r.reporter ? <a href={`#/user/${r.reporter.id}`}>{r.reporter.name || r.reporter.id}</a> : "–"}</td>
            <td>{r.reason}</td>
            <td>{r.status === ReportStatus.OPEN ? <a href={targetHref(r.target)}>open</a> : outcomeName[r.outcome] || "resolved"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function UserPage({ id, me }: { id: string; me: Me }) {
  const { data, error, loading, reload } = useAsync(() => admin.getUserDetail({ userId: id }), [id]);
  if (loading && !data) return <Loading />;
  if (!data) return <ErrorLine error={error} />;
  const u = data.user;
  const c = data.counts;
  const name = u?.user?.name || id;
  const susp = suspendedNow(u);
  return (
    <section data-testid="user-page">
      <div class="page-head">
        <h1>{name}</h1>
        <div class="stats">
          <span class={`stat ${susp ? "overdue" : ""}`} data-testid="user-status">
            {u?.banned ? "banned" : susp ? `suspended until ${when(u?.suspendedUntil)}` : "active"}
          </span>
          {u?.roles.map((r) => <span key={r} class="stat">{roleName[r]}</span>)}
        </div>
      </div>
      <ErrorLine error={error} />
      <dl class="facts">
        <dt>Id</dt><dd><code>{id}</code></dd>
        <dt>Phone</dt><dd>{u?.phone || "–"}</dd>
        <dt>Email</dt><dd>{data.email || "–"}</dd>
        <dt>Joined</dt><dd>{when(u?.createdAt)}</dd>
        <dt>Bio</dt><dd>{data.bio || "–"}</dd>
      </dl>
      {c && (
        <div class="counts">
          {([["followers", c.followers], ["following", c.following], ["posts", c.posts], ["stories", c.stories], ["messages", c.messages],
            ["reports against", c.reportsAgainst], ["reports filed", c.reportsBy]] as [string, number][]).map(([l, n]) => (
            <div key={l} class="count"><b>{n}</b><span>{l}</span></div>
          ))}
        </div>
      )}
      <h2>Actions</h2>
      <UserActions userId={id} name={name} suspended={susp} me={me} onDone={reload} />
      <div class="two">
        <div>
          <h2>Reports against</h2>
          <Reports rows={data.reportsAgainst} by={false} />
          <h2>Reports filed</h2>
          <Reports rows={data.reportsBy} by={true} />
        </div>
        <div>
          <h2>Sessions</h2>
          {data.sessions.length ? (
            <table class="grid">
              <thead><tr><th>Started</th><th>Last used</th><th>Expires</th><th>Device</th><th></th></tr></thead>
              <tbody>
                {data.sessions.map((s) => (
                  <tr key={s.id}><td>{when(s.createdAt)}</td><td>{when(s.lastUsedAt)}</td><td>{when(s.expiresAt)}</td><td>{s.userAgent}</td><td>{s.revoked ? "revoked" : ""}</td></tr>
                ))}
              </tbody>
            </table>
          ) : <p class="muted">None.</p>}
          <h2>Suspensions</h2>
          {data.suspensions.length ? (
            <table class="grid">
              <thead><tr><th>From</th><th>Until</th><th>Reason</th><th>Lifted</th></tr></thead>
              <tbody>
                {data.suspensions.map((s) => (
                  <tr key={s.id}><td>{when(s.createdAt)}</td><td>{s.ban ? "ban" : when(s.until)}</td><td>{s.reason}</td><td>{s.liftedAt ? when(s.liftedAt) : ""}</td></tr>
                ))}
              </tbody>
            </table>
          ) : <p class="muted">None.</p>}
          <h2>Notices</h2>
          {data.notices.length ? (
            <ul class="notices">{data.notices.map((n) => <li key={n.id}>{when(n.createdAt)}: {n.message} {n.readAt ? "(read)" : "(unread)"}</li>)}</ul>
          ) : <p class="muted">None.</p>}
        </div>
      </div>
      <h2>History</h2>
      {data.history.length ? <LogTable entries={data.history} /> : <p class="muted">No action taken yet.</p>}
    </section>
  );
}
