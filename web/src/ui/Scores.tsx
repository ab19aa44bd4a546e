import { t } from "../strings";
import { BAND_COLORS, band } from "./format";

export function ScoreBadge({ score, label }: { score: number | null | undefined; label?: string }) {
  const b = band(score);
  return (
    <span className={`score band-${b}`} style={{ borderColor: BAND_COLORS[b] }} title={t.scores.band[b]}>
      {label && <span className="visually-hidden">{label}: </span>}
      {score ?? "–"}
    </span>
  );
}

export function TrendArrow({ trend }: { trend: string | null | undefined }) {
  if (!trend) return null;
  return (
    <span className={`trend trend-${trend}`} aria-label={t.scores.trend[trend]} title={t.scores.trend[trend]}>
      {t.scores.arrow[trend]}
    </span>
  );
}
