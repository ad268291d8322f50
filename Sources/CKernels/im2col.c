// im2col and its adjoint col2im over one column tile (see conv_plan.h).
//
// Both walk the tile's output positions row segment by row segment: for kernel offset
// (ki, kj), an output row either maps to an input row outside the image (all zeros) or to
// one whose valid columns form one contiguous range [lo, hi) computed once per kernel
// column, so the inner loops have no bounds tests (a memcpy when stride_w is 1).
#include <string.h>

#include "conv_plan.h"

/// The output columns ow whose input column ow*stride + off lies in [0, in_w), as [lo, hi).
static void valid_cols(long in_w, long out_w, long stride, long off, long *lo, long *hi) {
  long l = off >= 0 ? 0 : (-off + stride - 1) / stride;
  long h = in_w - off <= 0 ? 0 : (in_w - off + stride - 1) / stride;
  if (l > out_w) l = out_w;
  if (h > out_w) h = out_w;
  if (h < l) h = l;
  *lo = l;
  *hi = h;
}

void isn_im2col_tile(const isn_conv_geometry *g, const float *x, size_t channels, size_t p0,
                     size_t w, float *col) {
  isn_im2col_tile_ld(g, x, channels, p0, w, col, w);
}

void isn_im2col_tile_ld(const isn_conv_geometry *g, const float *x, size_t channels, size_t p0,
                        size_t w, float *col, size_t ld) {
  const long in_h = g->in_h, in_w = g->in_w, out_w = g->out_w;
  const long sh = g->stride_h, sw = g->stride_w;
  const size_t in_plane = (size_t)in_h * (size_t)in_w;
  const long oh0 = (long)(p0 / (size_t)out_w), ow0 = (long)(p0 % (size_t)out_w);
  float *dst = col;
  for (size_t c = 0; c < channels; c++) {
    const float *xc = x + c * in_plane;
    for (long ki = 0; ki < g->kernel_h; ki++) {
      const long off_h = ki * g->dilation_h - g->pad_h;
      for (long kj = 0; kj < g->kernel_w; kj++, dst += ld) {
        const long off_w = kj * g->dilation_w - g->pad_w;
        long lo, hi;
        valid_cols(in_w, out_w, sw, off_w, &lo, &hi);
        long oh = oh0, ow = ow0;
        float *d = dst;
        for (size_t left = w; left > 0;) {
          long seg = out_w - ow;
          if ((size_t)seg > left) seg = (long)left;
          const long ih = oh * sh + off_h;
          if (ih < 0 || ih >= in_h) {
            memset(d, 0, (size_t)seg * sizeof(float));
          } else {
            const float *src = xc + (size_t)ih * (size_t)in_w;
            const long end = ow + seg;
            long a = lo < ow ? ow : lo;
            if (a > end) a = end;
            long b = hi > end ? end : hi;
            if (b < a) b = a;
            if (a > ow) memset(d, 0, (size_t)(a - ow) * sizeof(float));
            if (sw == 1) {
              if (b > a) memcpy(d + (a - ow), src + a + off_w, (size_t)(b - a) * sizeof(float));
            } else if (sw == 2) {
              // A literal 2 lets clang vectorise the common stride-2 gather (with a
              // variable stride it speculates stride 1 and runs scalar code).
              for (long j = a; j < b; j++) d[j - ow] = src[j * 2 + off_w];
            } else {
              for (long j = a; j < b; j++) d[j - ow] = src[j * sw + off_w];
            }
            if (end > b) memset(d + (b - ow), 0, (size_t)(end - b) * sizeof(float));
          }
          d += seg;
          left -= (size_t)seg;
          ow = 0;
          oh++;
        }
      }
    }
  }
}

void isn_col2im_tile(const isn_conv_geometry *g, const float *col, size_t channels, size_t p0,
                     size_t w, float *dx) {
  const long in_h = g->in_h, in_w = g->in_w, out_w = g->out_w;
  const long sh = g->stride_h, sw = g->stride_w;
  const size_t in_plane = (size_t)in_h * (size_t)in_w;
  const long oh0 = (long)(p0 / (size_t)out_w), ow0 = (long)(p0 % (size_t)out_w);
  const float *srcrow = col;
  for (size_t c = 0; c < channels; c++) {
    float *xc = dx + c * in_plane;
    for (long ki = 0; ki < g->kernel_h; ki++) {
      const long off_h = ki * g->dilation_h - g->pad_h;
      for (long kj = 0; kj < g->kernel_w; kj++, srcrow += w) {
        const long off_w = kj * g->dilation_w - g->pad_w;
        long lo, hi;
        valid_cols(in_w, out_w, sw, off_w, &lo, &hi);
        long oh = oh0, ow = ow0;
        const float *s = srcrow;
        for (size_t left = w; left > 0;) {
          long seg = out_w - ow;
          if ((size_t)seg > left) seg = (long)left;
          const long ih = oh * sh + off_h;
          if (ih >= 0 && ih < in_h) {
            float *drow = xc + (size_t)ih * (size_t)in_w;
            const long end = ow + seg;
            const long a = lo < ow ? ow : lo;
            const long b = hi > end ? end : hi;
            if (sw == 1) {
#pragma omp simd
              for (long j = a; j < b; j++) drow[j + off_w] += s[j - ow];
            } else {
              for (long j = a; j < b; j++) drow[j * sw + off_w] += s[j - ow];
            }
          }
          s += seg;
          left -= (size_t)seg;
          ow = 0;
          oh++;
        }
      }
    }
  }
}
