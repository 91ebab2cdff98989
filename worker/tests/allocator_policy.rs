//! The worker's allocator policy (`model::memory`), in a process of its own: resident memory is
//! process-wide, so no other test may allocate alongside.

use std::hint::black_box;

/// Resident memory of this process (Linux `VmRSS`), in KiB.
fn resident_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:")?.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// A prompt pass frees buffers of several MiB; glibc's default then serves every smaller buffer from
/// its heaps, where freed memory stays resident. With the policy a freed 6 MiB buffer goes back to
/// the system even after a larger one was freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn buffers_above_the_threshold_go_back_to_the_system_when_freed() {
    code4me_worker::model::memory::tune_allocator();
    // What a prompt pass's feed-forward buffer does to glibc's default threshold.
    drop(black_box(vec![1u8; 8 << 20]));
    let before = resident_kib();
    let buffer = black_box(vec![1u8; 6 << 20]);
    assert!(resident_kib() >= before + 5 * 1024, "the 6 MiB buffer was written, so it is resident");
    drop(buffer);
    let after = resident_kib();
    assert!(after < before + 1024, "6 MiB freed, yet resident memory grew from {before} KiB to {after} KiB");
}
