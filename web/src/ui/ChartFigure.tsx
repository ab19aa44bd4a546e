import { lazy, Suspense, type ReactNode } from "react";
import type { Series } from "./LineChart";

const LineChart = lazy(() => import("./LineChart"));

/** A chart and the same numbers as a table (collapsed), so the figure reads without the picture. */
export function ChartFigure(props: {
  title: string;
  tableTitle: string;
  x: number[];
  series: Series[];
  table: ReactNode;
}) {
  return (
    <figure className="card">
      <figcaption>
        <h2>{props.title}</h2>
      </figcaption>
      <Suspense fallback={<div className="chart" />}>
        <LineChart x={props.x} series={props.series} />
      </Suspense>
      <details>
        <summary>{props.tableTitle}</summary>
        {props.table}
      </details>
    </figure>
  );
}
