// Upsampling of images by integer scales: nearest (each output copies its source pixel)
// and bilinear with PyTorch's align_corners=False (ONNX Resize, half_pixel), and their
// adjoints. One (sample, channel) plane per unit; every output and every adjoint element
// is computed in a fixed order, so results do not depend on the thread count.
#include <stdlib.h>

#include "isn_internal.h"

/// One output coordinate's bilinear sources along an axis: the lower neighbour, the upper
/// one (clamped to the edge) and the upper's weight.
typedef struct {
  int lo, hi;
  float t;
} tap;

/// The taps of every output coordinate along an axis of `in` inputs, scale `scale`: source
/// (o + ½)/s − ½, clamped at 0 (align_corners=False). Computed once per call, shared by
/// every plane and row. The caller frees the array (as the other kernels' scratch, an
/// allocation of a few kilobytes is taken to succeed).
static tap *bilinear_taps(int in, int scale) {
  const int out = in * scale;
  tap *taps = malloc((size_t)out * sizeof(tap));
  for (int o = 0; o < out; o++) {
    float src = ((float)o + 0.5f) / (float)scale - 0.5f;
    if (src < 0) src = 0;
    int l = (int)src;
    if (l > in - 1) l = in - 1;
    taps[o] = (tap){l, l < in - 1 ? l + 1 : l, src - (float)l};
  }
  return taps;
}

/// The sizes both kernels walk: output sides, planes, floats per input and output plane.
typedef struct {
  int out_h, out_w;
  size_t planes, in_plane, out_plane;
} plane_sizes;

static plane_sizes sizes_of(int batch, int channels, int in_h, int in_w, int scale_h, int scale_w) {
  plane_sizes s = {in_h * scale_h, in_w * scale_w, (size_t)batch * (size_t)channels, (size_t)in_h * in_w, 0};
  s.out_plane = (size_t)s.out_h * s.out_w;
  return s;
}

#define PLANES_PARALLEL(s) ((s).planes * (s).out_plane >= ISN_PARALLEL_MIN)

void isn_upsample(const float *x, size_t x_stride, int batch, int channels, int in_h, int in_w,
                  int scale_h, int scale_w, int bilinear, float *y, size_t y_stride) {
  if (batch <= 0 || channels <= 0) return;
  const plane_sizes s = sizes_of(batch, channels, in_h, in_w, scale_h, scale_w);
  tap *rows = bilinear ? bilinear_taps(in_h, scale_h) : NULL, *cols = bilinear ? bilinear_taps(in_w, scale_w) : NULL;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) if (PLANES_PARALLEL(s))
  for (size_t pl = 0; pl < s.planes; pl++) {
    const size_t n = pl / (size_t)channels, c = pl % (size_t)channels;
    const float *xp = x + n * x_stride + c * s.in_plane;
    float *yp = y + n * y_stride + c * s.out_plane;
    for (int oh = 0; oh < s.out_h; oh++) {
      float *row = yp + (size_t)oh * s.out_w;
      if (!bilinear) {
        const float *src = xp + (size_t)(oh / scale_h) * in_w;
        for (int ow = 0; ow < s.out_w; ow++) row[ow] = src[ow / scale_w];
        continue;
      }
      const tap r = rows[oh];
      const float *r0 = xp + (size_t)r.lo * in_w, *r1 = xp + (size_t)r.hi * in_w;
      for (int ow = 0; ow < s.out_w; ow++) {
        const tap k = cols[ow];
        const float top = (1 - k.t) * r0[k.lo] + k.t * r0[k.hi];
        const float bottom = (1 - k.t) * r1[k.lo] + k.t * r1[k.hi];
        row[ow] = (1 - r.t) * top + r.t * bottom;
      }
    }
  }
  free(rows);
  free(cols);
}

void isn_upsample_backward(const float *dy, int batch, int channels, int in_h, int in_w,
                           int scale_h, int scale_w, int bilinear, float *dx) {
  if (batch <= 0 || channels <= 0) return;
  const plane_sizes s = sizes_of(batch, channels, in_h, in_w, scale_h, scale_w);
  tap *rows = bilinear ? bilinear_taps(in_h, scale_h) : NULL, *cols = bilinear ? bilinear_taps(in_w, scale_w) : NULL;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) if (PLANES_PARALLEL(s))
  for (size_t pl = 0; pl < s.planes; pl++) {
    const float *gp = dy + pl * s.out_plane;
    float *dp = dx + pl * s.in_plane;
    // Scatter in output order: the same sequence of additions on any thread count.
    for (int oh = 0; oh < s.out_h; oh++) {
      const float *row = gp + (size_t)oh * s.out_w;
      if (!bilinear) {
        float *dst = dp + (size_t)(oh / scale_h) * in_w;
        for (int ow = 0; ow < s.out_w; ow++) dst[ow / scale_w] += row[ow];
        continue;
      }
      const tap r = rows[oh];
      float *d0 = dp + (size_t)r.lo * in_w, *d1 = dp + (size_t)r.hi * in_w;
      for (int ow = 0; ow < s.out_w; ow++) {
        const tap k = cols[ow];
        const float g = row[ow];
        d0[k.lo] += (1 - r.t) * (1 - k.t) * g;
        d0[k.hi] += (1 - r.t) * k.t * g;
        d1[k.lo] += r.t * (1 - k.t) * g;
        d1[k.hi] += r.t * k.t * g;
      }
    }
  }
  free(rows);
  free(cols);
}
