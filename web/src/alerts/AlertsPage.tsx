import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api } from "../api/client";
import { describeError } from "../api/errors";
import type { Rule } from "../api/types";
import { useCan } from "../auth/session";
import { t } from "../strings";
import { formatMoment } from "../ui/format";
import { ErrorMessage, Loading, QueryError } from "../ui/Status";
import { useAcknowledge, useAlerts, type AlertFilters } from "./hooks";

const PAGE = 50;

export default function AlertsPage() {
  const can = useCan();
  const [filters, setFilters] = useState<AlertFilters>({ unacknowledged: true });
  const [limit, setLimit] = useState(PAGE);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const rules = useQuery({ queryKey: ["rules"], queryFn: () => api<Rule[]>("/v1/alert-rules") });
  const alerts = useAlerts(filters, limit);
  const ack = useAcknowledge();
  const items = alerts.data?.items ?? [];
  const open = items.filter((a) => !a.acknowledged_at);
  const ruleName = (id: number) => rules.data?.find((r) => r.id === id)?.name ?? `#${id}`;
  const toggle = (id: number) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const acknowledge = (ids: number[]) => ack.mutate(ids, { onSuccess: () => setSelected(new Set()) });
  return (
    <>
      <h1>{t.alerts.title}</h1>
      <form className="filters card" aria-label={t.alerts.filters} onSubmit={(e) => e.preventDefault()}>
        <label>
          {t.alerts.rule}
          <select
            value={filters.ruleId ?? ""}
            onChange={(e) => setFilters({ ...filters, ruleId: e.target.value ? Number(e.target.value) : undefined })}
          >
            <option value="">{t.alerts.allRules}</option>
            {rules.data?.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t.alerts.building}
          <input
            inputMode="numeric"
            pattern="[1-5][0-9]{9}"
            value={filters.bbl ?? ""}
            onChange={(e) => setFilters({ ...filters, bbl: /^[1-5]\d{9}$/.test(e.target.value) ? e.target.value : undefined })}
          />
        </label>
        <label>
          {t.alerts.severity}
          <select
            value={filters.severity ?? ""}
            onChange={(e) => setFilters({ ...filters, severity: e.target.value || undefined })}
          >
            <option value="">{t.alerts.allSeverities}</option>
            {Object.entries(t.alerts.severities).map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          <input
            type="checkbox"
            checked={filters.unacknowledged}
            onChange={(e) => setFilters({ ...filters, unacknowledged: e.target.checked })}
          />
          {t.alerts.onlyUnacknowledged}
        </label>
      </form>
      {can.acknowledge && open.length > 0 && (
        <div className="actions">
          <button type="button" disabled={selected.size === 0 || ack.isPending} onClick={() => acknowledge([...selected])}>
            {t.alerts.acknowledgeSelected(selected.size)}
          </button>
        </div>
      )}
      {ack.isError && <ErrorMessage text={describeError(ack.error)} />}
      {alerts.isPending && <Loading />}
      {alerts.isError && <QueryError error={alerts.error} retry={() => void alerts.refetch()} />}
      {alerts.data && items.length === 0 && <p>{t.alerts.empty}</p>}
      {items.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                {can.acknowledge && (
                  <th scope="col">
                    <input
                      type="checkbox"
                      aria-label={t.alerts.selectAll}
                      checked={open.length > 0 && open.every((a) => selected.has(a.id))}
                      onChange={(e) => setSelected(e.target.checked ? new Set(open.map((a) => a.id)) : new Set())}
                    />
                  </th>
                )}
                <th scope="col">{t.alerts.when}</th>
                <th scope="col">{t.alerts.what}</th>
                <th scope="col">{t.alerts.severity}</th>
                <th scope="col">{t.alerts.rule}</th>
                <th scope="col">{t.alerts.where}</th>
                <th scope="col">{t.alerts.acknowledged}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.id} data-testid="alert-row">
                  {can.acknowledge && (
                    <td>
                      {!a.acknowledged_at && (
                        <input
                          type="checkbox"
                          aria-label={t.alerts.select(a.title)}
                          checked={selected.has(a.id)}
                          onChange={() => toggle(a.id)}
                        />
                      )}
                    </td>
                  )}
                  <td>{formatMoment(a.created_at)}</td>
                  <td>
                    {a.title}
                    {a.kind === "baseline" && <div className="muted small">{t.alerts.baseline}</div>}
                  </td>
                  <td>{t.alerts.severities[a.payload.record?.severity ?? ""] ?? "–"}</td>
                  <td>{ruleName(a.rule_id)}</td>
                  <td>{a.bbl ? <Link to={`/property/${a.bbl}`}>{a.bbl}</Link> : "–"}</td>
                  <td>
                    {a.acknowledged_at ? (
                      formatMoment(a.acknowledged_at)
                    ) : can.acknowledge ? (
                      <button type="button" onClick={() => acknowledge([a.id])} disabled={ack.isPending}>
                        {t.alerts.acknowledge}
                      </button>
                    ) : (
                      "–"
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {alerts.data?.next_cursor && (
        <button type="button" onClick={() => setLimit(limit + PAGE)}>
          {t.alerts.more}
        </button>
      )}
    </>
  );
}
