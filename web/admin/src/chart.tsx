// A uPlot time-series chart (canvas) that follows its container's width.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
}

export function Chart({ title, days, series, unit }: { title: string; days: number[]; series: Series[]; unit?: string }) {
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
  }, [title, days, series, unit]);
  return (
    <figure class="chart" data-testid="chart" data-title={title}>
      <figcaption>{title}</figcaption>
      <div ref={box} />
    </figure>
  );
}
