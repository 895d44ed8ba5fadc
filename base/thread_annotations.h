// Thread-safety annotations in the manner of LevelDB's port/thread_annotations.h:
// they document which mutex guards a member and which lock a function needs,
// and Clang's -Wthread-safety checks them; with GCC they expand to nothing.
#pragma once

#if defined(__clang__)
#define SYLVA_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SYLVA_THREAD_ANNOTATION(x)
#endif

// The member is read and written only with `mu` held.
#define GUARDED_BY(mu) SYLVA_THREAD_ANNOTATION(guarded_by(mu))
// The pointee is read and written only with `mu` held.
#define PT_GUARDED_BY(mu) SYLVA_THREAD_ANNOTATION(pt_guarded_by(mu))
// The function must be called with these locks held.
#define EXCLUSIVE_LOCKS_REQUIRED(...) SYLVA_THREAD_ANNOTATION(exclusive_locks_required(__VA_ARGS__))
// The function takes these locks itself: callers must not hold them.
#define LOCKS_EXCLUDED(...) SYLVA_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
