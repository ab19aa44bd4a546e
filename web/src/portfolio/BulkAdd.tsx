import { useState, type FormEvent } from "react";
import { describeError } from "../api/errors";
import { t } from "../strings";
import { ErrorMessage } from "../ui/Status";
import { parseRefs, useAddBuildings } from "./hooks";

export function BulkAdd({ portfolioId }: { portfolioId: number }) {
  const [text, setText] = useState("");
  const add = useAddBuildings(portfolioId);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate(parseRefs(text), { onSuccess: () => setText("") });
  };
  const r = add.data;
  return (
    <form className="card" onSubmit={submit} aria-labelledby="bulk-title">
      <h2 id="bulk-title">{t.portfolio.bulkAdd}</h2>
      <label>
        {t.portfolio.bulkHelp}
        <textarea rows={4} value={text} onChange={(e) => setText(e.target.value)} required />
      </label>
      <button type="submit" disabled={add.isPending}>
        {t.portfolio.bulkSubmit}
      </button>
      {add.isError && <ErrorMessage text={describeError(add.error)} />}
      {r && (
        <div role="status">
          <p>{t.portfolio.added(r.added?.length ?? 0)}</p>
          {(r.unresolved?.length ?? 0) > 0 && <p>{t.portfolio.unresolved(r.unresolved!)}</p>}
          {(r.ambiguous?.length ?? 0) > 0 && <p>{t.portfolio.ambiguous(r.ambiguous!)}</p>}
        </div>
      )}
    </form>
  );
}
