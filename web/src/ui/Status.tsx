import { describeError } from "../api/errors";
import { t } from "../strings";

export function ErrorMessage({ text }: { text: string }) {
  return (
    <p role="alert" className="error">
      {text}
    </p>
  );
}

export function QueryError({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div role="alert" className="error">
      <p>{describeError(error)}</p>
      {retry && (
        <button type="button" onClick={retry}>
          {t.common.retry}
        </button>
      )}
    </div>
  );
}

export function Loading() {
  return (
    <p role="status" aria-live="polite" className="muted">
      {t.common.loading}
    </p>
  );
}
