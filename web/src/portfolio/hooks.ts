import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import type { BuildingChange, BuildingRefs, Portfolio, Rollup, Trends } from "../api/types";

export const usePortfolios = () => useQuery({ queryKey: ["portfolios"], queryFn: () => api<Portfolio[]>("/v1/portfolios") });

export const useRollup = (id: number | undefined) =>
  useQuery({ queryKey: ["portfolio", id], queryFn: () => api<Rollup>(`/v1/portfolios/${id}`), enabled: id !== undefined });

export const useTrends = (id: number | undefined) =>
  useQuery({
    queryKey: ["portfolio", id, "trends"],
    queryFn: () => api<Trends>(`/v1/portfolios/${id}/trends`),
    enabled: id !== undefined,
  });

export function useCreatePortfolio() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => api<Portfolio>("/v1/portfolios", { method: "POST", body: { name } }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["portfolios"] }),
  });
}

export function useAddBuildings(id: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (refs: BuildingRefs) =>
      api<BuildingChange>(`/v1/portfolios/${id}/buildings`, { method: "POST", body: refs }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["portfolio", id] });
      void client.invalidateQueries({ queryKey: ["portfolios"] });
    },
  });
}

/** Splits pasted lines into BBLs (10 digits), BINs (7 digits) and addresses. */
export function parseRefs(text: string): BuildingRefs {
  const refs: BuildingRefs = { bbls: [], bins: [], addresses: [] };
  for (const raw of text.split(/[\n;]+/)) {
    const line = raw.trim();
    if (!line) continue;
    const digits = line.replace(/[\s-]/g, "");
    if (/^[1-5]\d{9}$/.test(digits)) refs.bbls!.push(digits);
    else if (/^[1-5]\d{6}$/.test(digits)) refs.bins!.push(digits);
    else refs.addresses!.push(line);
  }
  return refs;
}
