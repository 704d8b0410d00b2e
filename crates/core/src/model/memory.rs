//! The process's memory, as the allocator holds it.

/// Gives back to the system the memory the allocator holds free. glibc keeps what a thread
/// frees in that thread's arena, for that thread to use again; when the streaming stages end,
/// their arenas hold the freed batches, and the end of the run, on another thread, cannot
/// reuse them and grows the process instead. A few milliseconds; nothing on other systems.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own heaps to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}
