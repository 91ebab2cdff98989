//! Each dataset's columns — name, type and meaning (the README's column dictionary is checked
//! against these) — and the conversion of a database row into cells, ids pseudonymised.

use chrono::{DateTime, Utc};

use super::Dataset;
use super::pseudonyms::Pseudonyms;
use crate::db::analytics::export::{GenerationExport, ParticipantExport, QueryExport};

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text.
    Text,
    /// 64-bit integer.
    Int,
    /// 64-bit float.
    Float,
    /// true / false.
    Bool,
    /// A UTC time (µs).
    Time,
}

/// One column of a dataset.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its name in the file.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// What it holds, for the dictionary.
    pub doc: &'static str,
}

/// One value; `None` is NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(Option<String>),
    /// Integer.
    Int(Option<i64>),
    /// Float.
    Float(Option<f64>),
    /// Boolean.
    Bool(Option<bool>),
    /// Time.
    Time(Option<DateTime<Utc>>),
}

const fn column(name: &'static str, kind: Kind, doc: &'static str) -> Column {
    Column { name, kind, doc }
}

const GENERATIONS: &[Column] = &[
    column("query_id", Kind::Text, "the query (random UUID)"),
    column("participant", Kind::Text, "the user's pseudonym in this export; empty when the account is gone"),
    column("session", Kind::Text, "the plugin session's pseudonym; empty for open-API queries"),
    column("query_time", Kind::Time, "when the completion was asked for (UTC)"),
    column("client", Kind::Text, "the door: plugin, openai, suggestion, task, editor, agent"),
    column("model", Kind::Text, "the model's name"),
    column("config_id", Kind::Int, "the config that served the query (a study's arm)"),
    column("language", Kind::Text, "the editor's language (contextual-telemetry consent)"),
    column("trigger", Kind::Text, "manual, auto or idle (contextual-telemetry consent)"),
    column("completion", Kind::Text, "the completion's text, redacted (only with the user's store_context consent)"),
    column("completion_chars", Kind::Int, "its length in characters"),
    column("completion_tokens", Kind::Int, "tokens generated"),
    column("generation_ms", Kind::Int, "the model's time"),
    column("serving_ms", Kind::Int, "the server's time for the whole query"),
    column("confidence", Kind::Float, "mean token probability, 0..1"),
    column("shown", Kind::Bool, "whether it could be shown (non-empty, with a shown time)"),
    column("accepted", Kind::Bool, "whether the user accepted it"),
    column("accepted_at", Kind::Time, "when it was first accepted (UTC)"),
    column("provider", Kind::Text, "who answered: local or a configured provider"),
];

const QUERIES: &[Column] = &[
    column("query_id", Kind::Text, "the query (random UUID)"),
    column("participant", Kind::Text, "the user's pseudonym in this export"),
    column("session", Kind::Text, "the plugin session's pseudonym"),
    column("query_time", Kind::Time, "when it was asked (UTC)"),
    column("query_type", Kind::Text, "completion or chat"),
    column("client", Kind::Text, "the door it came through"),
    column("config_id", Kind::Int, "the config that served it"),
    column("serving_ms", Kind::Int, "the server's time"),
    column("plugin_version", Kind::Text, "the plugin's version (contextual-telemetry consent)"),
    column("language", Kind::Text, "the editor's language (contextual-telemetry consent)"),
    column("trigger", Kind::Text, "manual, auto or idle (contextual-telemetry consent)"),
    column("caret_line", Kind::Int, "the caret's line (contextual-telemetry consent)"),
    column("document_chars", Kind::Int, "the document's length (contextual-telemetry consent)"),
    column("relative_position", Kind::Float, "the caret's position in the document, 0..1 (contextual-telemetry consent)"),
    column("ms_since_last_shown", Kind::Int, "since a completion was last shown (behavioural-telemetry consent)"),
    column("ms_since_last_accepted", Kind::Int, "since a completion was last accepted (behavioural-telemetry consent)"),
    column("typing_speed", Kind::Float, "typing speed as the plugin reports it (behavioural-telemetry consent)"),
    column("generations", Kind::Int, "generations the query had (one per model)"),
    column("accepted", Kind::Bool, "whether any was accepted"),
];

const STUDIES: &[Column] = &[
    column("study_id", Kind::Text, "the study"),
    column("study_name", Kind::Text, "its name"),
    column("study_start", Kind::Time, "when it starts (UTC)"),
    column("study_end", Kind::Time, "when it ends; empty while open-ended"),
    column("participant", Kind::Text, "the user's pseudonym in this export"),
    column("arm_config_id", Kind::Int, "the participant's arm"),
    column("is_baseline", Kind::Bool, "whether the arm is the study's baseline"),
    column("assigned_at", Kind::Time, "when the participant was assigned (UTC)"),
    column("exposed_queries", Kind::Int, "queries the arm served the participant during the study (exposure)"),
    column("generations", Kind::Int, "completion generations among them"),
    column("accepted", Kind::Int, "of them, accepted"),
    column("pre_generations", Kind::Int, "the participant's completion generations in the 30 days before the study"),
    column("pre_accepted", Kind::Int, "of them, accepted (CUPED's covariate)"),
];

/// The columns of `dataset`, in file order.
pub fn columns(dataset: Dataset) -> &'static [Column] {
    match dataset {
        Dataset::Generations => GENERATIONS,
        Dataset::Queries => QUERIES,
        Dataset::Studies => STUDIES,
    }
}

fn text(value: impl Into<String>) -> Cell {
    Cell::Text(Some(value.into()))
}

fn int(value: impl Into<i64>) -> Cell {
    Cell::Int(Some(value.into()))
}

/// A generation's cells, in [`GENERATIONS`] order.
pub fn generation(row: &GenerationExport, names: &Pseudonyms) -> Vec<Cell> {
    vec![
        text(row.meta_query_id.to_string()),
        Cell::Text(row.user_id.map(|id| names.of(id))),
        Cell::Text(row.session_id.map(|id| names.of(id))),
        Cell::Time(Some(row.query_time)),
        text(row.client.clone()),
        text(row.model_name.clone()),
        Cell::Int(row.config_id),
        Cell::Text(row.language.clone()),
        Cell::Text(row.trigger_type.clone()),
        Cell::Text(row.completion.clone()),
        int(row.completion_chars),
        int(row.completion_tokens),
        int(row.generation_time_ms),
        Cell::Int(row.total_serving_time_ms.map(i64::from)),
        Cell::Float(Some(row.confidence)),
        Cell::Bool(Some(row.shown)),
        Cell::Bool(Some(row.was_accepted)),
        Cell::Time(row.accepted_at),
        Cell::Text(row.provider.clone()),
    ]
}

/// A query's cells, in [`QUERIES`] order.
pub fn query(row: &QueryExport, names: &Pseudonyms) -> Vec<Cell> {
    vec![
        text(row.meta_query_id.to_string()),
        Cell::Text(row.user_id.map(|id| names.of(id))),
        Cell::Text(row.session_id.map(|id| names.of(id))),
        Cell::Time(Some(row.query_time)),
        text(row.query_type.clone()),
        text(row.client.clone()),
        Cell::Int(row.config_id),
        Cell::Int(row.total_serving_time_ms.map(i64::from)),
        Cell::Text(row.plugin_version.clone()),
        Cell::Text(row.language.clone()),
        Cell::Text(row.trigger_type.clone()),
        Cell::Int(row.caret_line.map(i64::from)),
        Cell::Int(row.document_char_length.map(i64::from)),
        Cell::Float(row.relative_document_position),
        Cell::Int(row.time_since_last_shown_ms),
        Cell::Int(row.time_since_last_accepted_ms),
        Cell::Float(row.typing_speed),
        int(row.generations),
        Cell::Bool(Some(row.accepted)),
    ]
}

/// A participant's cells, in [`STUDIES`] order.
pub fn participant(row: &ParticipantExport, names: &Pseudonyms) -> Vec<Cell> {
    vec![
        text(row.study_id.to_string()),
        text(row.study_name.clone()),
        Cell::Time(Some(row.starts_at)),
        Cell::Time(row.ends_at),
        text(names.of(row.user_id)),
        int(row.arm_config_id),
        Cell::Bool(Some(row.is_baseline)),
        Cell::Time(Some(row.assigned_at)),
        int(row.exposed_queries),
        int(row.generations),
        int(row.accepted),
        int(row.pre_generations),
        int(row.pre_accepted),
    ]
}
