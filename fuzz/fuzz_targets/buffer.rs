//! libFuzzer target: `cargo fuzz run buffer` (see RELIABILITY.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    reorder_fuzz::run(data);
});
