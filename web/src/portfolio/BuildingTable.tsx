import { useMemo, useState } from "react";
import { Link } from "react-router";
import type { RollupBuilding } from "../api/types";
import { t } from "../strings";
import { band, formatCount, formatDay } from "../ui/format";
import { ScoreBadge, TrendArrow } from "../ui/Scores";

type Key = "address" | "overall" | "safety" | "legal" | "financial" | "open_violations" | "next_deadline";
const COLUMNS: { key: Key; label: string; numeric: boolean }[] = [
  { key: "address", label: t.portfolio.address, numeric: false },
  { key: "overall", label: t.scores.overall, numeric: true },
  { key: "safety", label: t.scores.safety, numeric: true },
  { key: "legal", label: t.scores.legal, numeric: true },
  { key: "financial", label: t.scores.financial, numeric: true },
  { key: "open_violations", label: t.portfolio.openViolations, numeric: true },
  { key: "next_deadline", label: t.portfolio.nextDeadline, numeric: false },
];

function compare(a: RollupBuilding, b: RollupBuilding, key: Key): number {
  const x = a[key] ?? null;
  const y = b[key] ?? null;
  if (x === y) return a.bbl.localeCompare(b.bbl);
  if (x === null) return 1; // missing values last in either direction
  if (y === null) return -1;
  return typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
}

const PAGE = 100; // a screenful at a time: drawing 500 rows at once cost the first paint most on 2 cores

export function BuildingTable({ buildings }: { buildings: RollupBuilding[] }) {
  const [limit, setLimit] = useState(PAGE);
  const [sort, setSort] = useState<{ key: Key; desc: boolean }>({ key: "address", desc: false });
  const [text, setText] = useState("");
  const [bandFilter, setBandFilter] = useState("");
  const rows = useMemo(() => {
    const needle = text.trim().toUpperCase();
    const kept = buildings.filter(
      (b) =>
        (!needle || (b.address ?? "").toUpperCase().includes(needle) || b.bbl.includes(needle)) &&
        (!bandFilter || band(b.overall) === bandFilter),
    );
    const sorted = [...kept].sort((a, b) => compare(a, b, sort.key));
    if (sort.desc) {
      // reverse the present values but keep missing ones last
      const present = sorted.filter((b) => b[sort.key] != null).reverse();
      return [...present, ...sorted.filter((b) => b[sort.key] == null)];
    }
    return sorted;
  }, [buildings, text, bandFilter, sort]);
  const toggle = (key: Key, numeric: boolean) =>
    setSort((s) => (s.key === key ? { key, desc: !s.desc } : { key, desc: numeric }));
  return (
    <section aria-labelledby="buildings-title">
      <h2 id="buildings-title">{t.portfolio.table}</h2>
      <div className="filters">
        <label>
          {t.portfolio.filter}
          <input
            type="search"
            value={text}
            placeholder={t.portfolio.filterPlaceholder}
            onChange={(e) => setText(e.target.value)}
          />
        </label>
        <label>
          {t.portfolio.band}
          <select value={bandFilter} onChange={(e) => setBandFilter(e.target.value)}>
            <option value="">{t.portfolio.allBands}</option>
            {Object.entries(t.scores.band).map(([key, label]) => (
              <option key={key} value={key}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <p className="muted" aria-live="polite">
          {t.portfolio.shown(Math.min(rows.length, limit), buildings.length)}
        </p>
      </div>
      <div className="table-wrap">
        <table className="buildings">
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th
                  key={c.key}
                  scope="col"
                  aria-sort={sort.key === c.key ? (sort.desc ? "descending" : "ascending") : "none"}
                  className={c.numeric ? "num" : undefined}
                >
                  <button type="button" className="sort" onClick={() => toggle(c.key, c.numeric)} aria-label={t.portfolio.sortBy(c.label)}>
                    {c.label}
                    <span aria-hidden="true">{sort.key === c.key ? (sort.desc ? " ▼" : " ▲") : ""}</span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, limit).map((b) => (
              <tr key={b.bbl}>
                <th scope="row">
                  <Link to={`/property/${b.bbl}`}>{b.address ?? b.bbl}</Link>
                  <div className="muted small">{b.bbl}</div>
                </th>
                <td className="num" data-testid="overall">
                  <ScoreBadge score={b.overall} /> <TrendArrow trend={b.trend} />
                </td>
                <td className="num">
                  <ScoreBadge score={b.safety} />
                </td>
                <td className="num">
                  <ScoreBadge score={b.legal} />
                </td>
                <td className="num">
                  <ScoreBadge score={b.financial} />
                </td>
                <td className="num">
                  {formatCount(b.open_violations)}
                  {b.open_class_c > 0 && <span className="muted small"> ({b.open_class_c} C)</span>}
                </td>
                <td>{formatDay(b.next_deadline)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.length > limit && (
        <button type="button" className="secondary" onClick={() => setLimit(rows.length)}>
          {t.portfolio.showAll(rows.length)}
        </button>
      )}
    </section>
  );
}
