//! Dense f32 matrix products for prompt evaluation, on the `gemm` crate (the kernels candle's CPU
//! matmul uses). A prompt of T tokens is compute-bound, so full-width FMA tiles over f32 weights beat
//! re-reading quantized blocks per token.

#![allow(unsafe_code)]

use gemm::Parallelism;

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

#[cfg(test)]
mod tests {
    use super::*;

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
