import { describe, expect, it } from "vitest";
import { toastEdge } from "./toastEdge";

describe("toastEdge", () => {
  it("keeps the toasts at the bottom when nothing is in use or it is out of sight", () => {
    expect(toastEdge(null, 844)).toBe("bottom");
    expect(toastEdge({ top: -80, bottom: -50 }, 844)).toBe("bottom"); // scrolled away above
    expect(toastEdge({ top: 900, bottom: 930 }, 844)).toBe("bottom"); // below the screen
  });

  it("keeps them at the bottom for a control in the upper half", () => {
    expect(toastEdge({ top: 100, bottom: 130 }, 844)).toBe("bottom");
    expect(toastEdge({ top: 400, bottom: 440 }, 844)).toBe("bottom"); // its middle at the middle
  });

  it("moves them to the top for a control in the lower half, as a submit button at the bottom edge", () => {
    expect(toastEdge({ top: 790, bottom: 818 }, 844)).toBe("top");
    expect(toastEdge({ top: 430, bottom: 460 }, 844)).toBe("top");
    expect(toastEdge({ top: 820, bottom: 870 }, 844)).toBe("top"); // partly in sight
  });
});
