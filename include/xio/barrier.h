/* SPDX-License-Identifier: MIT */
/*
 * Memory-ordering primitives for the xio rings.
 *
 * Every access to a field of shared memory that the other side may touch
 * concurrently goes through one of these, so that (a) the compiler can neither
 * tear, fuse nor re-read it, and (b) ThreadSanitizer sees the synchronisation
 * the protocol relies on.  They map onto the GCC/Clang __atomic builtins (the
 * shared fields are plain uint32_t in the ABI, not _Atomic, so that the ABI
 * header stays usable from C++ and from other languages).
 *
 * On x86-64 acquire loads and release stores compile to plain MOVs; only
 * xio_smp_mb() costs anything (a locked instruction / MFENCE).  It is used in
 * exactly two places, the two halves of the Dekker-style "no lost wake-up"
 * handshakes (NEED_WAKEUP and CQ event-idx), each argued where it is used.
 */
#ifndef XIO_BARRIER_H
#define XIO_BARRIER_H

/* A relaxed load: the value may be stale, but it is read exactly once. */
#define XIO_READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
/* A relaxed store: written exactly once, never torn. */
#define XIO_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
/* Later loads/stores cannot move before this load. */
#define xio_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
/* Earlier loads/stores cannot move after this store. */
#define xio_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* Full fence: orders earlier stores before later loads (store->load). */
#if defined(__SANITIZE_THREAD__)
/*
 * GCC refuses __atomic_thread_fence under -fsanitize=thread (-Wtsan: TSan
 * does not model fences).  A seq_cst read-modify-write is a full barrier on
 * the hardware (a LOCKed instruction on x86, a fully ordered sequence
 * elsewhere) and TSan accepts it; the shared fields around it are all
 * accessed atomically, so nothing is lost to the race detector.
 */
#define xio_smp_mb()                                                           \
	do {                                                                   \
		unsigned int __xio_mb = 0;                                     \
		__atomic_fetch_add(&__xio_mb, 0, __ATOMIC_SEQ_CST);            \
	} while (0)
#else
#define xio_smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

/* Spin-wait hint: lets the sibling hyper-thread run, saves power. */
#if defined(__x86_64__) || defined(__i386__)
#define xio_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define xio_cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define xio_cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

#endif /* XIO_BARRIER_H */
