//! The native llama forward pass: the GGUF llama family (SmolLM2, DeepSeek-Coder, CodeLlama,
//! Mellum) evaluated without a tensor framework in the loop, because at this model size a token's
//! cost is dominated by per-operation overhead and by how weights are streamed, not by arithmetic.
//!
//! - **Decode** (one token): every matrix-vector product runs on the file's own quantized blocks
//!   ([`quant`]) against 8-bit activations, with Q/K/V stacked into one matrix and gate/up into
//!   another, so a layer is four parallel products and a few vector loops over preallocated buffers.
//! - **Prefill** (a prompt): compute-bound, so layers run f32 GEMM ([`dense`]) over weights
//!   expanded from the quantized blocks one cache-sized tile at a time: no resident f32 copy of the
//!   model, and the same speed, since streaming a quarter of the bytes pays for the expansion.
//!
//! One [`NativeLlama`] holds the weights, shared by any number of [`Sequence`]s, each with its own
//! KV cache, stored as f16 (as llama.cpp's default cache): at a few hundred cached positions a
//! decode step streams as many key/value bytes as a third of the weights, and f16 halves them.
//! Every pass, prompt or decode, attends over the stored (rounded) keys and values, so a position's
//! contribution does not depend on how it was evaluated. candle still parses the GGUF file and
//! dequantizes formats without a kernel here.

pub mod dense;
pub mod quant;
pub mod vector;

use std::sync::Arc;

use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Result};
use half::f16;
use rayon::prelude::*;

use dense::View;
use quant::{ActBlock, QMatrix, quantize_activations};

/// Hyper-parameters read from the GGUF metadata.
#[derive(Debug, Clone)]
pub struct LlamaConfig {
    /// Transformer blocks.
    pub layers: usize,
    /// Hidden size.
    pub embedding: usize,
    /// Feed-forward width.
    pub feed_forward: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention when fewer than `heads`).
    pub kv_heads: usize,
    /// Vocabulary size (rows of the output matrix).
    pub vocab: usize,
    /// RoPE base frequency.
    pub rope_base: f32,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
}

impl LlamaConfig {
    /// Reads the `llama.*` keys.
    pub fn from_gguf(content: &Content) -> Result<Self> {
        let get = |key: &str| content.metadata.get(key).ok_or_else(|| candle_core::Error::Msg(format!("GGUF metadata lacks {key}")));
        let heads = get("llama.attention.head_count")?.to_u32()? as usize;
        Ok(Self {
            layers: get("llama.block_count")?.to_u32()? as usize,
            embedding: get("llama.embedding_length")?.to_u32()? as usize,
            feed_forward: get("llama.feed_forward_length")?.to_u32()? as usize,
            heads,
            kv_heads: content.metadata.get("llama.attention.head_count_kv").map_or(Ok(heads as u32), |v| v.to_u32())? as usize,
            vocab: 0,
            rope_base: content.metadata.get("llama.rope.freq_base").map_or(Ok(10_000.0), |v| v.to_f32())?,
            rms_eps: get("llama.attention.layer_norm_rms_epsilon")?.to_f32()?,
        })
    }

    fn head_dim(&self) -> usize {
        self.embedding / self.heads
    }

    fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim()
    }
}

/// A weight matrix, kept in its quantized blocks.
struct Linear {
    quantized: QMatrix,
}

impl Linear {
    fn new(quantized: QMatrix) -> Self {
        Self { quantized }
    }

    /// `out (tokens × rows) = x (tokens × cols) · Wᵀ`: on the prompt pass f32 GEMM over weight
    /// tiles expanded on the fly; otherwise integer products against `acts`, `x` quantized (decode
    /// steps and exact passes).
    fn forward(&self, x: &[f32], acts: &mut Vec<ActBlock>, tokens: usize, out: &mut [f32], pass: Pass) {
        let (rows, cols) = (self.quantized.rows(), self.quantized.cols());
        if tokens > 1 && pass == Pass::Prompt {
            dense::matmul_by_weight_tiles((tokens, rows, cols), out, x, |range, tile| self.quantized.dequantize_rows(range, tile));
            return;
        }
        quantize_activations(&x[..tokens * cols], acts);
        if tokens == 1 {
            self.quantized.matvec(acts, &mut out[..rows]);
        } else {
            self.quantized.matmul(acts, tokens, &mut out[..tokens * rows]);
        }
    }
}

/// How a multi-token forward pass computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// As fast as possible: dense GEMM and batched causal attention (prompts).
    Prompt,
    /// Each token exactly as a single-token decode step would compute it (draft verification).
    Exact,
}

struct Layer {
    attn_norm: Vec<f32>,
    qkv: Linear,
    output: Linear,
    ffn_norm: Vec<f32>,
    gate_up: Linear,
    down: Linear,
}

/// The weights of one model, shared by all its sequences.
pub struct NativeLlama {
    config: LlamaConfig,
    /// Token embeddings; the same allocation as `output` when the model ties them (SmolLM2 does).
    embeddings: Arc<QMatrix>,
    layers: Vec<Layer>,
    output_norm: Vec<f32>,
    output: Arc<QMatrix>,
    /// cos/sin of every position × frequency, interleaved: `[cos, sin]` pairs.
    rope: Vec<f32>,
    context_limit: usize,
}

/// Fewest tokens evaluated on the prompt path (SmolLM2-135M on 2 AVX2 cores: 2 tokens cost 52 ms
/// there and 13 ms on the decode kernels, 16 tokens about the same on both, 64 tokens 225 vs 415 ms).
pub const PROMPT_PASS_MIN_TOKENS: usize = 16;

fn read_matrix<R: std::io::Read + std::io::Seek>(content: &Content, reader: &mut R, name: &str) -> Result<QMatrix> {
    let tensor = content.tensor(reader, name, &Device::Cpu)?;
    let (rows, cols) = tensor.shape().dims2()?;
    let data = tensor.data()?;
    Ok(match tensor.dtype() {
        GgmlDType::Q4_1 => QMatrix::from_q4_1_bytes(rows, cols, &data),
        GgmlDType::Q8_0 => QMatrix::from_q8_0_bytes(rows, cols, &data),
        _ => {
            let dense = tensor.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1::<f32>()?;
            QMatrix::quantize_q8_0(rows, cols, &dense)
        }
    })
}

fn read_vector<R: std::io::Read + std::io::Seek>(content: &Content, reader: &mut R, name: &str) -> Result<Vec<f32>> {
    content.tensor(reader, name, &Device::Cpu)?.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1::<f32>()
}

impl NativeLlama {
    /// Loads the weights of a llama-architecture GGUF; `context_limit` bounds the positions.
    pub fn load<R: std::io::Read + std::io::Seek>(content: &Content, reader: &mut R, context_limit: usize) -> Result<Self> {
        let mut config = LlamaConfig::from_gguf(content)?;
        if config.embedding % config.heads != 0 || config.heads % config.kv_heads != 0 {
            candle_core::bail!("unsupported head layout: {} heads of {} dims, {} kv heads", config.heads, config.embedding, config.kv_heads);
        }
        let embeddings = Arc::new(read_matrix(content, reader, "token_embd.weight")?);
        let output = if content.tensor_infos.contains_key("output.weight") {
            Arc::new(read_matrix(content, reader, "output.weight")?)
        } else {
            Arc::clone(&embeddings)
        };
        config.vocab = output.rows();
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let name = |suffix: &str| format!("blk.{i}.{suffix}.weight");
            let qkv = QMatrix::stack(vec![
                read_matrix(content, reader, &name("attn_q"))?,
                read_matrix(content, reader, &name("attn_k"))?,
                read_matrix(content, reader, &name("attn_v"))?,
            ]);
            let gate_up = QMatrix::stack(vec![read_matrix(content, reader, &name("ffn_gate"))?, read_matrix(content, reader, &name("ffn_up"))?]);
            layers.push(Layer {
                attn_norm: read_vector(content, reader, &name("attn_norm"))?,
                qkv: Linear::new(qkv),
                output: Linear::new(read_matrix(content, reader, &name("attn_output"))?),
                ffn_norm: read_vector(content, reader, &name("ffn_norm"))?,
                gate_up: Linear::new(gate_up),
                down: Linear::new(read_matrix(content, reader, &name("ffn_down"))?),
            });
        }
        let output_norm = read_vector(content, reader, "output_norm.weight")?;
        let rope = rope_table(config.head_dim(), config.rope_base, context_limit);
        Ok(Self { config, embeddings, layers, output_norm, output, rope, context_limit })
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> &LlamaConfig {
        &self.config
    }

    /// A fresh sequence (empty KV cache).
    pub fn new_sequence(&self) -> Sequence {
        Sequence { layers: (0..self.config.layers).map(|_| LayerCache::default()).collect(), tokens: Vec::new() }
    }

    /// Bytes of weights streamed per decoded token.
    pub fn decode_bytes(&self) -> usize {
        self.output.size_in_bytes()
            + self
                .layers
                .iter()
                .map(|l| {
                    l.qkv.quantized.size_in_bytes()
                        + l.output.quantized.size_in_bytes()
                        + l.gate_up.quantized.size_in_bytes()
                        + l.down.quantized.size_in_bytes()
                })
                .sum::<usize>()
    }

    /// Whether evaluating `tokens` tokens at once is cheaper on the prompt path (dense GEMM streams
    /// every dense weight, ~50 ms here whatever the count) than on the decode kernels (~3–6 ms per
    /// token): from [`PROMPT_PASS_MIN_TOKENS`] on. A prompt that extends a cached prefix by a few
    /// tokens — every keystroke's — takes the decode kernels.
    pub fn takes_prompt_pass(tokens: usize) -> bool {
        tokens >= PROMPT_PASS_MIN_TOKENS
    }

    /// Evaluates `tokens` after what `sequence` holds and returns the logits of the last one.
    /// Many tokens (a prompt) take the fast prompt path: dense GEMM and batched attention.
    /// Runs on the current rayon pool; call it from a blocking thread.
    pub fn forward(&self, sequence: &mut Sequence, tokens: &[u32]) -> Result<Vec<f32>> {
        let pass = if Self::takes_prompt_pass(tokens.len()) { Pass::Prompt } else { Pass::Exact };
        let hidden = self.layers_forward(&mut [Segment { sequence, tokens }], pass)?;
        let d = self.config.embedding;
        Ok(self.logits(&hidden[hidden.len() - d..], 1))
    }

    /// Evaluates `tokens` after what `sequence` holds and returns the logits after each of them,
    /// bit for bit what one [`forward`](Self::forward) per token would return: every product runs
    /// on the decode kernels, every query attends as a decode step does — while each weight is
    /// streamed once for all of them. This is how speculative decoding verifies a draft.
    pub fn forward_each(&self, sequence: &mut Sequence, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        Ok(self.forward_batch(&mut [Segment { sequence, tokens }])?.pop().unwrap_or_default())
    }

    /// [`forward_each`](Self::forward_each) for several sequences in one pass — a continuous
    /// batching step: the weights are streamed once for every row of every segment, each segment
    /// attends over its own cache only, and each row's logits are bit for bit those it would get
    /// alone. Returns each segment's rows of logits, in order.
    pub fn forward_batch(&self, segments: &mut [Segment<'_>]) -> Result<Vec<Vec<Vec<f32>>>> {
        let hidden = self.layers_forward(segments, Pass::Exact)?;
        let rows = segments.iter().map(|s| s.tokens.len()).sum();
        let logits = self.logits(&hidden, rows);
        let mut rows = logits.chunks_exact(self.config.vocab).map(<[f32]>::to_vec);
        Ok(segments.iter().map(|s| rows.by_ref().take(s.tokens.len()).collect()).collect())
    }

    /// Why `tokens` cannot be evaluated after `sequence` (nothing, beyond the context, unknown ids),
    /// or `Ok`.
    pub fn check(&self, sequence: &Sequence, tokens: &[u32]) -> Result<()> {
        let start = sequence.tokens.len();
        if tokens.is_empty() {
            candle_core::bail!("nothing to evaluate");
        }
        if start + tokens.len() > self.context_limit {
            candle_core::bail!("{} positions exceed the context limit of {}", start + tokens.len(), self.context_limit);
        }
        if let Some(&bad) = tokens.iter().find(|&&id| id as usize >= self.config.vocab) {
            candle_core::bail!("token id {bad} outside the vocabulary of {}", self.config.vocab);
        }
        Ok(())
    }

    /// The transformer blocks over every segment's tokens (their rows stacked), appending keys and
    /// values to each segment's sequence; returns the final hidden states (`rows × embedding`). The
    /// prompt pass takes one segment.
    fn layers_forward(&self, segments: &mut [Segment<'_>], pass: Pass) -> Result<Vec<f32>> {
        for segment in segments.iter() {
            self.check(segment.sequence, segment.tokens)?;
        }
        if pass == Pass::Prompt && segments.len() != 1 {
            candle_core::bail!("the prompt pass evaluates one sequence at a time");
        }
        let c = &self.config;
        // Every row's segment and position.
        let rows: Vec<(usize, usize)> = segments
            .iter()
            .enumerate()
            .flat_map(|(s, segment)| (0..segment.tokens.len()).map(move |i| (s, segment.sequence.tokens.len() + i)))
            .collect();
        let t = rows.len();
        let (d, kv, ff) = (c.embedding, c.kv_dim(), c.feed_forward);
        let qkv_width = d + 2 * kv;
        let mut x = vec![0f32; t * d];
        for (row, &id) in x.chunks_exact_mut(d).zip(segments.iter().flat_map(|s| s.tokens)) {
            self.embeddings.dequantize_row(id as usize, row);
        }
        let mut normed = vec![0f32; t * d];
        let mut qkv = vec![0f32; t * qkv_width];
        let mut attended = vec![0f32; t * d];
        let mut projected = vec![0f32; t * d];
        let mut gate_up = vec![0f32; t * 2 * ff];
        let mut hidden = vec![0f32; t * ff];
        let mut acts = Vec::new();
        for (l, layer) in self.layers.iter().enumerate() {
            rms_norm(&x, &layer.attn_norm, c.rms_eps, &mut normed);
            layer.qkv.forward(&normed, &mut acts, t, &mut qkv, pass);
            for (row, &(s, position)) in qkv.chunks_exact_mut(qkv_width).zip(&rows) {
                let (q, rest) = row.split_at_mut(d);
                let (k, v) = rest.split_at_mut(kv);
                self.apply_rope(q, position);
                self.apply_rope(k, position);
                segments[s].sequence.layers[l].push(k, v);
            }
            let caches: Vec<&LayerCache> = segments.iter().map(|s| &s.sequence.layers[l]).collect();
            match pass {
                Pass::Prompt if t > 1 => prompt_attention(c, &qkv, caches[0], rows[0].1, t, &mut attended),
                _ => decode_attention(c, &qkv, &caches, &rows, &mut attended),
            }
            layer.output.forward(&attended, &mut acts, t, &mut projected, pass);
            x.iter_mut().zip(&projected).for_each(|(x, p)| *x += p);

            rms_norm(&x, &layer.ffn_norm, c.rms_eps, &mut normed);
            layer.gate_up.forward(&normed, &mut acts, t, &mut gate_up, pass);
            // SiLU(gate) · up, with e^-gate computed in one vector pass.
            for (gu, h) in gate_up.chunks_exact(2 * ff).zip(hidden.chunks_exact_mut(ff)) {
                let (gate, up) = gu.split_at(ff);
                h.iter_mut().zip(gate).for_each(|(h, g)| *h = -g);
                vector::exp_in_place(h);
                for ((h, g), u) in h.iter_mut().zip(gate).zip(up) {
                    *h = g / (1.0 + *h) * u;
                }
            }
            layer.down.forward(&hidden, &mut acts, t, &mut projected, pass);
            x.iter_mut().zip(&projected).for_each(|(x, p)| *x += p);
        }
        for segment in segments.iter_mut() {
            segment.sequence.tokens.extend_from_slice(segment.tokens);
        }
        Ok(x)
    }

    /// Output logits (`rows × vocab`) of the final hidden states `hidden` (`rows × embedding`).
    fn logits(&self, hidden: &[f32], rows: usize) -> Vec<f32> {
        let c = &self.config;
        let mut normed = vec![0f32; rows * c.embedding];
        rms_norm(hidden, &self.output_norm, c.rms_eps, &mut normed);
        let mut acts = Vec::new();
        quantize_activations(&normed, &mut acts);
        let mut logits = vec![0f32; rows * c.vocab];
        if rows == 1 {
            self.output.matvec(&acts, &mut logits);
        } else {
            self.output.matmul(&acts, rows, &mut logits);
        }
        logits
    }

    /// Rotates each head's consecutive pairs `(x[2i], x[2i+1])` by `position · θ_i` (GGUF llama
    /// weights are permuted for this interleaved form).
    fn apply_rope(&self, x: &mut [f32], position: usize) {
        let half = self.config.head_dim() / 2;
        let table = &self.rope[position * half * 2..(position + 1) * half * 2];
        for head in x.chunks_exact_mut(2 * half) {
            for (pair, cs) in head.chunks_exact_mut(2).zip(table.chunks_exact(2)) {
                let (a, b) = (pair[0], pair[1]);
                pair[0] = a * cs[0] - b * cs[1];
                pair[1] = a * cs[1] + b * cs[0];
            }
        }
    }
}

fn rope_table(head_dim: usize, base: f32, positions: usize) -> Vec<f32> {
    let half = head_dim / 2;
    let mut table = Vec::with_capacity(positions * half * 2);
    for p in 0..positions {
        for i in 0..half {
            let theta = p as f32 * base.powf(-((2 * i) as f32) / head_dim as f32);
            table.push(theta.cos());
            table.push(theta.sin());
        }
    }
    table
}

/// `out = x / rms(x) * weight`, row by row.
fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let d = weight.len();
    for (x, out) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let mean_square = x.iter().map(|v| v * v).sum::<f32>() / d as f32;
        let scale = 1.0 / (mean_square + eps).sqrt();
        for ((o, v), w) in out.iter_mut().zip(x).zip(weight) {
            *o = v * scale * w;
        }
    }
}

/// Cached positions one decode-attention task covers. A decode step has one query row and only
/// a few key/value heads (SmolLM2: 3), too few tasks to keep every thread busy (3 on 2 threads
/// leave one idle a third of the time); contexts are therefore split into blocks of this many
/// positions, each block's softmax kept partial (its maximum, its sum of exponentials and its
/// unnormalised weighted values) and the blocks merged afterwards. The split depends on the
/// position count only, never on the thread count or the batch.
///
/// 128 rather than 256: a completion's context (150–300 positions) then makes 6–9 tasks instead
/// of 3–6, and a decode step on a 2-core Zen 1 ran 3–8 % faster there (medians of 7 alternated
/// rounds), the same at 600 positions; 64 was no better at 200–280 and slower at 600.
const ATTENTION_BLOCK: usize = 128;

/// One block's share of a group's attention: per query head the block's largest score, its sum of
/// `e^(score − max)` and `Σ e^(score − max) · value` (`group × head_dim`).
struct PartialAttention {
    max: Vec<f32>,
    sum: Vec<f32>,
    weighted: Vec<f32>,
}

/// Attention as a decode step computes it, for each new query row (its segment's cache and its
/// position in `rows`) over its cache up to its own position: one task per row, key/value head and
/// [block](ATTENTION_BLOCK) of cached positions, which serves its whole group of query heads while
/// each cached key and value row is read once; then the blocks of each row and head are merged in
/// order. A row's result depends on nothing else in the batch, which is what makes draft
/// verification and batched decoding exact.
fn decode_attention(c: &LlamaConfig, qkv: &[f32], caches: &[&LayerCache], rows: &[(usize, usize)], out: &mut [f32]) {
    let (d, kv, hd) = (c.embedding, c.kv_dim(), c.head_dim());
    let qkv_width = d + 2 * kv;
    let group = c.heads / c.kv_heads;
    let scale = 1.0 / (hd as f32).sqrt();
    // (row, key/value head, first position, end position) for every block, in output order.
    let tasks: Vec<(usize, usize, usize, usize)> = rows
        .iter()
        .enumerate()
        .flat_map(|(i, &(_, position))| {
            (0..c.kv_heads).flat_map(move |g| {
                (0..=position).step_by(ATTENTION_BLOCK).map(move |first| (i, g, first, (first + ATTENTION_BLOCK).min(position + 1)))
            })
        })
        .collect();
    let partials: Vec<PartialAttention> = tasks
        .par_iter()
        .map(|&(i, g, first, end)| {
            let cache = caches[rows[i].0];
            let positions = end - first;
            let kv_offset = first * kv + g * hd;
            let queries = &qkv[i * qkv_width + g * group * hd..i * qkv_width + (g + 1) * group * hd];
            let mut scores = vec![0f32; group * positions];
            vector::group_scores(queries, hd, &cache.k, kv, kv_offset, positions, scale, &mut scores);
            let (mut max, mut sum) = (Vec::with_capacity(group), Vec::with_capacity(group));
            for row in scores.chunks_exact_mut(positions) {
                let (m, s) = exponentiate_in_place(row);
                max.push(m);
                sum.push(s);
            }
            let mut weighted = vec![0f32; group * hd];
            vector::group_values(&scores, &cache.v, kv, kv_offset, positions, hd, &mut weighted);
            PartialAttention { max, sum, weighted }
        })
        .collect();
    // The blocks of one (row, head) are consecutive: merge each run in order.
    let mut partials = partials.iter();
    for (task, out) in out[..rows.len() * d].chunks_exact_mut(group * hd).enumerate() {
        let position = rows[task / c.kv_heads].1;
        let blocks: Vec<&PartialAttention> = partials.by_ref().take((position + 1).div_ceil(ATTENTION_BLOCK)).collect();
        merge_partial_attention(&blocks, hd, out);
    }
    debug_assert!(partials.next().is_none(), "every block was merged");
}

/// `row[p] = e^(row[p] − max)`; returns the max and the sum of the exponentials.
fn exponentiate_in_place(row: &mut [f32]) -> (f32, f32) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    row.iter_mut().for_each(|s| *s -= max);
    vector::exp_in_place(row);
    (max, row.iter().sum())
}

/// A group's attention output from its blocks' partial softmaxes: every block rescaled to the
/// overall maximum, summed in block order, divided by the overall sum of exponentials.
fn merge_partial_attention(blocks: &[&PartialAttention], head_dim: usize, out: &mut [f32]) {
    for (h, out) in out.chunks_exact_mut(head_dim).enumerate() {
        let max = blocks.iter().map(|b| b.max[h]).fold(f32::NEG_INFINITY, f32::max);
        out.fill(0.0);
        let mut sum = 0.0;
        for block in blocks {
            let factor = (block.max[h] - max).exp();
            sum += factor * block.sum[h];
            out.iter_mut().zip(&block.weighted[h * head_dim..(h + 1) * head_dim]).for_each(|(o, w)| *o += factor * w);
        }
        let inverse = 1.0 / sum;
        out.iter_mut().for_each(|o| *o *= inverse);
    }
}

fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    row.iter_mut().for_each(|s| *s -= max);
    vector::exp_in_place(row);
    let inverse = 1.0 / row.iter().sum::<f32>();
    row.iter_mut().for_each(|s| *s *= inverse);
}

/// Many queries: per query head, scores and weighted values as two GEMMs over the cache's keys and
/// values widened to f32 (one `positions × head_dim` copy per key/value head), the causal mask
/// applied between them; one task per query head.
fn prompt_attention(c: &LlamaConfig, qkv: &[f32], cache: &LayerCache, start: usize, t: usize, out: &mut [f32]) {
    let (d, kv, hd) = (c.embedding, c.kv_dim(), c.head_dim());
    let qkv_width = d + 2 * kv;
    let group = c.heads / c.kv_heads;
    let scale = 1.0 / (hd as f32).sqrt();
    let total = start + t;
    let widened: Vec<(Vec<f32>, Vec<f32>)> =
        (0..c.kv_heads).into_par_iter().map(|g| (widen_head(&cache.k, kv, g, hd), widen_head(&cache.v, kv, g, hd))).collect();
    let per_head: Vec<Vec<f32>> = (0..c.heads)
        .into_par_iter()
        .map(|h| {
            let (keys, values) = &widened[h / group];
            let mut scores = vec![0f32; t * total];
            // scores (t × total) = Q_h (t × hd) · K_hᵀ (hd × total)
            dense::matmul(
                (t, total, hd),
                &mut scores,
                View::rows(0, total),
                qkv,
                View { offset: h * hd, row_stride: qkv_width, col_stride: 1 },
                keys,
                View { offset: 0, row_stride: 1, col_stride: hd },
                false,
                1,
            );
            for (i, row) in scores.chunks_exact_mut(total).enumerate() {
                let visible = start + i + 1;
                row[..visible].iter_mut().for_each(|s| *s *= scale);
                softmax_in_place(&mut row[..visible]);
                row[visible..].iter_mut().for_each(|s| *s = 0.0);
            }
            // out_h (t × hd) = P (t × total) · V_h (total × hd)
            let mut head_out = vec![0f32; t * hd];
            dense::matmul(
                (t, hd, total),
                &mut head_out,
                View::rows(0, hd),
                &scores,
                View::rows(0, total),
                values,
                View { offset: 0, row_stride: hd, col_stride: 1 },
                false,
                1,
            );
            head_out
        })
        .collect();
    for (h, head_out) in per_head.iter().enumerate() {
        for (i, row) in head_out.chunks_exact(hd).enumerate() {
            out[i * d + h * hd..i * d + (h + 1) * hd].copy_from_slice(row);
        }
    }
}

/// Keys and values of every evaluated position of one layer, `kv_dim` halves per position (key
/// and value heads side by side).
#[derive(Debug, Clone, Default)]
struct LayerCache {
    k: Vec<f16>,
    v: Vec<f16>,
}

impl LayerCache {
    /// Appends one position's keys and values, rounded to f16.
    fn push(&mut self, k: &[f32], v: &[f32]) {
        for (cache, x) in [(&mut self.k, k), (&mut self.v, v)] {
            let at = cache.len();
            cache.resize(at + x.len(), f16::ZERO);
            vector::narrow(x, &mut cache[at..]);
        }
    }
}

/// Head `head` of a cache part (keys or values, `kv_dim` halves per position) for every cached
/// position, as a contiguous `positions × head_dim` f32 matrix.
fn widen_head(part: &[f16], kv_dim: usize, head: usize, head_dim: usize) -> Vec<f32> {
    let mut out = vec![0f32; part.len() / kv_dim * head_dim];
    for (row, out) in part.chunks_exact(kv_dim).zip(out.chunks_exact_mut(head_dim)) {
        vector::widen(&row[head * head_dim..][..head_dim], out);
    }
    out
}

/// Tokens to evaluate after what a sequence holds: one part of a batched forward pass.
pub struct Segment<'a> {
    /// The sequence, whose cache grows by the tokens.
    pub sequence: &'a mut Sequence,
    /// The tokens.
    pub tokens: &'a [u32],
}

/// One sequence's state: the tokens evaluated so far and their keys/values per layer.
#[derive(Debug, Clone)]
pub struct Sequence {
    layers: Vec<LayerCache>,
    tokens: Vec<u32>,
}

impl Sequence {
    /// Tokens evaluated so far.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Forgets everything after the first `len` tokens (to reuse a shared prefix).
    pub fn truncate(&mut self, len: usize) {
        if len >= self.tokens.len() {
            return;
        }
        let per_position = self.layers.first().map_or(0, |l| if self.tokens.is_empty() { 0 } else { l.k.len() / self.tokens.len() });
        for layer in &mut self.layers {
            layer.k.truncate(len * per_position);
            layer.v.truncate(len * per_position);
        }
        self.tokens.truncate(len);
    }

    /// Bytes held by the KV cache.
    pub fn size_in_bytes(&self) -> usize {
        self.layers.iter().map(|l| (l.k.len() + l.v.len()) * size_of::<f16>()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gguf_llama::tests::smollm2_path;
    use candle_core::Tensor;
    use candle_transformers::models::quantized_llama::ModelWeights;

    fn load() -> (NativeLlama, ModelWeights, Vec<u32>) {
        let path = smollm2_path();
        let mut file = std::fs::File::open(&path).expect("open");
        let content = Content::read(&mut file).expect("gguf");
        let native = NativeLlama::load(&content, &mut file, 2048).expect("native");
        let tokenizer = crate::model::tokenizer::from_gguf(&content).expect("tokenizer");
        let reference = ModelWeights::from_gguf(content, &mut file, &Device::Cpu).expect("candle");
        let prompt = "def fibonacci(n):\n    if n <= 1:\n        return n\n    return fibonacci(n - 1) +";
        let tokens = tokenizer.encode(prompt, false).expect("encode").get_ids().to_vec();
        (native, reference, tokens)
    }

    fn softmax(logits: &[f32]) -> Vec<f32> {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        exp.into_iter().map(|e| e / sum).collect()
    }

    fn argmax(v: &[f32]) -> usize {
        v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).expect("non-empty")
    }

    /// The native engine computes the same distribution as candle's quantized llama (which
    /// follows GGML's reference), for a prompt and for the decode step after it.
    fn assert_close(native: &[f32], reference: &[f32]) {
        assert_eq!(argmax(native), argmax(reference));
        let (p, q) = (softmax(native), softmax(reference));
        let worst = p.iter().zip(&q).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 0.02, "largest probability difference {worst}");
    }

    #[test]
    fn matches_candle_on_prefill_and_decode_with_both_prompt_paths() {
        let (native, mut reference, tokens) = load();
        assert!(NativeLlama::takes_prompt_pass(tokens.len()), "the prompt must take the tiled GEMM path");
        let input = Tensor::new(tokens.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
        let expected_prefill = reference.forward(&input, 0).unwrap().squeeze(0).unwrap().to_vec1::<f32>().unwrap();
        let next = argmax(&expected_prefill) as u32;
        let step = Tensor::new(&[next], &Device::Cpu).unwrap().unsqueeze(0).unwrap();
        let expected_decode = reference.forward(&step, tokens.len()).unwrap().squeeze(0).unwrap().to_vec1::<f32>().unwrap();

        // The prompt pass (f32 GEMM over expanded weight tiles), then the exact pass (integer
        // products, as speculative verification evaluates a prompt).
        for prompt_pass in [true, false] {
            let mut sequence = native.new_sequence();
            let prefill = if prompt_pass {
                native.forward(&mut sequence, &tokens).unwrap()
            } else {
                native.forward_each(&mut sequence, &tokens).unwrap().pop().unwrap()
            };
            assert_close(&prefill, &expected_prefill);
            let decode = native.forward(&mut sequence, &[next]).unwrap();
            assert_close(&decode, &expected_decode);
            assert_eq!(sequence.tokens().len(), tokens.len() + 1);
        }
    }

    #[test]
    fn truncating_a_sequence_replays_the_same_logits() {
        let (native, _, tokens) = load();
        let mut sequence = native.new_sequence();
        native.forward(&mut sequence, &tokens).unwrap();
        let cold = native.forward(&mut sequence, &[tokens[0]]).unwrap();
        sequence.truncate(tokens.len());
        let warm = native.forward(&mut sequence, &[tokens[0]]).unwrap();
        assert_eq!(cold, warm);
    }

    #[test]
    fn scoring_several_tokens_at_once_equals_one_decode_step_each_bit_for_bit() {
        let (native, _, tokens) = load();
        let (prompt, continuation) = tokens.split_at(tokens.len() - 6);
        let mut stepped = native.new_sequence();
        native.forward(&mut stepped, prompt).unwrap();
        let one_by_one: Vec<Vec<f32>> = continuation.iter().map(|&token| native.forward(&mut stepped, &[token]).unwrap()).collect();
        let mut batched = native.new_sequence();
        native.forward(&mut batched, prompt).unwrap();
        let at_once = native.forward_each(&mut batched, continuation).unwrap();
        assert_eq!(at_once, one_by_one);
        assert_eq!(batched.tokens(), stepped.tokens());
        // Rewinding after a verification leaves the cache as if the rejected tokens were never seen.
        batched.truncate(prompt.len() + 2);
        stepped.truncate(prompt.len() + 2);
        assert_eq!(native.forward(&mut batched, &[continuation[0]]).unwrap(), native.forward(&mut stepped, &[continuation[0]]).unwrap());
    }

    #[test]
    fn attention_split_into_blocks_stays_exact_and_matches_candle_past_the_first_block() {
        let (native, mut reference, tokens) = load();
        // A context whose decode steps cross the end of the first attention block.
        let long: Vec<u32> = tokens.iter().copied().cycle().take(ATTENTION_BLOCK + 3).collect();
        let (prompt, continuation) = long.split_at(ATTENTION_BLOCK - 3);
        let mut stepped = native.new_sequence();
        native.forward(&mut stepped, prompt).unwrap();
        let one_by_one: Vec<Vec<f32>> = continuation.iter().map(|&token| native.forward(&mut stepped, &[token]).unwrap()).collect();
        let mut batched = native.new_sequence();
        native.forward(&mut batched, prompt).unwrap();
        assert_eq!(native.forward_each(&mut batched, continuation).unwrap(), one_by_one);
        let input = Tensor::new(long.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
        let expected = reference.forward(&input, 0).unwrap().squeeze(0).unwrap().to_vec1::<f32>().unwrap();
        assert_close(one_by_one.last().unwrap(), &expected);
    }

    #[test]
    fn merged_attention_blocks_equal_one_softmax_over_the_whole_context() {
        // Two query heads per key/value head, two such groups; rows inside the first block, on
        // its last position, alone at the start of the second and third blocks, and inside the
        // third.
        let c = LlamaConfig { layers: 1, embedding: 32, feed_forward: 0, heads: 4, kv_heads: 2, vocab: 0, rope_base: 0.0, rms_eps: 0.0 };
        let (d, kv, hd) = (c.embedding, c.kv_dim(), c.head_dim());
        let cached = 2 * ATTENTION_BLOCK + 40;
        // Deterministic values; the second block's keys are half as large again, so the blocks'
        // maxima differ enough that a block rescaled wrongly shows, yet every block still weighs
        // enough that a dropped one shows too.
        let value = |i: usize| ((i * 7919 % 1009) as f32 / 1009.0 - 0.5) * 6.0;
        let key = |i: usize| if (ATTENTION_BLOCK..2 * ATTENTION_BLOCK).contains(&(i / kv)) { 1.5 * value(i) } else { value(i) };
        let cache = LayerCache {
            k: (0..cached * kv).map(|i| f16::from_f32(key(i))).collect(),
            v: (0..cached * kv).map(|i| f16::from_f32(value(i + 17))).collect(),
        };
        let rows = [(0, 5), (0, ATTENTION_BLOCK - 1), (0, ATTENTION_BLOCK), (0, 2 * ATTENTION_BLOCK), (0, cached - 1)];
        let qkv: Vec<f32> = (0..rows.len() * (d + 2 * kv)).map(|i| value(i + 101)).collect();
        let mut out = vec![0f32; rows.len() * d];
        decode_attention(&c, &qkv, &[&cache], &rows, &mut out);
        let scale = 1.0 / (hd as f32).sqrt();
        for (i, &(_, position)) in rows.iter().enumerate() {
            for h in 0..c.heads {
                let query = &qkv[i * (d + 2 * kv) + h * hd..][..hd];
                let key_head = h / (c.heads / c.kv_heads);
                let at = |p: usize| p * kv + key_head * hd;
                let scores: Vec<f64> = (0..=position)
                    .map(|p| query.iter().zip(&cache.k[at(p)..][..hd]).map(|(q, k)| f64::from(q * k.to_f32())).sum::<f64>() * f64::from(scale))
                    .collect();
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = weights.iter().sum();
                for j in 0..hd {
                    let expected = (0..=position).map(|p| weights[p] * f64::from(cache.v[at(p) + j].to_f32())).sum::<f64>() / total;
                    let got = f64::from(out[i * d + h * hd + j]);
                    assert!((got - expected).abs() < 1e-4, "row {i} head {h} dim {j}: {got} vs {expected}");
                }
            }
        }
    }

    #[test]
    fn out_of_range_input_is_an_error_not_a_panic() {
        let (native, _, _) = load();
        let mut sequence = native.new_sequence();
        assert!(native.forward(&mut sequence, &[u32::MAX]).is_err());
        assert!(native.forward(&mut sequence, &[]).is_err());
        assert!(native.forward(&mut sequence, &vec![1; 2049]).is_err());
    }
}
