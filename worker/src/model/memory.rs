//! The C allocator's policy for a process that runs models.
//!
//! glibc serves a large allocation with its own `mmap` and returns it to the system when freed, but
//! each such free also raises its mmap threshold to that size (up to 32 MiB): after the first prompt
//! pass frees its multi-megabyte buffers, every smaller buffer — KV caches, attention scores, weight
//! tiles — comes from the per-thread heaps instead, where freed memory stays resident and fragments.
//! The native engine's peak RSS then wandered between 264 and 333 MiB over identical
//! `bench_inference` runs (llama.cpp's: 194 MiB). A fixed threshold keeps buffers of
//! [`MMAP_THRESHOLD`] and more out of the heaps for good: the same runs peak at 226–239 MiB, at
//! the same prefill and decode speed (smaller buffers are reused from the heaps as before).

/// Allocations of this many bytes or more are mapped on their own and unmapped when freed. Above
/// the per-layer KV cache rows and attention scores of typical prompts (reused through the heap),
/// below a prompt pass's feed-forward activations.
pub const MMAP_THRESHOLD: usize = 2 << 20;

/// Fixes the allocator's mmap threshold at [`MMAP_THRESHOLD`] (glibc only; elsewhere a no-op). Call
/// it once at the start of a process that loads models.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `mallopt` only changes allocator parameters; any value is accepted or refused by
    // glibc, never undefined behaviour, and it may be called while other threads allocate.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
    }
}
