//! Vector kernels of the attention inner loops (query·key, weighted sum of values), with an
//! AVX2+FMA+F16C path chosen at run time: the portable build targets baseline x86-64 (SSE2), where
//! these loops run at a quarter of the width. Cached keys and values are f16 (half the bytes a
//! decode step streams per cached position); each is widened to f32 exactly before any
//! arithmetic, so both paths compute in f32 on the same values.

#![allow(unsafe_code)]

use half::f16;

/// `Σ a[i]·b[i]`.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if super::quant::has_avx2() {
        // SAFETY: the CPU supports the features `avx2::dot` is compiled for; lengths are equal.
        return unsafe { avx2::dot(a, b) };
    }
    let mut lanes = [0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `y[i] += alpha·x[i]`.
#[inline]
pub fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
    assert_eq!(x.len(), y.len());
    #[cfg(target_arch = "x86_64")]
    if super::quant::has_avx2() {
        // SAFETY: as above.
        return unsafe { avx2::axpy(y, alpha, x) };
    }
    y.iter_mut().zip(x).for_each(|(y, x)| *y += alpha * x);
}

/// Attention scores of a group of query heads sharing one key head: for every cached position
/// `p`, `scores[h · positions + p] = scale · queries_h · key_p`, where `key_p` is
/// `keys[p · stride + offset ..][..head_dim]` widened to f32. One call per group keeps the loop in
/// one SIMD function instead of a call per 64-float dot product.
#[allow(clippy::too_many_arguments)]
pub fn group_scores(queries: &[f32], head_dim: usize, keys: &[f16], stride: usize, offset: usize, positions: usize, scale: f32, scores: &mut [f32]) {
    let group = queries.len() / head_dim;
    assert_eq!(scores.len(), group * positions);
    assert!(positions == 0 || (positions - 1) * stride + offset + head_dim <= keys.len());
    #[cfg(target_arch = "x86_64")]
    if super::quant::has_avx2() && head_dim.is_multiple_of(8) {
        // SAFETY: features checked; every key row read lies inside `keys` (asserted above).
        return unsafe { avx2::group_scores(queries, head_dim, keys, stride, offset, positions, scale, scores) };
    }
    let mut key = vec![0f32; head_dim];
    for p in 0..positions {
        widen(&keys[p * stride + offset..p * stride + offset + head_dim], &mut key);
        for (h, query) in queries.chunks_exact(head_dim).enumerate() {
            scores[h * positions + p] = dot(query, &key) * scale;
        }
    }
}

/// The attention output of a group: `out_h = Σ_p weights[h · positions + p] · value_p`, value rows
/// laid out as the keys of [`group_scores`].
#[allow(clippy::too_many_arguments)]
pub fn group_values(weights: &[f32], values: &[f16], stride: usize, offset: usize, positions: usize, head_dim: usize, out: &mut [f32]) {
    assert_eq!(weights.len(), out.len() / head_dim * positions);
    assert!(positions == 0 || (positions - 1) * stride + offset + head_dim <= values.len());
    #[cfg(target_arch = "x86_64")]
    if super::quant::has_avx2() && head_dim.is_multiple_of(8) {
        // SAFETY: as above.
        return unsafe { avx2::group_values(weights, values, stride, offset, positions, head_dim, out) };
    }
    out.fill(0.0);
    let mut value = vec![0f32; head_dim];
    for (h, head_out) in out.chunks_exact_mut(head_dim).enumerate() {
        for p in 0..positions {
            widen(&values[p * stride + offset..p * stride + offset + head_dim], &mut value);
            axpy(head_out, weights[h * positions + p], &value);
        }
    }
}

/// `out[i] = x[i]` as f32 (exact: every f16 is an f32).
pub fn widen(x: &[f16], out: &mut [f32]) {
    use half::slice::HalfFloatSliceExt;
    x.convert_to_f32_slice(out);
}

/// `out[i] = x[i]` rounded to the nearest f16 (ties to even), as the KV cache stores it.
pub fn narrow(x: &[f32], out: &mut [f16]) {
    use half::slice::HalfFloatSliceExt;
    out.convert_from_f32_slice(x);
}

/// `x[i] = e^x[i]` (relative error below 1e-6 on the softmax and SiLU ranges; inputs clamped to
/// [-87, 88], where the result stays a normal f32). libm's `expf` is a call per element, which at ~150,000
/// softmax entries per token was a tenth of the decode time.
pub fn exp_in_place(x: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::quant::has_avx2() {
        // SAFETY: features checked.
        return unsafe { avx2::exp_in_place(x) };
    }
    x.iter_mut().for_each(|v| *v = clamped_exp(*v));
}

/// The scalar form of the vector kernel's contract, so a slice's tail matches its body.
fn clamped_exp(x: f32) -> f32 {
    x.clamp(-87.0, 88.0).exp()
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use half::f16;
    use std::arch::x86_64::*;

    /// Cephes' single-precision exp: `2^n · p(r)` with `x = n·ln2 + r`, `|r| ≤ ln2/2`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn exp8(x: __m256) -> __m256 {
        let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0)), _mm256_set1_ps(88.0));
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)));
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
        let mut y = _mm256_set1_ps(1.987_569_1e-4);
        for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
            y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(c));
        }
        let y = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(y, r), r, r), _mm256_set1_ps(1.0));
        // 2^n from its exponent bits; the clamp keeps n in [-126, 127].
        let n_int = _mm256_cvtps_epi32(n);
        _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n_int, _mm256_set1_epi32(127)))))
    }

    /// # Safety
    /// AVX2 and FMA must be available.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exp_in_place(x: &mut [f32]) {
        let n = x.len() / 8 * 8;
        for i in (0..n).step_by(8) {
            // SAFETY: `i + 8 <= n <= x.len()`.
            unsafe {
                let p = x.as_mut_ptr().add(i);
                _mm256_storeu_ps(p, exp8(_mm256_loadu_ps(p)));
            }
        }
        x[n..].iter_mut().for_each(|v| *v = super::clamped_exp(*v));
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
    }

    /// Eight cached f16 values from `at`, widened to f32.
    ///
    /// # Safety
    /// F16C must be available; `at..at + 8` must be readable.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load_f16(at: *const f16) -> __m256 {
        // SAFETY: the caller guarantees the 16 bytes are readable.
        _mm256_cvtph_ps(unsafe { _mm_loadu_si128(at.cast()) })
    }

    /// # Safety
    /// AVX2, FMA and F16C must be available; `head_dim.is_multiple_of(8)`; every key row read is in bounds.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn group_scores(
        queries: &[f32],
        head_dim: usize,
        keys: &[f16],
        stride: usize,
        offset: usize,
        positions: usize,
        scale: f32,
        scores: &mut [f32],
    ) {
        // Four positions at a time, for up to three query heads at once: each key vector is widened
        // once for all the heads it serves, and twelve independent accumulation chains keep the FMA
        // units busy. Each score is still one chain over the head's dimensions in order, so its
        // value does not depend on its neighbours or on how the heads are split.
        let whole = positions / POSITIONS_AT_ONCE * POSITIONS_AT_ONCE;
        for first in (0..whole).step_by(POSITIONS_AT_ONCE) {
            // SAFETY: the caller asserted every row up to `positions - 1` lies inside `keys`.
            let key: [*const f16; POSITIONS_AT_ONCE] = std::array::from_fn(|j| unsafe { keys.as_ptr().add((first + j) * stride + offset) });
            for (c, heads) in queries.chunks(HEADS_AT_ONCE * head_dim).enumerate() {
                let at = |h: usize, j: usize| (c * HEADS_AT_ONCE + h) * positions + first + j;
                // SAFETY: the key rows are in bounds (above); `heads` holds whole heads of `head_dim`.
                unsafe {
                    match heads.len() / head_dim {
                        1 => scores_at_once::<1>(heads, head_dim, &key, |h, j, s| scores[at(h, j)] = s * scale),
                        2 => scores_at_once::<2>(heads, head_dim, &key, |h, j, s| scores[at(h, j)] = s * scale),
                        _ => scores_at_once::<3>(heads, head_dim, &key, |h, j, s| scores[at(h, j)] = s * scale),
                    }
                }
            }
        }
        for p in whole..positions {
            // SAFETY: the caller asserted `p * stride + offset + head_dim <= keys.len()`.
            let key = unsafe { keys.as_ptr().add(p * stride + offset) };
            for (h, query) in queries.chunks_exact(head_dim).enumerate() {
                let mut acc = _mm256_setzero_ps();
                for i in (0..head_dim).step_by(8) {
                    // SAFETY: `i + 8 <= head_dim`, inside both the key row and `query`.
                    unsafe { acc = _mm256_fmadd_ps(_mm256_loadu_ps(query.as_ptr().add(i)), load_f16(key.add(i)), acc) };
                }
                scores[h * positions + p] = hsum(acc) * scale;
            }
        }
    }

    /// Key rows scored together by [`group_scores`].
    const POSITIONS_AT_ONCE: usize = 4;
    /// Query heads scored (or weighted values summed) together: three heads' accumulators for four
    /// positions (or four vectors of a head) are twelve of AVX2's sixteen registers.
    const HEADS_AT_ONCE: usize = 3;

    /// The unscaled scores of `H` query heads (`queries`, `H × head_dim`) against the four key rows
    /// at `key`, handed to `store(head, position, score)`.
    ///
    /// # Safety
    /// AVX2, FMA and F16C must be available; `head_dim.is_multiple_of(8)`; each key row holds
    /// `head_dim` readable halves.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn scores_at_once<const H: usize>(
        queries: &[f32],
        head_dim: usize,
        key: &[*const f16; POSITIONS_AT_ONCE],
        mut store: impl FnMut(usize, usize, f32),
    ) {
        assert_eq!(queries.len(), H * head_dim);
        let mut acc = [[_mm256_setzero_ps(); POSITIONS_AT_ONCE]; H];
        for i in (0..head_dim).step_by(8) {
            for (j, key) in key.iter().enumerate() {
                // SAFETY: `i + 8 <= head_dim`, inside the key row.
                let k = unsafe { load_f16(key.add(i)) };
                for (h, acc) in acc.iter_mut().enumerate() {
                    // SAFETY: `h * head_dim + i + 8 <= queries.len()`.
                    acc[j] = _mm256_fmadd_ps(unsafe { _mm256_loadu_ps(queries.as_ptr().add(h * head_dim + i)) }, k, acc[j]);
                }
            }
        }
        for (h, acc) in acc.iter().enumerate() {
            for (j, acc) in acc.iter().enumerate() {
                store(h, j, hsum(*acc));
            }
        }
    }

    /// # Safety
    /// AVX2, FMA and F16C must be available; `head_dim.is_multiple_of(8)`; every value
    /// row read is in bounds.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn group_values(weights: &[f32], values: &[f16], stride: usize, offset: usize, positions: usize, head_dim: usize, out: &mut [f32]) {
        // Up to three heads and four vectors of their outputs stay in registers while the value
        // rows stream past, each value vector widened once for all the heads. Every output element
        // is one chain over the positions in order, whatever the split.
        for (c, out) in out.chunks_mut(HEADS_AT_ONCE * head_dim).enumerate() {
            let weights = &weights[c * HEADS_AT_ONCE * positions..][..out.len() / head_dim * positions];
            for first in (0..head_dim).step_by(VECTORS_AT_ONCE * 8) {
                let vectors = (head_dim - first) / 8;
                // One instantiation per (heads, vectors) shape, so the accumulators stay in registers.
                macro_rules! at_once {
                    ($heads:literal, $vectors:literal) => {
                        values_at_once::<$heads, $vectors>(weights, values, stride, offset + first, positions, head_dim, first, out)
                    };
                }
                // SAFETY: the caller asserted every row is inside `values`; `first + 8 · vectors <= head_dim`.
                unsafe {
                    match (out.len() / head_dim, vectors) {
                        (1, 1) => at_once!(1, 1),
                        (1, 2) => at_once!(1, 2),
                        (1, 3) => at_once!(1, 3),
                        (1, _) => at_once!(1, 4),
                        (2, 1) => at_once!(2, 1),
                        (2, 2) => at_once!(2, 2),
                        (2, 3) => at_once!(2, 3),
                        (2, _) => at_once!(2, 4),
                        (_, 1) => at_once!(3, 1),
                        (_, 2) => at_once!(3, 2),
                        (_, 3) => at_once!(3, 3),
                        (_, _) => at_once!(3, 4),
                    }
                }
            }
        }
    }

    /// Vectors of a head's output computed together by [`group_values`].
    const VECTORS_AT_ONCE: usize = 4;

    /// `out[h · head_dim + first ..][..8 · V] = Σ_p weights[h · positions + p] · value_p[..8 · V]`
    /// for `H` heads, value row `p` at `values[p · stride + offset ..]`.
    ///
    /// # Safety
    /// AVX2, FMA and F16C must be available; every value row holds `8 · V` readable halves from
    /// `offset`; `first + 8 · V <= head_dim`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn values_at_once<const H: usize, const V: usize>(
        weights: &[f32],
        values: &[f16],
        stride: usize,
        offset: usize,
        positions: usize,
        head_dim: usize,
        first: usize,
        out: &mut [f32],
    ) {
        assert!(weights.len() == H * positions && out.len() == H * head_dim && first + 8 * V <= head_dim);
        let mut acc = [[_mm256_setzero_ps(); V]; H];
        for p in 0..positions {
            let w: [__m256; H] = std::array::from_fn(|h| _mm256_set1_ps(weights[h * positions + p]));
            // SAFETY: the caller guarantees the row's `8 · V` halves from here are readable.
            let row = unsafe { values.as_ptr().add(p * stride + offset) };
            for l in 0..V {
                // SAFETY: as above.
                let v = unsafe { load_f16(row.add(8 * l)) };
                for (acc, w) in acc.iter_mut().zip(&w) {
                    acc[l] = _mm256_fmadd_ps(*w, v, acc[l]);
                }
            }
        }
        for (h, acc) in acc.iter().enumerate() {
            for (l, acc) in acc.iter().enumerate() {
                // SAFETY: `h * head_dim + first + 8 * l + 8 <= out.len()`.
                unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(h * head_dim + first + 8 * l), *acc) };
            }
        }
    }

    /// # Safety
    /// AVX2 and FMA must be available; `a` and `b` have the same length.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len() / 8 * 8;
        let mut acc = _mm256_setzero_ps();
        for i in (0..n).step_by(8) {
            // SAFETY: `i + 8 <= n <= len` for both slices.
            let (x, y) = unsafe { (_mm256_loadu_ps(a.as_ptr().add(i)), _mm256_loadu_ps(b.as_ptr().add(i))) };
            acc = _mm256_fmadd_ps(x, y, acc);
        }
        let mut lanes = [0f32; 8];
        // SAFETY: `lanes` holds 8 floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
        lanes.iter().sum::<f32>() + a[n..].iter().zip(&b[n..]).map(|(x, y)| x * y).sum::<f32>()
    }

    /// # Safety
    /// AVX2 and FMA must be available; `y` and `x` have the same length.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
        let n = y.len() / 8 * 8;
        let a = _mm256_set1_ps(alpha);
        for i in (0..n).step_by(8) {
            // SAFETY: `i + 8 <= n <= len` for both slices.
            unsafe {
                let yv = _mm256_loadu_ps(y.as_ptr().add(i));
                _mm256_storeu_ps(y.as_mut_ptr().add(i), _mm256_fmadd_ps(a, _mm256_loadu_ps(x.as_ptr().add(i)), yv));
            }
        }
        y[n..].iter_mut().zip(&x[n..]).for_each(|(y, x)| *y += alpha * x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_matches_libm() {
        let inputs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.0437).chain([-1e30, -100.0, 0.0, 88.0, 1e30]).collect();
        let mut fast = inputs.clone();
        exp_in_place(&mut fast);
        for (x, got) in inputs.iter().zip(&fast) {
            let want = x.clamp(-87.0, 88.0).exp();
            assert!(got.is_finite() && ((got - want) / want).abs() < 2e-6, "exp({x}) = {got}, want {want}");
        }
    }

    /// A group's queries and an f16 cache of `positions` rows of `stride` halves (deterministic
    /// values from the two frequencies), with the group's scores and weighted values over them.
    fn attend(
        hd: usize,
        group: usize,
        positions: usize,
        stride: usize,
        offset: usize,
        scale: f32,
        frequencies: (f32, f32),
    ) -> (Vec<f32>, Vec<f16>, Vec<f32>, Vec<f32>) {
        let queries: Vec<f32> = (0..group * hd).map(|i| (i as f32 * frequencies.0).sin() * 2.0).collect();
        let cache: Vec<f16> = (0..positions * stride).map(|i| f16::from_f32((i as f32 * frequencies.1).cos())).collect();
        let mut scores = vec![0f32; group * positions];
        group_scores(&queries, hd, &cache, stride, offset, positions, scale, &mut scores);
        let mut out = vec![0f32; group * hd];
        group_values(&scores, &cache, stride, offset, positions, hd, &mut out);
        (queries, cache, scores, out)
    }

    #[test]
    fn group_kernels_match_per_head_loops() {
        let (hd, group, positions, stride, offset) = (16, 3, 5, 40, 8);
        let (queries, cache, scores, out) = attend(hd, group, positions, stride, offset, 0.5, (0.3, 0.7));
        for h in 0..group {
            for p in 0..positions {
                let key = &cache[p * stride + offset..p * stride + offset + hd];
                let want: f32 = queries[h * hd..(h + 1) * hd].iter().zip(key).map(|(a, b)| a * b.to_f32()).sum::<f32>() * 0.5;
                assert!((scores[h * positions + p] - want).abs() < 1e-4);
            }
            for i in 0..hd {
                let want: f32 = (0..positions).map(|p| scores[h * positions + p] * cache[p * stride + offset + i].to_f32()).sum();
                assert!((out[h * hd + i] - want).abs() < 1e-4);
            }
        }
    }

    /// Heads are computed several at a time and head dimensions in chunks of vectors: neither may
    /// change a single float, or one model's heads would differ from another's split.
    #[test]
    fn a_head_computed_with_others_equals_the_head_alone_bit_for_bit() {
        let (hd, group, positions, stride, offset) = (72, 5, 23, 400, 16);
        let (queries, cache, scores, out) = attend(hd, group, positions, stride, offset, 0.25, (0.29, 0.53));
        for h in 0..group {
            let mut alone = vec![0f32; positions];
            group_scores(&queries[h * hd..(h + 1) * hd], hd, &cache, stride, offset, positions, 0.25, &mut alone);
            assert_eq!(alone, scores[h * positions..(h + 1) * positions], "head {h}'s scores");
            let mut head_out = vec![0f32; hd];
            group_values(&alone, &cache, stride, offset, positions, hd, &mut head_out);
            assert_eq!(head_out, out[h * hd..(h + 1) * hd], "head {h}'s values");
            for i in 0..hd {
                let want: f64 = (0..positions).map(|p| f64::from(alone[p]) * f64::from(cache[p * stride + offset + i].to_f32())).sum();
                assert!((f64::from(head_out[i]) - want).abs() < 1e-3, "head {h} dim {i}: {} vs {want}", head_out[i]);
            }
        }
    }

    /// Draft verification and batched decoding are exact only if a score's value depends on its
    /// key and query alone: equal key rows score equally whether they fall in a full vector of
    /// positions or in the tail.
    #[test]
    fn a_score_is_the_same_float_in_a_full_vector_of_positions_and_in_the_tail() {
        let (hd, group, positions) = (64, 3, 21);
        let queries: Vec<f32> = (0..group * hd).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let key: Vec<f16> = (0..hd).map(|i| f16::from_f32((i as f32 * 1.3).cos() * (1.0 + i as f32))).collect();
        let keys: Vec<f16> = key.iter().copied().cycle().take(positions * hd).collect();
        let mut scores = vec![0f32; group * positions];
        group_scores(&queries, hd, &keys, hd, 0, positions, 0.125, &mut scores);
        for row in scores.chunks_exact(positions) {
            assert!(row.iter().all(|s| s.to_bits() == row[0].to_bits()), "{row:?}");
        }
    }

    #[test]
    fn the_cache_rounds_to_the_nearest_half_and_widens_exactly() {
        let x = [1.0f32, -2.5, 1.0 + 1.0 / 1024.0 + 1.0 / 4096.0, 65_504.0, 1e-8, 0.1];
        let mut stored = [f16::ZERO; 6];
        narrow(&x, &mut stored);
        let mut widened = [0f32; 6];
        widen(&stored, &mut widened);
        assert_eq!(widened[..2], [1.0, -2.5]);
        assert_eq!(widened[2], 1.0 + 1.0 / 1024.0, "rounded to the nearest representable half");
        assert_eq!(widened[3], 65_504.0, "the largest half is kept");
        assert!((widened[5] - 0.1).abs() < 0.1 / 2048.0, "relative error within half an f16 ulp");
        for (s, w) in stored.iter().zip(widened) {
            assert_eq!(s.to_f32().to_bits(), w.to_bits());
        }
    }

    #[test]
    fn simd_and_tail_agree_with_the_plain_loop() {
        let a: Vec<f32> = (0..67).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..67).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-4);
        let mut y = b.clone();
        axpy(&mut y, 0.5, &a);
        for i in 0..67 {
            assert!((y[i] - (b[i] + 0.5 * a[i])).abs() < 1e-6);
        }
    }
}
