// Private helpers shared by the kernel files (not part of the public contract).
//
// Swift's bundled clang ships no omp.h, so the few OpenMP entry points the kernels use are
// declared here. `isn_threads()` (threads.c) is the process-wide thread count; every
// parallel region passes it as num_threads so kernels behave the same whichever OS thread
// calls them (OpenMP's own nthreads setting is per calling thread).
#ifndef ISN_INTERNAL_H
#define ISN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "isn_kernels.h"

int omp_get_thread_num(void);
int omp_get_num_threads(void);
int omp_get_max_threads(void);
void omp_set_num_threads(int n);

/// Element count below which the memory-bound kernels stay on one thread: a parallel
/// region costs a few microseconds, more than streaming this many floats.
#define ISN_PARALLEL_MIN ((size_t)32768)

/// Floats per work unit of the memory-bound kernels (fixed, so results and the split do
/// not depend on the thread count).
#define ISN_CHUNK ((size_t)16384)

static inline size_t isn_cdiv(size_t a, size_t b) { return (a + b - 1) / b; }
static inline size_t isn_min(size_t a, size_t b) { return a < b ? a : b; }
static inline size_t isn_max(size_t a, size_t b) { return a > b ? a : b; }

/// max(v, 0) written so clang emits one vmaxps and NaN passes through (as in PyTorch).
static inline float isn_relu1(float v) { return 0.0f > v ? 0.0f : v; }

#endif
