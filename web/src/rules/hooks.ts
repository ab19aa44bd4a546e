import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import type { DryRunResult, Rule, RuleBody } from "../api/types";

export const useRules = () => useQuery({ queryKey: ["rules"], queryFn: () => api<Rule[]>("/v1/alert-rules") });

export const useDryRun = () =>
  useMutation({ mutationFn: (body: RuleBody) => api<DryRunResult>("/v1/alert-rules/dry-run", { method: "POST", body }) });

export function useSaveRule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, body }: { id: number | null; body: RuleBody }) =>
      id === null
        ? api<Rule>("/v1/alert-rules", { method: "POST", body })
        : api<Rule>(`/v1/alert-rules/${id}`, { method: "PUT", body }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["rules"] }),
  });
}

/** The form's flat fields; `toBody` builds the API's tagged condition and scope from them. */
export interface RuleForm {
  name: string;
  type: string;
  classes: string;
  withinDays: number;
  amount: number;
  crossesAbove: number;
  scope: "organization" | "portfolio";
  portfolioId: number | null;
  channel: "" | "email" | "sms" | "slack" | "webhook";
  target: string;
  delivery: "immediate" | "hourly" | "daily";
  quietFrom: string;
  quietTo: string;
  enabled: boolean;
  cooldownMinutes: number;
  // What the form has no field for is kept as it was, so editing a rule never drops part of it.
  keptCondition: Record<string, unknown>;
  keptChannels: RuleBody["channels"];
}

export const EMPTY_FORM: RuleForm = {
  name: "",
  type: "new_violation",
  classes: "",
  withinDays: 7,
  amount: 1000,
  crossesAbove: 80,
  scope: "organization",
  portfolioId: null,
  channel: "",
  target: "",
  delivery: "immediate",
  quietFrom: "",
  quietTo: "",
  enabled: true,
  cooldownMinutes: 0,
  keptCondition: {},
  keptChannels: [],
};

const FORM_FIELDS = ["type", "classes", "within_days", "amount", "crosses_above"];

export function toBody(f: RuleForm): RuleBody {
  const classes = f.classes.split(",").map((c) => c.trim().toUpperCase()).filter(Boolean);
  const kept = f.keptCondition.type === f.type ? f.keptCondition : {};
  let condition: Record<string, unknown> = { ...kept, type: f.type };
  if (["new_violation", "violation_status_change", "deadline_overdue"].includes(f.type)) condition.classes = classes;
  if (f.type === "deadline_approaching") condition = { ...condition, classes, within_days: f.withinDays };
  if (f.type === "penalty_balance_above") condition.amount = f.amount;
  if (f.type === "risk_score") condition.crosses_above = f.crossesAbove;
  return {
    name: f.name,
    condition: condition as RuleBody["condition"],
    scope:
      f.scope === "portfolio" && f.portfolioId !== null
        ? { type: "portfolio", portfolio_ids: [f.portfolioId] }
        : { type: "organization" },
    channels: [...(f.channel ? [{ kind: f.channel, target: f.target }] : []), ...(f.keptChannels ?? [])],
    delivery: f.delivery,
    quiet_hours: f.quietFrom && f.quietTo ? { start: f.quietFrom, end: f.quietTo } : null,
    enabled: f.enabled,
    cooldown_minutes: f.cooldownMinutes,
  };
}

export function fromRule(r: Rule): RuleForm {
  const c = r.condition as Record<string, unknown>;
  const s = r.scope as { type: string; portfolio_ids?: number[] };
  const ch = r.channels?.[0];
  return {
    ...EMPTY_FORM,
    name: r.name,
    type: String(c.type),
    classes: Array.isArray(c.classes) ? (c.classes as string[]).join(", ") : "",
    withinDays: Number(c.within_days ?? 7),
    amount: Number(c.amount ?? 1000),
    crossesAbove: Number(c.crosses_above ?? 80),
    scope: s.type === "portfolio" ? "portfolio" : "organization",
    portfolioId: s.portfolio_ids?.[0] ?? null,
    channel: (ch?.kind as RuleForm["channel"]) ?? "",
    target: ch?.target ?? "",
    delivery: r.delivery ?? "immediate",
    quietFrom: r.quiet_hours?.start?.slice(0, 5) ?? "",
    quietTo: r.quiet_hours?.end?.slice(0, 5) ?? "",
    enabled: r.enabled ?? true,
    cooldownMinutes: r.cooldown_minutes ?? 0,
    keptCondition: Object.fromEntries(Object.entries(c).filter(([k]) => k === "type" || !FORM_FIELDS.includes(k))),
    keptChannels: r.channels?.slice(1) ?? [],
  };
}
