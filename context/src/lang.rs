//! What each language's grammar calls its functions, classes, imports and binding sites (node kinds
//! read off the grammars' trees for sample snippets), and how names are pulled out of its parameter
//! lists and patterns.

use tree_sitter::Node;

use crate::Language;
use crate::analysis::{Flow, walk};

/// The node kinds the analysis treats alike across grammars.
pub(crate) struct Spec {
    /// Function-like nodes that have a name of their own: the candidates for `enclosing_function`.
    pub functions: &'static [&'static str],
    /// Anonymous function-like nodes (lambdas, closures, arrow functions): their parameters are in scope
    /// inside them, and in JavaScript/TypeScript they are named functions when assigned to a variable.
    pub closures: &'static [&'static str],
    /// Class-like nodes: the candidates for `enclosing_class`.
    pub classes: &'static [&'static str],
    /// Import statements.
    pub imports: &'static [&'static str],
    /// Nodes that open a block scope: what they declare is out of scope once they close before the
    /// caret (brace languages; Python has no block scope).
    pub block_scopes: &'static [&'static str],
}

const PYTHON: Spec = Spec {
    functions: &["function_definition"],
    closures: &["lambda"],
    classes: &["class_definition"],
    imports: &["import_statement", "import_from_statement", "future_import_statement"],
    block_scopes: &[],
};

const JAVASCRIPT: Spec = Spec {
    functions: &["function_declaration", "generator_function_declaration", "method_definition"],
    closures: &["arrow_function", "function_expression", "function", "generator_function"],
    classes: &["class_declaration", "class"],
    imports: &["import_statement"],
    block_scopes: &["statement_block", "for_statement", "for_in_statement", "catch_clause", "switch_body"],
};

const TYPESCRIPT: Spec = Spec {
    functions: &["function_declaration", "generator_function_declaration", "method_definition"],
    closures: &["arrow_function", "function_expression", "function", "generator_function"],
    classes: &["class_declaration", "abstract_class_declaration", "class", "interface_declaration"],
    imports: &["import_statement"],
    block_scopes: &["statement_block", "for_statement", "for_in_statement", "catch_clause", "switch_body"],
};

const JAVA: Spec = Spec {
    functions: &["method_declaration", "constructor_declaration", "compact_constructor_declaration"],
    closures: &["lambda_expression"],
    classes: &["class_declaration", "interface_declaration", "enum_declaration", "record_declaration", "annotation_type_declaration"],
    imports: &["import_declaration"],
    block_scopes: &[
        "block",
        "constructor_body",
        "for_statement",
        "enhanced_for_statement",
        "catch_clause",
        "try_with_resources_statement",
        "switch_block",
    ],
};

const RUST: Spec = Spec {
    functions: &["function_item"],
    closures: &["closure_expression"],
    classes: &["impl_item", "trait_item", "struct_item", "enum_item", "union_item"],
    imports: &["use_declaration", "extern_crate_declaration"],
    block_scopes: &["block", "for_expression", "if_expression", "while_expression", "loop_expression", "match_arm"],
};

const GO: Spec = Spec {
    functions: &["function_declaration", "method_declaration"],
    closures: &["func_literal"],
    // Go's "class" is a method's receiver type (see `class_name`); a type_spec counts when the caret is
    // inside a struct or interface definition.
    classes: &["type_spec"],
    imports: &["import_declaration"],
    block_scopes: &[
        "block",
        "for_statement",
        "if_statement",
        "expression_switch_statement",
        "type_switch_statement",
        "select_statement",
        "expression_case",
        "type_case",
        "default_case",
        "communication_case",
    ],
};

/// The node-kind table of a language.
pub(crate) fn spec(lang: Language) -> &'static Spec {
    match lang {
        Language::Python => &PYTHON,
        Language::JavaScript => &JAVASCRIPT,
        Language::TypeScript => &TYPESCRIPT,
        Language::Java => &JAVA,
        Language::Rust => &RUST,
        Language::Go => &GO,
    }
}

/// The tree-sitter grammar of a language.
pub(crate) fn grammar(lang: Language) -> tree_sitter::Language {
    match lang {
        Language::Python => tree_sitter_python::LANGUAGE.into(),
        Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
        Language::TypeScript => tree_sitter_typescript::LANGUAGE_TSX.into(),
        Language::Java => tree_sitter_java::LANGUAGE.into(),
        Language::Rust => tree_sitter_rust::LANGUAGE.into(),
        Language::Go => tree_sitter_go::LANGUAGE.into(),
    }
}

/// Node kinds whose text is a string, comment or character literal in any of the grammars: a caret
/// inside one is not in code, and their insides are never scanned for brackets.
pub(crate) fn is_literal_or_comment(kind: &str) -> bool {
    kind.contains("string")
        || kind.contains("comment")
        || kind.contains("regex")
        || matches!(kind, "char_literal" | "character_literal" | "rune_literal" | "text_block")
}

/// Subtrees left out of a signature or import line: comments, and decorators/annotations, which sit
/// on the lines above a method and are not part of what it is called with.
fn is_left_out_of_signature(kind: &str) -> bool {
    kind.contains("comment") || matches!(kind, "decorator" | "annotation" | "marker_annotation" | "attribute_item")
}

/// Parents that give a JavaScript/TypeScript closure a name: `const f = () => …`, a class field
/// `handle = () => …`.
const NAMING_PARENTS: &[&str] = &["variable_declarator", "public_field_definition", "field_definition"];

/// Whether `node` is a function-like node of any kind (named or not).
pub(crate) fn is_function_like(spec: &Spec, node: Node) -> bool {
    spec.functions.contains(&node.kind()) || spec.closures.contains(&node.kind())
}

/// Whether `node` is a function with a name, the kind `enclosing_function` reports.
pub(crate) fn is_named_function(lang: Language, spec: &Spec, node: Node) -> bool {
    if spec.functions.contains(&node.kind()) {
        return true;
    }
    matches!(lang, Language::JavaScript | Language::TypeScript)
        && spec.closures.contains(&node.kind())
        && node.parent().is_some_and(|p| NAMING_PARENTS.contains(&p.kind()))
}

/// The one-line signature of a named function: its text from its start (for an assigned closure, the
/// declaration's start) to its body, leaving out comments and decorators/annotations.
pub(crate) fn signature(lang: Language, node: Node, src: &str) -> String {
    let mut container = node;
    if matches!(lang, Language::JavaScript | Language::TypeScript)
        && let Some(parent) = node.parent()
        && NAMING_PARENTS.contains(&parent.kind())
    {
        container = match parent.parent() {
            Some(decl) if parent.kind() == "variable_declarator" => decl,
            _ => parent,
        };
    }
    let end = match node.child_by_field_name("body") {
        Some(body) => body.start_byte(),
        // No body (an incomplete definition): its first line stands in for the signature.
        None => {
            let start = container.start_byte();
            src[start..node.end_byte()].find('\n').map_or(node.end_byte(), |i| start + i)
        }
    };
    crate::analysis::elide_chars(&leaf_text(container, container.start_byte(), end, src), 300)
}

/// The text of `node`'s leaves within `[start, end)` on one line: tokens that touch stay together,
/// tokens with whitespace or a left-out subtree between them are joined by one space.
pub(crate) fn leaf_text(node: Node, start: usize, end: usize, src: &str) -> String {
    let mut out = String::new();
    let mut last_end: Option<usize> = None;
    walk(node, |n, _| {
        if n.end_byte() <= start || n.start_byte() >= end || is_left_out_of_signature(n.kind()) {
            return Flow::Skip;
        }
        let whole = n.child_count() == 0 || is_literal_or_comment(n.kind());
        if !whole || n.start_byte() < start || n.end_byte() > end {
            return Flow::Descend;
        }
        if last_end.is_some_and(|e| e < n.start_byte()) {
            out.push(' ');
        }
        out.push_str(&src[n.byte_range()]);
        last_end = Some(n.end_byte());
        Flow::Skip
    });
    crate::analysis::collapse_whitespace(&out)
}

/// The name a class-like node reports: its `name`, or for a Rust `impl` block the implemented type
/// without its generic arguments.
pub(crate) fn class_name(lang: Language, node: Node, src: &str) -> Option<String> {
    let name = match (lang, node.kind()) {
        (Language::Rust, "impl_item") => type_base(node.child_by_field_name("type")?),
        (Language::Go, "type_spec") => {
            let ty = node.child_by_field_name("type")?;
            if !matches!(ty.kind(), "struct_type" | "interface_type") {
                return None;
            }
            node.child_by_field_name("name")?
        }
        _ => node.child_by_field_name("name")?,
    };
    let text = crate::analysis::collapse_whitespace(&src[name.byte_range()]);
    (!text.is_empty()).then_some(text)
}

/// A Go method's receiver type without pointer or type arguments: `(s *Server[T])` gives `Server`.
pub(crate) fn go_receiver_type(method: Node, src: &str) -> Option<String> {
    let receiver = method.child_by_field_name("receiver")?;
    let mut cursor = receiver.walk();
    let param = receiver.named_children(&mut cursor).find(|c| c.kind() == "parameter_declaration")?;
    let text = src[type_base(param.child_by_field_name("type")?).byte_range()].to_owned();
    (!text.is_empty()).then_some(text)
}

/// The base of a type node: through references/pointers and generic applications to the type's name.
fn type_base(mut ty: Node) -> Node {
    loop {
        let inner = match ty.kind() {
            "generic_type" => ty.child_by_field_name("type"),
            "pointer_type" | "reference_type" => ty.child_by_field_name("type").or_else(|| ty.named_child(ty.named_child_count().saturating_sub(1))),
            _ => None,
        };
        match inner {
            Some(inner) => ty = inner,
            None => return ty,
        }
    }
}

/// Appends the parameter names of a function-like node.
pub(crate) fn parameters(lang: Language, func: Node, src: &str, out: &mut Vec<String>) {
    match lang {
        Language::Python => {
            if let Some(params) = func.child_by_field_name("parameters") {
                for param in named_children(params) {
                    let target = match param.kind() {
                        "default_parameter" | "typed_default_parameter" => param.child_by_field_name("name"),
                        "typed_parameter" => param.named_child(0),
                        _ => Some(param),
                    };
                    if let Some(target) = target {
                        pattern_names(lang, target, src, out);
                    }
                }
            }
        }
        Language::JavaScript | Language::TypeScript => {
            if let Some(single) = func.child_by_field_name("parameter") {
                pattern_names(lang, single, src, out);
            }
            if let Some(params) = func.child_by_field_name("parameters") {
                for param in named_children(params) {
                    pattern_names(lang, param, src, out);
                }
            }
        }
        Language::Java => {
            if let Some(params) = func.child_by_field_name("parameters") {
                if params.kind() == "identifier" {
                    push_name(params, src, out);
                }
                for param in named_children(params) {
                    match param.kind() {
                        "identifier" => push_name(param, src, out),
                        "formal_parameter" => field_name(param, "name", src, out),
                        "spread_parameter" => {
                            for decl in named_children(param).filter(|c| c.kind() == "variable_declarator") {
                                field_name(decl, "name", src, out);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        Language::Rust => {
            if let Some(params) = func.child_by_field_name("parameters") {
                for param in named_children(params) {
                    match param.kind() {
                        "self_parameter" => out.push("self".to_owned()),
                        "parameter" => {
                            if let Some(pattern) = param.child_by_field_name("pattern") {
                                pattern_names(lang, pattern, src, out);
                            }
                        }
                        // closure_parameters hold bare patterns as well as typed `parameter`s
                        _ => pattern_names(lang, param, src, out),
                    }
                }
            }
        }
        Language::Go => {
            for field in ["receiver", "parameters", "result"] {
                let Some(list) = func.child_by_field_name(field) else { continue };
                if list.kind() != "parameter_list" {
                    continue;
                }
                for param in named_children(list) {
                    if matches!(param.kind(), "parameter_declaration" | "variadic_parameter_declaration") {
                        all_field_names(param, "name", src, out);
                    }
                }
            }
        }
    }
}

/// Appends the names a non-function node binds, if it is a binding site whose binding is complete
/// before `caret` (`x = foo(` at the caret binds nothing yet).
pub(crate) fn bindings(lang: Language, node: Node, caret: usize, src: &str, out: &mut Vec<String>) {
    let done = |n: Node| n.end_byte() <= caret;
    let field_before = |field: &str| node.child_by_field_name(field).filter(|n| done(*n));
    match (lang, node.kind()) {
        (Language::Python, "assignment") if done(node) => {
            if let Some(left) = node.child_by_field_name("left") {
                pattern_names(lang, left, src, out);
            }
        }
        (Language::Python, "for_statement") => {
            if let Some(left) = field_before("left") {
                pattern_names(lang, left, src, out);
            }
        }
        (Language::Python, "as_pattern") => {
            if let Some(alias) = field_before("alias") {
                pattern_names(lang, alias, src, out);
            }
        }
        (Language::Python, "named_expression") => {
            if let Some(name) = field_before("name") {
                pattern_names(lang, name, src, out);
            }
        }
        (Language::JavaScript | Language::TypeScript, "variable_declarator") if done(node) => {
            if let Some(name) = node.child_by_field_name("name") {
                pattern_names(lang, name, src, out);
            }
        }
        (Language::JavaScript | Language::TypeScript, "for_in_statement") => {
            if let Some(left) = field_before("left") {
                pattern_names(lang, left, src, out);
            }
        }
        (Language::JavaScript | Language::TypeScript, "catch_clause") => {
            if let Some(param) = field_before("parameter") {
                pattern_names(lang, param, src, out);
            }
        }
        (Language::Java, "local_variable_declaration") => {
            let mut cursor = node.walk();
            for decl in node.children_by_field_name("declarator", &mut cursor).filter(|d| done(*d)) {
                field_name(decl, "name", src, out);
            }
        }
        (Language::Java, "enhanced_for_statement") => {
            if let Some(name) = field_before("name") {
                push_name(name, src, out);
            }
        }
        (Language::Java, "catch_formal_parameter" | "resource") if done(node) => field_name(node, "name", src, out),
        (Language::Rust, "let_declaration") if done(node) => {
            if let Some(pattern) = node.child_by_field_name("pattern") {
                pattern_names(lang, pattern, src, out);
            }
        }
        (Language::Rust, "for_expression" | "let_condition" | "match_arm") => {
            let pattern = field_before("pattern");
            if let Some(pattern) = pattern {
                pattern_names(lang, pattern, src, out);
            }
        }
        (Language::Go, "short_var_declaration") if done(node) => {
            if let Some(left) = node.child_by_field_name("left") {
                pattern_names(lang, left, src, out);
            }
        }
        (Language::Go, "var_spec") if done(node) => all_field_names(node, "name", src, out),
        (Language::Go, "range_clause") => {
            if let Some(left) = field_before("left") {
                pattern_names(lang, left, src, out);
            }
        }
        _ => {}
    }
}

/// What a node inside a binding pattern contributes.
enum Part {
    /// It is a bound name.
    Name,
    /// It binds nothing (a default value, a type, an attribute target `self.x`, a path).
    Skip,
    /// Its named children may bind names.
    Children,
    /// Only this field may bind names.
    Field(&'static str),
}

/// Appends the names bound by a pattern (an assignment target, a parameter, a destructuring), walking
/// it without recursion.
fn pattern_names(lang: Language, pattern: Node, src: &str, out: &mut Vec<String>) {
    let mut stack = vec![pattern];
    let mut found = Vec::new();
    while let Some(node) = stack.pop() {
        match classify(lang, node, src) {
            Part::Name => found.push(node),
            Part::Skip => {}
            Part::Field(field) => stack.extend(node.child_by_field_name(field)),
            Part::Children => {
                let children: Vec<Node> = if lang == Language::Rust {
                    // `Some(x)`, `Point { x, y: py }`: the path is not a binding, nor is a match guard.
                    let left_out: Vec<usize> = ["type", "condition"].iter().filter_map(|f| node.child_by_field_name(f)).map(|n| n.id()).collect();
                    named_children(node).filter(|c| !left_out.contains(&c.id())).collect()
                } else {
                    named_children(node).collect()
                };
                stack.extend(children.into_iter().rev());
            }
        }
    }
    for node in found {
        push_name(node, src, out);
    }
}

/// How a node inside a binding pattern of `lang` is read.
fn classify(lang: Language, node: Node, src: &str) -> Part {
    match lang {
        Language::Python => match node.kind() {
            "identifier" => Part::Name,
            "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "list_splat_pattern"
            | "dictionary_splat_pattern"
            | "as_pattern_target"
            | "parenthesized_expression"
            | "tuple"
            | "list" => Part::Children,
            _ => Part::Skip,
        },
        Language::JavaScript | Language::TypeScript => match node.kind() {
            "identifier" | "shorthand_property_identifier_pattern" => Part::Name,
            "object_pattern" | "array_pattern" | "rest_pattern" => Part::Children,
            "pair_pattern" => Part::Field("value"),
            "assignment_pattern" | "object_assignment_pattern" => Part::Field("left"),
            "required_parameter" | "optional_parameter" => Part::Field("pattern"),
            _ => Part::Skip,
        },
        Language::Java => match node.kind() {
            "identifier" => Part::Name,
            _ => Part::Skip,
        },
        Language::Rust => match node.kind() {
            // A capitalised bare name in a pattern is a unit variant or constant (`None`), not a binding.
            "identifier" if src[node.byte_range()].starts_with(|c: char| c.is_uppercase()) => Part::Skip,
            "identifier" | "shorthand_field_identifier" => Part::Name,
            "field_pattern" => match node.child_by_field_name("pattern") {
                Some(_) => Part::Field("pattern"),
                None => Part::Field("name"),
            },
            "parameter" => Part::Field("pattern"),
            "tuple_pattern"
            | "slice_pattern"
            | "ref_pattern"
            | "mut_pattern"
            | "reference_pattern"
            | "or_pattern"
            | "captured_pattern"
            | "tuple_struct_pattern"
            | "struct_pattern"
            | "match_pattern" => Part::Children,
            _ => Part::Skip,
        },
        Language::Go => match node.kind() {
            "identifier" => Part::Name,
            "expression_list" => Part::Children,
            _ => Part::Skip,
        },
    }
}

/// The named children of a node, collected (a cursor-borrowing iterator cannot outlive its cursor).
fn named_children(node: Node) -> impl DoubleEndedIterator<Item = Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect::<Vec<_>>().into_iter()
}

/// Appends the text of `node`'s `field` child as a name.
fn field_name(node: Node, field: &str, src: &str, out: &mut Vec<String>) {
    if let Some(name) = node.child_by_field_name(field) {
        push_name(name, src, out);
    }
}

/// Appends the text of every `field` child of `node` as a name (Go's `a, b int`).
fn all_field_names(node: Node, field: &str, src: &str, out: &mut Vec<String>) {
    let mut cursor = node.walk();
    for name in node.children_by_field_name(field, &mut cursor) {
        push_name(name, src, out);
    }
}

/// Appends a name node's text, unless it is empty, missing (inserted by error recovery) or the
/// discard name `_`.
fn push_name(node: Node, src: &str, out: &mut Vec<String>) {
    if node.is_missing() || node.is_error() {
        return;
    }
    let name = src[node.byte_range()].trim();
    if !name.is_empty() && name != "_" && !name.contains(char::is_whitespace) {
        out.push(name.to_owned());
    }
}
