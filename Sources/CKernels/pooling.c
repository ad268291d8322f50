// Pooling: max (with int32 arg-max), its gradient max-unpool (summing), average
// (count_include_pad) and adaptive average.
//
// Every kernel works plane by plane, one (sample, channel) per unit, so threads never
// share an output and each output is computed in a fixed order. Window bounds are clipped
// to the image once per output row/column, so the inner loops carry no bounds tests.
#include <math.h>
#include <string.h>

#include "isn_internal.h"

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
    for (int oh = 0; oh < out_h; oh++) {
      const int h0 = oh * stride_h - pad_h;
      const int hs = h0 < 0 ? 0 : h0, he = h0 + kernel_h > in_h ? in_h : h0 + kernel_h;
      for (int ow = 0; ow < out_w; ow++) {
        const int w0 = ow * stride_w - pad_w;
        const int ws = w0 < 0 ? 0 : w0, we = w0 + kernel_w > in_w ? in_w : w0 + kernel_w;
        // PyTorch's rule: the first valid position starts as the winner; a later one
        // wins only if strictly greater (or NaN), so ties go to the first.
        float best = -INFINITY;
        int32_t idx = (hs < he && ws < we) ? (int32_t)(hs * in_w + ws) : -1;
        for (int ih = hs; ih < he; ih++) {
          const float *row = xp + (size_t)ih * (size_t)in_w;
          for (int iw = ws; iw < we; iw++) {
            const float v = row[iw];
            if (v > best || isnan(v)) {
              best = v;
              idx = (int32_t)(ih * in_w + iw);
            }
          }
        }
        yp[(size_t)oh * out_w + ow] = best;
        if (ap) ap[(size_t)oh * out_w + ow] = idx;
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
    for (int oh = 0; oh < out_h; oh++) {
      const int h0 = oh * stride_h - pad_h;
      const int hs = h0 < 0 ? 0 : h0, he = h0 + kernel_h > in_h ? in_h : h0 + kernel_h;
      for (int ow = 0; ow < out_w; ow++) {
        const int w0 = ow * stride_w - pad_w;
        const int ws = w0 < 0 ? 0 : w0, we = w0 + kernel_w > in_w ? in_w : w0 + kernel_w;
        float s = 0.0f;
        for (int ih = hs; ih < he; ih++) {
          const float *row = xp + (size_t)ih * (size_t)in_w;
          for (int iw = ws; iw < we; iw++) s += row[iw];
        }
        yp[(size_t)oh * out_w + ow] = s * inv;
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
