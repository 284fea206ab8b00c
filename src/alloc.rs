//! Allocator settings for a process that handles video frames.
//!
//! glibc serves a request above its mmap threshold with a fresh mapping and unmaps it on
//! free; the threshold only rises to the largest such block freed so far, and memory at the
//! top of the heap is handed back above the trim threshold. Frame-sized buffers (a 1080p RGB
//! picture is 6 MB, a detector input 0.4 MB, each made and dropped per sample) were faulted
//! in page by page again and again: on the 60 s bench clip, 116-141k minor page faults and
//! ~0.95 s of system CPU. Keeping them in the heap: 73-81k faults (first touches), ~0.55 s.

/// Largest block still served from the heap: above a 4K RGB frame (25 MB); glibc's own
/// ceiling for this setting on 64-bit.
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Free memory kept at the top of the heap before it is handed back: a few frames' worth,
/// so peak memory stays bounded (measured: 335-348 MB -> 343-377 MB on the bench clip).
const TRIM_THRESHOLD: i32 = 128 << 20;

/// Keeps frame-sized buffers in the heap between samples instead of mapping and faulting
/// them in each time. `main` calls it before any thread starts; a no-op off glibc.
pub fn keep_freed_frames() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes two allocator parameters; it is called before threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Minor page faults of this thread so far.
    fn faults() -> i64 {
        // SAFETY: getrusage writes into the zeroed struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
        u.ru_minflt
    }

    #[test]
    fn growing_frame_buffers_are_served_from_the_heap() {
        keep_freed_frames();
        // Buffers of 6 to 15 MB, each dropped before the next: glibc's moving threshold
        // maps every one afresh (each a new largest block), ~27,000 pages faulted in.
        let sizes: Vec<usize> = (6..16).map(|mb| mb << 20).collect();
        let before = faults();
        for &size in &sizes {
            let mut v = vec![0u8; size];
            for i in (0..size).step_by(4096) {
                v[i] = 1;
            }
            std::hint::black_box(&v);
        }
        let extra = faults() - before;
        let pages: i64 = sizes.iter().map(|s| (s / 4096) as i64).sum();
        assert!(
            extra < pages / 3,
            "{extra} faults for {pages} pages of buffers"
        );
    }
}
