import type { Rollup, Trends } from "../api/types";
import { t } from "../strings";
import { BAND_COLORS, band, formatCount, formatMoney } from "../ui/format";
import { SourceClassTable } from "../ui/SourceClassTable";

export function Totals({ rollup, trends }: { rollup: Rollup; trends: Trends | undefined }) {
  const s = rollup.summary;
  const bands: Record<string, number> = { high: 0, elevated: 0, moderate: 0, low: 0, unscored: 0 };
  for (const b of rollup.buildings) bands[band(b.overall)]! += 1;
  return (
    <section aria-labelledby="totals-title">
      <h2 id="totals-title">{t.portfolio.totals}</h2>
      <dl className="totals">
        <div>
          <dt>{t.portfolio.buildings}</dt>
          <dd data-testid="total-buildings">{formatCount(s.buildings)}</dd>
        </div>
        <div>
          <dt>{t.portfolio.openViolations}</dt>
          <dd data-testid="total-open">{formatCount(s.open_violations)}</dd>
        </div>
        <div>
          <dt>{t.portfolio.openClassC}</dt>
          <dd>{formatCount(s.open_class_c)}</dd>
        </div>
        <div>
          <dt>{t.portfolio.overdue}</dt>
          <dd>{formatCount(s.overdue_deadlines)}</dd>
        </div>
        {trends && (
          <div>
            <dt>{t.portfolio.upcoming(trends.upcoming_days)}</dt>
            <dd>{formatCount(trends.upcoming_deadlines)}</dd>
          </div>
        )}
        <div>
          <dt>{t.portfolio.balance}</dt>
          <dd>{formatMoney(s.penalty_balance)}</dd>
        </div>
      </dl>
      <div className="two">
        <div>
          <h3>{t.portfolio.byBand}</h3>
          <ul className="bands">
            {Object.entries(bands).map(([key, n]) => (
              <li key={key}>
                <span className="swatch" style={{ background: BAND_COLORS[key] }} aria-hidden="true" />
                {t.scores.band[key]}: <strong>{n}</strong>
              </li>
            ))}
          </ul>
        </div>
        {trends && trends.open_by_source_class.length > 0 && (
          <div>
            <h3>{t.portfolio.bySource}</h3>
            <SourceClassTable
              rows={trends.open_by_source_class.map((r) => ({ source: r.source, klass: r.class, count: r.open }))}
            />
          </div>
        )}
      </div>
    </section>
  );
}
