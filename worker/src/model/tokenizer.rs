//! Tokenizers built from GGUF metadata. candle's `TokenizerFromGguf` falls back to a byte-level
//! pre-tokenizer that adds a prefix space for pre-types it does not know — SmolLM2's `smollm` among
//! them — so `"def add"` becomes `Ġdef Ġadd` instead of `def Ġadd`. We build the BPE ourselves with the
//! pre-tokenization llama.cpp uses for these models: individual digits, then byte-level without a
//! prefix space.

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

/// Why a tokenizer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A required metadata key is missing or has the wrong type.
    #[error("GGUF metadata {0}: {1}")]
    Metadata(&'static str, String),
    /// The tokenizer type is not byte-level BPE.
    #[error("unsupported tokenizer model {0:?} (only byte-level BPE, \"gpt2\", is supported)")]
    Unsupported(String),
    /// The tokenizers library refused the vocabulary.
    #[error("building the BPE model: {0}")]
    Build(String),
}

/// GGUF `token_type` of control tokens (`<|im_start|>`, `<|endoftext|>`, ...).
const CONTROL: i32 = 3;

fn strings(content: &Content, key: &'static str) -> Result<Vec<String>, TokenizerError> {
    let value = content.metadata.get(key).ok_or_else(|| TokenizerError::Metadata(key, "missing".into()))?;
    let items = value.to_vec().map_err(|e| TokenizerError::Metadata(key, e.to_string()))?;
    items.iter().map(|v| v.to_string().cloned().map_err(|e| TokenizerError::Metadata(key, e.to_string()))).collect()
}

fn token_types(content: &Content) -> Vec<i32> {
    let Some(Value::Array(items)) = content.metadata.get("tokenizer.ggml.token_type") else { return Vec::new() };
    items
        .iter()
        .map(|v| match v {
            Value::I32(i) => *i,
            Value::U32(u) => i32::try_from(*u).unwrap_or(0),
            _ => 0,
        })
        .collect()
}

/// The tokenizer described by a GGUF file's `tokenizer.ggml.*` metadata.
pub fn from_gguf(content: &Content) -> Result<Tokenizer, TokenizerError> {
    let model = content
        .metadata
        .get("tokenizer.ggml.model")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .ok_or_else(|| TokenizerError::Metadata("tokenizer.ggml.model", "missing".into()))?;
    if model != "gpt2" {
        return Err(TokenizerError::Unsupported(model));
    }
    let tokens = strings(content, "tokenizer.ggml.tokens")?;
    let merges: Vec<(String, String)> =
        strings(content, "tokenizer.ggml.merges")?.into_iter().filter_map(|m| m.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned()))).collect();
    let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(|e| TokenizerError::Build(e.to_string()))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let pre: Vec<PreTokenizerWrapper> = vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()];
    tokenizer.with_pre_tokenizer(Some(Sequence::new(pre)));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    let control: Vec<AddedToken> = token_types(content)
        .iter()
        .zip(&tokens)
        .filter(|(kind, _)| **kind == CONTROL)
        .map(|(_, token)| AddedToken::from(token.clone(), true))
        .collect();
    tokenizer.add_special_tokens(control).map_err(|e| TokenizerError::Build(e.to_string()))?;
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gguf_llama::tests::smollm2_path;

    fn smollm2() -> Tokenizer {
        let path = smollm2_path();
        let mut file = std::fs::File::open(&path).expect("open the GGUF");
        let content = Content::read(&mut file).expect("read GGUF metadata");
        from_gguf(&content).expect("tokenizer")
    }

    fn ids(tokenizer: &Tokenizer, text: &str) -> Vec<u32> {
        tokenizer.encode(text, false).expect("encode").get_ids().to_vec()
    }

    #[test]
    fn golden_ids_match_the_reference_tokenizer() {
        let t = smollm2();
        assert_eq!(ids(&t, "def add"), [1604, 803], "no prefix space before the first word");
        assert_eq!(ids(&t, "import numpy as np")[0], 2017);
        assert_eq!(ids(&t, "<|im_start|>user"), [1, 4093], "control tokens are single ids");
        let digits = ids(&t, "x = 12345");
        assert_eq!(digits.len(), 3 + 5, "digits are split one by one: {digits:?}");
    }

    #[test]
    fn real_source_files_round_trip_exactly() {
        let t = smollm2();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root");
        for file in [
            "shared/src/settings.rs",
            "website/src/api/client.ts",
            "bench/summarize.py",
            "scripts/infra.sh",
            "migrations/20261122000001_create_code4me_schema.sql",
            "website/src/styles.css",
        ] {
            let text = std::fs::read_to_string(root.join(file)).expect("read a source file");
            let encoding = t.encode(text.as_str(), false).expect("encode");
            let decoded = t.decode(encoding.get_ids(), false).expect("decode");
            assert_eq!(decoded, text, "{file} round-trips");
        }
    }
}
