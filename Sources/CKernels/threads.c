// Thread control shared by every kernel: OpenMP sets the parallelism of isnetc's own
// loops; OpenBLAS runs single-threaded inside them so the two pools never compete.
//
// The count is process-wide (an atomic here, passed as num_threads by every parallel
// region) rather than OpenMP's nthreads ICV, which belongs to the calling OS thread: the
// Swift runtime may call kernels from any thread of its pool.
#include <cblas.h>

#include "isn_internal.h"

void openblas_set_num_threads(int n);

static _Atomic int isn_thread_count = 0;

void isn_set_threads(int threads) {
  if (threads < 1) threads = 1;
  omp_set_num_threads(threads);
  openblas_set_num_threads(1);
  isn_thread_count = threads;
}

int isn_threads(void) {
  int t = isn_thread_count;
  if (t > 0) return t;
  // First use without isn_set_threads: OpenMP's default, and OpenBLAS at one thread.
  t = omp_get_max_threads();
  if (t < 1) t = 1;
  openblas_set_num_threads(1);
  isn_thread_count = t;
  return t;
}

int isn_workspace_threads(int workspace_threads) {
  const int t = isn_threads();
  if (workspace_threads < 1) return 1;
  return t < workspace_threads ? t : workspace_threads;
}
