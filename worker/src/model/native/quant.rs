//! Quantized weight matrices and their dot products with quantized activations — the decode hot
//! path. Weights stay in the GGUF file's own block formats (Q4_1, Q8_0: the same bytes llama.cpp
//! reads), anything else is re-quantized to Q8_0 at load. Activations are quantized once per
//! matrix-vector product to 8-bit blocks, so each block's dot product is integer multiply-adds
//! (`vpmaddubsw` on AVX2) and one fused multiply-add of the scales.
//!
//! The AVX2 kernels are `unsafe` (as are those of [`dense`](super::dense) and
//! [`vector`](super::vector), and the weight mmap of the StarCoder2 runtime — nothing else in the
//! worker): `std::arch` intrinsics behind a runtime CPU check, reading whole blocks through
//! references whose layout is fixed by `repr(C)`.
//! The scalar kernels are the specification; a test holds the two to the same results.

#![allow(unsafe_code)]

use half::f16;
use rayon::prelude::*;

/// Elements per quantization block (every format here).
pub const BLOCK: usize = 32;

/// Tokens whose products share one unpacking of each weight block (enough accumulators to fill
/// the AVX2 registers without spilling).
const TOKEN_GROUP: usize = 4;

/// 32 weights as `d * q + m`, `q` in 0..16, two per byte: byte `j` holds element `j` in its low
/// nibble and element `j + 16` in its high nibble (GGML's Q4_1).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct BlockQ4_1 {
    d: u16,
    m: u16,
    qs: [u8; 16],
}

/// 32 weights as `d * q`, `q` a signed byte (GGML's Q8_0).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct BlockQ8_0 {
    d: u16,
    qs: [i8; 32],
}

/// 32 activations as `d * q`, with `s = d * Σq` precomputed for Q4_1's offset term (GGML's Q8_1,
/// with f32 scales).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct ActBlock {
    d: f32,
    s: f32,
    qs: [i8; 32],
}

/// The storage of a quantized matrix: `rows` rows of `cols / 32` blocks each.
#[derive(Debug, Clone)]
enum Blocks {
    Q4_1(Vec<BlockQ4_1>),
    Q8_0(Vec<BlockQ8_0>),
}

/// A row-major quantized matrix (`rows` output features × `cols` inputs).
#[derive(Debug, Clone)]
pub struct QMatrix {
    rows: usize,
    cols: usize,
    blocks: Blocks,
}

/// Whether the AVX2+FMA+F16C kernels can run on this CPU (checked once).
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static DETECTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *DETECTED.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("f16c")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl QMatrix {
    /// Takes GGUF Q4_1 bytes (20 per block) as they are.
    pub fn from_q4_1_bytes(rows: usize, cols: usize, bytes: &[u8]) -> Self {
        assert_eq!(cols % BLOCK, 0, "Q4_1 rows must be whole blocks");
        assert_eq!(bytes.len(), rows * cols / BLOCK * 20, "Q4_1 size");
        let blocks = bytes
            .chunks_exact(20)
            .map(|b| BlockQ4_1 {
                d: u16::from_le_bytes([b[0], b[1]]),
                m: u16::from_le_bytes([b[2], b[3]]),
                qs: b[4..20].try_into().expect("16 bytes"),
            })
            .collect();
        Self { rows, cols, blocks: Blocks::Q4_1(blocks) }
    }

    /// Takes GGUF Q8_0 bytes (34 per block) as they are.
    pub fn from_q8_0_bytes(rows: usize, cols: usize, bytes: &[u8]) -> Self {
        assert_eq!(cols % BLOCK, 0, "Q8_0 rows must be whole blocks");
        assert_eq!(bytes.len(), rows * cols / BLOCK * 34, "Q8_0 size");
        let blocks = bytes
            .chunks_exact(34)
            .map(|b| {
                let mut qs = [0i8; 32];
                for (q, &byte) in qs.iter_mut().zip(&b[2..34]) {
                    *q = byte as i8;
                }
                BlockQ8_0 { d: u16::from_le_bytes([b[0], b[1]]), qs }
            })
            .collect();
        Self { rows, cols, blocks: Blocks::Q8_0(blocks) }
    }

    /// Quantizes f32 weights (row-major) to Q8_0: the format for every source type without a
    /// kernel of its own (near-lossless from any 4–8-bit source).
    pub fn quantize_q8_0(rows: usize, cols: usize, weights: &[f32]) -> Self {
        assert_eq!(cols % BLOCK, 0, "rows must be whole blocks");
        assert_eq!(weights.len(), rows * cols);
        let blocks = weights
            .chunks_exact(BLOCK)
            .map(|x| {
                let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
                let d = amax / 127.0;
                let inv = if d == 0.0 { 0.0 } else { 1.0 / d };
                let mut qs = [0i8; 32];
                for (q, v) in qs.iter_mut().zip(x) {
                    *q = (v * inv).round() as i8;
                }
                BlockQ8_0 { d: f16::from_f32(d).to_bits(), qs }
            })
            .collect();
        Self { rows, cols, blocks: Blocks::Q8_0(blocks) }
    }

    /// Stacks matrices with the same column count (e.g. Q, K and V) into one, so one product
    /// computes all three; mixed formats are re-quantized to Q8_0.
    pub fn stack(parts: Vec<QMatrix>) -> Self {
        let cols = parts[0].cols;
        assert!(parts.iter().all(|p| p.cols == cols), "stacked matrices must share their column count");
        let rows = parts.iter().map(|p| p.rows).sum();
        let all_q4 = parts.iter().all(|p| matches!(p.blocks, Blocks::Q4_1(_)));
        let all_q8 = parts.iter().all(|p| matches!(p.blocks, Blocks::Q8_0(_)));
        let blocks = if all_q4 {
            Blocks::Q4_1(parts.into_iter().flat_map(|p| if let Blocks::Q4_1(b) = p.blocks { b } else { unreachable!() }).collect())
        } else if all_q8 {
            Blocks::Q8_0(parts.into_iter().flat_map(|p| if let Blocks::Q8_0(b) = p.blocks { b } else { unreachable!() }).collect())
        } else {
            let dense: Vec<f32> = parts.iter().flat_map(QMatrix::dequantize).collect();
            return Self::quantize_q8_0(rows, cols, &dense);
        };
        Self { rows, cols, blocks }
    }

    /// Output features.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input features.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes of weight data (what one matrix-vector product streams from memory).
    pub fn size_in_bytes(&self) -> usize {
        match &self.blocks {
            Blocks::Q4_1(b) => b.len() * size_of::<BlockQ4_1>(),
            Blocks::Q8_0(b) => b.len() * size_of::<BlockQ8_0>(),
        }
    }

    /// The matrix as f32, row-major (re-quantizing mixed stacks, and tests).
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.rows * self.cols);
        match &self.blocks {
            Blocks::Q4_1(blocks) => {
                for b in blocks {
                    let (d, m) = (f16::from_bits(b.d).to_f32(), f16::from_bits(b.m).to_f32());
                    out.extend(b.qs.iter().map(|q| d * f32::from(q & 0x0F) + m));
                    out.extend(b.qs.iter().map(|q| d * f32::from(q >> 4) + m));
                }
            }
            Blocks::Q8_0(blocks) => {
                for b in blocks {
                    let d = f16::from_bits(b.d).to_f32();
                    out.extend(b.qs.iter().map(|&q| d * f32::from(q)));
                }
            }
        }
        out
    }

    /// One row as f32 (an embedding lookup).
    pub fn dequantize_row(&self, row: usize, out: &mut [f32]) {
        self.dequantize_rows(row..row + 1, out);
    }

    /// Rows `rows` as f32, row-major, into `out` (`rows.len() × cols`): a prompt pass expands one
    /// cache-sized tile of weights at a time instead of keeping a dense copy of the model.
    pub fn dequantize_rows(&self, rows: std::ops::Range<usize>, out: &mut [f32]) {
        assert!(rows.end <= self.rows, "rows out of range");
        assert_eq!(out.len(), rows.len() * self.cols, "output size");
        let per_row = self.cols / BLOCK;
        let range = rows.start * per_row..rows.end * per_row;
        match &self.blocks {
            Blocks::Q4_1(blocks) => {
                for (b, o) in blocks[range].iter().zip(out.chunks_exact_mut(BLOCK)) {
                    let (d, m) = (f16::from_bits(b.d).to_f32(), f16::from_bits(b.m).to_f32());
                    for (j, q) in b.qs.iter().enumerate() {
                        o[j] = d * f32::from(q & 0x0F) + m;
                        o[j + 16] = d * f32::from(q >> 4) + m;
                    }
                }
            }
            Blocks::Q8_0(blocks) => {
                for (b, o) in blocks[range].iter().zip(out.chunks_exact_mut(BLOCK)) {
                    let d = f16::from_bits(b.d).to_f32();
                    for (o, &q) in o.iter_mut().zip(&b.qs) {
                        *o = d * f32::from(q);
                    }
                }
            }
        }
    }

    /// `out[r] = row_r · x` for every row, `x` quantized with [`quantize_activations`]; rows are
    /// split across the current rayon pool.
    pub fn matvec(&self, x: &[ActBlock], out: &mut [f32]) {
        assert_eq!(x.len(), self.cols / BLOCK, "activation blocks");
        assert_eq!(out.len(), self.rows, "output rows");
        let chunk = (self.rows / (4 * rayon::current_num_threads())).clamp(16, 1024);
        out.par_chunks_mut(chunk).enumerate().for_each(|(c, out)| self.rows_dot(c * chunk, x, out));
    }

    /// `out[t][r] = row_r · x_t` for `tokens` activation rows (draft verification, batched decode
    /// steps and the quantized prefill path). Each weight block is unpacked once for up to
    /// [`TOKEN_GROUP`] tokens, and every `(row, token)` product is computed exactly as
    /// [`matvec`](Self::matvec) computes it, bit for bit.
    pub fn matmul(&self, x: &[ActBlock], tokens: usize, out: &mut [f32]) {
        let per_row = self.cols / BLOCK;
        assert_eq!(x.len(), tokens * per_row, "activation blocks");
        assert_eq!(out.len(), tokens * self.rows, "output size");
        let chunk = (self.rows / (4 * rayon::current_num_threads())).clamp(8, 256);
        let mut transposed = vec![0f32; self.rows * tokens];
        transposed.par_chunks_mut(chunk * tokens).enumerate().for_each(|(c, block)| {
            for (i, per_token) in block.chunks_exact_mut(tokens).enumerate() {
                self.row_dot_tokens(c * chunk + i, x, per_token);
            }
        });
        for r in 0..self.rows {
            for t in 0..tokens {
                out[t * self.rows + r] = transposed[r * tokens + t];
            }
        }
    }

    /// Row `row` dotted with each of the `out.len()` activation rows of `x`, a group of tokens at a
    /// time.
    fn row_dot_tokens(&self, row: usize, x: &[ActBlock], out: &mut [f32]) {
        let per_row = self.cols / BLOCK;
        let kernels = Kernels::in_use();
        for (group, out) in out.chunks_mut(TOKEN_GROUP).enumerate() {
            let x = &x[group * TOKEN_GROUP * per_row..(group * TOKEN_GROUP + out.len()) * per_row];
            self.row_dot_group(kernels, row, x, out);
        }
    }

    /// Dot products of rows `first..first + out.len()` with `x`.
    fn rows_dot(&self, first: usize, x: &[ActBlock], out: &mut [f32]) {
        let kernels = Kernels::in_use();
        for (i, o) in out.iter_mut().enumerate() {
            self.row_dot_group(kernels, first + i, x, std::slice::from_mut(o));
        }
    }

    /// Row `row` dotted with the `out.len()` (1 to [`TOKEN_GROUP`]) activation rows of `x`, with
    /// `kernels` (which the CPU must have: [`Kernels::in_use`] or [`Kernels::available`]).
    fn row_dot_group(&self, kernels: Kernels, row: usize, x: &[ActBlock], out: &mut [f32]) {
        let per_row = self.cols / BLOCK;
        let range = row * per_row..(row + 1) * per_row;
        match (kernels, &self.blocks) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller chose kernels this CPU has.
            (Kernels::Avx512Vnni, Blocks::Q4_1(b)) => unsafe { avx512_vnni::dot_q4_1_tokens(&b[range], x, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Kernels::Avx512Vnni, Blocks::Q8_0(b)) => unsafe { avx512_vnni::dot_q8_0_tokens(&b[range], x, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Kernels::Avx2, Blocks::Q4_1(b)) => unsafe { avx2::dot_q4_1_tokens(&b[range], x, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Kernels::Avx2, Blocks::Q8_0(b)) => unsafe { avx2::dot_q8_0_tokens(&b[range], x, out) },
            (_, Blocks::Q4_1(b)) => {
                for (o, x) in out.iter_mut().zip(x.chunks_exact(per_row)) {
                    *o = scalar::dot_q4_1(&b[range.clone()], x);
                }
            }
            (_, Blocks::Q8_0(b)) => {
                for (o, x) in out.iter_mut().zip(x.chunks_exact(per_row)) {
                    *o = scalar::dot_q8_0(&b[range.clone()], x);
                }
            }
        }
    }
}

/// The instruction set the quantized kernels run with, chosen at run time from what the CPU has:
/// AVX-512 VNNI, else AVX2, else plain Rust. The two SIMD sets give bit-identical results (see
/// [`avx512_vnni`]), so the choice changes speed, never output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kernels {
    /// The reference kernels, any CPU.
    Scalar,
    /// AVX2 with FMA and F16C.
    Avx2,
    /// AVX2's set plus AVX-512 F, BW, VL and VNNI.
    Avx512Vnni,
}

impl Kernels {
    /// Every set, slowest first.
    pub const ALL: [Kernels; 3] = [Kernels::Scalar, Kernels::Avx2, Kernels::Avx512Vnni];

    /// Whether this CPU can run the set.
    pub fn available(self) -> bool {
        match self {
            Kernels::Scalar => true,
            Kernels::Avx2 => has_avx2(),
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512Vnni => {
                has_avx2()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Kernels::Avx512Vnni => false,
        }
    }

    /// The set the worker runs: the best available, capped by `MODEL_CPU_KERNELS`
    /// (`scalar`, `avx2`, `avx512vnni`; for measuring one against another). Chosen once.
    pub fn in_use() -> Kernels {
        static CHOSEN: std::sync::OnceLock<Kernels> = std::sync::OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let cap = match std::env::var("MODEL_CPU_KERNELS").ok().as_deref().map(str::trim) {
                Some("scalar") => Kernels::Scalar,
                Some("avx2") => Kernels::Avx2,
                _ => Kernels::Avx512Vnni,
            };
            Kernels::ALL.into_iter().filter(|k| *k <= cap && k.available()).max().unwrap_or(Kernels::Scalar)
        })
    }

    /// Its name, as `MODEL_CPU_KERNELS` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Kernels::Scalar => "scalar",
            Kernels::Avx2 => "avx2",
            Kernels::Avx512Vnni => "avx512vnni",
        }
    }
}

/// Quantizes activations to 8-bit blocks (round to nearest, scale = max |x| / 127), as GGML's Q8_1.
pub fn quantize_activations(x: &[f32], out: &mut Vec<ActBlock>) {
    assert_eq!(x.len() % BLOCK, 0, "activations must be whole blocks");
    out.clear();
    out.extend(x.chunks_exact(BLOCK).map(|x| {
        let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
        let d = amax / 127.0;
        let inv = if d == 0.0 { 0.0 } else { 1.0 / d };
        let mut qs = [0i8; 32];
        let mut sum = 0i32;
        for (q, v) in qs.iter_mut().zip(x) {
            *q = (v * inv).round() as i8;
            sum += i32::from(*q);
        }
        ActBlock { d, s: d * sum as f32, qs }
    }));
}

/// The reference kernels: plain Rust, any CPU.
mod scalar {
    use super::*;

    pub fn dot_q4_1(w: &[BlockQ4_1], x: &[ActBlock]) -> f32 {
        w.iter()
            .zip(x)
            .map(|(w, x)| {
                let (d, m) = (f16::from_bits(w.d).to_f32(), f16::from_bits(w.m).to_f32());
                let mut sum = 0i32;
                for (j, q) in w.qs.iter().enumerate() {
                    sum += i32::from(q & 0x0F) * i32::from(x.qs[j]) + i32::from(q >> 4) * i32::from(x.qs[j + 16]);
                }
                d * x.d * sum as f32 + m * x.s
            })
            .sum()
    }

    pub fn dot_q8_0(w: &[BlockQ8_0], x: &[ActBlock]) -> f32 {
        w.iter()
            .zip(x)
            .map(|(w, x)| {
                let sum: i32 = w.qs.iter().zip(&x.qs).map(|(&a, &b)| i32::from(a) * i32::from(b)).sum();
                f16::from_bits(w.d).to_f32() * x.d * sum as f32
            })
            .sum()
    }
}

/// The SIMD kernels, stamped out once per instruction set: every kernel is the same code, with
/// the module's `mul_sum_us8` (the 32-lane integer dot product) inside, so two instruction sets
/// produce the same integer sums and round their floats in the same order — bit-identical results.
#[cfg(target_arch = "x86_64")]
macro_rules! int8_kernels {
    ($features:literal) => {
        use super::{ActBlock, BlockQ4_1, BlockQ8_0};
        use std::arch::x86_64::*;

        /// Horizontal sum of 8 lanes.
        #[inline]
        #[target_feature(enable = $features)]
        fn hsum(v: __m256) -> f32 {
            let lo = _mm256_castps256_ps128(v);
            let hi = _mm256_extractf128_ps::<1>(v);
            let s = _mm_add_ps(lo, hi);
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_movehdup_ps(s));
            _mm_cvtss_f32(s)
        }

        /// Two f16 scales to f32.
        #[inline]
        #[target_feature(enable = $features)]
        fn halves(a: u16, b: u16) -> (f32, f32) {
            let v = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, 0, 0, b as i16, a as i16));
            (_mm_cvtss_f32(v), _mm_cvtss_f32(_mm_movehdup_ps(v)))
        }

        /// `out[j] = w · x_j` for the `out.len()` (1 to 4) activation rows of `x`, each `w.len()` blocks.
        ///
        /// # Safety
        /// The CPU must support the module's features; `x` holds `out.len()` rows of `w.len()` blocks.
        #[target_feature(enable = $features)]
        pub unsafe fn dot_q4_1_tokens(w: &[BlockQ4_1], x: &[ActBlock], out: &mut [f32]) {
            // SAFETY (each arm): the caller's guarantees, `out` sized to the arm's count.
            unsafe {
                match out.len() {
                    1 => q4_1_tokens::<1>(w, x, out),
                    2 => q4_1_tokens::<2>(w, x, out),
                    3 => q4_1_tokens::<3>(w, x, out),
                    4 => q4_1_tokens::<4>(w, x, out),
                    n => unreachable!("token groups hold 1 to 4 tokens, not {n}"),
                }
            }
        }

        /// As [`dot_q4_1_tokens`] for Q8_0 weights.
        ///
        /// # Safety
        /// As [`dot_q4_1_tokens`].
        #[target_feature(enable = $features)]
        pub unsafe fn dot_q8_0_tokens(w: &[BlockQ8_0], x: &[ActBlock], out: &mut [f32]) {
            // SAFETY (each arm): the caller's guarantees, `out` sized to the arm's count.
            unsafe {
                match out.len() {
                    1 => q8_0_tokens::<1>(w, x, out),
                    2 => q8_0_tokens::<2>(w, x, out),
                    3 => q8_0_tokens::<3>(w, x, out),
                    4 => q8_0_tokens::<4>(w, x, out),
                    n => unreachable!("token groups hold 1 to 4 tokens, not {n}"),
                }
            }
        }

        /// `N` dot products sharing each weight block's unpacking; each token's accumulation runs in
        /// the same order as a lone product's, so the results do not depend on `N`.
        #[inline]
        #[target_feature(enable = $features)]
        unsafe fn q4_1_tokens<const N: usize>(w: &[BlockQ4_1], x: &[ActBlock], out: &mut [f32]) {
            let blocks = w.len();
            assert!(x.len() == N * blocks && out.len() == N);
            let mut acc = [_mm256_setzero_ps(); N];
            let mut offsets = [0f32; N];
            let low_nibbles = _mm256_set1_epi8(0x0F);
            for (b, w) in w.iter().enumerate() {
                let (d, m) = halves(w.d, w.m);
                // SAFETY: `qs` is 16 bytes; the unaligned load reads exactly those.
                let packed = unsafe { _mm_loadu_si128(w.qs.as_ptr().cast()) };
                let both = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(packed), _mm_srli_epi16::<4>(packed));
                let qw = _mm256_and_si256(both, low_nibbles);
                for j in 0..N {
                    let x = &x[j * blocks + b];
                    offsets[j] += m * x.s;
                    // SAFETY: `x.qs` is 32 bytes.
                    let qx = unsafe { _mm256_loadu_si256(x.qs.as_ptr().cast()) };
                    acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * x.d), mul_sum_us8(qw, qx), acc[j]);
                }
            }
            for j in 0..N {
                out[j] = hsum(acc[j]) + offsets[j];
            }
        }

        /// As [`q4_1_tokens`] for Q8_0 weights.
        #[inline]
        #[target_feature(enable = $features)]
        unsafe fn q8_0_tokens<const N: usize>(w: &[BlockQ8_0], x: &[ActBlock], out: &mut [f32]) {
            let blocks = w.len();
            assert!(x.len() == N * blocks && out.len() == N);
            let mut acc = [_mm256_setzero_ps(); N];
            for (b, w) in w.iter().enumerate() {
                let (d, _) = halves(w.d, 0);
                // SAFETY: `qs` is 32 bytes.
                let qw = unsafe { _mm256_loadu_si256(w.qs.as_ptr().cast()) };
                let magnitudes = _mm256_sign_epi8(qw, qw);
                for j in 0..N {
                    let x = &x[j * blocks + b];
                    // SAFETY: `x.qs` is 32 bytes.
                    let qx = unsafe { _mm256_loadu_si256(x.qs.as_ptr().cast()) };
                    // |w| × (x with w's sign): maddubs needs one unsigned operand.
                    let dot = mul_sum_us8(magnitudes, _mm256_sign_epi8(qx, qw));
                    acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * x.d), dot, acc[j]);
                }
            }
            for j in 0..N {
                out[j] = hsum(acc[j]);
            }
        }
    };
}

/// AVX2 (+FMA, F16C): `vpmaddubsw` then `vpmaddwd` for each block's integer dot product. No
/// pair of products can saturate the 16-bit step: Q4_1's are at most 2 · 15 · 127 and Q8_0's
/// 2 · 128 · 127, below 32,767.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    int8_kernels!("avx2,fma,f16c");

    /// Σ over 32 lanes of unsigned `a` × signed `b`, as 8 f32 partial sums.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn mul_sum_us8(a: __m256i, b: __m256i) -> __m256 {
        let pairs = _mm256_maddubs_epi16(a, b);
        _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
    }
}

/// AVX-512 VNNI at 256 bits (EVEX `vpdpbusd` on ymm registers): one instruction per block's
/// integer dot product instead of two. The sums are the AVX2 kernel's exactly (its 16-bit step
/// never saturates), so the two give the same floats bit for bit; 256 bits rather than 512 keeps
/// that accumulation order, and CPUs that split 512-bit operations (AMD Zen 4) lose nothing.
#[cfg(target_arch = "x86_64")]
mod avx512_vnni {
    int8_kernels!("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni");

    /// Σ over 32 lanes of unsigned `a` × signed `b`, as 8 f32 partial sums.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    fn mul_sum_us8(a: __m256i, b: __m256i) -> __m256 {
        _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), a, b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    fn q4_1_bytes(rows: usize, cols: usize, seed: u32) -> Vec<u8> {
        let values = pseudo_random(rows * cols, seed);
        let mut bytes = Vec::new();
        for block in values.chunks_exact(BLOCK) {
            let min = block.iter().copied().fold(f32::INFINITY, f32::min);
            let max = block.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let d = (max - min) / 15.0;
            bytes.extend(f16::from_f32(d).to_le_bytes());
            bytes.extend(f16::from_f32(min).to_le_bytes());
            for j in 0..16 {
                let q = |v: f32| ((v - min) / d).round().clamp(0.0, 15.0) as u8;
                bytes.push(q(block[j]) | (q(block[j + 16]) << 4));
            }
        }
        bytes
    }

    fn exact_dot(w: &QMatrix, x: &[f32]) -> Vec<f32> {
        let dense = w.dequantize();
        dense.chunks_exact(w.cols()).map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum()).collect()
    }

    #[test]
    fn kernels_match_the_reference_and_the_exact_product() {
        let (rows, cols) = (37, 8 * BLOCK);
        let x = pseudo_random(cols, 7);
        let mut acts = Vec::new();
        quantize_activations(&x, &mut acts);
        for matrix in
            [QMatrix::from_q4_1_bytes(rows, cols, &q4_1_bytes(rows, cols, 3)), QMatrix::quantize_q8_0(rows, cols, &pseudo_random(rows * cols, 5))]
        {
            let mut fast = vec![0f32; rows];
            matrix.matvec(&acts, &mut fast);
            let exact = exact_dot(&matrix, &x);
            for r in 0..rows {
                let range = r * cols / BLOCK..(r + 1) * cols / BLOCK;
                let reference = match &matrix.blocks {
                    Blocks::Q4_1(b) => scalar::dot_q4_1(&b[range], &acts),
                    Blocks::Q8_0(b) => scalar::dot_q8_0(&b[range], &acts),
                };
                assert!((fast[r] - reference).abs() <= 1e-4 * (1.0 + reference.abs()), "row {r}: {} vs {reference}", fast[r]);
                // 8-bit activations: a few hundredths on a 256-term product of magnitude ~5.
                assert!((fast[r] - exact[r]).abs() < 0.2, "row {r}: {} vs exact {}", fast[r], exact[r]);
            }
        }
    }

    #[test]
    fn every_kernel_set_this_cpu_has_matches_the_scalar_reference_and_the_simd_sets_agree_bit_for_bit() {
        let (rows, cols) = (19, 12 * BLOCK);
        let available: Vec<Kernels> = Kernels::ALL.into_iter().filter(|k| k.available()).collect();
        eprintln!("kernel sets on this CPU: {:?} (in use: {:?})", available, Kernels::in_use());
        let q4_1 = QMatrix::from_q4_1_bytes(rows, cols, &q4_1_bytes(rows, cols, 23));
        // Extreme Q8_0 weights (±127, and -128 as a GGUF file may hold) against extreme activations:
        // the largest products the integer steps must carry without saturating.
        let mut extreme = QMatrix::quantize_q8_0(rows, cols, &pseudo_random(rows * cols, 29));
        if let Blocks::Q8_0(blocks) = &mut extreme.blocks {
            for (i, block) in blocks.iter_mut().enumerate() {
                block.qs = std::array::from_fn(|j| {
                    if (i + j) % 3 == 0 {
                        -128
                    } else if j % 2 == 0 {
                        127
                    } else {
                        -127
                    }
                });
            }
        }
        let q8_0 = QMatrix::quantize_q8_0(rows, cols, &pseudo_random(rows * cols, 31));
        for matrix in [q4_1, q8_0, extreme] {
            for tokens in 1..=TOKEN_GROUP {
                let mut x = pseudo_random(tokens * cols, 37 + tokens as u32);
                x[0] = 1.0; // some blocks quantize to exactly ±127
                x[cols / 2] = -1.0;
                let mut acts = Vec::new();
                quantize_activations(&x, &mut acts);
                let results: Vec<Vec<f32>> = available
                    .iter()
                    .map(|&kernels| {
                        let mut out = vec![0f32; rows * tokens];
                        for (row, out) in out.chunks_exact_mut(tokens).enumerate() {
                            matrix.row_dot_group(kernels, row, &acts, out);
                        }
                        out
                    })
                    .collect();
                let reference = &results[0];
                for (kernels, result) in available.iter().zip(&results) {
                    for (got, want) in result.iter().zip(reference) {
                        assert!((got - want).abs() <= 1e-4 * (1.0 + want.abs()), "{kernels:?}: {got} vs scalar {want}");
                    }
                }
                // The SIMD sets: the same sums in the same order.
                for pair in results[1..].windows(2) {
                    assert_eq!(pair[0], pair[1], "{tokens} tokens: the SIMD sets differ");
                }
            }
        }
    }

    #[test]
    fn matmul_equals_one_matvec_per_token_bit_for_bit_in_every_group_size() {
        let (rows, cols) = (50, 4 * BLOCK);
        let q4_1 = QMatrix::from_q4_1_bytes(rows, cols, &q4_1_bytes(rows, cols, 11));
        let q8_0 = QMatrix::quantize_q8_0(rows, cols, &pseudo_random(rows * cols, 17));
        for matrix in [q4_1, q8_0] {
            // 1 to 9 tokens: whole groups of four, partial groups, and both.
            for tokens in 1..=9 {
                let x = pseudo_random(tokens * cols, 13 + tokens as u32);
                let mut acts = Vec::new();
                quantize_activations(&x, &mut acts);
                let mut batched = vec![0f32; tokens * rows];
                matrix.matmul(&acts, tokens, &mut batched);
                for t in 0..tokens {
                    let mut single = vec![0f32; rows];
                    matrix.matvec(&acts[t * cols / BLOCK..(t + 1) * cols / BLOCK], &mut single);
                    assert_eq!(&batched[t * rows..(t + 1) * rows], single.as_slice(), "token {t} of {tokens}");
                }
            }
        }
    }

    #[test]
    fn stacking_keeps_rows_in_order_and_requantizes_mixed_formats() {
        let cols = 2 * BLOCK;
        let a = QMatrix::from_q4_1_bytes(3, cols, &q4_1_bytes(3, cols, 1));
        let b = QMatrix::quantize_q8_0(2, cols, &pseudo_random(2 * cols, 2));
        let expected: Vec<f32> = a.dequantize().into_iter().chain(b.dequantize()).collect();
        let stacked = QMatrix::stack(vec![a, b]);
        assert_eq!(stacked.rows(), 5);
        for (got, want) in stacked.dequantize().iter().zip(&expected) {
            assert!((got - want).abs() < 0.01, "{got} vs {want}");
        }
    }
}
