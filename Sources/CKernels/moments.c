// Per-channel batch statistics (training-mode batch norm): mean and biased variance over
// batch and spatial positions, accumulated in double.
//
// Two passes (mean, then squared deviations) avoid the cancellation of E[x^2] - E[x]^2.
// Each channel is reduced by one thread in a fixed order, so results do not depend on the
// thread count.
#include <math.h>

#include "isn_internal.h"

static double sum_run(const float *x, size_t len) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (size_t i = 0; i < len; i++) s += (double)x[i];
  return s;
}

static double sq_dev_run(const float *x, size_t len, double mean) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (size_t i = 0; i < len; i++) {
    const double d = (double)x[i] - mean;
    s += d * d;
  }
  return s;
}

void isn_channel_moments(const float *x, size_t x_stride, int batch, int channels,
                         size_t spatial, float *mean, float *var) {
  if (channels <= 0) return;
  const double count = (double)(batch > 0 ? batch : 0) * (double)spatial;
  const size_t total = (size_t)(batch > 0 ? batch : 0) * spatial * (size_t)channels;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (total >= ISN_PARALLEL_MIN)
  for (int c = 0; c < channels; c++) {
    if (count == 0) {
      mean[c] = NAN;
      var[c] = NAN;
      continue;
    }
    double s = 0.0;
    for (int n = 0; n < batch; n++)
      s += sum_run(x + (size_t)n * x_stride + (size_t)c * spatial, spatial);
    const double m = s / count;
    double q = 0.0;
    for (int n = 0; n < batch; n++)
      q += sq_dev_run(x + (size_t)n * x_stride + (size_t)c * spatial, spatial, m);
    mean[c] = (float)m;
    var[c] = (float)(q / count);
  }
}
