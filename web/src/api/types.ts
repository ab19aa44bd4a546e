// Types of /v1. Where the OpenAPI names a response model it comes from schema.d.ts (generated from a running
// app's /openapi.json by `npm run api-types`); the dict-shaped responses are written out here.
import type { components } from "./schema";

type S = components["schemas"];
export type Me = S["Me"];
export type Portfolio = S["Portfolio"];
export type BuildingChange = S["BuildingChange"];
export type BuildingRefs = S["BuildingRefs"];
export type RiskScore = S["RiskScore"];
export type Rule = S["Rule"];
export type RuleBody = S["RuleBody"];
export type DryRunResult = S["DryRunResult"];
export type ApiKeyInfo = S["ApiKeyInfo"];
export type ApiKeyCreated = S["ApiKeyCreated"];
export type ApiKeyCreate = S["ApiKeyCreate"];
export type User = S["User"];
export type UserCreate = S["UserCreate"];
export type Organization = S["Organization"];

export type Trend = "up" | "down" | "flat";

export interface RollupBuilding {
  bbl: string;
  bin: string | null;
  address: string | null;
  borough: number | null;
  latitude: number | null;
  longitude: number | null;
  overall: number | null;
  safety: number | null;
  legal: number | null;
  financial: number | null;
  trend: Trend | null;
  open_violations: number;
  open_class_c: number;
  balance: number | string | null;
  overdue_deadlines: number | null;
  next_deadline: string | null;
}

export interface Rollup {
  id: number;
  name: string;
  summary: {
    buildings: number;
    scored_buildings: number;
    open_violations: number;
    open_class_c: number;
    overdue_deadlines: number;
    penalty_balance: number | string;
    violations_with_unknown_amounts: number;
    next_deadline: string | null;
  };
  buildings: RollupBuilding[];
}

export interface Trends {
  open_by_month: { month_end: string; open: number }[];
  open_by_source_class: { source: string; class: string; open: number }[];
  upcoming_deadlines: number;
  upcoming_days: number;
}

export interface SearchResult {
  bbl: string;
  borough: number;
  address: string | null;
  zip: string | null;
}

export interface Deadline {
  source: string;
  source_id: string;
  class: string | null;
  description: string | null;
  deadline: string;
  due: string;
  days: number;
}

export interface PropertyPage {
  bbl: string;
  attributes: {
    address: string | null;
    zip: string | null;
    borough: number;
    units_res: number | null;
    num_floors: number | null;
    year_built: number | null;
    bldg_class: string | null;
    owner_name: string | null;
  } | null;
  buildings: { bin: string }[];
  open_violations: { total: number; by_source: { source: string; open: number; by_class: Record<string, number> }[] };
  deadlines: { upcoming: Deadline[]; overdue: Deadline[] };
  penalties: {
    totals: { imposed: number | string; paid: number | string; balance: number | string; violations_with_unknown_amounts: number };
  };
  data_freshness: {
    dataset: string;
    source_updated_through: string | null;
    last_committed_at: string | null;
    complete: boolean;
    last_run_finished_at: string | null;
  }[];
}

export interface ScoreHistory {
  history: { as_of: string; overall: number; safety: number; legal: number; financial: number }[];
}

export interface Violation {
  id: number;
  source: string;
  class: string | null;
  description: string | null;
  status: string;
  issued_date: string | null;
  status_date: string | null;
  certify_by_date: string | null;
  correct_by_date: string | null;
  hearing_date: string | null;
}

export interface Complaint {
  id: number;
  source: string;
  category: string | null;
  subcategory: string | null;
  status: string;
  received_date: string | null;
  closed_date: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Alert {
  id: number;
  rule_id: number;
  bbl: string | null;
  title: string;
  payload: { record?: { severity?: string } } & Record<string, unknown>;
  created_at: string;
  acknowledged_at: string | null;
  kind?: "event" | "baseline";
  note?: string | null;
}
