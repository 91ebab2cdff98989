//! Dense f32 matrix products for prompt evaluation, on the `gemm` crate (the kernels candle's CPU
//! matmul uses). A prompt of T tokens is compute-bound, so full-width FMA tiles over f32 weights beat
//! re-reading quantized blocks per token. The weights themselves stay quantized:
//! [`matmul_by_weight_tiles`] expands a few dozen rows at a time into a cache-resident buffer, so a
//! prompt costs one dequantization of each weight and no resident f32 copy of the model.

#![allow(unsafe_code)]

use std::ops::Range;

use gemm::Parallelism;
use rayon::prelude::*;

/// A strided view of a row-major-ish matrix inside a slice: element `(r, c)` is at
/// `offset + r * row_stride + c * col_stride`.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Index of element (0, 0).
    pub offset: usize,
    /// Distance between rows.
    pub row_stride: usize,
    /// Distance between columns.
    pub col_stride: usize,
}

impl View {
    /// A contiguous row-major matrix with `cols` columns, starting at `offset`.
    pub fn rows(offset: usize, cols: usize) -> Self {
        Self { offset, row_stride: cols, col_stride: 1 }
    }

    /// The transpose of a contiguous row-major matrix with `cols` columns (a weight matrix used as
    /// `x · Wᵀ`).
    pub fn transposed(cols: usize) -> Self {
        Self { offset: 0, row_stride: 1, col_stride: cols }
    }

    /// Largest index touched by an `rows × cols` matrix (for the bounds check).
    fn last_index(&self, rows: usize, cols: usize) -> usize {
        self.offset + (rows - 1) * self.row_stride + (cols - 1) * self.col_stride
    }
}

/// `dst (m×n) = lhs (m×k) · rhs (k×n)`, or `dst += …` when `accumulate`. Single-threaded when
/// `threads` is 1 (the caller parallelises over heads), otherwise over the current rayon pool.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    dst_view: View,
    lhs: &[f32],
    lhs_view: View,
    rhs: &[f32],
    rhs_view: View,
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(k > 0, "empty inner dimension");
    assert!(dst_view.last_index(m, n) < dst.len(), "dst out of bounds");
    assert!(lhs_view.last_index(m, k) < lhs.len(), "lhs out of bounds");
    assert!(rhs_view.last_index(k, n) < rhs.len(), "rhs out of bounds");
    let parallelism = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    // SAFETY: every index the product touches was bounds-checked above against the slices, which
    // the borrows keep alive and (for `dst`) exclusive for the call.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().add(dst_view.offset),
            dst_view.col_stride as isize,
            dst_view.row_stride as isize,
            accumulate,
            lhs.as_ptr().add(lhs_view.offset),
            lhs_view.col_stride as isize,
            lhs_view.row_stride as isize,
            rhs.as_ptr().add(rhs_view.offset),
            rhs_view.col_stride as isize,
            rhs_view.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Weight rows expanded per tile: 64 rows of the widest input here (1,536) take 384 KiB, which
/// stays in a core's L2 cache while every token of the prompt is multiplied against it.
pub const WEIGHT_TILE_ROWS: usize = 64;

/// A raw pointer to `dst` that tasks writing disjoint columns can share.
#[derive(Clone, Copy)]
struct SharedDst(*mut f32);
// SAFETY: only used by `matmul_by_weight_tiles`, whose tasks write disjoint column ranges.
unsafe impl Send for SharedDst {}
unsafe impl Sync for SharedDst {}

/// `dst (m×n) = lhs (m×k) · Wᵀ` for a weight matrix `W` (n×k) that is never materialised whole:
/// `expand(rows, buffer)` writes rows `rows` of `W` (row-major, `rows.len() × k`) into a per-task
/// buffer, and each tile of [`WEIGHT_TILE_ROWS`] rows is multiplied while it is hot in cache. Tiles
/// are split across the current rayon pool.
pub fn matmul_by_weight_tiles((m, n, k): (usize, usize, usize), dst: &mut [f32], lhs: &[f32], expand: impl Fn(Range<usize>, &mut [f32]) + Sync) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(k > 0, "empty inner dimension");
    assert!(dst.len() >= m * n, "dst out of bounds");
    assert!(lhs.len() >= m * k, "lhs out of bounds");
    let shared = SharedDst(dst.as_mut_ptr());
    (0..n.div_ceil(WEIGHT_TILE_ROWS)).into_par_iter().for_each_init(
        || vec![0f32; WEIGHT_TILE_ROWS * k],
        |buffer, tile| {
            let rows = tile * WEIGHT_TILE_ROWS..((tile + 1) * WEIGHT_TILE_ROWS).min(n);
            let width = rows.len();
            let weights = &mut buffer[..width * k];
            expand(rows.clone(), weights);
            let dst = shared;
            // SAFETY: this task writes only columns `rows` of the `m × n` row-major `dst`, whose
            // bounds were checked above; no other task writes those columns, and `dst` is
            // exclusively borrowed for the whole call. `lhs` and `weights` are read within the
            // bounds checked above and by `expand`'s contract (`width × k`).
            unsafe {
                gemm::gemm(
                    m,
                    width,
                    k,
                    dst.0.add(rows.start),
                    1,
                    n as isize,
                    false,
                    lhs.as_ptr(),
                    1,
                    k as isize,
                    weights.as_ptr(),
                    k as isize,
                    1,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiled_products_match_the_naive_loop_across_ragged_tiles() {
        // 150 weight rows: two whole tiles and a ragged one.
        let (m, n, k) = (7, 2 * WEIGHT_TILE_ROWS + 22, 40);
        let lhs: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).cos()).collect();
        let weights: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.11).sin()).collect();
        let mut dst = vec![f32::NAN; m * n];
        matmul_by_weight_tiles((m, n, k), &mut dst, &lhs, |rows, out| out.copy_from_slice(&weights[rows.start * k..rows.end * k]));
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|p| lhs[i * k + p] * weights[j * k + p]).sum();
                assert!((dst[i * n + j] - want).abs() < 1e-4, "({i}, {j}): {} vs {want}", dst[i * n + j]);
            }
        }
    }

    #[test]
    fn strided_products_match_the_naive_loop() {
        let (m, n, k) = (5, 4, 3);
        let lhs: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.5 - 3.0).collect();
        // rhs given as the transpose of an n×k weight matrix.
        let weights: Vec<f32> = (0..n * k).map(|i| (i as f32).sin()).collect();
        let mut dst = vec![1.0f32; m * n + 2];
        matmul((m, n, k), &mut dst, View::rows(2, n), &lhs, View::rows(0, k), &weights, View::transposed(k), true, 2);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = 1.0 + (0..k).map(|p| lhs[i * k + p] * weights[j * k + p]).sum::<f32>();
                assert!((dst[2 + i * n + j] - want).abs() < 1e-4);
            }
        }
        assert_eq!(&dst[..2], &[1.0, 1.0]);
    }
}
