import { describe, expect, it } from "vitest";
import type { Rule } from "../api/types";
import { fromRule, toBody } from "./hooks";

describe("rule form", () => {
  it("keeps what it has no field for when a rule is edited", () => {
    const rule = {
      id: 1, name: "New Class C violation", created_at: "", updated_at: "", enabled: true, delivery: "immediate",
      cooldown_minutes: 0, quiet_hours: null, scope: { type: "organization" },
      condition: { type: "new_violation", sources: ["HPD"], classes: ["C"], severities: [], categories: [] },
      channels: [{ kind: "email", target: "a@b.test" }, { kind: "console", target: "demo" }],
    } as unknown as Rule;
    const form = { ...fromRule(rule), classes: "C, B" };
    const body = toBody(form);
    expect(body.condition).toMatchObject({ type: "new_violation", sources: ["HPD"], classes: ["C", "B"] });
    expect(body.channels).toEqual(rule.channels);
    expect(toBody({ ...form, type: "deadline_overdue" }).condition).not.toHaveProperty("sources");
  });
});
