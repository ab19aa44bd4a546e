import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import type { Alert, Page } from "../api/types";

export interface AlertFilters {
  ruleId?: number | undefined;
  bbl?: string | undefined;
  severity?: string | undefined;
  unacknowledged: boolean;
}

function feedPath(f: AlertFilters, limit: number): string {
  const q = new URLSearchParams({ limit: String(limit) });
  if (f.unacknowledged) q.set("acknowledged", "false");
  if (f.ruleId) q.set("rule_id", String(f.ruleId));
  if (f.bbl) q.set("bbl", f.bbl);
  if (f.severity) q.set("severity", f.severity);
  return `/v1/alerts?${q}`;
}

export const useAlerts = (f: AlertFilters, limit: number) =>
  useQuery({ queryKey: ["alerts", f, limit], queryFn: () => api<Page<Alert>>(feedPath(f, limit)) });

/** The badge polls: new alerts arrive from the server's evaluation, not from this page. */
export const useUnacknowledgedCount = () =>
  useQuery({
    queryKey: ["alerts", "unacknowledged-count"],
    queryFn: async () => (await api<Page<Alert>>(feedPath({ unacknowledged: true }, 100))).items.length,
    refetchInterval: 30_000,
  });

export function useAcknowledge() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (ids: number[]) =>
      Promise.all(ids.map((id) => api<Alert>(`/v1/alerts/${id}/acknowledge`, { method: "POST" }))),
    onSettled: () => client.invalidateQueries({ queryKey: ["alerts"] }),
  });
}
