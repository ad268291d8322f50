// Pooling: max (with int32 arg-max), its gradient max-unpool (summing), average
// (count_include_pad) and adaptive average.
//
// Every kernel works plane by plane, one (sample, channel) per unit, so threads never
// share an output and each output is computed in a fixed order. Max and average pooling
// walk an output row in chunks: for each window tap (row, kernel column) one pass updates
// every output of the chunk whose tap lies inside the image (the valid range is computed
// once per tap), so the inner loops have no bounds tests and vectorise, while each output
// still sees its window in row-major order.
#include <math.h>
#include <string.h>

#include "isn_internal.h"

/// Output columns handled together: one output row is processed in chunks of this many
/// columns, each window tap being one vectorisable pass over the chunk.
enum { POOL_CHUNK = 64 };

/// The chunk positions j in [0, cnt) whose input column (o0 + j)*stride + off lies in
/// [0, in_w), as [lo, hi).
static inline void chunk_cols(int in_w, int stride, int off, int o0, int cnt, int *lo, int *hi) {
  int l = off >= 0 ? 0 : (-off + stride - 1) / stride;               // first valid column
  int h = in_w - off <= 0 ? 0 : (in_w - off + stride - 1) / stride;  // one past the last
  l -= o0;
  h -= o0;
  if (l < 0) l = 0;
  if (h > cnt) h = cnt;
  if (h < l) h = l;
  *lo = l;
  *hi = h;
}

/// One window tap over outputs j in [lo, hi) of a chunk: input column (o0 + j)*S + off of
/// `row`. Written out for S = 1 and 2 (constants let clang vectorise the strided loads;
/// with a variable stride it would speculate stride 1 and fall back to scalar code) and
/// for any stride (gathers).
#define MAX_TAP(S)                                        \
  _Pragma("omp simd") for (int j = lo; j < hi; j++) {     \
    const int iw = (o0 + j) * (S) + off;                  \
    const float v = row[iw];                              \
    const int wins = (v > best[j]) | (v != v);            \
    best[j] = wins ? v : best[j];                         \
    arg[j] = wins ? base + iw : arg[j];                   \
  }
#define SUM_TAP(S) \
  _Pragma("omp simd") for (int j = lo; j < hi; j++) sum[j] += row[(o0 + j) * (S) + off]

/// Parallelise over planes only when the whole tensor is worth it.
#define PLANES_PARALLEL(planes, plane_work) \
  ((size_t)(planes) * (size_t)(plane_work) >= ISN_PARALLEL_MIN)

void isn_maxpool2d(const float *x, size_t x_stride, int batch, int channels, int in_h,
                   int in_w, int kernel_h, int kernel_w, int stride_h, int stride_w,
                   int pad_h, int pad_w, int out_h, int out_w, float *y, size_t y_stride,
                   int32_t *argmax) {
  if (batch <= 0 || channels <= 0 || out_h <= 0 || out_w <= 0) return;
  const size_t planes = (size_t)batch * (size_t)channels;
  const size_t in_plane = (size_t)in_h * (size_t)in_w, out_plane = (size_t)out_h * out_w;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (PLANES_PARALLEL(planes, out_plane * (size_t)kernel_h * (size_t)kernel_w))
  for (size_t pl = 0; pl < planes; pl++) {
    const size_t n = pl / (size_t)channels, c = pl % (size_t)channels;
    const float *xp = x + n * x_stride + c * in_plane;
    float *yp = y + n * y_stride + c * out_plane;
    int32_t *ap = argmax ? argmax + pl * out_plane : NULL;
    float best[POOL_CHUNK];
    int32_t arg[POOL_CHUNK];
    for (int oh = 0; oh < out_h; oh++) {
      const int h0 = oh * stride_h - pad_h;
      const int hs = h0 < 0 ? 0 : h0, he = h0 + kernel_h > in_h ? in_h : h0 + kernel_h;
      for (int o0 = 0; o0 < out_w; o0 += POOL_CHUNK) {
        const int cnt = out_w - o0 < POOL_CHUNK ? out_w - o0 : POOL_CHUNK;
        // PyTorch's rule: the first valid position starts as the winner; a later one (in
        // row-major window order) wins only if strictly greater or NaN, so ties go to the
        // first. Visiting (row, kernel column) outermost keeps that order per output.
        for (int j = 0; j < cnt; j++) {
          const int w0 = (o0 + j) * stride_w - pad_w;
          const int ws = w0 < 0 ? 0 : w0, we = w0 + kernel_w > in_w ? in_w : w0 + kernel_w;
          best[j] = -INFINITY;
          arg[j] = (hs < he && ws < we) ? (int32_t)(hs * in_w + ws) : -1;
        }
        for (int ih = hs; ih < he; ih++) {
          const float *row = xp + (size_t)ih * (size_t)in_w;
          const int32_t base = (int32_t)(ih * in_w);
          for (int kj = 0; kj < kernel_w; kj++) {
            const int off = kj - pad_w;
            int lo, hi;
            chunk_cols(in_w, stride_w, off, o0, cnt, &lo, &hi);
            if (stride_w == 1) {
              MAX_TAP(1);
            } else if (stride_w == 2) {
              MAX_TAP(2);
            } else {
              MAX_TAP(stride_w);
            }
          }
        }
        memcpy(yp + (size_t)oh * out_w + o0, best, (size_t)cnt * sizeof(float));
        if (ap) memcpy(ap + (size_t)oh * out_w + o0, arg, (size_t)cnt * sizeof(int32_t));
      }
    }
  }
}

void isn_max_unpool2d_sum(const float *dy, size_t dy_stride, const int32_t *argmax,
                          int batch, int channels, int in_h, int in_w, int out_h,
                          int out_w, float *dx, size_t dx_stride) {
  if (batch <= 0 || channels <= 0 || in_h <= 0 || in_w <= 0) return;
  const size_t planes = (size_t)batch * (size_t)channels;
  const size_t in_plane = (size_t)in_h * (size_t)in_w;
  const size_t out_plane = out_h > 0 && out_w > 0 ? (size_t)out_h * (size_t)out_w : 0;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (PLANES_PARALLEL(planes, in_plane + out_plane))
  for (size_t pl = 0; pl < planes; pl++) {
    const size_t n = pl / (size_t)channels, c = pl % (size_t)channels;
    const float *dyp = dy + n * dy_stride + c * out_plane;
    const int32_t *ap = argmax + pl * out_plane;
    float *dxp = dx + n * dx_stride + c * in_plane;
    memset(dxp, 0, in_plane * sizeof(float));
    for (size_t o = 0; o < out_plane; o++) {
      const int32_t i = ap[o];
      if (i >= 0 && (size_t)i < in_plane) dxp[i] += dyp[o];  // -1: an empty window
    }
  }
}

void isn_avgpool2d(const float *x, size_t x_stride, int batch, int channels, int in_h,
                   int in_w, int kernel_h, int kernel_w, int stride_h, int stride_w,
                   int pad_h, int pad_w, int out_h, int out_w, float *y, size_t y_stride) {
  if (batch <= 0 || channels <= 0 || out_h <= 0 || out_w <= 0) return;
  const size_t planes = (size_t)batch * (size_t)channels;
  const size_t in_plane = (size_t)in_h * (size_t)in_w, out_plane = (size_t)out_h * out_w;
  const float inv = 1.0f / ((float)kernel_h * (float)kernel_w);
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (PLANES_PARALLEL(planes, out_plane * (size_t)kernel_h * (size_t)kernel_w))
  for (size_t pl = 0; pl < planes; pl++) {
    const size_t n = pl / (size_t)channels, c = pl % (size_t)channels;
    const float *xp = x + n * x_stride + c * in_plane;
    float *yp = y + n * y_stride + c * out_plane;
    float sum[POOL_CHUNK];
    for (int oh = 0; oh < out_h; oh++) {
      const int h0 = oh * stride_h - pad_h;
      const int hs = h0 < 0 ? 0 : h0, he = h0 + kernel_h > in_h ? in_h : h0 + kernel_h;
      for (int o0 = 0; o0 < out_w; o0 += POOL_CHUNK) {
        const int cnt = out_w - o0 < POOL_CHUNK ? out_w - o0 : POOL_CHUNK;
        for (int j = 0; j < cnt; j++) sum[j] = 0.0f;
        for (int ih = hs; ih < he; ih++) {  // row-major window order for every output
          const float *row = xp + (size_t)ih * (size_t)in_w;
          for (int kj = 0; kj < kernel_w; kj++) {
            const int off = kj - pad_w;
            int lo, hi;
            chunk_cols(in_w, stride_w, off, o0, cnt, &lo, &hi);
            if (stride_w == 1) {
              SUM_TAP(1);
            } else if (stride_w == 2) {
              SUM_TAP(2);
            } else {
              SUM_TAP(stride_w);
            }
          }
        }
        float *yr = yp + (size_t)oh * out_w + o0;
        for (int j = 0; j < cnt; j++) yr[j] = sum[j] * inv;
      }
    }
  }
}

void isn_adaptive_avgpool2d(const float *x, size_t x_stride, int batch, int channels,
                            int in_h, int in_w, int out_h, int out_w, float *y,
                            size_t y_stride) {
  if (batch <= 0 || channels <= 0 || out_h <= 0 || out_w <= 0) return;
  const size_t planes = (size_t)batch * (size_t)channels;
  const size_t in_plane = (size_t)in_h * (size_t)in_w, out_plane = (size_t)out_h * out_w;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (PLANES_PARALLEL(planes, in_plane + out_plane))
  for (size_t pl = 0; pl < planes; pl++) {
    const size_t n = pl / (size_t)channels, c = pl % (size_t)channels;
    const float *xp = x + n * x_stride + c * in_plane;
    float *yp = y + n * y_stride + c * out_plane;
    for (int oh = 0; oh < out_h; oh++) {
      // PyTorch's windows: floor(i*in/out) .. ceil((i+1)*in/out) - 1.
      const long hs = (long)oh * in_h / out_h;
      const long he = ((long)(oh + 1) * in_h + out_h - 1) / out_h;
      for (int ow = 0; ow < out_w; ow++) {
        const long ws = (long)ow * in_w / out_w;
        const long we = ((long)(ow + 1) * in_w + out_w - 1) / out_w;
        double s = 0.0;  // a global pool can sum thousands of values
        for (long ih = hs; ih < he; ih++) {
          const float *row = xp + (size_t)ih * (size_t)in_w;
          for (long iw = ws; iw < we; iw++) s += (double)row[iw];
        }
        const long cnt = (he - hs) * (we - ws);
        yp[(size_t)oh * out_w + ow] = cnt > 0 ? (float)(s / (double)cnt) : 0.0f;
      }
    }
  }
}
