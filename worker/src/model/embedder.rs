//! Sentence embeddings with all-MiniLM-L6-v2 on candle's BERT: mean pooling over real tokens,
//! L2-normalised, 384 dimensions — what the retrieval context stores in pgvector.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::error::ModelError;

/// Inputs are cut to this many tokens (the model was trained on 256-token passages).
pub const MAX_TOKENS: usize = 256;

/// Turns texts into unit vectors whose dot product measures relatedness.
pub trait Embedder: Send + Sync {
    /// One vector per text, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError>;
    /// The vectors' length.
    fn dimensions(&self) -> usize;
}

/// all-MiniLM-L6-v2 (or any BERT sentence-transformer laid out the same way).
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    dimensions: usize,
}

impl MiniLm {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| ModelError::Io { path: path.display().to_string(), source })
        };
        let config: Config = serde_json::from_slice(&read("config.json")?).map_err(|e| ModelError::Config(format!("config.json: {e}")))?;
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(ModelError::Io { path: weights.display().to_string(), source: std::io::ErrorKind::NotFound.into() });
        }
        // The safetensors file is read into memory (90 MB), not memory-mapped: no unsafe needed.
        let vb = VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, &Device::Cpu)?;
        let dimensions = config.hidden_size;
        Ok(Self { model: BertModel::load(vb, &config)?, tokenizer, dimensions })
    }
}

impl Embedder for MiniLm {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let ids: Vec<Vec<u32>> = encodings.iter().map(|e| e.get_ids().to_vec()).collect();
        let mask: Vec<Vec<u32>> = encodings.iter().map(|e| e.get_attention_mask().to_vec()).collect();
        let device = Device::Cpu;
        let ids = Tensor::new(ids, &device)?;
        let mask = Tensor::new(mask, &device)?;
        let hidden = self.model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
        // Mean over real tokens only: padding must not dilute short inputs in a batch.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        Ok(mean.broadcast_div(&norms)?.to_vec2::<f32>()?)
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> MiniLm {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf();
        let dir = std::env::var("MODEL_CACHE_DIR").map_or_else(|_| root.join("data/models"), std::path::PathBuf::from);
        MiniLm::load(&dir.join("all-minilm-l6-v2")).expect("load all-MiniLM-L6-v2 (./test.sh provisions it)")
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn related_code_scores_higher_than_unrelated_code() {
        let model = model();
        let texts = [
            "def read_json(path):\n    with open(path) as f:\n        return json.load(f)",
            "def load_config(filename):\n    with open(filename) as handle:\n        return json.loads(handle.read())",
            "SELECT name, email FROM users WHERE created_at > NOW() - INTERVAL '1 day' ORDER BY name;",
        ];
        let vectors = model.embed(&texts).unwrap();
        assert_eq!(vectors.len(), 3);
        assert!(vectors.iter().all(|v| v.len() == 384 && (dot(v, v) - 1.0).abs() < 1e-4));
        assert!(dot(&vectors[0], &vectors[1]) > dot(&vectors[0], &vectors[2]) + 0.1);
    }

    #[test]
    fn padding_in_a_batch_does_not_change_a_vector() {
        let model = model();
        let short = "fn main() {}";
        let alone = model.embed(&[short]).unwrap();
        let batched = model.embed(&[short, &"let x = vec![1, 2, 3];\n".repeat(20)]).unwrap();
        assert!(alone[0].iter().zip(&batched[0]).all(|(a, b)| (a - b).abs() < 1e-4));
        let long = "x".repeat(20_000);
        assert_eq!(model.embed(&[long.as_str()]).unwrap()[0].len(), 384);
    }
}
