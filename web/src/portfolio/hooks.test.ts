import { describe, expect, it } from "vitest";
import { parseRefs } from "./hooks";

describe("bulk add", () => {
  it("tells BBLs, BINs and addresses apart, one per line", () => {
    expect(parseRefs("1000010001\n 1-00001-0002 \n1000001\n100 BROADWAY\n\n")).toEqual({
      bbls: ["1000010001", "1000010002"],
      bins: ["1000001"],
      addresses: ["100 BROADWAY"],
    });
  });
});
