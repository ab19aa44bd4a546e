import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { describeError } from "../api/errors";
import { useCan } from "../auth/session";
import { usePortfolios } from "../portfolio/hooks";
import { t } from "../strings";
import { ErrorMessage, Loading, QueryError } from "../ui/Status";
import { EMPTY_FORM, fromRule, toBody, useDryRun, useRules, useSaveRule, type RuleForm } from "./hooks";

function Editor({ id, initial, onDone }: { id: number | null; initial: RuleForm; onDone: () => void }) {
  const [form, setForm] = useState<RuleForm>(initial);
  const dryRun = useDryRun();
  const save = useSaveRule();
  const portfolios = usePortfolios();
  // Saving needs a dry-run of exactly what is on screen: any change asks for a new one.
  const set = <K extends keyof RuleForm>(key: K, value: RuleForm[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    dryRun.reset();
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!dryRun.data) dryRun.mutate(toBody(form));
    else save.mutate({ id, body: toBody(form) }, { onSuccess: onDone });
  };
  const hasClasses = ["new_violation", "violation_status_change", "deadline_overdue", "deadline_approaching"].includes(form.type);
  return (
    <form className="card rule-form" onSubmit={submit} aria-labelledby="rule-form-title">
      <h2 id="rule-form-title">{id === null ? t.rules.create : `${t.rules.edit}: ${initial.name}`}</h2>
      <label>
        {t.rules.name}
        <input value={form.name} onChange={(e) => set("name", e.target.value)} required maxLength={200} />
      </label>
      <label>
        {t.rules.condition}
        <select value={form.type} onChange={(e) => set("type", e.target.value)}>
          {Object.entries(t.rules.conditionTypes).map(([k, label]) => (
            <option key={k} value={k}>
              {label}
            </option>
          ))}
        </select>
      </label>
      {hasClasses && (
        <label>
          {t.rules.classes}
          <input value={form.classes} onChange={(e) => set("classes", e.target.value)} />
        </label>
      )}
      {form.type === "deadline_approaching" && (
        <label>
          {t.rules.withinDays}
          <input type="number" min={0} max={366} value={form.withinDays} onChange={(e) => set("withinDays", Number(e.target.value))} />
        </label>
      )}
      {form.type === "penalty_balance_above" && (
        <label>
          {t.rules.amount}
          <input type="number" min={1} value={form.amount} onChange={(e) => set("amount", Number(e.target.value))} />
        </label>
      )}
      {form.type === "risk_score" && (
        <label>
          {t.rules.crossesAbove}
          <input type="number" min={1} max={100} value={form.crossesAbove} onChange={(e) => set("crossesAbove", Number(e.target.value))} />
        </label>
      )}
      <fieldset>
        <legend>{t.rules.scope}</legend>
        <label className="inline">
          <input type="radio" name="scope" checked={form.scope === "organization"} onChange={() => set("scope", "organization")} />
          {t.rules.scopes.organization}
        </label>
        <label className="inline">
          <input
            type="radio"
            name="scope"
            checked={form.scope === "portfolio"}
            disabled={!portfolios.data?.length}
            onChange={() => {
              set("scope", "portfolio");
              set("portfolioId", form.portfolioId ?? portfolios.data?.[0]?.id ?? null);
            }}
          />
          {t.rules.scopes.portfolio}
        </label>
        {form.scope === "portfolio" && (
          <select aria-label={t.rules.scopes.portfolio} value={form.portfolioId ?? ""} onChange={(e) => set("portfolioId", Number(e.target.value))}>
            {portfolios.data?.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        )}
      </fieldset>
      <fieldset>
        <legend>{t.rules.channels}</legend>
        <label>
          {t.rules.channelKind}
          <select value={form.channel} onChange={(e) => set("channel", e.target.value as RuleForm["channel"])}>
            <option value="">{t.common.none}</option>
            {Object.entries(t.rules.channelKinds).map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </label>
        {form.channel && (
          <label>
            {t.rules.channelTarget}
            <input value={form.target} onChange={(e) => set("target", e.target.value)} />
          </label>
        )}
        <label>
          {t.rules.delivery}
          <select value={form.delivery} onChange={(e) => set("delivery", e.target.value as RuleForm["delivery"])}>
            {Object.entries(t.rules.deliveries).map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </fieldset>
      <fieldset>
        <legend>{t.rules.quietHours}</legend>
        <label className="inline">
          {t.rules.quietFrom} <input type="time" value={form.quietFrom} onChange={(e) => set("quietFrom", e.target.value)} />
        </label>
        <label className="inline">
          {t.rules.quietTo} <input type="time" value={form.quietTo} onChange={(e) => set("quietTo", e.target.value)} />
        </label>
      </fieldset>
      <label className="inline">
        <input type="checkbox" checked={form.enabled} onChange={(e) => set("enabled", e.target.checked)} />
        {t.rules.enabled}
      </label>
      <div aria-live="polite">
        {dryRun.data ? (
          <p className="dry-run" data-testid="dry-run">
            {t.rules.dryRunResult(dryRun.data.would_have_fired, dryRun.data.days)}
            {dryRun.data.approximate && <span className="muted"> {t.rules.approximate}</span>}
          </p>
        ) : (
          <p className="muted">{t.rules.mustDryRun}</p>
        )}
      </div>
      {dryRun.isError && <ErrorMessage text={describeError(dryRun.error)} />}
      {save.isError && <ErrorMessage text={describeError(save.error)} />}
      <div className="actions">
        <button type="button" onClick={() => dryRun.mutate(toBody(form))} disabled={dryRun.isPending}>
          {t.rules.dryRun}
        </button>
        <button type="submit" disabled={!dryRun.data || save.isPending}>
          {t.common.save}
        </button>
        <button type="button" className="secondary" onClick={onDone}>
          {t.common.cancel}
        </button>
      </div>
    </form>
  );
}

export default function RulesPage() {
  const can = useCan();
  const params = useParams();
  const navigate = useNavigate();
  const rules = useRules();
  const [creating, setCreating] = useState(false);
  const editing = params.id ? rules.data?.find((r) => r.id === Number(params.id)) : undefined;
  const done = () => {
    setCreating(false);
    navigate("/rules");
  };
  return (
    <>
      <div className="page-head">
        <h1>{t.rules.title}</h1>
        {can.writeRules && !creating && !editing && (
          <button type="button" onClick={() => setCreating(true)}>
            {t.rules.create}
          </button>
        )}
      </div>
      {can.writeRules && creating && <Editor id={null} initial={EMPTY_FORM} onDone={done} />}
      {can.writeRules && editing && <Editor key={editing.id} id={editing.id} initial={fromRule(editing)} onDone={done} />}
      {rules.isPending && <Loading />}
      {rules.isError && <QueryError error={rules.error} retry={() => void rules.refetch()} />}
      {rules.data?.length === 0 && <p>{t.rules.empty}</p>}
      {rules.data && rules.data.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t.rules.name}</th>
                <th scope="col">{t.rules.condition}</th>
                <th scope="col">{t.rules.delivery}</th>
                <th scope="col">{t.rules.enabled}</th>
                {can.writeRules && <th scope="col"><span className="visually-hidden">{t.rules.edit}</span></th>}
              </tr>
            </thead>
            <tbody>
              {rules.data.map((r) => (
                <tr key={r.id} data-testid="rule-row">
                  <td>{r.name}</td>
                  <td>{t.rules.conditionTypes[String((r.condition as { type: string }).type)]}</td>
                  <td>{t.rules.deliveries[r.delivery ?? "immediate"]}</td>
                  <td>{r.enabled ? "✓" : "–"}</td>
                  {can.writeRules && (
                    <td>
                      <Link to={`/rules/${r.id}`} aria-label={`${t.rules.edit} ${r.name}`}>
                        {t.rules.edit}
                      </Link>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
