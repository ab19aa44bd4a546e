import { describe, expect, it } from "vitest";
import { timeline } from "./hooks";

describe("timeline", () => {
  it("lists issue, close and deadline dates of violations with complaints, newest first", () => {
    const events = timeline(
      [
        {
          id: 1, source: "HPD", class: "C", description: "NO HEAT", status: "closed", issued_date: "2026-01-05",
          status_date: "2026-02-01", certify_by_date: "2026-01-20", correct_by_date: null, hearing_date: null,
        },
      ],
      [{ id: 2, source: "311", category: "HEAT/HOT WATER", subcategory: null, status: "open", received_date: "2026-01-03", closed_date: null }],
    );
    expect(events.map((e) => [e.date, e.what])).toEqual([
      ["2026-02-01", "HPD class C violation closed"],
      ["2026-01-20", "HPD class C violation: certify-by deadline"],
      ["2026-01-05", "HPD class C violation issued"],
      ["2026-01-03", "311 complaint received"],
    ]);
  });
});
