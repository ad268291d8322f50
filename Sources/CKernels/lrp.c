// Elementwise kernels of the LRP block: the start relevance, the ε-rule's stabilised
// division and the product with the activations. Relevance tensors hold one slice per
// explained class after each sample ([batch, classes, count]); the forward values they
// combine with ([batch, count]) are broadcast over the classes, never copied K times.
// The ε-rule's ε is one number for the batch, or one per sample (`sample_eps`, when not
// NULL): a run-time choice, so the graph is not recompiled to change it.
#include <string.h>

#include "isn_internal.h"

void isn_lrp_seed(const float *logits, size_t logits_stride, int batch, int classes,
                  const int32_t *chosen, float *out, size_t out_stride) {
  for (int b = 0; b < batch; b++) {
    float *o = out + (size_t)b * out_stride;
    const float *l = logits + (size_t)b * logits_stride;
    if (chosen) {
      memset(o, 0, sizeof(float) * (size_t)classes);
      o[chosen[b]] = l[chosen[b]];
      continue;
    }
    memset(o, 0, sizeof(float) * (size_t)classes * (size_t)classes);
    for (int k = 0; k < classes; k++) o[(size_t)k * classes + k] = l[k];
  }
}

void isn_lrp_epsilon_divide(const float *r, size_t r_stride, const float *z, size_t z_stride,
                            int batch, int classes, size_t count, float eps,
                            const float *sample_eps, float *out, size_t out_stride) {
  if (batch <= 0 || classes <= 0 || count == 0) return;
  const size_t rows = (size_t)batch * (size_t)classes;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (rows * count >= ISN_PARALLEL_MIN)
  for (size_t row = 0; row < rows; row++) {
    const size_t b = row / (size_t)classes, k = row % (size_t)classes;
    const float *rs = r + b * r_stride + k * count;
    const float *zs = z + b * z_stride;
    float *os = out + b * out_stride + k * count;
    const float e = sample_eps ? sample_eps[b] : eps;
#pragma omp simd
    for (size_t i = 0; i < count; i++) {
      const float zi = zs[i];
      os[i] = rs[i] / (zi + (zi >= 0.0f ? e : -e));
    }
  }
}

void isn_lrp_multiply(const float *a, size_t a_stride, const float *c, size_t c_stride,
                      int batch, int classes, size_t count, float *out, size_t out_stride) {
  if (batch <= 0 || classes <= 0 || count == 0) return;
  const size_t rows = (size_t)batch * (size_t)classes;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (rows * count >= ISN_PARALLEL_MIN)
  for (size_t row = 0; row < rows; row++) {
    const size_t b = row / (size_t)classes, k = row % (size_t)classes;
    const float *as = a + b * a_stride;
    const float *cs = c + b * c_stride + k * count;
    float *os = out + b * out_stride + k * count;
#pragma omp simd
    for (size_t i = 0; i < count; i++) os[i] = as[i] * cs[i];
  }
}

void isn_lrp_zb_combine(const float *x, size_t x_stride, const float *pos, const float *neg,
                        int batch, int classes, size_t count, float low, float high,
                        float *out) {
  if (batch <= 0 || classes <= 0 || count == 0) return;
  const size_t rows = (size_t)batch * (size_t)classes;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (rows * count >= ISN_PARALLEL_MIN)
  for (size_t row = 0; row < rows; row++) {
    const float *xs = x + (row / (size_t)classes) * x_stride;
    const float *p = pos + row * count;
    const float *n = neg + row * count;
    float *o = out + row * count;
#pragma omp simd
    for (size_t i = 0; i < count; i++) o[i] = (xs[i] - low) * p[i] + (xs[i] - high) * n[i];
  }
}

void isn_lrp_fused_ratio(const float *a, size_t a_stride, const float *c, size_t c_stride,
                         const float *z, size_t z_stride, const float *scale,
                         const float *addend, size_t addend_stride,
                         size_t addend_class_stride, int batch, int classes,
                         int channels, size_t plane, float eps, const float *sample_eps,
                         float *out, size_t out_stride) {
  if (batch <= 0 || classes <= 0 || channels <= 0 || plane == 0) return;
  const size_t count = (size_t)channels * plane;
  const size_t rows = (size_t)batch * (size_t)classes * (size_t)channels;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (rows * plane >= ISN_PARALLEL_MIN)
  for (size_t row = 0; row < rows; row++) {
    const size_t ch = row % (size_t)channels, bk = row / (size_t)channels;
    const size_t b = bk / (size_t)classes, k = bk % (size_t)classes;
    const float *as = a + b * a_stride + ch * plane;
    const float *zs = z + b * z_stride + ch * plane;
    const float *cs = c + b * c_stride + k * count + ch * plane;
    float *os = out + b * out_stride + k * count + ch * plane;
    const float *ds =
        addend ? addend + b * addend_stride + k * addend_class_stride + ch * plane : NULL;
    const float e = sample_eps ? sample_eps[b] : eps;
    // The same operations in the same order as isn_lrp_multiply, isn_lrp_epsilon_divide,
    // the batch-norm transpose and isn_add one after another: the same bits.
    if (scale) {
      const float s = scale[ch];
#pragma omp simd
      for (size_t i = 0; i < plane; i++) {
        const float zi = zs[i];
        os[i] = (as[i] * cs[i]) / (zi + (zi >= 0.0f ? e : -e)) * s + 0.0f;  // + 0: as the affine kernel
      }
      if (ds) {
#pragma omp simd
        for (size_t i = 0; i < plane; i++) os[i] = ds[i] + os[i];
      }
    } else {
#pragma omp simd
      for (size_t i = 0; i < plane; i++) {
        const float zi = zs[i];
        os[i] = (as[i] * cs[i]) / (zi + (zi >= 0.0f ? e : -e));
      }
      if (ds) {
#pragma omp simd
        for (size_t i = 0; i < plane; i++) os[i] = ds[i] + os[i];
      }
    }
  }
}
