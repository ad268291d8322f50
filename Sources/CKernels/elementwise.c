// Elementwise kernels: ReLU, add, copy and the per-channel affine map (folded batch norm).
//
// Memory-bound loops (ISN_FOR_EACH_CHUNK): each sample is cut into fixed ISN_CHUNK-float
// pieces shared out statically, and each piece is one `omp simd` loop (the pragma also vectorises in-place
// calls, where clang's runtime alias check would otherwise fall back to scalar code).
// Small tensors stay on the calling thread.
#include <string.h>

#include "isn_internal.h"

void isn_relu(const float *x, size_t x_stride, int batch, size_t count, float *y,
              size_t y_stride) {
  if (batch <= 0 || count == 0) return;
  ISN_FOR_EACH_CHUNK(batch, count, (size_t)batch * count, n, i0, len) {
    const float *xs = x + n * x_stride + i0;
    float *ys = y + n * y_stride + i0;
#pragma omp simd
    for (size_t i = 0; i < len; i++) ys[i] = isn_relu1(xs[i]);
  }
}

void isn_add(const float *a, size_t a_stride, const float *b, size_t b_stride, int batch,
             size_t count, int relu, float *y, size_t y_stride) {
  if (batch <= 0 || count == 0) return;
  ISN_FOR_EACH_CHUNK(batch, count, (size_t)batch * count, n, i0, len) {
    const float *as = a + n * a_stride + i0;
    const float *bs = b + n * b_stride + i0;
    float *ys = y + n * y_stride + i0;
    if (relu) {
#pragma omp simd
      for (size_t i = 0; i < len; i++) ys[i] = isn_relu1(as[i] + bs[i]);
    } else {
#pragma omp simd
      for (size_t i = 0; i < len; i++) ys[i] = as[i] + bs[i];
    }
  }
}

void isn_copy(const float *x, size_t x_stride, int batch, size_t count, float *y,
              size_t y_stride) {
  if (batch <= 0 || count == 0) return;
  ISN_FOR_EACH_CHUNK(batch, count, (size_t)batch * count, n, i0, len) {
    memmove(y + n * y_stride + i0, x + n * x_stride + i0, len * sizeof(float));
  }
}

void isn_channel_affine(const float *x, size_t x_stride, int batch, int channels,
                        size_t spatial, const float *scale, const float *shift, int relu,
                        float *y, size_t y_stride) {
  if (batch <= 0 || channels <= 0 || spatial == 0) return;
  const size_t planes = (size_t)batch * (size_t)channels;
  ISN_FOR_EACH_CHUNK(planes, spatial, planes * spatial, plane, i0, len) {
    const size_t n = plane / (size_t)channels, c = plane % (size_t)channels;
    const float *xs = x + n * x_stride + c * spatial + i0;
    float *ys = y + n * y_stride + c * spatial + i0;
    const float s = scale[c], t = shift[c];
    if (relu) {
#pragma omp simd
      for (size_t i = 0; i < len; i++) ys[i] = isn_relu1(xs[i] * s + t);
    } else {
#pragma omp simd
      for (size_t i = 0; i < len; i++) ys[i] = xs[i] * s + t;
    }
  }
}
