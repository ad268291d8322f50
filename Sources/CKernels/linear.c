// Fully connected layer: y = x W^T + bias, optional ReLU, with OpenBLAS.
//
// The output features are cut into fixed blocks of LINEAR_BLOCK rows of W, one GEMM each,
// shared out over the threads (OpenBLAS itself stays single-threaded): at batch 1 the layer
// is a matrix-vector product bound by reading W, and the blocks let every core stream its
// share. The split does not depend on the thread count, so neither do the results.
#include <cblas.h>
#include <limits.h>

#include "isn_internal.h"

enum { LINEAR_BLOCK = 128 };

static void bias_relu(float *y, size_t y_stride, int batch, size_t cols, const float *bias,
                      int relu) {
  if (!bias && !relu) return;
  for (int n = 0; n < batch; n++) {
    float *row = y + (size_t)n * y_stride;
    if (bias && relu) {
#pragma omp simd
      for (size_t j = 0; j < cols; j++) row[j] = isn_relu1(row[j] + bias[j]);
    } else if (bias) {
#pragma omp simd
      for (size_t j = 0; j < cols; j++) row[j] += bias[j];
    } else {
#pragma omp simd
      for (size_t j = 0; j < cols; j++) row[j] = isn_relu1(row[j]);
    }
  }
}

void isn_linear(const float *x, size_t x_stride, int batch, int in_features,
                const float *weight, const float *bias, int out_features, int relu,
                float *y, size_t y_stride) {
  if (batch <= 0 || out_features <= 0 || in_features < 0) return;
  // OpenBLAS insists on lda >= K and ldc >= N even where (batch 1) they are never used.
  const size_t lda = isn_max(x_stride, (size_t)in_features);
  const size_t ldc = isn_max(y_stride, (size_t)out_features);
  if (lda > INT_MAX || ldc > INT_MAX) return;
  const size_t blocks = isn_cdiv((size_t)out_features, LINEAR_BLOCK);
  const size_t work = (size_t)batch * (size_t)in_features * (size_t)out_features;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (blocks > 1 && work >= ISN_PARALLEL_MIN)
  for (size_t blk = 0; blk < blocks; blk++) {
    const size_t o0 = blk * LINEAR_BLOCK;
    const size_t on = isn_min(LINEAR_BLOCK, (size_t)out_features - o0);
    float *yb = y + o0;
    if (in_features == 0) {
      for (int n = 0; n < batch; n++)
        for (size_t j = 0; j < on; j++) yb[(size_t)n * y_stride + j] = 0.0f;
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, (int)on, in_features, 1.0f,
                  x, (int)lda, weight + o0 * (size_t)in_features, in_features, 0.0f, yb,
                  (int)ldc);
    }
    bias_relu(yb, y_stride, batch, on, bias ? bias + o0 : NULL, relu);
  }
}
