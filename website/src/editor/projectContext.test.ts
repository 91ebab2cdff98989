import { describe, expect, it } from "vitest";
import { ContextMirror } from "./projectContext";

describe("the multi-file context mirror", () => {
  it("sends a file whole the first time, then only when it changed, replacing the lines it sent", () => {
    const mirror = new ContextMirror();
    const files = new Map([["a.py", "x = 1\ny = 2"]]);
    const first = mirror.updates(files);
    expect(first).toEqual({ "a.py": [{ change_type: "update", start_line: 0, end_line: 0, new_lines: ["x = 1", "y = 2"] }] });
    mirror.sentUpdates(files, first);
    expect(mirror.updates(files)).toEqual({});
    files.set("a.py", "x = 1\ny = 2\nz = 3");
    expect(mirror.updates(files)["a.py"][0]).toMatchObject({ start_line: 0, end_line: 2, new_lines: ["x = 1", "y = 2", "z = 3"] });
  });

  it("does not record updates that were never sent", () => {
    const mirror = new ContextMirror();
    const files = new Map([["b.go", "package main"]]);
    mirror.updates(files);
    expect(Object.keys(mirror.updates(files))).toEqual(["b.go"]);
  });
});
