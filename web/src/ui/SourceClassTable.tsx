import { t } from "../strings";

export interface SourceClassCount {
  source: string;
  klass: string | null | undefined;
  count: number;
}

/** Open violations counted by source and class: one table for the portfolio's totals and the property page. */
export function SourceClassTable({ rows }: { rows: SourceClassCount[] }) {
  return (
    <table className="compact">
      <thead>
        <tr>
          <th scope="col">{t.property.source}</th>
          <th scope="col">{t.property.class}</th>
          <th scope="col" className="num">
            {t.property.count}
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={`${r.source}-${r.klass}`}>
            <td>{r.source}</td>
            <td>{r.klass || "–"}</td>
            <td className="num">{r.count}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
