// Element-wise product with broadcasting: y = a ⊙ b, b's dimensions equal to a's or 1
// (attention gates and masks: `mul`), and its adjoints.
//
// A per-sample tensor is addressed as four dimensions [d0, d1, d2, d3] (a's shape padded
// with leading 1s); b's element for a's index (i0, i1, i2, i3) lies at Σ iₖ·stepₖ, with
// stepₖ = 0 along a dimension b broadcasts. Each output is one product, so the forward and
// a's adjoint do not depend on the thread count; b's adjoint sums, one sample per unit, in
// a fixed order.
#include "isn_internal.h"

/// Calls body(n, i0, i1, a_off, b_off) for every (sample, i0, i1) row of d2·d3 values.
#define FOR_EACH_ROW(batch, dims, steps, a_stride, b_stride, body)                         \
  do {                                                                                      \
    const size_t rows_ = (size_t)(dims)[0] * (size_t)(dims)[1];                             \
    const size_t units_ = (size_t)(batch) * rows_;                                          \
    const size_t work_ = units_ * (size_t)(dims)[2] * (size_t)(dims)[3];                    \
    _Pragma("omp parallel for num_threads(isn_threads()) schedule(static) if (work_ >= ISN_PARALLEL_MIN)") \
    for (size_t u_ = 0; u_ < units_; u_++) {                                                \
      const size_t n = u_ / rows_, r_ = u_ % rows_;                                         \
      const size_t i0 = r_ / (size_t)(dims)[1], i1 = r_ % (size_t)(dims)[1];                 \
      const size_t a_off = n * (a_stride) + r_ * (size_t)(dims)[2] * (size_t)(dims)[3];     \
      const size_t b_off = n * (b_stride) + i0 * (size_t)(steps)[0] + i1 * (size_t)(steps)[1]; \
      body;                                                                                 \
    }                                                                                       \
  } while (0)

/// One row: out[i2, i3] (+)= a[i2, i3] · b[i2·s2 + i3·s3].
static inline void multiply_row(const float *a, const float *b, int64_t d2, int64_t d3,
                                int64_t s2, int64_t s3, int accumulate, float *out) {
  for (int64_t i2 = 0; i2 < d2; i2++) {
    const float *ar = a + i2 * d3;
    const float *br = b + i2 * s2;
    float *orow = out + i2 * d3;
    if (s3 == 0) {
      const float v = br[0];
      if (accumulate) {
        for (int64_t i3 = 0; i3 < d3; i3++) orow[i3] += ar[i3] * v;
      } else {
        for (int64_t i3 = 0; i3 < d3; i3++) orow[i3] = ar[i3] * v;
      }
    } else if (accumulate) {
      for (int64_t i3 = 0; i3 < d3; i3++) orow[i3] += ar[i3] * br[i3];
    } else {
      for (int64_t i3 = 0; i3 < d3; i3++) orow[i3] = ar[i3] * br[i3];
    }
  }
}

void isn_broadcast_multiply(const float *a, size_t a_stride, const float *b, size_t b_stride,
                            int batch, const int64_t dims[4], const int64_t b_steps[4],
                            int accumulate, float *y, size_t y_stride) {
  if (batch <= 0) return;
  FOR_EACH_ROW(batch, dims, b_steps, a_stride, b_stride, {
    const size_t y_off = n * y_stride + (a_off - n * a_stride);
    multiply_row(a + a_off, b + b_off, dims[2], dims[3], b_steps[2], b_steps[3], accumulate, y + y_off);
  });
}

void isn_broadcast_multiply_reduce(const float *g, size_t g_stride, const float *a,
                                   size_t a_stride, int batch, const int64_t dims[4],
                                   const int64_t b_steps[4], float *db, size_t db_stride) {
  if (batch <= 0) return;
  const size_t per_sample = (size_t)dims[0] * dims[1] * dims[2] * dims[3];
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if ((size_t)batch * per_sample >= ISN_PARALLEL_MIN)
  for (int n = 0; n < batch; n++) {
    const float *gs = g + (size_t)n * g_stride, *as = a + (size_t)n * a_stride;
    float *ds = db + (size_t)n * db_stride;
    size_t i = 0;
    for (int64_t i0 = 0; i0 < dims[0]; i0++)
      for (int64_t i1 = 0; i1 < dims[1]; i1++)
        for (int64_t i2 = 0; i2 < dims[2]; i2++) {
          float *d = ds + i0 * b_steps[0] + i1 * b_steps[1] + i2 * b_steps[2];
          if (b_steps[3] == 0) {
            float sum = 0;
            for (int64_t i3 = 0; i3 < dims[3]; i3++, i++) sum += gs[i] * as[i];
            d[0] += sum;
          } else {
            for (int64_t i3 = 0; i3 < dims[3]; i3++, i++) d[i3] += gs[i] * as[i];
          }
        }
  }
}
