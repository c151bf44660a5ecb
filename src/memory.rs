//! How the process asks glibc's allocator to behave, before any thread starts.

/// Arenas glibc may create when nobody set `MALLOC_ARENA_MAX`.
pub const MALLOC_ARENAS: i32 = 2;

/// glibc gives each thread that allocates an arena of its own, up to eight a core, and keeps
/// what was freed in each for that thread. The purge's chunks and the flushes run on tokio's
/// blocking threads, and at a million entries their arenas held about 130 MiB after a purge;
/// with two arenas a purge adds 33–49 MiB, with no loss of speed measured (BENCHMARKS.md,
/// capacity). An operator's own `MALLOC_ARENA_MAX` is left as it is.
///
/// Call it first thing in `main`, before the runtime starts its threads: arenas already
/// created stay.
pub fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes a setting of the allocator; it is called before any
        // other thread exists, and M_ARENA_MAX takes any positive count.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}
