import { describe, expect, it } from "vitest";
import { afterEdit, groundTruthAround, typedByHand, type Suggestion } from "./suggestion";

const shown: Suggestion = { text: "return a + b", at: 10, completion: "return a + b", queryId: "q", modelId: 5, shownAt: 0 };

describe("a suggestion under typing", () => {
  it("shortens when the user types its next characters", () => {
    const result = afterEdit(shown, 10, 0, "ret");
    expect(result.kind).toBe("kept");
    expect(result.suggestion.text).toBe("urn a + b");
    expect(result.suggestion.at).toBe(13);
    expect(typedByHand(result.suggestion)).toBe(3);
  });

  it("is rejected by a different character, a deletion or an edit elsewhere", () => {
    expect(afterEdit(shown, 10, 0, "x").kind).toBe("rejected");
    expect(afterEdit(shown, 9, 1, "").kind).toBe("rejected");
    expect(afterEdit(shown, 3, 0, "r").kind).toBe("rejected");
  });

  it("is typed out when the user types all of it", () => {
    const result = afterEdit(shown, 10, 0, "return a + b");
    expect(result.kind).toBe("typed-out");
    expect(typedByHand(result.suggestion)).toBe(12);
  });
});

describe("ground truth", () => {
  it("reads 32 characters either side of the insertion, clipped to the document", () => {
    const doc = "a".repeat(40) + "INSERTED" + "b".repeat(5);
    expect(groundTruthAround(doc, 40, 48)).toBe("a".repeat(32) + "INSERTED" + "bbbbb");
  });
});
