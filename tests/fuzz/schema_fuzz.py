"""Schema-driven fuzzing with schemathesis against the server's own `/openapi.json`, as an anonymous
caller, as a user (the plugin's three cookies) and as an admin, with a fixed seed and a bounded
number of examples per operation. A run fails on any 5xx, any response whose status the document
does not list for the operation, and any response whose body, headers or content type do not
match it. `FUZZ_SCHEMATHESIS_STRICT=1` adds the request-side judges (see `STRICT_CHECKS`).

Exclusions (each with why):
- as the user and the admin, `PUT /api/session/deactivate` and `DELETE /api/user/delete`: they end
  the very account whose cookies the rest of the run uses; they run last, in a pass of their own,
  with a throw-away account's cookies (`destructive`), where any answer after the first is the
  signed-out one (401), which is documented too.
Nothing else is excluded: mails go to the log mailer, and an admin's config and study edits only
touch the throw-away database."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from common import Failures, Identity, Target, env_float, healthy, short

PROBE = "schemathesis"
HERE = Path(__file__).resolve().parent

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]
# With FUZZ_SCHEMATHESIS_STRICT=1, also: a schema-valid request the server refuses with 400/422, and
# a schema-invalid one it accepts. They judge how exact the request schemas are; they are opt-in
# because validation rules change with the server (a new bound lands before its schema does).
STRICT_CHECKS = ["positive_data_acceptance", "negative_data_rejection"]

DESTRUCTIVE = ["/api/session/deactivate", "/api/user/delete"]


def schemathesis(target: Target, failures: Failures, role: str, headers: dict[str, str], *, include: list[str] | None = None,
                 exclude: list[str] | None = None, max_examples: int, report_dir: Path, seed: int) -> None:
    """One schemathesis run; every failing operation becomes a failure line naming the role, the
    operation and the check (schemathesis prints the reproducing `curl` above)."""
    junit = report_dir / f"schemathesis-{role}.xml"
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", target.url("/openapi.json"),
        "--url", target.base_url,
        "--checks", ",".join(CHECKS + (STRICT_CHECKS if os.environ.get("FUZZ_SCHEMATHESIS_STRICT") == "1" else [])),
        "--seed", str(seed),
        "--max-examples", str(max_examples),
        "--phases", os.environ.get("FUZZ_SCHEMATHESIS_PHASES", "examples,coverage,fuzzing"),
        # One worker: hypothesis describes filters with `ast`, which Python 3.11 does not keep
        # thread-safe ("AST constructor recursion depth mismatch" with several workers).
        "--workers", os.environ.get("FUZZ_SCHEMATHESIS_WORKERS", "1"),
        "--request-timeout", str(env_float("FUZZ_REQUEST_TIMEOUT_SECONDS", 60)),
        "--generation-database", "none",
        "--suppress-health-check", "all",
        "--report", "junit", "--report-junit-path", str(junit),
        "--output-truncate", "true",
        "--no-color",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    for path in include or []:
        command += ["--include-path", path]
    # FUZZ_SCHEMATHESIS_EXCLUDE: comma-separated paths to leave out, to work past a known crash.
    for path in (exclude or []) + [p for p in os.environ.get("FUZZ_SCHEMATHESIS_EXCLUDE", "").split(",") if p]:
        command += ["--exclude-path", path]
    print(f"    schemathesis as {role}: {' '.join(c if ' ' not in c else repr(c) for c in command[3:])}", flush=True)
    completed = subprocess.run(command, cwd=report_dir, text=True, capture_output=True)
    log = report_dir / f"schemathesis-{role}.log"
    log.write_text(completed.stdout + completed.stderr)
    lines = [line.strip() for line in completed.stdout.splitlines() if line.strip()]
    closing = lines[-1].strip("= ") if lines else "no output"
    generated = next((line for line in lines if " generated" in line), "")
    print(f"    {closing}; {generated} (full output: {log})", flush=True)
    found = report(failures, role, junit)
    if completed.returncode != 0 and not found:
        failures.fail(PROBE, f"schemathesis as {role}", f"exited {completed.returncode}: {short(completed.stdout[-2000:] + completed.stderr[-2000:], 2000)}")
    elif completed.returncode == 0:
        failures.passed += 1


def report(failures: Failures, role: str, junit: Path) -> int:
    """Turns the JUnit report into one failure line per (operation, check)."""
    if not junit.exists():
        return 0
    found = 0
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        operation = case.get("name", "?")
        for problem in [*case.iter("failure"), *case.iter("error")]:
            text = (problem.text or problem.get("message") or "").strip()
            found += 1
            failures.fail(PROBE, f"as {role}: {operation}", short(" ".join(text.split()), 1500))
    return found


def run(target: Target, failures: Failures, user: Identity, admin: Identity, throwaway: list[Identity], report_dir: Path, seed: int) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    examples = int(env_float("FUZZ_MAX_EXAMPLES", 20))
    runs = [
        ("anonymous", {}, {"max_examples": examples}),
        ("user", user.headers(), {"exclude": DESTRUCTIVE, "max_examples": examples}),
        ("admin", admin.headers(), {"exclude": DESTRUCTIVE, "max_examples": examples}),
    ] + [(f"destructive-{i + 1}", account.headers(), {"include": DESTRUCTIVE[i:i + 1], "max_examples": 5}) for i, account in enumerate(throwaway)]
    for role, headers, options in runs:
        schemathesis(target, failures, role, headers, report_dir=report_dir, seed=seed, **options)
        ok, why = healthy(target)
        if not ok:
            # A crash: the requests that caused it are the last ones in the run's log.
            failures.fail(PROBE, f"as {role}", f"the server stopped answering ({why}); see {report_dir}/schemathesis-{role}.log")
            return
