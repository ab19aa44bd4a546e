import { useMemo, useState } from "react";
import { useParams } from "react-router";
import type { Deadline, PropertyPage as Page, RiskScore, ScoreHistory } from "../api/types";
import { t } from "../strings";
import { ChartFigure } from "../ui/ChartFigure";
import { BOROUGHS, formatCount, formatDay, formatMoment, formatMoney } from "../ui/format";
import { ScoreBadge, TrendArrow } from "../ui/Scores";
import { SourceClassTable } from "../ui/SourceClassTable";
import { Loading, QueryError } from "../ui/Status";
import { timeline, useComplaints, useProperty, useRisk, useScoreHistory, useViolations } from "./hooks";

const LATE_HOURS = 48;
const KINDS = ["overall", "safety", "legal", "financial"] as const;
const COLORS = { overall: "#1f4e9c", safety: "#b00020", legal: "#6a1b9a", financial: "#1e7b34" };

function Facts({ page }: { page: Page }) {
  const a = page.attributes;
  const rows: [string, string][] = [
    [t.property.bbl, page.bbl],
    [t.property.bins, page.buildings.map((b) => b.bin).join(", ") || "–"],
    [t.property.yearBuilt, a?.year_built ? String(a.year_built) : "–"],
    [t.property.units, formatCount(a?.units_res)],
    [t.property.floors, formatCount(a?.num_floors)],
    [t.property.buildingClass, a?.bldg_class ?? "–"],
    [t.property.owner, a?.owner_name ?? "–"],
  ];
  return (
    <section className="card" aria-labelledby="facts-title">
      <h2 id="facts-title">{t.property.facts}</h2>
      <dl className="facts">
        {rows.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function Scores({ risk }: { risk: RiskScore }) {
  return (
    <section className="card" aria-labelledby="scores-title">
      <h2 id="scores-title">{t.property.scores}</h2>
      <ul className="score-row">
        {KINDS.map((k) => (
          <li key={k}>
            <span className="muted">{t.scores[k]}</span> <ScoreBadge score={risk.scores[k]} label={t.scores[k]} />
            {k === "overall" && <TrendArrow trend={risk.trend} />}
          </li>
        ))}
      </ul>
      <h3>{t.property.reasons}</h3>
      {risk.reasons.length === 0 ? (
        <p>{t.property.noReasons}</p>
      ) : (
        <ul data-testid="reasons">
          {risk.reasons.map((r, i) => {
            const reason = r as { text?: string; feature?: string; value?: unknown };
            return <li key={i}>{reason.text ?? `${reason.feature}: ${String(reason.value)}`}</li>;
          })}
        </ul>
      )}
    </section>
  );
}

function History({ history }: { history: ScoreHistory["history"] }) {
  const x = useMemo(() => history.map((h) => Date.parse(h.as_of) / 1000), [history]);
  const series = useMemo(
    () => KINDS.map((k) => ({ label: t.scores[k], values: history.map((h) => h[k]), color: COLORS[k] })),
    [history],
  );
  if (history.length < 2) return <p className="muted">{t.property.historyEmpty}</p>;
  return (
    <ChartFigure
      title={t.property.history}
      tableTitle={t.property.historyTable}
      x={x}
      series={series}
      table={
        <table className="compact">
          <thead>
            <tr>
              <th scope="col">{t.property.date}</th>
              {KINDS.map((k) => (
                <th key={k} scope="col" className="num">
                  {t.scores[k]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {history.map((h) => (
              <tr key={h.as_of}>
                <td>{formatDay(h.as_of)}</td>
                {KINDS.map((k) => (
                  <td key={k} className="num">
                    {h[k]}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      }
    />
  );
}

const DEADLINES_SHOWN = 8;

function DeadlineList({ title, items }: { title: string; items: Deadline[] }) {
  const [all, setAll] = useState(false);
  if (items.length === 0) return null;
  const shown = all ? items : items.slice(0, DEADLINES_SHOWN);
  return (
    <>
      <h3>
        {title} ({items.length})
      </h3>
      <ul className="deadlines">
        {shown.map((d) => (
          <li key={`${d.source_id}-${d.deadline}`}>
            {t.property.deadlineKind[d.deadline]} {t.property.due(formatDay(d.due), d.days)}: {d.source}
            {d.class ? ` class ${d.class}` : ""} {d.description ? `· ${d.description}` : ""}
          </li>
        ))}
      </ul>
      {items.length > DEADLINES_SHOWN && (
        <button type="button" className="secondary" onClick={() => setAll(!all)} aria-expanded={all}>
          {all ? t.property.showFewer : t.property.showAll(items.length)}
        </button>
      )}
    </>
  );
}

function OpenItems({ page }: { page: Page }) {
  const groups = page.open_violations.by_source;
  return (
    <section className="card" aria-labelledby="open-title">
      <h2 id="open-title">
        {t.property.open} ({page.open_violations.total})
      </h2>
      {groups.length === 0 ? (
        <p>{t.property.openEmpty}</p>
      ) : (
        <SourceClassTable
          rows={groups.flatMap((g) =>
            Object.entries(g.by_class).map(([klass, n]) => ({ source: g.source, klass, count: n })),
          )}
        />
      )}
    </section>
  );
}

function Money({ page }: { page: Page }) {
  const p = page.penalties.totals;
  return (
    <section className="card" aria-labelledby="money-title">
      <h2 id="money-title">{t.property.penalties}</h2>
      <dl className="facts">
        <div>
          <dt>{t.property.imposed}</dt>
          <dd>{formatMoney(p.imposed)}</dd>
        </div>
        <div>
          <dt>{t.property.paid}</dt>
          <dd>{formatMoney(p.paid)}</dd>
        </div>
        <div>
          <dt>{t.property.balanceDue}</dt>
          <dd>{formatMoney(p.balance)}</dd>
        </div>
      </dl>
      {p.violations_with_unknown_amounts > 0 && <p className="muted small">{t.property.unknownAmounts(p.violations_with_unknown_amounts)}</p>}
    </section>
  );
}

function Freshness({ page }: { page: Page }) {
  const now = Date.now();
  const late = page.data_freshness.filter(
    (f) => !f.last_committed_at || now - Date.parse(f.last_committed_at) > LATE_HOURS * 3600_000,
  );
  return (
    <section className="card" aria-labelledby="fresh-title">
      <h2 id="fresh-title">{t.property.freshness}</h2>
      {late.map((f) => (
        <p key={f.dataset} role="status" className="warning">
          {t.errors.sourceLate(f.dataset)}
        </p>
      ))}
      {page.data_freshness.length === 0 && <p>{t.property.noLoads}</p>}
      {/* wide on a phone: the scrolling box takes focus so a keyboard can scroll it */}
      <div className="table-scroll" tabIndex={0} role="region" aria-labelledby="fresh-title" hidden={page.data_freshness.length === 0}>
      <table className="compact">
        <thead>
          <tr>
            <th scope="col">{t.property.dataset}</th>
            <th scope="col">{t.property.updatedThrough}</th>
            <th scope="col">{t.property.lastRun}</th>
          </tr>
        </thead>
        <tbody>
          {page.data_freshness.map((f) => (
            <tr key={f.dataset}>
              <td>{f.dataset}</td>
              <td>{formatMoment(f.source_updated_through)}</td>
              <td>{f.last_run_finished_at ? formatMoment(f.last_run_finished_at) : t.property.neverLoaded}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </section>
  );
}

function Timeline({ bbl }: { bbl: string }) {
  const violations = useViolations(bbl);
  const complaints = useComplaints(bbl);
  const events = useMemo(
    () => timeline(violations.data?.items ?? [], complaints.data?.items ?? []),
    [violations.data, complaints.data],
  );
  return (
    <section className="card" aria-labelledby="timeline-title">
      <h2 id="timeline-title">{t.property.timeline}</h2>
      {(violations.isPending || complaints.isPending) && <Loading />}
      {violations.isError && <QueryError error={violations.error} />}
      {!violations.isPending && !complaints.isPending && events.length === 0 && <p>{t.property.timelineEmpty}</p>}
      <ol className="timeline" data-testid="timeline" tabIndex={0} aria-labelledby="timeline-title">
        {events.map((e, i) => (
          <li key={i} className={`event-${e.kind}`}>
            <time dateTime={e.date}>{formatDay(e.date)}</time> <strong>{e.what}</strong>
            {e.detail && <span className="muted"> · {e.detail}</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}

export default function PropertyPage() {
  const bbl = useParams().bbl ?? "";
  const page = useProperty(bbl);
  const risk = useRisk(bbl);
  const history = useScoreHistory(bbl);
  if (page.isPending) return <Loading />;
  if (page.isError) return <QueryError error={page.error} retry={() => void page.refetch()} />;
  const a = page.data.attributes;
  return (
    <>
      <h1>
        {a?.address ?? bbl}
        <span className="muted subtitle">
          {" "}
          {a ? `${BOROUGHS[a.borough] ?? ""} ${a.zip ?? ""}` : ""}
        </span>
      </h1>
      <div className="two">
        <Facts page={page.data} />
        {risk.data && <Scores risk={risk.data} />}
        {risk.isError && <QueryError error={risk.error} />}
      </div>
      {history.data && <History history={history.data.history} />}
      <div className="two">
        <OpenItems page={page.data} />
        <section className="card" aria-labelledby="deadlines-title">
          <h2 id="deadlines-title">{t.property.deadlines}</h2>
          {page.data.deadlines.overdue.length + page.data.deadlines.upcoming.length === 0 && <p>{t.property.noDeadlines}</p>}
          <DeadlineList title={t.property.overdue} items={page.data.deadlines.overdue} />
          <DeadlineList title={t.property.upcoming} items={page.data.deadlines.upcoming} />
        </section>
      </div>
      <Timeline bbl={bbl} />
      <Money page={page.data} />
      {/* The page's width, not a half: a dataset's name and two moments a row, and at 1280 px all three columns show
          without scrolling (the table's scroll box is for phones). */}
      <Freshness page={page.data} />
    </>
  );
}
