import { t } from "../strings";

const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
const count = new Intl.NumberFormat("en-US");
const day = new Intl.DateTimeFormat("en-US", { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
const month = new Intl.DateTimeFormat("en-US", { year: "numeric", month: "short", timeZone: "UTC" });
const moment = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeStyle: "short" });

export const formatMoney = (v: number | string | null | undefined): string =>
  v === null || v === undefined ? t.common.unknown : money.format(Number(v));
export const formatCount = (v: number | null | undefined): string => (v == null ? "–" : count.format(v));
export const formatDay = (iso: string | null | undefined): string => (iso ? day.format(new Date(iso.slice(0, 10))) : "–");
export const formatMonth = (iso: string): string => month.format(new Date(iso.slice(0, 10)));
export const formatMoment = (iso: string | null | undefined): string => (iso ? moment.format(new Date(iso)) : "–");

/** The risk band of an overall score: the cut-offs a property manager reads the 0-100 percentile by. */
export function band(score: number | null | undefined): "high" | "elevated" | "moderate" | "low" | "unscored" {
  if (score == null) return "unscored";
  if (score >= 80) return "high";
  if (score >= 60) return "elevated";
  if (score >= 30) return "moderate";
  return "low";
}

export const BAND_COLORS: Record<string, string> = {
  high: "#b00020",
  elevated: "#d35400",
  moderate: "#9a7d0a",
  low: "#1e7b34",
  unscored: "#6b6b6b",
};

export const BOROUGHS: Record<number, string> = { 1: "Manhattan", 2: "Bronx", 3: "Brooklyn", 4: "Queens", 5: "Staten Island" };
