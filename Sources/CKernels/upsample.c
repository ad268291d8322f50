// Upsampling of images by integer scales: nearest (each output copies its source pixel)
// and bilinear with PyTorch's align_corners=False (ONNX Resize, half_pixel), and their
// adjoints. One (sample, channel) plane per unit; every output and every adjoint element
// is computed in a fixed order, so results do not depend on the thread count.
#include "isn_internal.h"

/// Source coordinate of output o for scale s (align_corners=False): (o + ½)/s − ½, clamped
/// at 0; the lower neighbour, the upper one (clamped to the edge) and the upper's weight.
static inline void bilinear_source(int o, int scale, int in, int *lo, int *hi, float *t) {
  float src = ((float)o + 0.5f) / (float)scale - 0.5f;
  if (src < 0) src = 0;
  int l = (int)src;
  if (l > in - 1) l = in - 1;
  *lo = l;
  *hi = l < in - 1 ? l + 1 : l;
  *t = src - (float)l;
}

#define PLANES_PARALLEL(planes, work) ((size_t)(planes) * (size_t)(work) >= ISN_PARALLEL_MIN)

void isn_upsample(const float *x, size_t x_stride, int batch, int channels, int in_h, int in_w,
                  int scale_h, int scale_w, int bilinear, float *y, size_t y_stride) {
  if (batch <= 0 || channels <= 0) return;
  const int out_h = in_h * scale_h, out_w = in_w * scale_w;
  const size_t planes = (size_t)batch * channels;
  const size_t in_plane = (size_t)in_h * in_w, out_plane = (size_t)out_h * out_w;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (PLANES_PARALLEL(planes, out_plane))
  for (size_t pl = 0; pl < planes; pl++) {
    const size_t n = pl / (size_t)channels, c = pl % (size_t)channels;
    const float *xp = x + n * x_stride + c * in_plane;
    float *yp = y + n * y_stride + c * out_plane;
    for (int oh = 0; oh < out_h; oh++) {
      float *row = yp + (size_t)oh * out_w;
      if (!bilinear) {
        const float *src = xp + (size_t)(oh / scale_h) * in_w;
        for (int ow = 0; ow < out_w; ow++) row[ow] = src[ow / scale_w];
        continue;
      }
      int h0, h1;
      float th;
      bilinear_source(oh, scale_h, in_h, &h0, &h1, &th);
      const float *r0 = xp + (size_t)h0 * in_w, *r1 = xp + (size_t)h1 * in_w;
      for (int ow = 0; ow < out_w; ow++) {
        int w0, w1;
        float tw;
        bilinear_source(ow, scale_w, in_w, &w0, &w1, &tw);
        const float top = (1 - tw) * r0[w0] + tw * r0[w1];
        const float bottom = (1 - tw) * r1[w0] + tw * r1[w1];
        row[ow] = (1 - th) * top + th * bottom;
      }
    }
  }
}

void isn_upsample_backward(const float *dy, int batch, int channels, int in_h, int in_w,
                           int scale_h, int scale_w, int bilinear, float *dx) {
  if (batch <= 0 || channels <= 0) return;
  const int out_h = in_h * scale_h, out_w = in_w * scale_w;
  const size_t planes = (size_t)batch * channels;
  const size_t in_plane = (size_t)in_h * in_w, out_plane = (size_t)out_h * out_w;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (PLANES_PARALLEL(planes, out_plane))
  for (size_t pl = 0; pl < planes; pl++) {
    const float *gp = dy + pl * out_plane;
    float *dp = dx + pl * in_plane;
    // Scatter in output order: the same sequence of additions on any thread count.
    for (int oh = 0; oh < out_h; oh++) {
      const float *row = gp + (size_t)oh * out_w;
      if (!bilinear) {
        float *dst = dp + (size_t)(oh / scale_h) * in_w;
        for (int ow = 0; ow < out_w; ow++) dst[ow / scale_w] += row[ow];
        continue;
      }
      int h0, h1;
      float th;
      bilinear_source(oh, scale_h, in_h, &h0, &h1, &th);
      float *d0 = dp + (size_t)h0 * in_w, *d1 = dp + (size_t)h1 * in_w;
      for (int ow = 0; ow < out_w; ow++) {
        int w0, w1;
        float tw;
        bilinear_source(ow, scale_w, in_w, &w0, &w1, &tw);
        const float g = row[ow];
        d0[w0] += (1 - th) * (1 - tw) * g;
        d0[w1] += (1 - th) * tw * g;
        d1[w0] += th * (1 - tw) * g;
        d1[w1] += th * tw * g;
      }
    }
  }
}
