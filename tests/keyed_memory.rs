//! Memory of drained keys, measured as this process's resident set: alone in its own
//! test binary (moved out of `hostile_front_door.rs`), so that no other test allocating
//! on another thread can move the figure. Linux only (`/proc/self/status`).

#![cfg(target_os = "linux")]

use reorder::KeyedBuffer;

// ---------------------------------------------------------------------------------------
// KeyedBuffer memory: a key that drains frees its storage at once
// ---------------------------------------------------------------------------------------

/// The resident set of this process, in KiB.
fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// "A key that drains (holds nothing) frees its heap storage at once and keeps only its
/// watermark": 2,000 keys, each holding a value far enough ahead to fill its slots (128
/// KiB), then draining. Kept, their storage would be 250 MiB; freed, each key reuses the
/// last one's.
#[test]
fn keyed_buffer_keys_that_drained_keep_no_slots() {
    let far = 8_000u64; // within the slots' reach for 8-byte values: they grow to 8,192
    let before = rss_kib();
    let mut buf = KeyedBuffer::new();
    for key in 0..2_000u32 {
        assert_eq!(buf.insert(&key, far, 1u64).unwrap(), None);
        let skipped = buf.skip_oldest_gap().unwrap();
        assert_eq!(skipped, (key, 0..far));
        assert_eq!(buf.pop_ready(), Some((key, Ok(1))));
        assert!(buf.is_empty());
    }
    let grown = rss_kib().saturating_sub(before);
    assert_eq!(
        buf.tracked_keys(),
        2_000,
        "each key remembers its watermark"
    );
    assert!(
        grown < 64 * 1024,
        "2,000 drained keys kept {grown} KiB: their slots were not freed"
    );
}
