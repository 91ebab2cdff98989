#!/usr/bin/env python3
"""The architecture gate `./test.sh` runs before the suites (seconds, no compiler needed).

Checks what ARCHITECTURE.md promises about the crates' insides, so the layout cannot rot silently:
  1. no import cycle between the modules (files) of `server` and `worker`;
  2. the server's layers only look down: routes/http -> services -> pipeline/db -> analytics ->
     contract (http is plumbing beside routes; nothing imports a layer above its own);
  3. every SQL statement of the server lives under `server/src/db/`;
  4. no two types under `server/src/contract/` share a name (the OpenAPI document keys schemas by it).

A module's imports are the `crate::…`, `super::…` and `self::…` paths in its file (use lines and inline
paths), resolved to the deepest module file that exists. `mod x;` declarations are containment, not
imports. Exits non-zero with one line per violation.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent if len(sys.argv) < 2 else Path(sys.argv[1]).resolve()

# Layer order of the server, top to bottom; a module may import its own layer or lower ones only.
# `http` sits beside `routes`: routes and the router use it, nothing below does. `pipeline` (the
# queue client) sits beside `db` under the services; `analytics` (statistics) is below both, and
# `contract` (what the wire says) is the floor every layer may use and which imports none of them.
SERVER_LAYERS = {"routes": 4, "http": 4, "services": 3, "pipeline": 2, "db": 2, "analytics": 1, "contract": 0}
SQL_CALL = re.compile(r"\bsqlx::(query|query_as|query_scalar|query_with|query_as_with|raw_sql)\b|\bQueryBuilder\b|\bsqlx::(query|query_as|query_scalar)!")
PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+|::\{)")


CONTRACT_TYPE = re.compile(r"^pub (?:struct|enum) ([A-Za-z0-9_]+)", re.M)


def module_of(src: Path, file: Path) -> tuple[str, ...]:
    """`server/src/services/chat.rs` -> ("services", "chat"); `mod.rs`/`lib.rs`/`main.rs` name their folder."""
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] == "mod" or (len(parts) == 1 and parts[0] in ("lib", "main")):
        parts = parts[:-1]
    return tuple(parts)


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def expand_groups(text: str) -> list[str]:
    """Turns `use crate::a::{b, c::{d, e}}` into `crate::a::b`, `crate::a::c::d`, `crate::a::c::e`."""
    paths = []
    for match in re.finditer(r"\buse\s+([^;]+);", text):
        paths.extend(_expand(match.group(1).replace("\n", " ").strip()))
    return paths


def _expand(tree: str) -> list[str]:
    tree = tree.strip()
    if "{" not in tree:
        return [tree.split(" as ")[0].strip()]
    head, rest = tree.split("{", 1)
    inner = rest[: rest.rfind("}")]
    out, depth, item = [], 0, ""
    for ch in inner + ",":
        if ch == "," and depth == 0:
            if item.strip():
                out.extend(head + sub for sub in _expand(item))
            item = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        item += ch
    return out


def resolve(module: tuple[str, ...], path: str, modules: set[tuple[str, ...]]) -> tuple[str, ...] | None:
    segments = path.split("::")
    anchor, rest = segments[0], [s for s in segments[1:] if s and s != "*"]
    # `self` is the module itself and `super` its parent, whether it lives in `x.rs` or `x/mod.rs`.
    if anchor == "crate":
        base: list[str] = []
    elif anchor == "self":
        base = list(module)
    else:
        base = list(module[:-1])
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    full = base + rest
    for length in range(len(full), 0, -1):
        if tuple(full[:length]) in modules:
            return tuple(full[:length])
    return None


def graph(src: Path) -> tuple[dict[tuple[str, ...], set[tuple[str, ...]]], dict[tuple[str, ...], Path]]:
    files = {module_of(src, f): f for f in src.rglob("*.rs") if "bin" not in f.relative_to(src).parts}
    modules = set(files)
    edges: dict[tuple[str, ...], set[tuple[str, ...]]] = {m: set() for m in files}
    for module, file in files.items():
        # Unit-test modules sit at the end of their file and see it as `super`: not the file's imports.
        text = strip_comments(file.read_text()).split("#[cfg(test)]", 1)[0]
        paths = expand_groups(text) + [m.group(0) for m in PATH.finditer(re.sub(r"\buse\s+[^;]+;", "", text))]
        for path in paths:
            if not re.match(r"(crate|super|self)\b", path):
                continue
            target = resolve(module, path, modules)
            if target is None or target == module:
                continue
            # A parent naming its own child (re-exports of what it contains) is still an import;
            # but the crate root (lib.rs) only declares modules.
            if module == ():
                continue
            edges[module].add(target)
    return edges, files


def cycles(edges: dict[tuple[str, ...], set[tuple[str, ...]]]) -> list[list[tuple[str, ...]]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[tuple[str, ...], int] = {}
    low: dict[tuple[str, ...], int] = {}
    stack: list[tuple[str, ...]] = []
    on_stack: set[tuple[str, ...]] = set()
    found = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(node: tuple[str, ...]) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for succ in edges.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def all_cycles(edges: dict[tuple[str, ...], set[tuple[str, ...]]]) -> list[list[tuple[str, ...]]]:
    """Cycles between files, and between folders seen from outside: `websocket` -> `routes::chat`
    and `routes::ws` -> `websocket` is a cycle between `websocket` and `routes` even though no two
    files import each other. Each depth collapses deeper modules into their ancestor at that depth."""
    found: list[list[tuple[str, ...]]] = []
    depth = max((len(m) for m in edges), default=0)
    for level in range(1, depth + 1):
        collapsed: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
        for source, targets in edges.items():
            node = source[:level]
            collapsed.setdefault(node, set()).update(t[:level] for t in targets if t[:level] != node)
        for component in cycles(collapsed):
            if component not in found:
                found.append(component)
    return found


def name(module: tuple[str, ...]) -> str:
    return "::".join(module) or "crate"


def main() -> int:
    problems = []
    for crate in ("server", "worker"):
        edges, _ = graph(ROOT / crate / "src")
        for component in all_cycles(edges):
            problems.append(f"{crate}: import cycle between {', '.join(name(m) for m in component)}")

    edges, files = graph(ROOT / "server" / "src")
    for module, targets in edges.items():
        layer = SERVER_LAYERS.get(module[0]) if module else None
        if layer is None:
            continue
        for target in targets:
            target_layer = SERVER_LAYERS.get(target[0]) if target else None
            if target_layer is not None and target_layer > layer:
                problems.append(f"server: {files[module].relative_to(ROOT)} ({module[0]}) imports {name(target)} ({target[0]}), a layer above")

    for file in sorted((ROOT / "server" / "src").rglob("*.rs")):
        relative = file.relative_to(ROOT / "server" / "src")
        if relative.parts[0] == "db":
            continue
        for number, line in enumerate(strip_comments(file.read_text()).splitlines(), 1):
            if SQL_CALL.search(line):
                problems.append(f"server: SQL outside server/src/db/: {file.relative_to(ROOT)}:{number}")

    # The OpenAPI document names each schema after its Rust type alone: two contract types of one
    # name would silently replace each other's schema.
    defined: dict[str, Path] = {}
    for file in sorted((ROOT / "server" / "src" / "contract").rglob("*.rs")):
        for match in CONTRACT_TYPE.finditer(strip_comments(file.read_text())):
            type_name = match.group(1)
            if type_name in defined:
                problems.append(
                    f"server: contract type {type_name} is defined in {defined[type_name].relative_to(ROOT)} and "
                    f"{file.relative_to(ROOT)} (one OpenAPI schema name for two types)"
                )
            defined.setdefault(type_name, file)

    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} architecture violation(s); see ARCHITECTURE.md (Code map, Invariants)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
