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

/// Threads for a kernel with a per-thread workspace sized for `workspace_threads`: the
/// process-wide count, never more than the workspace has room for.
int isn_workspace_threads(int workspace_threads);

/// Element count below which the memory-bound kernels stay on one thread: a parallel
/// region costs a few microseconds, more than streaming this many floats.
#define ISN_PARALLEL_MIN ((size_t)32768)

/// Floats per work unit of the memory-bound kernels (fixed, so results and the split do
/// not depend on the thread count).
#define ISN_CHUNK ((size_t)16384)

static inline size_t isn_cdiv(size_t a, size_t b) { return (a + b - 1) / b; }
static inline size_t isn_min(size_t a, size_t b) { return a < b ? a : b; }
static inline size_t isn_max(size_t a, size_t b) { return a > b ? a : b; }

/// The loop of the memory-bound kernels: `rows` rows of `count` floats, each row cut into
/// fixed ISN_CHUNK-float pieces and the (row, piece) units shared out statically. The split
/// depends on the sizes only, never on the thread count, so every kernel written with it
/// gives the same bits on any number of threads. Below `work` ISN_PARALLEL_MIN floats it
/// stays on the calling thread. The statement that follows runs once per piece, with
/// `row`, `i0` (the piece's first index in its row) and `len` (its length) declared:
///
///     ISN_FOR_EACH_CHUNK(batch, count, (size_t)batch * count, n, i0, len) {
///       for (size_t i = 0; i < len; i++) y[n * y_stride + i0 + i] = ...;
///     }
#define ISN_FOR_EACH_CHUNK(rows, count, work, row, i0, len)                                  \
  for (size_t isn_chunks_ = isn_cdiv((count), ISN_CHUNK),                                    \
              isn_units_ = (size_t)(rows) * isn_chunks_, isn_work_ = (work), isn_once_ = 1;  \
       isn_once_; isn_once_ = 0)                                                             \
    _Pragma("omp parallel for num_threads(isn_threads()) schedule(static) if (isn_work_ >= ISN_PARALLEL_MIN)") \
    for (size_t isn_unit_ = 0; isn_unit_ < isn_units_; isn_unit_++)                          \
      for (size_t row = isn_unit_ / isn_chunks_, i0 = (isn_unit_ % isn_chunks_) * ISN_CHUNK, \
                  len = isn_min(ISN_CHUNK, (count) - i0), isn_body_ = 1;                      \
           isn_body_; isn_body_ = 0)

/// max(v, 0) written so clang emits one vmaxps and NaN passes through (as in PyTorch).
static inline float isn_relu1(float v) { return 0.0f > v ? 0.0f : v; }

#endif
