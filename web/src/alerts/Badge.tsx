import { t } from "../strings";
import { useUnacknowledgedCount } from "./hooks";

export function UnacknowledgedBadge() {
  const { data } = useUnacknowledgedCount();
  if (data === undefined) return null;
  return (
    <span className={data > 0 ? "badge" : "badge badge-zero"} aria-live="polite" data-testid="unack-badge">
      <span aria-hidden="true">{data >= 100 ? "99+" : data}</span>
      <span className="visually-hidden">{t.nav.unacknowledged(data)}</span>
    </span>
  );
}
