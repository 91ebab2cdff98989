//! Why loading a model or generating with it failed.

/// A model runtime failure, worded for the person who configured the model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file is missing or unreadable.
    #[error("reading {path}: {source}")]
    Io {
        /// The model file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The model row names no weights that are present here, or a runtime this build lacks.
    #[error("model {model} is not available: {reason}")]
    Unavailable {
        /// The model's name.
        model: String,
        /// What is missing and how to provide it.
        reason: String,
    },
    /// The model uses something the runtime does not implement, which would give wrong output.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// The row's `model_parameters` or `prompt_templates` cannot be used.
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// Prompt plus requested tokens exceed what the model can attend to.
    #[error("context too long: {prompt} prompt tokens + {max_new} new tokens exceed the limit of {limit}")]
    ContextTooLong {
        /// Prompt tokens.
        prompt: usize,
        /// Requested new tokens.
        max_new: usize,
        /// The model's limit.
        limit: usize,
    },
    /// Tokenizer construction or use failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// candle failed.
    #[error("inference: {0}")]
    Candle(#[from] candle_core::Error),
}
