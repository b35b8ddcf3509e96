// A uPlot time-series chart (canvas) that follows its container's width.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
}

// Counts tick on whole numbers only.
const wholeSteps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6];

export function Chart({ title, days, series, unit, whole = true }: { title: string; days: number[]; series: Series[]; unit?: string; whole?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(240, el.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height: 180,
        scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max * 1.1)] } },
        axes: [
          { stroke: "#8a94a6", grid: { stroke: "#eef0f4" }, ticks: { stroke: "#eef0f4" } },
          { stroke: "#8a94a6", grid: { stroke: "#eef0f4" }, ticks: { stroke: "#eef0f4" }, size: 48,
            ...(whole ? { incrs: wholeSteps } : {}),
            values: (_u, vals) => vals.map((v) => (unit ? `${v}${unit}` : String(v))) },
        ],
        series: [
          { value: "{YYYY}-{MM}-{DD}" },
          ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, fill: s.color + "22", points: { size: 4 }, spanGaps: false })),
        ],
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
      },
      [days, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [title, days, series, unit, whole]);
  return (
    <figure class="chart" data-testid="chart" data-title={title}>
      <figcaption>{title}</figcaption>
      <div ref={box} />
    </figure>
  );
}
