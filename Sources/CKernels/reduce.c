// isn_sum: the sum of a batch of float vectors in double, bitwise reproducible for any
// thread count.
//
// The batch is read as one sequence of batch*count floats cut into fixed chunks (at least
// SUM_MIN_CHUNK floats, and no more than SUM_MAX_CHUNKS chunks so the partials live on the
// stack). Threads sum whole chunks; the partials are then added in chunk order. Chunk
// boundaries depend on the sizes alone, so the order of every addition is fixed.
#include "isn_internal.h"

enum { SUM_MAX_CHUNKS = 1024, SUM_MIN_CHUNK = 8192 };

static double sum_run(const float *x, size_t len) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (size_t i = 0; i < len; i++) s += (double)x[i];
  return s;
}

double isn_sum(const float *x, size_t x_stride, int batch, size_t count) {
  if (batch <= 0 || count == 0) return 0.0;
  const size_t total = (size_t)batch * count;
  const size_t chunk = isn_max(SUM_MIN_CHUNK, isn_cdiv(total, SUM_MAX_CHUNKS));
  const size_t chunks = isn_cdiv(total, chunk);
  double partial[SUM_MAX_CHUNKS];
#pragma omp parallel for num_threads(isn_threads()) schedule(static) if (chunks > 1)
  for (size_t c = 0; c < chunks; c++) {
    size_t e = c * chunk;
    const size_t end = isn_min(total, e + chunk);
    double s = 0.0;
    while (e < end) {  // a chunk may span samples: sum each sample's run separately
      const size_t n = e / count, i = e % count;
      const size_t len = isn_min(count - i, end - e);
      s += sum_run(x + n * x_stride + i, len);
      e += len;
    }
    partial[c] = s;
  }
  double s = 0.0;
  for (size_t c = 0; c < chunks; c++) s += partial[c];
  return s;
}
