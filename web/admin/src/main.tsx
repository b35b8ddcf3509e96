// The moderation console: sign in by phone OTP, then the queue, report
// detail, users, the moderation log and the overview. Routing is by
// #fragment, so the gateway serves one page.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { core, errorText, isPermissionDenied } from "./api.ts";
import { admin, Role, roleName } from "./admin.ts";
import { Login } from "./pages/login.tsx";
import { Queue } from "./pages/queue.tsx";
import { ReportDetail } from "./pages/report.tsx";
import { UserPage, UserSearch } from "./pages/user.tsx";
import { ModerationLog } from "./pages/log.tsx";
import { Overview } from "./pages/overview.tsx";
import { MediaAudit } from "./pages/media.tsx";
import { Staff } from "./pages/staff.tsx";

export interface Me {
  userId: string;
  roles: Role[];
  phone: string;
}

type State =
  | { kind: "signedOut" }
  | { kind: "checking"; phone: string }
  | { kind: "refused"; phone: string; message: string }
  | { kind: "failed"; phone: string; message: string }
  | { kind: "console"; me: Me };

function useHash(): string[] {
  const read = () => location.hash.replace(/^#\/?/, "").split("?")[0]!.split("/").filter(Boolean);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

function App() {
  const [state, setState] = useState<State>({ kind: "signedOut" });

  useEffect(
    () =>
      core.onAuthStateChange((event) => {
        if (event === "signedOut") setState({ kind: "signedOut" });
      }),
    [],
  );

  // After sign-in the server says whether this account is staff; the page
  // never decides that itself, and shows nothing else until it has.
  const check = async (phone: string) => {
    setState({ kind: "checking", phone });
    try {
      const res = await admin.getMyRoles({});
      setState({ kind: "console", me: { userId: res.userId, roles: res.roles, phone } });
    } catch (e) {
      if (isPermissionDenied(e)) setState({ kind: "refused", phone, message: errorText(e) });
      else setState({ kind: "failed", phone, message: errorText(e) });
    }
  };

  switch (state.kind) {
    case "signedOut":
      return <Login onSignedIn={check} />;
    case "checking":
      return <main class="center"><p class="muted">Checking your access…</p></main>;
    case "refused":
      return (
        <main class="center">
          <section class="card refusal" data-testid="refusal">
            <h1>Access denied</h1>
            <p>You are signed in as <strong>{state.phone}</strong>, but this account is not a moderator or an admin.</p>
            <p class="muted">The server refused: {state.message}</p>
            <p class="muted">An admin can grant the role with <code>infliq admin grant &lt;phone&gt; moderator</code>.</p>
            <button type="button" onClick={() => core.signOut()}>Sign out</button>
          </section>
        </main>
      );
    case "failed":
      return (
        <main class="center">
          <section class="card">
            <h1>Could not open the console</h1>
            <p class="error" role="alert">{state.message}</p>
            <div class="actions">
              <button type="button" onClick={() => check(state.phone)}>Try again</button>
              <button type="button" onClick={() => core.signOut()}>Sign out</button>
            </div>
          </section>
        </main>
      );
    case "console":
      return <Console me={state.me} />;
  }
}

const nav: [string, string][] = [
  ["overview", "Overview"],
  ["queue", "Reports queue"],
  ["log", "Moderation log"],
  ["users", "Users"],
  ["media", "Media audit"],
  ["staff", "Staff"],
];

function Console({ me }: { me: Me }) {
  const route = useHash();
  const [page, ...rest] = route;
  const current = page ?? "queue";
  let body;
  switch (current) {
    case "overview":
      body = <Overview />;
      break;
    case "report":
      body = <ReportDetail kind={rest[0] ?? ""} id={rest[1] ?? ""} me={me} />;
      break;
    case "user":
      body = <UserPage id={rest[0] ?? ""} me={me} />;
      break;
    case "users":
      body = <UserSearch />;
      break;
    case "log":
      body = <ModerationLog />;
      break;
    case "media":
      body = <MediaAudit />;
      break;
    case "staff":
      body = <Staff me={me} />;
      break;
    default:
      body = <Queue />;
  }
  const active = current === "report" ? "queue" : current === "user" ? "users" : current;
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/queue">INFLIQ <span>moderation</span></a>
        <span class="who" data-testid="who">
          {me.phone} · {me.roles.map((r) => roleName[r]).join(", ")}
        </span>
        <button type="button" class="link" onClick={() => core.signOut()}>Sign out</button>
      </header>
      <nav class="side">
        {nav.map(([k, label]) => (
          <a key={k} href={`#/${k}`} class={active === k ? "on" : ""}>{label}</a>
        ))}
      </nav>
      <main class="content">{body}</main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
