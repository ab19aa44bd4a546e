import { useQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import type { Complaint, Page, PropertyPage, RiskScore, ScoreHistory, Violation } from "../api/types";

export const useProperty = (bbl: string) =>
  useQuery({ queryKey: ["property", bbl], queryFn: () => api<PropertyPage>(`/v1/properties/${bbl}`) });
export const useRisk = (bbl: string) =>
  useQuery({ queryKey: ["property", bbl, "risk"], queryFn: () => api<RiskScore>(`/v1/properties/${bbl}/risk`) });
export const useScoreHistory = (bbl: string) =>
  useQuery({
    queryKey: ["property", bbl, "history"],
    queryFn: () => api<ScoreHistory>(`/v1/properties/${bbl}/risk/history`),
  });
export const useViolations = (bbl: string) =>
  useQuery({
    queryKey: ["property", bbl, "violations"],
    queryFn: () => api<Page<Violation>>(`/v1/violations?bbl=${bbl}&limit=200`),
  });
export const useComplaints = (bbl: string) =>
  useQuery({
    queryKey: ["property", bbl, "complaints"],
    queryFn: () => api<Page<Complaint>>(`/v1/complaints?bbl=${bbl}&limit=200`),
  });

export interface TimelineEvent {
  date: string;
  kind: "violation" | "complaint";
  what: string;
  detail: string;
  status: string;
}

/** Violations and complaints as one list of dated events, newest first: issued/received, closed, deadlines. */
export function timeline(violations: Violation[], complaints: Complaint[]): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const v of violations) {
    const what = `${v.source}${v.class ? ` class ${v.class}` : ""} violation`;
    const detail = v.description ?? "";
    if (v.issued_date) events.push({ date: v.issued_date, kind: "violation", what: `${what} issued`, detail, status: v.status });
    if (v.status === "closed" && v.status_date)
      events.push({ date: v.status_date, kind: "violation", what: `${what} closed`, detail, status: v.status });
    for (const [key, label] of [
      ["certify_by_date", "certify-by deadline"],
      ["correct_by_date", "correct-by deadline"],
      ["hearing_date", "hearing"],
    ] as const) {
      const d = v[key];
      if (d) events.push({ date: d, kind: "violation", what: `${what}: ${label}`, detail, status: v.status });
    }
  }
  for (const c of complaints) {
    const what = `${c.source} complaint`;
    const detail = [c.category, c.subcategory].filter(Boolean).join(" · ");
    if (c.received_date) events.push({ date: c.received_date, kind: "complaint", what: `${what} received`, detail, status: c.status });
    if (c.closed_date) events.push({ date: c.closed_date, kind: "complaint", what: `${what} closed`, detail, status: c.status });
  }
  return events.sort((a, b) => b.date.localeCompare(a.date));
}
