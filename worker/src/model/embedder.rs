//! Sentence embeddings with all-MiniLM-L6-v2 on candle's BERT: mean pooling over real tokens,
//! L2-normalised, 384 dimensions — what the retrieval context stores in pgvector.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

/// all-MiniLM-L6-v2 loaded at its first use: a worker whose users never turn retrieval on (no
/// index job, no retrieval search, no embedding request) never holds its ~90 MB of f32 weights.
/// Opening checks the files are there, so a worker without them still says so at start.
pub struct LazyMiniLm {
    dir: PathBuf,
    dimensions: usize,
    /// Empty until the first embedding; a failed load leaves it empty and is tried again.
    loaded: Mutex<Option<Arc<MiniLm>>>,
}

impl LazyMiniLm {
    /// Checks `dir` holds the model (its config, tokenizer and weights) without loading it.
    pub fn open(dir: &Path) -> Result<Self, ModelError> {
        let config_path = dir.join("config.json");
        let config = std::fs::read(&config_path).map_err(|source| ModelError::Io { path: config_path.display().to_string(), source })?;
        let config: Config = serde_json::from_slice(&config).map_err(|e| ModelError::Config(format!("config.json: {e}")))?;
        for name in ["tokenizer.json", "model.safetensors"] {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(ModelError::Io { path: path.display().to_string(), source: std::io::ErrorKind::NotFound.into() });
            }
        }
        Ok(Self { dir: dir.to_path_buf(), dimensions: config.hidden_size, loaded: Mutex::new(None) })
    }

    /// Whether the weights are in memory.
    pub fn is_loaded(&self) -> bool {
        self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_some()
    }

    /// The model, loading it on the first call (callers run on blocking threads; concurrent first
    /// callers wait for the one load).
    fn model(&self) -> Result<Arc<MiniLm>, ModelError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(model) = loaded.as_ref() {
            return Ok(Arc::clone(model));
        }
        let started = std::time::Instant::now();
        let model = Arc::new(MiniLm::load(&self.dir)?);
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "all-MiniLM-L6-v2 loaded at its first use");
        *loaded = Some(Arc::clone(&model));
        Ok(model)
    }
}

impl Embedder for LazyMiniLm {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.model()?.embed(texts)
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_dir() -> PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf();
        let dir = std::env::var("MODEL_CACHE_DIR").map_or_else(|_| root.join("data/models"), PathBuf::from);
        dir.join("all-minilm-l6-v2")
    }

    fn model() -> MiniLm {
        MiniLm::load(&model_dir()).expect("load all-MiniLM-L6-v2 (./test.sh provisions it)")
    }

    #[test]
    fn the_lazy_model_loads_at_its_first_embedding_and_embeds_the_same() {
        let lazy = LazyMiniLm::open(&model_dir()).unwrap();
        assert_eq!(lazy.dimensions(), 384);
        assert!(!lazy.is_loaded(), "opening must not load the weights");
        assert!(lazy.embed(&[]).unwrap().is_empty());
        assert!(!lazy.is_loaded(), "nothing to embed needs no model");
        let text = "fn parse(input: &str) -> Result<Ast, Error>";
        let vectors = lazy.embed(&[text]).unwrap();
        assert!(lazy.is_loaded());
        assert_eq!(vectors, model().embed(&[text]).unwrap());
    }

    #[test]
    fn opening_a_folder_without_the_weights_fails_at_once() {
        let empty = std::env::temp_dir().join(format!("no-minilm-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        assert!(matches!(LazyMiniLm::open(&empty), Err(ModelError::Io { .. })));
        std::fs::copy(model_dir().join("config.json"), empty.join("config.json")).unwrap();
        let missing = LazyMiniLm::open(&empty).err().expect("weights are missing");
        assert!(missing.to_string().contains("tokenizer.json"), "{missing}");
        std::fs::remove_dir_all(&empty).unwrap();
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
