// The overview: time series for the last 30 days (signups, daily active
// users, posts, messages, calls, reports and open reports, median time to
// action), plus the two numbers that matter now.
import { useMemo } from "preact/hooks";
import { admin } from "../admin.ts";
import { Chart, type Series } from "../chart.tsx";
import { age, durSeconds, OVERDUE_SECONDS } from "../format.ts";
import { ErrorLine, Loading, useAsync } from "../ui.tsx";

export function Overview() {
  const { data, error, loading } = useAsync(() => admin.getOverview({ days: 30 }), []);
  const charts = useMemo(() => {
    if (!data) return [];
    const all = data.days;
    const days = all.map((d) => Date.parse(d.day + "T00:00:00Z") / 1000);
    const pick = (f: (d: (typeof all)[number]) => number | null) => all.map(f);
    const c = (title: string, series: Series[], unit?: string) => ({ title, days, series, unit, whole: true });
    return [
      c("Signups per day", [{ label: "signups", values: pick((d) => d.signups), color: "#3b6fe0" }]),
      c("Daily active users", [{ label: "active users", values: pick((d) => d.activeUsers), color: "#0f9d76" }]),
      c("Posts per day", [{ label: "posts", values: pick((d) => d.posts), color: "#8b5cf6" }]),
      c("Messages per day", [{ label: "messages", values: pick((d) => d.messages), color: "#0ea5e9" }]),
      c("Calls per day", [{ label: "calls", values: pick((d) => d.calls), color: "#f59e0b" }]),
      c("Reports", [
        { label: "filed", values: pick((d) => d.reports), color: "#ef4444" },
        { label: "open at day end", values: pick((d) => d.openReports), color: "#64748b" },
      ]),
      (() => {
        // The unit that fits the largest median: seconds, minutes or hours.
        const secs = pick((d) => durSeconds(d.medianTimeToAction) ?? null);
        const max = Math.max(0, ...secs.map((v) => v ?? 0));
        const [div, unit, label] = max >= 3600 ? [3600, "h", "hours"] : max >= 60 ? [60, "m", "minutes"] : [1, "s", "seconds"];
        const values = secs.map((v) => (v === null ? null : Math.round((v / div) * 10) / 10));
        return { ...c("Median time to action", [{ label, values, color: "#db2777" }], unit), whole: false };
      })(),
    ];
  }, [data]);
  if (loading && !data) return <Loading />;
  if (!data) return <ErrorLine error={error} />;
  const oldest = durSeconds(data.oldestOpenAge);
  return (
    <section data-testid="overview">
      <div class="page-head">
        <h1>Overview</h1>
        <div class="stats">
          <a class="stat" href="#/queue"><b>{data.openTargets}</b> open targets</a>
          <span class={`stat ${oldest !== undefined && oldest >= OVERDUE_SECONDS ? "overdue" : ""}`}>
            oldest open report: <b>{oldest === undefined ? "none" : age(oldest)}</b>
          </span>
        </div>
      </div>
      <div class="charts">
        {charts.map((c) => <Chart key={c.title} {...c} />)}
      </div>
      <p class="muted">Last {data.days.length} days, UTC.</p>
    </section>
  );
}
