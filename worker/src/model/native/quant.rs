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

/// Rows stored interleaved: the kernels compute this many rows' dot products at once, one per
/// 32-bit lane of a 256-bit register, so a block's integer dot product is 4-byte multiply-adds
/// against a broadcast of the activations and its scales apply to all rows in one vector
/// operation — no horizontal sums, and one scale conversion for eight rows.
pub const ROW_GROUP: usize = 8;

/// How far ahead of the block being multiplied the kernels ask for weights (`prefetcht1`). Decode
/// streams every weight once per step, and a task's row groups are contiguous, so this is a plain
/// sequential stream, yet the hardware prefetchers alone leave each core waiting on memory: on a
/// 2-core AMD EPYC (Zen 3) VM, a model-sized cycle of products streamed 11–12 GB/s per core
/// without this and 15–18 GB/s with it (1 KiB, 2 KiB, 3 KiB and 6 KiB ahead measured between).
const PREFETCH_DISTANCE: usize = 4096;

/// 32 weights as `d * q + m`, `q` in 0..16, two per byte: byte `j` holds element `j` in its low
/// nibble and element `j + 16` in its high nibble (GGML's Q4_1, as the file stores it).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct BlockQ4_1 {
    d: u16,
    m: u16,
    qs: [u8; 16],
}

/// 32 weights as `d * q`, `q` a signed byte (GGML's Q8_0, as the file stores it).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct BlockQ8_0 {
    d: u16,
    qs: [i8; 32],
}

/// One block column of [`ROW_GROUP`] Q4_1 rows, interleaved: the rows' scales side by side, and
/// 4-byte runs of their packed weights — run `k` of row `r` (its bytes `4k..4k + 4`, so elements
/// `4k..4k + 4` in the low nibbles and `16 + 4k..` in the high ones) at `32k + 4r`. The same 160
/// bytes as eight file blocks.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct GroupQ4_1 {
    d: [u16; ROW_GROUP],
    m: [u16; ROW_GROUP],
    qs: [u8; 16 * ROW_GROUP],
}

/// One block column of [`ROW_GROUP`] Q8_0 rows, interleaved as [`GroupQ4_1`]: run `k` (elements
/// `4k..4k + 4`) of row `r` at `32k + 4r`.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct GroupQ8_0 {
    d: [u16; ROW_GROUP],
    qs: [i8; 32 * ROW_GROUP],
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

/// The storage of a quantized matrix: for each group of [`ROW_GROUP`] rows (the last padded with
/// zero rows), its `cols / 32` block columns.
#[derive(Debug, Clone)]
enum Blocks {
    Q4_1(Vec<GroupQ4_1>),
    Q8_0(Vec<GroupQ8_0>),
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

impl GroupQ4_1 {
    const EMPTY: Self = Self { d: [0; ROW_GROUP], m: [0; ROW_GROUP], qs: [0; 16 * ROW_GROUP] };

    fn set(&mut self, lane: usize, block: &BlockQ4_1) {
        self.d[lane] = block.d;
        self.m[lane] = block.m;
        for (k, run) in block.qs.chunks_exact(4).enumerate() {
            self.qs[32 * k + 4 * lane..][..4].copy_from_slice(run);
        }
    }

    fn get(&self, lane: usize) -> BlockQ4_1 {
        let mut qs = [0u8; 16];
        for (k, run) in qs.chunks_exact_mut(4).enumerate() {
            run.copy_from_slice(&self.qs[32 * k + 4 * lane..][..4]);
        }
        BlockQ4_1 { d: self.d[lane], m: self.m[lane], qs }
    }
}

impl GroupQ8_0 {
    const EMPTY: Self = Self { d: [0; ROW_GROUP], qs: [0; 32 * ROW_GROUP] };

    fn set(&mut self, lane: usize, block: &BlockQ8_0) {
        self.d[lane] = block.d;
        for (k, run) in block.qs.chunks_exact(4).enumerate() {
            self.qs[32 * k + 4 * lane..][..4].copy_from_slice(run);
        }
    }

    fn get(&self, lane: usize) -> BlockQ8_0 {
        let mut qs = [0i8; 32];
        for (k, run) in qs.chunks_exact_mut(4).enumerate() {
            run.copy_from_slice(&self.qs[32 * k + 4 * lane..][..4]);
        }
        BlockQ8_0 { d: self.d[lane], qs }
    }
}

/// Interleaves `rows` rows of `per_row` blocks (`block(i)` is the `i`-th block in row-major
/// order) into groups of [`ROW_GROUP`] rows, padding the last group with `empty`.
fn interleave<B, G: Copy>(rows: usize, per_row: usize, block: impl Fn(usize) -> B, empty: G, set: impl Fn(&mut G, usize, &B)) -> Vec<G> {
    let mut groups = Vec::with_capacity(rows.div_ceil(ROW_GROUP) * per_row);
    for first in (0..rows).step_by(ROW_GROUP) {
        for b in 0..per_row {
            let mut group = empty;
            for (lane, row) in (first..rows.min(first + ROW_GROUP)).enumerate() {
                set(&mut group, lane, &block(row * per_row + b));
            }
            groups.push(group);
        }
    }
    groups
}

fn q4_1_block(bytes: &[u8]) -> BlockQ4_1 {
    BlockQ4_1 {
        d: u16::from_le_bytes([bytes[0], bytes[1]]),
        m: u16::from_le_bytes([bytes[2], bytes[3]]),
        qs: bytes[4..20].try_into().expect("16 bytes"),
    }
}

fn q8_0_block(bytes: &[u8]) -> BlockQ8_0 {
    BlockQ8_0 { d: u16::from_le_bytes([bytes[0], bytes[1]]), qs: std::array::from_fn(|j| bytes[2 + j] as i8) }
}

impl QMatrix {
    /// Takes GGUF Q4_1 bytes (20 per block), interleaving their rows.
    pub fn from_q4_1_bytes(rows: usize, cols: usize, bytes: &[u8]) -> Self {
        assert_eq!(cols % BLOCK, 0, "Q4_1 rows must be whole blocks");
        assert_eq!(bytes.len(), rows * cols / BLOCK * 20, "Q4_1 size");
        let groups = interleave(rows, cols / BLOCK, |i| q4_1_block(&bytes[20 * i..20 * i + 20]), GroupQ4_1::EMPTY, GroupQ4_1::set);
        Self { rows, cols, blocks: Blocks::Q4_1(groups) }
    }

    /// Takes GGUF Q8_0 bytes (34 per block), interleaving their rows.
    pub fn from_q8_0_bytes(rows: usize, cols: usize, bytes: &[u8]) -> Self {
        assert_eq!(cols % BLOCK, 0, "Q8_0 rows must be whole blocks");
        assert_eq!(bytes.len(), rows * cols / BLOCK * 34, "Q8_0 size");
        let groups = interleave(rows, cols / BLOCK, |i| q8_0_block(&bytes[34 * i..34 * i + 34]), GroupQ8_0::EMPTY, GroupQ8_0::set);
        Self { rows, cols, blocks: Blocks::Q8_0(groups) }
    }

    /// Quantizes f32 weights (row-major) to Q8_0: the format for every source type without a
    /// kernel of its own (near-lossless from any 4–8-bit source).
    pub fn quantize_q8_0(rows: usize, cols: usize, weights: &[f32]) -> Self {
        assert_eq!(cols % BLOCK, 0, "rows must be whole blocks");
        assert_eq!(weights.len(), rows * cols);
        let block = |i: usize| {
            let x = &weights[i * BLOCK..(i + 1) * BLOCK];
            let (d, inv) = block_scale(largest_magnitude(x));
            BlockQ8_0 { d: f16::from_f32(d).to_bits(), qs: std::array::from_fn(|j| (x[j] * inv).round() as i8) }
        };
        Self { rows, cols, blocks: Blocks::Q8_0(interleave(rows, cols / BLOCK, block, GroupQ8_0::EMPTY, GroupQ8_0::set)) }
    }

    /// Stacks matrices with the same column count (e.g. Q, K and V) into one, so one product
    /// computes all three; mixed formats are re-quantized to Q8_0.
    pub fn stack(parts: Vec<QMatrix>) -> Self {
        let cols = parts[0].cols;
        assert!(parts.iter().all(|p| p.cols == cols), "stacked matrices must share their column count");
        let rows = parts.iter().map(|p| p.rows).sum();
        let per_row = cols / BLOCK;
        // Row-major order of every part's rows: (part, row).
        let owners: Vec<(usize, usize)> = parts.iter().enumerate().flat_map(|(p, part)| (0..part.rows).map(move |r| (p, r))).collect();
        let all_q4 = parts.iter().all(|p| matches!(p.blocks, Blocks::Q4_1(_)));
        let all_q8 = parts.iter().all(|p| matches!(p.blocks, Blocks::Q8_0(_)));
        let blocks = if all_q4 {
            let block = |i: usize| {
                let (p, r) = owners[i / per_row];
                parts[p].q4_1_block(r, i % per_row)
            };
            Blocks::Q4_1(interleave(rows, per_row, block, GroupQ4_1::EMPTY, GroupQ4_1::set))
        } else if all_q8 {
            let block = |i: usize| {
                let (p, r) = owners[i / per_row];
                parts[p].q8_0_block(r, i % per_row)
            };
            Blocks::Q8_0(interleave(rows, per_row, block, GroupQ8_0::EMPTY, GroupQ8_0::set))
        } else {
            let dense: Vec<f32> = parts.iter().flat_map(QMatrix::dequantize).collect();
            return Self::quantize_q8_0(rows, cols, &dense);
        };
        Self { rows, cols, blocks }
    }

    /// Block `b` of row `row` of a Q4_1 matrix, as the file stored it.
    fn q4_1_block(&self, row: usize, b: usize) -> BlockQ4_1 {
        let Blocks::Q4_1(groups) = &self.blocks else { unreachable!("a Q4_1 matrix") };
        groups[row / ROW_GROUP * (self.cols / BLOCK) + b].get(row % ROW_GROUP)
    }

    /// Block `b` of row `row` of a Q8_0 matrix, as the file stored it.
    fn q8_0_block(&self, row: usize, b: usize) -> BlockQ8_0 {
        let Blocks::Q8_0(groups) = &self.blocks else { unreachable!("a Q8_0 matrix") };
        groups[row / ROW_GROUP * (self.cols / BLOCK) + b].get(row % ROW_GROUP)
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
            Blocks::Q4_1(b) => b.len() * size_of::<GroupQ4_1>(),
            Blocks::Q8_0(b) => b.len() * size_of::<GroupQ8_0>(),
        }
    }

    /// The matrix as f32, row-major (re-quantizing mixed stacks, and tests).
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        self.dequantize_rows(0..self.rows, &mut out);
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
        for (row, out) in rows.zip(out.chunks_exact_mut(self.cols)) {
            for (b, o) in out.chunks_exact_mut(BLOCK).enumerate() {
                match &self.blocks {
                    Blocks::Q4_1(_) => {
                        let block = self.q4_1_block(row, b);
                        let (d, m) = (f16::from_bits(block.d).to_f32(), f16::from_bits(block.m).to_f32());
                        for (j, q) in block.qs.iter().enumerate() {
                            o[j] = d * f32::from(q & 0x0F) + m;
                            o[j + 16] = d * f32::from(q >> 4) + m;
                        }
                    }
                    Blocks::Q8_0(_) => {
                        let block = self.q8_0_block(row, b);
                        let d = f16::from_bits(block.d).to_f32();
                        for (o, &q) in o.iter_mut().zip(&block.qs) {
                            *o = d * f32::from(q);
                        }
                    }
                }
            }
            debug_assert_eq!(out.len(), per_row * BLOCK);
        }
    }

    /// Row groups, the last possibly padded.
    fn groups(&self) -> usize {
        self.rows.div_ceil(ROW_GROUP)
    }

    /// Row groups per parallel task: about four tasks per thread.
    fn groups_per_task(&self) -> usize {
        (self.groups() / (4 * rayon::current_num_threads())).clamp(1, 128)
    }

    /// `out[r] = row_r · x` for every row, `x` quantized with [`quantize_activations`]; row groups
    /// are split across the current rayon pool.
    pub fn matvec(&self, x: &[ActBlock], out: &mut [f32]) {
        assert_eq!(x.len(), self.cols / BLOCK, "activation blocks");
        assert_eq!(out.len(), self.rows, "output rows");
        let kernels = Kernels::in_use();
        let per_task = self.groups_per_task();
        out.par_chunks_mut(per_task * ROW_GROUP).enumerate().for_each(|(task, out)| {
            for (i, out) in out.chunks_mut(ROW_GROUP).enumerate() {
                let mut lanes = [[0f32; ROW_GROUP]];
                self.group_dot(kernels, task * per_task + i, x, &mut lanes);
                out.copy_from_slice(&lanes[0][..out.len()]);
            }
        });
    }

    /// `out[t][r] = row_r · x_t` for `tokens` activation rows (draft verification and batched
    /// decode steps). Each weight block is unpacked once for up to [`TOKEN_GROUP`] tokens, and
    /// every `(row, token)` product is computed exactly as [`matvec`](Self::matvec) computes it,
    /// bit for bit.
    pub fn matmul(&self, x: &[ActBlock], tokens: usize, out: &mut [f32]) {
        let per_row = self.cols / BLOCK;
        assert_eq!(x.len(), tokens * per_row, "activation blocks");
        assert_eq!(out.len(), tokens * self.rows, "output size");
        let kernels = Kernels::in_use();
        let per_task = self.groups_per_task();
        // Per row group, per token, the group's lanes.
        let mut lanes = vec![[0f32; ROW_GROUP]; self.groups() * tokens];
        lanes.par_chunks_mut(per_task * tokens).enumerate().for_each(|(task, lanes)| {
            for (i, per_token) in lanes.chunks_exact_mut(tokens).enumerate() {
                for (tg, out) in per_token.chunks_mut(TOKEN_GROUP).enumerate() {
                    let first = tg * TOKEN_GROUP;
                    self.group_dot(kernels, task * per_task + i, &x[first * per_row..(first + out.len()) * per_row], out);
                }
            }
        });
        for (g, per_token) in lanes.chunks_exact(tokens).enumerate() {
            let first = g * ROW_GROUP;
            let width = ROW_GROUP.min(self.rows - first);
            for (t, group) in per_token.iter().enumerate() {
                out[t * self.rows + first..][..width].copy_from_slice(&group[..width]);
            }
        }
    }

    /// Row group `group` dotted with the `out.len()` (1 to [`TOKEN_GROUP`]) activation rows of
    /// `x`, with `kernels` (which the CPU must have: [`Kernels::in_use`] or
    /// [`Kernels::available`]).
    fn group_dot(&self, kernels: Kernels, group: usize, x: &[ActBlock], out: &mut [[f32; ROW_GROUP]]) {
        let per_row = self.cols / BLOCK;
        let range = group * per_row..(group + 1) * per_row;
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

/// A block's 8-bit scale `d = amax / 127` from its largest |x|, and the factor `1 / d` that scales
/// its values, 0 where `d` is 0 or so small (`amax` under about 4e-37) that the reciprocal
/// overflows: such a block quantizes to zeros, within 1e-36 of its true value, instead of to
/// saturated ±127s. Every quantizer uses it, so every scaled value stays within ±127.0001 and no
/// conversion to `i8` ever saturates (which keeps the SIMD path's results the portable one's).
fn block_scale(amax: f32) -> (f32, f32) {
    let d = amax / 127.0;
    let inv = 1.0 / d;
    (d, if d == 0.0 || !inv.is_finite() { 0.0 } else { inv })
}

/// The largest |x| of a block (the portable quantizers' maximum).
fn largest_magnitude(x: &[f32]) -> f32 {
    x.iter().fold(0f32, |a, v| a.max(v.abs()))
}

/// Quantizes activations to 8-bit blocks (round to nearest, scale = max |x| / 127), as GGML's Q8_1.
pub fn quantize_activations(x: &[f32], out: &mut Vec<ActBlock>) {
    assert_eq!(x.len() % BLOCK, 0, "activations must be whole blocks");
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: features checked.
        return unsafe { quantize_blocks_avx2(x, out) };
    }
    quantize_blocks(x, out);
}

/// [`quantize_blocks`] in AVX2 instructions, bit for bit: the same maximum, scale and products,
/// rounding half away from zero as `f32::round` does (truncate, then step away from zero where
/// the dropped fraction is at least one half). Activations are quantized on one thread between
/// two parallel products, so this is on every decode step's critical path, where a libm `round`
/// call per element (what the portable code compiles to) was a few percent of a step.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_blocks_avx2(x: &[f32], out: &mut Vec<ActBlock>) {
    use std::arch::x86_64::*;
    out.clear();
    out.reserve(x.len() / BLOCK);
    let sign = _mm256_set1_ps(-0.0);
    let half = _mm256_set1_ps(0.5);
    let one = _mm256_set1_ps(1.0);
    // Restores element order after the two in-lane packs.
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for x in x.chunks_exact(BLOCK) {
        // SAFETY: `x` is 32 floats: four unaligned 8-float loads.
        let v: [__m256; 4] = std::array::from_fn(|i| unsafe { _mm256_loadu_ps(x.as_ptr().add(8 * i)) });
        let abs = |v: __m256| _mm256_andnot_ps(sign, v);
        let m = _mm256_max_ps(_mm256_max_ps(abs(v[0]), abs(v[1])), _mm256_max_ps(abs(v[2]), abs(v[3])));
        let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        let amax = _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps::<1>(m, m)));
        let (d, inv) = block_scale(amax);
        let inv = _mm256_set1_ps(inv);
        let q: [__m256i; 4] = std::array::from_fn(|i| {
            let scaled = _mm256_mul_ps(v[i], inv);
            let truncated = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(scaled);
            let up = _mm256_cmp_ps::<_CMP_GE_OQ>(abs(_mm256_sub_ps(scaled, truncated)), half);
            let step = _mm256_and_ps(up, _mm256_or_ps(_mm256_and_ps(scaled, sign), one));
            _mm256_cvttps_epi32(_mm256_add_ps(truncated, step))
        });
        let total = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        let total = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256::<1>(total));
        let total = _mm_add_epi32(total, _mm_unpackhi_epi64(total, total));
        let sum = _mm_cvtsi128_si32(_mm_add_epi32(total, _mm_shuffle_epi32::<1>(total)));
        let packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        let mut block = ActBlock { d, s: d * sum as f32, qs: [0; 32] };
        // SAFETY: `qs` is 32 bytes.
        unsafe { _mm256_storeu_si256(block.qs.as_mut_ptr().cast(), _mm256_permutevar8x32_epi32(packed, order)) };
        out.push(block);
    }
}

fn quantize_blocks(x: &[f32], out: &mut Vec<ActBlock>) {
    out.clear();
    out.extend(x.chunks_exact(BLOCK).map(|x| {
        let (d, inv) = block_scale(largest_magnitude(x));
        let mut qs = [0i8; 32];
        let mut sum = 0i32;
        for (q, v) in qs.iter_mut().zip(x) {
            *q = (v * inv).round() as i8;
            sum += i32::from(*q);
        }
        ActBlock { d, s: d * sum as f32, qs }
    }));
}

/// The reference kernels: plain Rust, any CPU. They are the specification of the SIMD kernels'
/// arithmetic — exact integer sums per block and row, then fused multiply-adds in block order —
/// so all three sets give the same floats bit for bit.
mod scalar {
    use super::*;

    /// Row `lane`'s integer dot product with `x` in one Q4_1 group block: low nibbles against
    /// elements `4k..`, high nibbles against `16 + 4k..`.
    fn q4_1_sum(w: &GroupQ4_1, lane: usize, x: &ActBlock) -> i32 {
        let mut sum = 0i32;
        for k in 0..4 {
            for i in 0..4 {
                let q = w.qs[32 * k + 4 * lane + i];
                sum += i32::from(q & 0x0F) * i32::from(x.qs[4 * k + i]) + i32::from(q >> 4) * i32::from(x.qs[16 + 4 * k + i]);
            }
        }
        sum
    }

    pub fn dot_q4_1(w: &[GroupQ4_1], x: &[ActBlock]) -> [f32; ROW_GROUP] {
        let (mut acc, mut offsets) = ([0f32; ROW_GROUP], [0f32; ROW_GROUP]);
        for (w, x) in w.iter().zip(x) {
            for lane in 0..ROW_GROUP {
                let (d, m) = (f16::from_bits(w.d[lane]).to_f32(), f16::from_bits(w.m[lane]).to_f32());
                acc[lane] = (q4_1_sum(w, lane, x) as f32).mul_add(d * x.d, acc[lane]);
                offsets[lane] = m.mul_add(x.s, offsets[lane]);
            }
        }
        std::array::from_fn(|lane| acc[lane] + offsets[lane])
    }

    pub fn dot_q8_0(w: &[GroupQ8_0], x: &[ActBlock]) -> [f32; ROW_GROUP] {
        let mut acc = [0f32; ROW_GROUP];
        for (w, x) in w.iter().zip(x) {
            for (lane, acc) in acc.iter_mut().enumerate() {
                let mut sum = 0i32;
                for k in 0..8 {
                    for i in 0..4 {
                        sum += i32::from(w.qs[32 * k + 4 * lane + i]) * i32::from(x.qs[4 * k + i]);
                    }
                }
                *acc = (sum as f32).mul_add(f16::from_bits(w.d[lane]).to_f32() * x.d, *acc);
            }
        }
        acc
    }
}

/// The SIMD kernels, stamped out once per instruction set: every kernel is the same code around
/// the module's `q4_1_sums` and `q8_0_sums` (a block's exact integer dot products for the group's
/// eight rows), so the sets produce the same integer sums and round their floats in the same order
/// — bit-identical results.
#[cfg(target_arch = "x86_64")]
macro_rules! int8_kernels {
    ($features:literal) => {
        use super::{ActBlock, GroupQ4_1, GroupQ8_0, PREFETCH_DISTANCE, ROW_GROUP};
        use std::arch::x86_64::*;

        /// Bytes `4k..4k + 4` of an activation block, in every 32-bit lane.
        #[inline]
        #[target_feature(enable = $features)]
        fn broadcast_run(x: &ActBlock, k: usize) -> __m256i {
            let run = &x.qs[4 * k..4 * k + 4];
            _mm256_set1_epi32(i32::from_le_bytes([run[0] as u8, run[1] as u8, run[2] as u8, run[3] as u8]))
        }

        /// The eight rows' f16 scales as f32.
        #[inline]
        #[target_feature(enable = $features)]
        fn scales(d: &[u16; ROW_GROUP]) -> __m256 {
            // SAFETY: `d` is 16 bytes; the unaligned load reads exactly those.
            _mm256_cvtph_ps(unsafe { _mm_loadu_si128(d.as_ptr().cast()) })
        }

        /// `out[j][r] = row r · x_j` for the group's rows and the `out.len()` (1 to 4) activation
        /// rows of `x`, each `w.len()` blocks.
        ///
        /// # Safety
        /// The CPU must support the module's features; `x` holds `out.len()` rows of `w.len()` blocks.
        #[target_feature(enable = $features)]
        pub unsafe fn dot_q4_1_tokens(w: &[GroupQ4_1], x: &[ActBlock], out: &mut [[f32; ROW_GROUP]]) {
            match out.len() {
                1 => q4_1_tokens::<1>(w, x, out),
                2 => q4_1_tokens::<2>(w, x, out),
                3 => q4_1_tokens::<3>(w, x, out),
                4 => q4_1_tokens::<4>(w, x, out),
                n => unreachable!("token groups hold 1 to 4 tokens, not {n}"),
            }
        }

        /// As [`dot_q4_1_tokens`] for Q8_0 weights.
        ///
        /// # Safety
        /// As [`dot_q4_1_tokens`].
        #[target_feature(enable = $features)]
        pub unsafe fn dot_q8_0_tokens(w: &[GroupQ8_0], x: &[ActBlock], out: &mut [[f32; ROW_GROUP]]) {
            match out.len() {
                1 => q8_0_tokens::<1>(w, x, out),
                2 => q8_0_tokens::<2>(w, x, out),
                3 => q8_0_tokens::<3>(w, x, out),
                4 => q8_0_tokens::<4>(w, x, out),
                n => unreachable!("token groups hold 1 to 4 tokens, not {n}"),
            }
        }

        /// `N` tokens sharing each block's unpacking; each token's accumulation runs in the same
        /// order as a lone product's, so the results do not depend on `N`.
        #[inline]
        #[target_feature(enable = $features)]
        fn q4_1_tokens<const N: usize>(w: &[GroupQ4_1], x: &[ActBlock], out: &mut [[f32; ROW_GROUP]]) {
            let blocks = w.len();
            assert!(x.len() == N * blocks && out.len() == N);
            let mut acc = [_mm256_setzero_ps(); N];
            let mut offsets = [_mm256_setzero_ps(); N];
            let low_nibbles = _mm256_set1_epi8(0x0F);
            for (b, w) in w.iter().enumerate() {
                prefetch_ahead(w);
                let (d, m) = (scales(&w.d), scales(&w.m));
                let mut low = [_mm256_setzero_si256(); 4];
                let mut high = [_mm256_setzero_si256(); 4];
                for k in 0..4 {
                    // SAFETY: run `k` is bytes `32k..32k + 32` of the 128.
                    let packed = unsafe { _mm256_loadu_si256(w.qs.as_ptr().add(32 * k).cast()) };
                    low[k] = _mm256_and_si256(packed, low_nibbles);
                    high[k] = _mm256_and_si256(_mm256_srli_epi16::<4>(packed), low_nibbles);
                }
                for j in 0..N {
                    let x = &x[j * blocks + b];
                    let sums = _mm256_cvtepi32_ps(q4_1_sums(&low, &high, x));
                    acc[j] = _mm256_fmadd_ps(sums, _mm256_mul_ps(d, _mm256_set1_ps(x.d)), acc[j]);
                    offsets[j] = _mm256_fmadd_ps(m, _mm256_set1_ps(x.s), offsets[j]);
                }
            }
            for j in 0..N {
                // SAFETY: `out[j]` is 8 floats.
                unsafe { _mm256_storeu_ps(out[j].as_mut_ptr(), _mm256_add_ps(acc[j], offsets[j])) };
            }
        }

        /// As [`q4_1_tokens`] for Q8_0 weights.
        #[inline]
        #[target_feature(enable = $features)]
        fn q8_0_tokens<const N: usize>(w: &[GroupQ8_0], x: &[ActBlock], out: &mut [[f32; ROW_GROUP]]) {
            let blocks = w.len();
            assert!(x.len() == N * blocks && out.len() == N);
            let mut acc = [_mm256_setzero_ps(); N];
            for (b, w) in w.iter().enumerate() {
                prefetch_ahead(w);
                let d = scales(&w.d);
                for j in 0..N {
                    let x = &x[j * blocks + b];
                    let sums = _mm256_cvtepi32_ps(q8_0_sums(w, x));
                    acc[j] = _mm256_fmadd_ps(sums, _mm256_mul_ps(d, _mm256_set1_ps(x.d)), acc[j]);
                }
            }
            for j in 0..N {
                // SAFETY: `out[j]` is 8 floats.
                unsafe { _mm256_storeu_ps(out[j].as_mut_ptr(), acc[j]) };
            }
        }

        /// Asks for the cache lines [`PREFETCH_DISTANCE`] bytes past group block `w` (a hint:
        /// addresses past the matrix's end are never read, only requested, and cannot fault).
        /// Consecutive blocks' requests cover every line in between.
        #[inline]
        #[target_feature(enable = $features)]
        fn prefetch_ahead<G>(w: &G) {
            let ahead = std::ptr::from_ref(w).cast::<i8>().wrapping_add(PREFETCH_DISTANCE);
            for line in (0..size_of::<G>()).step_by(64) {
                _mm_prefetch::<_MM_HINT_T1>(ahead.wrapping_add(line));
            }
        }

        /// Run `k` of a Q8_0 group block: 4 signed weights of each of the eight rows.
        #[inline]
        #[target_feature(enable = $features)]
        fn q8_0_run(w: &GroupQ8_0, k: usize) -> __m256i {
            // SAFETY: run `k` is bytes `32k..32k + 32` of the 256.
            unsafe { _mm256_loadu_si256(w.qs.as_ptr().add(32 * k).cast()) }
        }
    };
}

/// AVX2 (+FMA, F16C): `vpmaddubsw` sums pairs of products into 16 bits, `vpmaddwd` widens. Q4_1
/// adds a block's eight 16-bit steps before widening: each is at most 2 · 15 · 127 in magnitude,
/// so eight stay below 32,767. Q8_0's steps (up to 2 · 128 · 127) are widened one at a time.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    int8_kernels!("avx2,fma,f16c");

    /// Each row's exact dot product of a Q4_1 block (unpacked nibbles: `low[k]`, `high[k]`) with `x`.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn q4_1_sums(low: &[__m256i; 4], high: &[__m256i; 4], x: &ActBlock) -> __m256i {
        let mut pairs = _mm256_setzero_si256();
        for k in 0..4 {
            pairs = _mm256_add_epi16(pairs, _mm256_maddubs_epi16(low[k], broadcast_run(x, k)));
            pairs = _mm256_add_epi16(pairs, _mm256_maddubs_epi16(high[k], broadcast_run(x, 4 + k)));
        }
        _mm256_madd_epi16(pairs, _mm256_set1_epi16(1))
    }

    /// Each row's exact dot product of a Q8_0 block with `x`: |w| × (x with w's sign), since
    /// `vpmaddubsw` needs one unsigned operand.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn q8_0_sums(w: &GroupQ8_0, x: &ActBlock) -> __m256i {
        let mut sums = _mm256_setzero_si256();
        for k in 0..8 {
            let w = q8_0_run(w, k);
            let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(broadcast_run(x, k), w));
            sums = _mm256_add_epi32(sums, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
        }
        sums
    }
}

/// AVX-512 VNNI at 256 bits (EVEX `vpdpbusd` on ymm registers): one instruction per 4-byte run
/// instead of AVX2's two or three. The sums are the AVX2 kernel's exactly (its 16-bit steps never
/// saturate), so the two give the same floats bit for bit; 256 bits rather than 512 keeps the
/// layout, and CPUs that split 512-bit operations (AMD Zen 4) lose nothing.
#[cfg(target_arch = "x86_64")]
mod avx512_vnni {
    int8_kernels!("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni");

    /// As the AVX2 module's.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    fn q4_1_sums(low: &[__m256i; 4], high: &[__m256i; 4], x: &ActBlock) -> __m256i {
        let mut sums = _mm256_setzero_si256();
        for k in 0..4 {
            sums = _mm256_dpbusd_epi32(sums, low[k], broadcast_run(x, k));
            sums = _mm256_dpbusd_epi32(sums, high[k], broadcast_run(x, 4 + k));
        }
        sums
    }

    /// As the AVX2 module's.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    fn q8_0_sums(w: &GroupQ8_0, x: &ActBlock) -> __m256i {
        let mut sums = _mm256_setzero_si256();
        for k in 0..8 {
            let w = q8_0_run(w, k);
            sums = _mm256_dpbusd_epi32(sums, _mm256_sign_epi8(w, w), _mm256_sign_epi8(broadcast_run(x, k), w));
        }
        sums
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

    /// What the file's blocks mean, decoded straight from its bytes (no interleaving involved).
    fn decode_file_q4_1(rows: usize, cols: usize, bytes: &[u8]) -> Vec<f32> {
        let mut out = Vec::with_capacity(rows * cols);
        for b in bytes.chunks_exact(20) {
            let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
            let m = f16::from_le_bytes([b[2], b[3]]).to_f32();
            out.extend(b[4..20].iter().map(|q| d * f32::from(q & 0x0F) + m));
            out.extend(b[4..20].iter().map(|q| d * f32::from(q >> 4) + m));
        }
        out
    }

    /// Q8_0 file bytes whose weights are the extremes (±127, and -128 as a GGUF file may hold).
    fn extreme_q8_0_bytes(rows: usize, cols: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        for i in 0..rows * cols / BLOCK {
            bytes.extend(f16::from_f32(0.01 * (1 + i % 7) as f32).to_le_bytes());
            bytes.extend((0..BLOCK).map(|j| {
                let q: i8 = if (i + j) % 3 == 0 {
                    -128
                } else if j % 2 == 0 {
                    127
                } else {
                    -127
                };
                q as u8
            }));
        }
        bytes
    }

    /// Every row's products with `kernels`, row group by row group (`tokens` rows of `acts`).
    fn products(matrix: &QMatrix, kernels: Kernels, acts: &[ActBlock], tokens: usize) -> Vec<f32> {
        let mut out = Vec::new();
        for group in 0..matrix.groups() {
            let mut lanes = vec![[0f32; ROW_GROUP]; tokens];
            matrix.group_dot(kernels, group, acts, &mut lanes);
            out.extend(lanes.iter().flat_map(|lanes| lanes.iter().copied()));
        }
        out
    }

    #[test]
    fn interleaved_rows_keep_the_files_meaning() {
        // 37 rows: four whole groups and a padded one.
        let (rows, cols) = (37, 3 * BLOCK);
        let bytes = q4_1_bytes(rows, cols, 41);
        assert_eq!(QMatrix::from_q4_1_bytes(rows, cols, &bytes).dequantize(), decode_file_q4_1(rows, cols, &bytes));
        let extreme = extreme_q8_0_bytes(rows, cols);
        let decoded: Vec<f32> = extreme
            .chunks_exact(34)
            .flat_map(|b| {
                let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
                b[2..].iter().map(move |&q| d * f32::from(q as i8))
            })
            .collect();
        let matrix = QMatrix::from_q8_0_bytes(rows, cols, &extreme);
        assert_eq!(matrix.dequantize(), decoded);
        let mut row = vec![0f32; cols];
        matrix.dequantize_row(36, &mut row);
        assert_eq!(row, decoded[36 * cols..]);
    }

    #[test]
    fn kernels_match_the_exact_product() {
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
                // 8-bit activations: a few hundredths on a 256-term product of magnitude ~5.
                assert!((fast[r] - exact[r]).abs() < 0.2, "row {r}: {} vs exact {}", fast[r], exact[r]);
            }
        }
    }

    #[test]
    fn every_kernel_set_this_cpu_has_gives_the_scalar_references_floats_bit_for_bit() {
        let (rows, cols) = (19, 12 * BLOCK);
        let available: Vec<Kernels> = Kernels::ALL.into_iter().filter(|k| k.available()).collect();
        eprintln!("kernel sets on this CPU: {:?} (in use: {:?})", available, Kernels::in_use());
        let q4_1 = QMatrix::from_q4_1_bytes(rows, cols, &q4_1_bytes(rows, cols, 23));
        // Extreme Q8_0 weights against extreme activations: the largest products the integer
        // steps must carry without saturating.
        let extreme = QMatrix::from_q8_0_bytes(rows, cols, &extreme_q8_0_bytes(rows, cols));
        let q8_0 = QMatrix::quantize_q8_0(rows, cols, &pseudo_random(rows * cols, 31));
        for matrix in [q4_1, q8_0, extreme] {
            for tokens in 1..=TOKEN_GROUP {
                let mut x = pseudo_random(tokens * cols, 37 + tokens as u32);
                x[0] = 1.0; // some blocks quantize to exactly ±127
                x[cols / 2] = -1.0;
                let mut acts = Vec::new();
                quantize_activations(&x, &mut acts);
                let reference = products(&matrix, Kernels::Scalar, &acts, tokens);
                for &kernels in &available {
                    assert_eq!(products(&matrix, kernels, &acts, tokens), reference, "{kernels:?}, {tokens} tokens");
                }
            }
        }
    }

    #[test]
    fn activations_quantize_alike_on_every_path_halfway_values_included() {
        // Scale 127 / 127.0 = 1 per block, so these values are the scaled ones: halves round away
        // from zero, and 0.49999997 (whose sum with 0.5 rounds up in f32) still rounds down.
        let mut x: Vec<f32> = vec![127.0, 0.5, -0.5, 1.5, -1.5, 2.5, 0.499_999_97, -0.499_999_97, 126.5, -126.5];
        x.resize(32, 3.25);
        x.extend((0..32 * 63).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.173));
        // Zero blocks (scale 0, signed zeros), tiny values, values whose reciprocal scale overflows
        // (largest |x| about 1e-37, subnormals, the boundary 127 · 2^-128 and its neighbours).
        x.extend(std::iter::repeat_n(0.0, 32));
        x.extend((0..32).map(|i| if i % 2 == 0 { -0.0 } else { 0.0 }));
        for amax in [1e-30, 1e-37, 1e-40, 127.0 * 2f32.powi(-128)] {
            for candidate in [f32::from_bits(amax.to_bits() - 1), amax, f32::from_bits(amax.to_bits() + 1)] {
                x.extend((0..32).map(|i| candidate * (i as f32 - 15.0) / 16.0));
            }
        }
        // Every binary exponent, with halfway values at a scale that is not a power of two.
        for exponent in -149..=127 {
            let top = 2f32.powi(exponent) * 1.37;
            let d = top / 127.0;
            x.extend((0..32).map(|i| if i == 0 { top } else { (i as f32 - 16.5) * d }));
        }
        let mut portable = Vec::new();
        quantize_blocks(&x, &mut portable);
        assert_eq!(&portable[0].qs[..10], &[127, 1, -1, 2, -2, 3, 0, 0, 127, -127]);
        // No block saturates: blocks too small to scale quantize to zeros instead.
        assert!(portable.iter().all(|b| b.qs.iter().all(|&q| q != i8::MIN)));
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            let mut vector = Vec::new();
            // SAFETY: features checked.
            unsafe { quantize_blocks_avx2(&x, &mut vector) };
            assert_eq!(portable.len(), vector.len());
            for (a, b) in portable.iter().zip(&vector) {
                assert_eq!((a.qs, a.d.to_bits(), a.s.to_bits()), (b.qs, b.d.to_bits(), b.s.to_bits()));
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

    #[test]
    fn stacking_one_format_keeps_every_weight_across_group_boundaries() {
        let cols = 2 * BLOCK;
        // 5 + 6 + 3 rows: the parts' groups are padded, the stack's are not where they were.
        let parts: Vec<QMatrix> = [5, 6, 3].iter().map(|&rows| QMatrix::from_q4_1_bytes(rows, cols, &q4_1_bytes(rows, cols, rows as u32))).collect();
        let expected: Vec<f32> = parts.iter().flat_map(QMatrix::dequantize).collect();
        let stacked = QMatrix::stack(parts);
        assert_eq!(stacked.rows(), 14);
        assert_eq!(stacked.dequantize(), expected);
        let q8: Vec<QMatrix> = [9, 2].iter().map(|&rows| QMatrix::quantize_q8_0(rows, cols, &pseudo_random(rows * cols, rows as u32))).collect();
        let expected: Vec<f32> = q8.iter().flat_map(QMatrix::dequantize).collect();
        assert_eq!(QMatrix::stack(q8).dequantize(), expected);
    }
}
