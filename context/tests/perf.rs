//! The analysis of a 2,000-line file per language: checks it still finds the caret's method at the
//! end of a long file, and prints how long it took (`cargo test -p code4me-context --test perf --
//! --nocapture`). Deliberately not a timing assertion: CI machines are shared and slow.

use std::time::Instant;

use code4me_context::{Language, analyze};

/// One definition per language, `{n}` replaced by a counter so names differ; each ~10 lines.
fn block(lang: Language, n: usize) -> String {
    let template = match lang {
        Language::Python => {
            "class Service{n}:\n    def run(self, items, limit={n}):\n        total = 0\n        for item in items:\n            \
             total += item.size\n        if total > limit:\n            return None\n        return total\n\n\n"
        }
        Language::JavaScript => {
            "class Service{n} {\n  run(items, limit = {n}) {\n    let total = 0;\n    for (const item of items) {\n      \
             total += item.size;\n    }\n    if (total > limit) { return null; }\n    return total;\n  }\n}\n"
        }
        Language::TypeScript => {
            "class Service{n} {\n  run(items: Item[], limit = {n}): number | null {\n    let total = 0;\n    for (const item of items) {\n      \
             total += item.size;\n    }\n    if (total > limit) { return null; }\n    return total;\n  }\n}\n"
        }
        Language::Java => {
            "class Service{n} {\n  Integer run(List<Item> items, int limit) {\n    int total = 0;\n    for (Item item : items) {\n      \
             total += item.size();\n    }\n    if (total > limit) { return null; }\n    return total;\n  }\n}\n"
        }
        Language::Rust => {
            "struct Service{n};\nimpl Service{n} {\n    fn run(&self, items: &[Item], limit: u64) -> Option<u64> {\n        \
             let mut total = 0;\n        for item in items {\n            total += item.size;\n        }\n        \
             if total > limit { return None; }\n        Some(total)\n    }\n}\n"
        }
        Language::Go => {
            "type Service{n} struct{}\n\nfunc (s *Service{n}) Run(items []Item, limit int) *int {\n\ttotal := 0\n\t\
             for _, item := range items {\n\t\ttotal += item.Size\n\t}\n\tif total > limit {\n\t\treturn nil\n\t}\n\treturn &total\n}\n"
        }
    };
    template.replace("{n}", &n.to_string())
}

/// A 2,000-line file: a header, definitions, and last an unfinished method holding the caret.
fn file(lang: Language) -> (String, &'static str) {
    let (header, tail, function) = match lang {
        Language::Python => (
            "import os\nfrom typing import List\n\n",
            "class Last:\n    def finish(self, rows):\n        done = []\n        for row in rows:\n            ",
            "def finish(self, rows):",
        ),
        Language::JavaScript => (
            "import fs from 'fs';\n\n",
            "class Last {\n  finish(rows) {\n    const done = [];\n    for (const row of rows) {\n      done.",
            "finish(rows)",
        ),
        Language::TypeScript => (
            "import * as fs from 'fs';\n\n",
            "class Last {\n  finish(rows: Row[]): void {\n    const done: Row[] = [];\n    for (const row of rows) {\n      done.",
            "finish(rows: Row[]): void",
        ),
        Language::Java => (
            "package p;\n\nimport java.util.List;\n\n",
            "class Last {\n  void finish(List<Row> rows) {\n    var done = new ArrayList<Row>();\n    for (Row row : rows) {\n      done.",
            "void finish(List<Row> rows)",
        ),
        Language::Rust => (
            "use std::io;\n\n",
            "struct Last;\nimpl Last {\n    fn finish(&self, rows: &[Row]) {\n        let mut done = Vec::new();\n        for row in rows {\n            done.",
            "fn finish(&self, rows: &[Row])",
        ),
        Language::Go => (
            "package p\n\nimport \"fmt\"\n\n",
            "type Last struct{}\n\nfunc (l *Last) Finish(rows []Row) {\n\tdone := []Row{}\n\tfor _, row := range rows {\n\t\tdone = append(done, ",
            "func (l *Last) Finish(rows []Row)",
        ),
    };
    let mut source = header.to_owned();
    let mut n = 0;
    while source.lines().count() + tail.lines().count() < 2000 {
        source.push_str(&block(lang, n));
        n += 1;
    }
    source.push_str(tail);
    (source, function)
}

#[test]
fn a_2000_line_file_per_language() {
    for lang in Language::ALL {
        let (source, function) = file(lang);
        let lines = source.lines().count();
        assert!((2000..2020).contains(&lines), "{lang:?}: {lines} lines");
        let started = Instant::now();
        let ctx = analyze(Some(lang), &source, usize::MAX, usize::MAX);
        let took = started.elapsed();
        eprintln!("{lang:?}: {lines} lines, {} KiB: {took:?}", source.len() / 1024);
        assert_eq!(ctx.enclosing_function.as_deref(), Some(function), "{lang:?}");
        assert_eq!(ctx.enclosing_class.as_deref(), Some("Last"), "{lang:?}");
        assert!(ctx.variables_in_scope.iter().any(|v| v == "done"), "{lang:?}: {:?}", ctx.variables_in_scope);
        assert_eq!(ctx.imports.len(), 1 + usize::from(lang == Language::Python), "{lang:?}: {:?}", ctx.imports);
    }
}
