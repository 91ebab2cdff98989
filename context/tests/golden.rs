//! Golden tests: realistic snippets per language, the caret in the middle of a method with unfinished
//! code at it, the whole `CodeContext` compared (by hand-checked snapshots under `snapshots/`, or
//! explicitly). Each snapshot also records the caret's line, so a reviewer sees what was analysed.

use code4me_context::{CodeContext, Language, analyze, comment_prefix};

/// Where `<CARET>` stands in `marked` (0-based line, column in characters), and the text without it.
fn caret(marked: &str) -> (String, usize, usize) {
    let at = marked.find("<CARET>").expect("snippet has a <CARET>");
    let before = &marked[..at];
    let line = before.matches('\n').count();
    let column = before.rsplit('\n').next().unwrap_or("").chars().count();
    (marked.replacen("<CARET>", "", 1), line, column)
}

/// A snapshot: the caret's line (caret shown as `‸`), the analysis, its description.
#[derive(serde::Serialize)]
struct Golden {
    caret_line: String,
    context: CodeContext,
    describe: String,
}

fn golden(lang: Language, marked: &str) -> Golden {
    let (source, line, column) = caret(marked);
    let context = analyze(Some(lang), &source, line, column);
    let caret_line = marked.lines().find(|l| l.contains("<CARET>")).unwrap_or("").replace("<CARET>", "‸");
    Golden { caret_line, describe: context.describe(), context }
}

const FIBONACCI: &str = "import math
from typing import List

class MathUtils:
    def fibonacci(self, n: int) -> int:
        if n <= 1:
            return n
        a, b = 0, 1
        for i in range(n):
            ";

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn python_fibonacci() {
    let expected = CodeContext {
        language: Some("python"),
        enclosing_function: Some("def fibonacci(self, n: int) -> int:".to_owned()),
        enclosing_class: Some("MathUtils".to_owned()),
        imports: strings(&["import math", "from typing import List"]),
        variables_in_scope: strings(&["self", "n", "a", "b", "i"]),
    };
    let ctx = analyze(Some(Language::Python), FIBONACCI, 9, 12);
    assert_eq!(ctx, expected);
    assert_eq!(ctx.describe(), "in function `def fibonacci(self, n: int) -> int:` of class `MathUtils`; 2 imports; in scope: self, n, a, b, i");
    assert_eq!(
        ctx.prompt_header(comment_prefix(Some(Language::Python))),
        "# Language: python\n# Enclosing class: MathUtils\n# Enclosing function: def fibonacci(self, n: int) -> int:\n\
         # Imports: import math; from typing import List\n# In scope: self, n, a, b, i\n"
    );
    // Past the end of the file: clamped to its end, which is the same caret here.
    assert_eq!(analyze(Some(Language::Python), FIBONACCI, 10_000, 10_000), expected);
    // Past the end of the caret's line: clamped to the line's end.
    assert_eq!(analyze(Some(Language::Python), FIBONACCI, 9, 500), expected);
    // The same file ending in a newline, caret on the empty last line at column 0: that line is not
    // indented, so the caret is back at module level, where only the imports are known.
    let ended = format!("{FIBONACCI}\n");
    let module = analyze(Some(Language::Python), &ended, 10, 0);
    assert_eq!(module, CodeContext { language: Some("python"), imports: expected.imports.clone(), ..CodeContext::default() });
}

#[test]
fn python_caret_in_an_unfinished_return() {
    let ctx = analyze(Some(Language::Python), "def f(x):\n    y = 1\n    return ", 2, 11);
    assert_eq!(ctx.enclosing_function.as_deref(), Some("def f(x):"));
    assert_eq!(ctx.variables_in_scope, strings(&["x", "y"]));
}

const PYTHON_REPO: &str = r#"import os
import logging as log
CONFIG = {"debug": True}

def load(path):
    data = open(path).read()
    return data

class Repo:
    root = "/srv"

    def scan(self, pattern="*.py", *, depth: int = 2, **opts):
        found = []  # files { so far
        with os.scandir(self.root) as entries:
            for entry in entries:
                if (m := entry.name) and m.endswith(pattern):
                    found.append(entry)
        try:
            count = len(found)
        except TypeError as err:
            log.warning(err)
        self.cache = found
        def helper(a, *args, b: int = 2, **kw):
            inner = a
        key = lambda item: item.name
        first, *rest = sorted(found, key=key)
        result = self.filter(first, rest).<CARET>
        return result

    def filter(self, first, rest):
        from itertools import chain
        return list(chain([first], rest))

items = [load(p) for p in os.listdir(".")]
"#;

#[test]
fn python_method_with_code_after_the_caret() {
    insta::assert_json_snapshot!(golden(Language::Python, PYTHON_REPO));
}

#[test]
fn python_module_level_and_class_body() {
    // Between the class and the module-level assignment: no function, no class; module names only.
    let module = PYTHON_REPO.replace("<CARET>", "").replace("items = [", "<CARET>items = [");
    insta::assert_json_snapshot!("python_module_level", golden(Language::Python, &module));
    // In the class body between two methods (indented like the methods, so in neither of them).
    let body = PYTHON_REPO.replace("<CARET>", "").replace("    def filter(", "    <CARET>\n    def filter(");
    insta::assert_json_snapshot!("python_class_body", golden(Language::Python, &body));
}

#[test]
fn python_caret_in_a_comment_or_string() {
    // A caret inside a comment or a string literal is analysed from where that literal starts.
    let in_comment = PYTHON_REPO.replace("<CARET>", "").replace("# files { so far", "# files {<CARET> so far");
    let ctx = golden(Language::Python, &in_comment).context;
    assert_eq!(ctx.enclosing_function.as_deref(), Some("def scan(self, pattern=\"*.py\", *, depth: int = 2, **opts):"));
    assert_eq!(ctx.variables_in_scope, strings(&["self", "pattern", "depth", "opts", "found"]));
    let in_string = PYTHON_REPO.replace("<CARET>", "").replace("\"/srv\"", "\"/s<CARET>rv\"");
    let ctx = golden(Language::Python, &in_string).context;
    assert_eq!((ctx.enclosing_function, ctx.enclosing_class.as_deref()), (None, Some("Repo")));
    assert_eq!(ctx.variables_in_scope, strings(&["CONFIG"]), "root is not bound before its own value");
}

const JAVASCRIPT: &str = r#"import React, { useState } from 'react';
import * as api from "./api";
const BASE = '/items';

export function useItems(filter, { limit = 10, sort: order } = {}) {
  const [items, setItems] = useState([]);
  let total = 0;
  for (const item of items) {
    const size = item.size;
    total += size;
  }
  const visible = items.filter((it, idx) => {
    const ok = it.kind === filter && idx < limit;
    return ok && it.<CARET>"#;

#[test]
fn javascript_callback_in_a_function() {
    insta::assert_json_snapshot!(golden(Language::JavaScript, JAVASCRIPT));
}

const JAVASCRIPT_CLASS: &str = r#"import fs from 'fs';
import { join } from "path";

class Greeter extends Base {
  constructor(name) {
    super();
    this.name = name;
  }

  greet(prefix, suffix = '!') {
    const message = prefix + this.name;
    let count = 0;
    try {
      count = fs.readFileSync(join('a', 'b')).length;
    } catch (err) {
      count = -1;
    }
    return mess<CARET>
  }

  static create = (opts) => new Greeter(opts.name);
}
"#;

#[test]
fn javascript_class_method_with_code_after_the_caret() {
    insta::assert_json_snapshot!(golden(Language::JavaScript, JAVASCRIPT_CLASS));
}

const TYPESCRIPT: &str = r#"import { Injectable } from '@angular/core';
import type { User } from './model';

interface Cache<T> { get(key: string): T | undefined; }

@Injectable()
export class UserService<T extends User> {
  private cache = new Map<string, T>();

  async findUser(id: string, opts?: { deep: boolean }, ...rest: number[]): Promise<T | undefined> {
    const key = `user:${id}`;
    const { deep = false, depth: d } = opts ?? {};
    let [first, , third] = rest;
    const fmt = (s: string): string => s.trim();
    if (deep) {
      const nested = await this.load(key);
    }
    return this.cache.<CARET>"#;

#[test]
fn typescript_async_method() {
    insta::assert_json_snapshot!(golden(Language::TypeScript, TYPESCRIPT));
}

const JAVA: &str = r#"package com.example.shop;

import java.util.List;
import java.util.Map;
import static java.lang.Math.max;

public class OrderService {
    private final Map<String, Integer> stock;

    public OrderService(Map<String, Integer> stock) {
        this.stock = stock;
    }

    @Override
    public int totalPrice(List<Item> items, int discount) throws PricingException {
        int total = 0;
        for (Item item : items) {
            int price = item.price() * item.quantity();
            total += price;
        }
        String currency = "EUR", label;
        items.forEach(it -> log(it));
        return max(total - discount, 0).<CARET>"#;

#[test]
fn java_method_in_a_class() {
    insta::assert_json_snapshot!(golden(Language::Java, JAVA));
}

const RUST: &str = r#"use std::collections::HashMap;
use std::io::{self, Read};

pub struct Tokenizer {
    vocab: HashMap<String, u32>,
}

impl<'a, R: Read> Iterator for Tokenizer<R> {
    /// Splits the input.
    pub fn tokenize(&self, input: &str, mut limit: usize) -> Result<Vec<u32>, io::Error> {
        let mut ids = Vec::new();
        let (head, tail) = input.split_at(1);
        for (i, word) in input.split_whitespace().enumerate() {
            let id = self.vocab.get(word);
        }
        if let Some(Point { x, y: py }) = self.origin() {
            ids.push(x + py);
        }
        let Some(first) = ids.first().copied() else { return Ok(ids) };
        let add = |a: u32, b| a + b;
        match self.mode {
            Mode::Fast(ref speed) if *speed > 1 => {
                let boosted = speed * 2;
                ids.push(self.vocab.get(<CARET>"#;

#[test]
fn rust_method_in_a_trait_impl() {
    insta::assert_json_snapshot!(golden(Language::Rust, RUST));
}

const GO: &str = r#"package server

import (
	"fmt"
	str "strings"
)

import "os"

type Server struct {
	name string
}

func (s *Server) Handle(w io.Writer, path string, retries ...int) (n int, err error) {
	prefix := "/api"
	var count, limit int = 0, 10
	for i, seg := range str.Split(path, "/") {
		x := i
	}
	if ok := true; ok {
	}
	handler := func(code int) {}
	fmt.Fprintf(w, "%s", <CARET>"#;

#[test]
fn go_method_with_receiver() {
    insta::assert_json_snapshot!(golden(Language::Go, GO));
}

#[test]
fn unknown_language_is_plain_text() {
    assert_eq!(analyze(None, FIBONACCI, 9, 12), CodeContext::default());
    assert_eq!(analyze(Language::from_name("cobol"), FIBONACCI, 9, 12), CodeContext::default());
    assert_eq!(analyze(None, FIBONACCI, 9, 12).describe(), "");
    assert_eq!(analyze(None, FIBONACCI, 9, 12).prompt_header(comment_prefix(None)), "");
}

#[test]
fn empty_and_whitespace_sources_know_only_the_language() {
    for lang in Language::ALL {
        for source in ["", "\n\n", "   \t  "] {
            let ctx = analyze(Some(lang), source, 1, 3);
            assert_eq!(ctx, CodeContext { language: Some(lang.as_str()), ..CodeContext::default() }, "{lang:?} {source:?}");
            assert_eq!(ctx.describe(), "");
        }
    }
}

#[test]
fn closures_around_the_caret_add_their_parameters_closed_blocks_drop_their_names() {
    let cases: [(Language, &str, &str, &[&str]); 5] = [
        (
            Language::Rust,
            "fn run(xs: &[u32]) -> u32 {\n    if let Some(v) = xs.first() { }\n    let total = xs.iter().map(|x| {\n        let y = x * 2;\n        <CARET>",
            "fn run(xs: &[u32]) -> u32",
            &["xs", "x", "y"],
        ),
        (
            Language::Go,
            "func run(xs []int) {\n\tfor i := range xs {\n\t\t_ = i\n\t}\n\tgo func(n int) {\n\t\tdone := n\n\t\t<CARET>",
            "func run(xs []int)",
            &["xs", "n", "done"],
        ),
        (
            Language::Java,
            "class A {\n  void run(List<String> xs) {\n    for (String s : xs) { }\n    xs.forEach(x -> {\n      int n = x.length();\n      <CARET>",
            "void run(List<String> xs)",
            &["xs", "x", "n"],
        ),
        (
            Language::TypeScript,
            "function run(xs: number[]): void {\n  try { } catch (e) { }\n  xs.map(async (x, i) => {\n    const y = x + i;\n    <CARET>",
            "function run(xs: number[]): void",
            &["xs", "x", "i", "y"],
        ),
        (
            Language::Python,
            "def run(xs):\n    def helper(a):\n        b = a\n    key = lambda k: k\n    for x in xs:\n        y = x\n    <CARET>",
            "def run(xs):",
            &["xs", "key", "x", "y"],
        ),
    ];
    for (lang, marked, function, names) in cases {
        let ctx = golden(lang, marked).context;
        assert_eq!(ctx.enclosing_function.as_deref(), Some(function), "{lang:?}");
        assert_eq!(ctx.variables_in_scope, strings(names), "{lang:?}");
    }
}
