import { describe, expect, it } from "vitest";
import { languageOf } from "./languages";
import { colourOf, sanitisePresence } from "./room";

describe("a collaborator's announced presence", () => {
  it("keeps hex colours and a bounded name", () => {
    const state = { user: { name: "Ada", color: "#1f77b4", colorLight: "#1f77b433" } };
    sanitisePresence(state);
    expect(state.user).toEqual({ name: "Ada", color: "#1f77b4", colorLight: "#1f77b433" });
  });

  it("replaces CSS smuggled in as a colour and cuts a long name", () => {
    const state = { user: { name: "x".repeat(500), color: "red;position:fixed;inset:0", colorLight: "url(/x)" } };
    sanitisePresence(state);
    expect(state.user.color).toBe("#555555");
    expect(state.user.colorLight).toBe("#55555533");
    expect(state.user.name).toHaveLength(64);
  });

  it("gives a user the same colour everywhere", () => {
    expect(colourOf("0b7c8a2e")).toBe(colourOf("0b7c8a2e"));
    expect(colourOf("0b7c8a2e")).toMatch(/^#[0-9a-f]{6}$/);
  });
});

describe("a file's language", () => {
  it("comes from its extension, and names of Object's members are plain text", () => {
    expect(languageOf("src/main.py").languageId).toBe(47);
    expect(languageOf("lib.rs").name).toBe("rust");
    expect(languageOf("x.constructor").name).toBe("text");
    expect(languageOf("x.__proto__").name).toBe("text");
    expect(languageOf(".gitignore").name).toBe("text");
  });
});
