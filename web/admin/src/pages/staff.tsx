// Staff: who holds a role; admins grant and revoke (the server checks).
import { useState } from "preact/hooks";
import { admin, Role, roleName } from "../admin.ts";
import type { Me } from "../main.tsx";
import { when } from "../format.ts";
import { Confirm, ErrorLine, Loading, useAsync, type ConfirmRequest } from "../ui.tsx";

export function Staff({ me }: { me: Me }) {
  const { data, error, loading, reload } = useAsync(() => admin.listStaff({}), []);
  const [req, setReq] = useState<ConfirmRequest>();
  const [userId, setUserId] = useState("");
  const [role, setRole] = useState<Role>(Role.MODERATOR);
  const isAdmin = me.roles.includes(Role.ADMIN);
  return (
    <section>
      <div class="page-head"><h1>Staff</h1></div>
      <ErrorLine error={error} />
      {loading && !data ? <Loading /> : data && (
        <table class="grid">
          <thead><tr><th>User</th><th>Role</th><th>Since</th><th>Granted by</th><th></th></tr></thead>
          <tbody>
            {data.staff.map((s) => (
              <tr key={`${s.user?.id}-${s.role}`}>
                <td><a href={`#/user/${s.user?.id}`}>{s.user?.name || s.user?.id}</a></td>
                <td>{roleName[s.role]}{s.bootstrap ? " (MEDIA_ADMIN_USER_IDS)" : ""}</td>
                <td>{when(s.grantedAt)}</td>
                <td>{s.grantedBy}</td>
                <td>
                  {isAdmin && !s.bootstrap && (
                    <button type="button" onClick={() => setReq({
                      title: `Revoke ${roleName[s.role]} from ${s.user?.name || s.user?.id}?`,
                      body: <p>They lose access to the console at once.</p>,
                      confirmLabel: "Revoke",
                      danger: true,
                      reason: true,
                      run: (reason) => admin.revokeRole({ userId: s.user?.id ?? "", role: s.role, reason }),
                    })}>Revoke</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {isAdmin && (
        <form class="filters" onSubmit={(e) => {
          e.preventDefault();
          const id = userId.trim();
          setReq({
            title: `Grant ${roleName[role]} to ${id}?`,
            body: <p>They can open this console and act on reports{role === Role.ADMIN ? ", ban users and manage staff" : ""}.</p>,
            confirmLabel: "Grant",
            reason: true,
            run: (reason) => admin.grantRole({ userId: id, role, reason }),
          });
        }}>
          <label>
            User id
            <input name="userId" pattern="[0-9a-f]{24}" required value={userId} onInput={(e) => setUserId(e.currentTarget.value)} />
          </label>
          <label>
            Role
            <select name="role" value={String(role)} onChange={(e) => setRole(Number(e.currentTarget.value) as Role)}>
              <option value={String(Role.MODERATOR)}>moderator</option>
              <option value={String(Role.ADMIN)}>admin</option>
            </select>
          </label>
          <button type="submit" class="primary">Grant role</button>
        </form>
      )}
      <Confirm req={req} onDone={(ok) => { setReq(undefined); if (ok) { setUserId(""); reload(); } }} />
    </section>
  );
}
