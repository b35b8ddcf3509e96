// The media upload audit log (IPs masked by the server).
import { useState } from "preact/hooks";
import { admin } from "../admin.ts";
import { when } from "../format.ts";
import { ErrorLine, Loading, useAsync } from "../ui.tsx";

const statusName = ["", "success", "rejected", "error"];

export function MediaAudit() {
  const [page, setPage] = useState(1);
  const { data, error, loading } = useAsync(() => admin.listMediaAuditLogs({ query: { page, limit: 50 } }).then((r) => r.result), [page]);
  return (
    <section>
      <div class="page-head"><h1>Media audit</h1>{data && <div class="stats"><span class="stat"><b>{data.total}</b> uploads logged</span></div>}</div>
      <ErrorLine error={error} />
      {loading && !data ? <Loading /> : data && (data.logs.length === 0 ? <p class="empty">No uploads logged.</p> : (
        <table class="grid">
          <thead><tr><th>When</th><th>User</th><th>Action</th><th>Status</th><th>Type</th><th>Size</th><th>Key</th><th>IP</th><th>Error</th></tr></thead>
          <tbody>
            {data.logs.map((l) => (
              <tr key={l.id}>
                <td>{when(l.createdAt)}</td>
                <td>{l.userId ? <a href={`#/user/${l.userId}`}>{l.userId.slice(-6)}</a> : "–"}</td>
                <td>{l.action}</td>
                <td>{statusName[l.status] ?? ""}</td>
                <td>{l.mimeType}</td>
                <td>{l.sizeBytes}</td>
                <td class="snippet">{l.key}</td>
                <td>{l.ip}</td>
                <td>{l.error}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
      <div class="actions">
        <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>Newer</button>
        <button type="button" disabled={!data?.hasMore} onClick={() => setPage(page + 1)}>Older</button>
      </div>
    </section>
  );
}
