import { lazy, Suspense, useCallback, useMemo, useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router";
import { useCan } from "../auth/session";
import { t } from "../strings";
import { ChartFigure } from "../ui/ChartFigure";
import { formatMonth } from "../ui/format";
import { ErrorMessage, Loading, QueryError } from "../ui/Status";
import { describeError } from "../api/errors";
import type { Trends } from "../api/types";
import { BuildingTable } from "./BuildingTable";
import { BulkAdd } from "./BulkAdd";
import { Totals } from "./Totals";
import { useCreatePortfolio, usePortfolios, useRollup, useTrends } from "./hooks";

const RiskMap = lazy(() => import("./RiskMap"));

function OpenChart({ trends }: { trends: Trends }) {
  const months = trends.open_by_month;
  const x = useMemo(() => months.map((m) => Date.parse(m.month_end) / 1000), [months]);
  const series = useMemo(() => [{ label: t.portfolio.openViolations, values: months.map((m) => m.open), color: "#1f4e9c" }], [months]);
  return (
    <ChartFigure
      title={t.portfolio.chart}
      tableTitle={t.portfolio.chartTable}
      x={x}
      series={series}
      table={
        <table className="compact">
          <thead>
            <tr>
              <th scope="col">{t.portfolio.month}</th>
              <th scope="col" className="num">
                {t.portfolio.openViolations}
              </th>
            </tr>
          </thead>
          <tbody>
            {months.map((m) => (
              <tr key={m.month_end}>
                <td>{formatMonth(m.month_end)}</td>
                <td className="num">{m.open}</td>
              </tr>
            ))}
          </tbody>
        </table>
      }
    />
  );
}

function CreatePortfolio() {
  const create = useCreatePortfolio();
  const [name, setName] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(name);
  };
  return (
    <form className="card" onSubmit={submit}>
      <label>
        {t.portfolio.newName}
        <input value={name} onChange={(e) => setName(e.target.value)} required />
      </label>
      <button type="submit">{t.portfolio.create}</button>
      {create.isError && <ErrorMessage text={describeError(create.error)} />}
    </form>
  );
}

export function PortfolioPage() {
  const params = useParams();
  const navigate = useNavigate();
  const can = useCan();
  const portfolios = usePortfolios();
  const id = params.id ? Number(params.id) : portfolios.data?.[0]?.id;
  const rollup = useRollup(id);
  const trends = useTrends(id);
  const open = useCallback((bbl: string) => navigate(`/property/${bbl}`), [navigate]);
  if (portfolios.isPending) return <Loading />;
  if (portfolios.isError) return <QueryError error={portfolios.error} retry={() => void portfolios.refetch()} />;
  if (id === undefined)
    return (
      <>
        <h1>{t.portfolio.title}</h1>
        <p>{t.portfolio.none}</p>
        {can.writePortfolios && <CreatePortfolio />}
      </>
    );
  return (
    <>
      <div className="page-head">
        <h1>{rollup.data?.name ?? t.portfolio.title}</h1>
        {portfolios.data.length > 1 && (
          <label>
            {t.portfolio.choose}
            <select value={id} onChange={(e) => navigate(`/portfolios/${e.target.value}`)}>
              {portfolios.data.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name} ({p.buildings})
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {rollup.isPending && <Loading />}
      {rollup.isError && <QueryError error={rollup.error} retry={() => void rollup.refetch()} />}
      {rollup.data && (
        <>
          <Totals rollup={rollup.data} trends={trends.data} />
          {rollup.data.buildings.length === 0 ? (
            <p>{t.portfolio.empty}</p>
          ) : (
            <>
              <div className="two">
                <section className="card" aria-labelledby="map-title">
                  <h2 id="map-title">{t.portfolio.map}</h2>
                  <Suspense fallback={<div className="map" />}>
                    <RiskMap buildings={rollup.data.buildings} onOpen={open} />
                  </Suspense>
                </section>
                {trends.data && <OpenChart trends={trends.data} />}
              </div>
              <BuildingTable buildings={rollup.data.buildings} />
            </>
          )}
          {can.writePortfolios && <BulkAdd portfolioId={id} />}
        </>
      )}
    </>
  );
}
