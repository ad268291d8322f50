// Gradient kernels for training (the reverse-mode program, AdjointProgram.swift): each
// ACCUMULATES into its gradient outputs (+=), because a value's adjoint is the sum of its
// readers' contributions. Tensors are dense ([rows, channels, spatial]).
//
// Reductions (weight and per-channel gradients) are cut into units by the geometry only
// and each unit sums in a fixed order, so results do not depend on the thread count.
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "conv_plan.h"

/// Output positions per im2col tile of the weight gradient; samples whose planes are
/// shorter are taken several at a time, side by side, so that each GEMM reduces over about
/// this many positions (a GEMM over a short reduction spends its time packing).
#define ISN_WGRAD_TILE ((size_t)1024)
/// Columns of dw a unit owns at least: narrower GEMMs run far below the machine's rate.
#define ISN_WGRAD_COLUMNS ((size_t)64)

/// The weight gradient of a stride-1, undilated, non-1×1 convolution without im2col: with x
/// zero-padded to Hp×Wp and dy widened to Wp columns (zeros past out_w), kernel offset
/// (ki, kj) reads x at a fixed shift ki·Wp + kj of dy's position, so dw[:, :, ki, kj] is one
/// GEMM of dy by x shifted, over the padded positions of several samples side by side.
/// Units own (kernel offset, input-channel block) pairs, a partition fixed by the geometry;
/// each sums its samples in order, so results do not depend on the thread count.
static void weight_grad_shifted(const isn_conv_geometry *g, const isn_conv_plan *p, const float *x,
                                size_t x_stride, int x_repeat, const float *dy, size_t dy_stride,
                                float *dw) {
  const size_t rows = (size_t)g->batch, cout = (size_t)g->out_channels, cin = p->cg_in;
  const size_t kh = (size_t)g->kernel_h, kw = (size_t)g->kernel_w, khkw = kh * kw;
  const size_t in_h = (size_t)g->in_h, in_w = (size_t)g->in_w;
  const size_t out_h = (size_t)g->out_h, out_w = (size_t)g->out_w;
  const size_t pad_h = (size_t)g->pad_h, pad_w = (size_t)g->pad_w;
  const size_t wp = in_w + 2 * pad_w, hp = in_h + 2 * pad_h;
  // One sample's segment: its padded plane and room for the widest shift into the next.
  const size_t segment = hp * wp + kw;
  const size_t group = isn_max(1, isn_min(rows, isn_cdiv(ISN_WGRAD_TILE, segment)));
  const size_t tail = (kh - 1) * wp + kw;
  const size_t cblock = isn_min(cin, isn_max(1, ISN_WGRAD_COLUMNS));
  const size_t blocks = isn_cdiv(cin, cblock), units = khkw * blocks;
  float *xs = calloc(cin * group * segment + tail, sizeof(float));
  float *ys = calloc(cout * group * segment, sizeof(float));
  float *sums = calloc(units * cout * cblock, sizeof(float));
  if (!xs || !ys || !sums) {
    free(xs);
    free(ys);
    free(sums);
    return;
  }
  // Every group keeps the same layout (a last, smaller group leaves its unused segments as
  // they were and reduces over its own), so the zero borders written once stay zero.
  const size_t ld = group * segment;
  for (size_t r0 = 0; r0 < rows; r0 += group) {
    const size_t gn = isn_min(group, rows - r0), length = gn * segment;
    // x padded and dy widened, sample j at column j*segment of every channel's row.
#pragma omp parallel for num_threads(isn_threads()) schedule(static)
    for (size_t c = 0; c < cin + cout; c++) {
      for (size_t j = 0; j < gn; j++) {
        const size_t r = r0 + j;
        if (c < cin) {
          const float *src = x + (r / (size_t)x_repeat) * x_stride + c * in_h * in_w;
          float *dst = xs + c * ld + j * segment;
          for (size_t i = 0; i < in_h; i++) memcpy(dst + (i + pad_h) * wp + pad_w, src + i * in_w, in_w * sizeof(float));
        } else {
          const size_t o = c - cin;
          const float *src = dy + r * dy_stride + o * out_h * out_w;
          float *dst = ys + o * ld + j * segment;
          for (size_t i = 0; i < out_h; i++) memcpy(dst + i * wp, src + i * out_w, out_w * sizeof(float));
        }
      }
    }
#pragma omp parallel for num_threads(isn_threads()) schedule(static) if (units > 1)
    for (size_t u = 0; u < units; u++) {
      const size_t offset = u / blocks, c0 = (u % blocks) * cblock, cn = isn_min(cblock, cin - c0);
      const size_t shift = (offset / kw) * wp + offset % kw;
      // sums[u] += dy · (x shifted)^T over the group's positions.
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cout, (int)cn, (int)length, 1.0f, ys, (int)ld,
                  xs + c0 * ld + shift, (int)ld, 1.0f, sums + u * cout * cblock, (int)cblock);
    }
  }
  for (size_t u = 0; u < units; u++) {
    const size_t offset = u / blocks, c0 = (u % blocks) * cblock, cn = isn_min(cblock, cin - c0);
    for (size_t o = 0; o < cout; o++)
      for (size_t c = 0; c < cn; c++) dw[(o * cin + c0 + c) * khkw + offset] += sums[(u * cout + o) * cblock + c];
  }
  free(xs);
  free(ys);
  free(sums);
}

void isn_conv2d_weight_grad(const isn_conv_geometry *g, const float *x, size_t x_stride,
                            int x_repeat, const float *dy, size_t dy_stride, float *dw) {
  isn_conv_plan p;
  if (isn_conv_plan_make(g, &p) != 1 || g->groups != 1 || x_repeat < 1) return;
  if (!p.direct && g->stride_h == 1 && g->stride_w == 1 && g->dilation_h == 1 && g->dilation_w == 1) {
    weight_grad_shifted(g, &p, x, x_stride, x_repeat, dy, dy_stride, dw);
    return;
  }
  const size_t rows = (size_t)g->batch, cout = (size_t)g->out_channels;
  const size_t cin = p.cg_in, khkw = p.khkw, k = p.k, plane = p.out_plane;
  // Units own blocks of input channels (columns of dw); a block size fixed by the geometry.
  const size_t cblock = isn_min(cin, isn_max(isn_max(1, cin / 16), isn_cdiv(ISN_WGRAD_COLUMNS, khkw)));
  const size_t units = isn_cdiv(cin, cblock);
  const size_t group = plane >= ISN_WGRAD_TILE ? 1 : isn_min(rows, isn_cdiv(ISN_WGRAD_TILE, plane));
  const size_t tile = p.direct ? plane : isn_min(ISN_WGRAD_TILE, plane);
#pragma omp parallel for num_threads(isn_threads()) schedule(static) if (units > 1)
  for (size_t u = 0; u < units; u++) {
    const size_t c0 = u * cblock, cn = isn_min(cblock, cin - c0);
    if (group > 1) {
      // dw[:, c0*khkw ..] += [dy of `group` samples] · [their columns]^T, one GEMM.
      float *a = malloc(cout * group * plane * sizeof(float));
      float *b = malloc(cn * khkw * group * plane * sizeof(float));
      for (size_t r0 = 0; r0 < rows; r0 += group) {
        const size_t gn = isn_min(group, rows - r0), ld = gn * plane;
        for (size_t j = 0; j < gn; j++) {
          const size_t r = r0 + j;
          const float *xs = x + (r / (size_t)x_repeat) * x_stride + c0 * p.in_plane;
          const float *dys = dy + r * dy_stride;
          for (size_t o = 0; o < cout; o++) memcpy(a + o * ld + j * plane, dys + o * plane, plane * sizeof(float));
          if (p.direct) {
            for (size_t c = 0; c < cn; c++) memcpy(b + c * ld + j * plane, xs + c * plane, plane * sizeof(float));
          } else {
            isn_im2col_tile_ld(g, xs, cn, 0, plane, b + j * plane, ld);
          }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cout, (int)(cn * khkw), (int)ld,
                    1.0f, a, (int)ld, b, (int)ld, 1.0f, dw + c0 * khkw, (int)k);
      }
      free(a);
      free(b);
      continue;
    }
    float *col = p.direct ? NULL : malloc(cn * khkw * tile * sizeof(float));
    for (size_t r = 0; r < rows; r++) {
      const float *xs = x + (r / (size_t)x_repeat) * x_stride + c0 * p.in_plane;
      const float *dys = dy + r * dy_stride;
      for (size_t p0 = 0; p0 < plane; p0 += tile) {
        const size_t w = isn_min(tile, plane - p0);
        const float *b = xs + p0;
        size_t ldb = plane;
        if (!p.direct) {
          isn_im2col_tile(g, xs, cn, p0, w, col);
          b = col;
          ldb = w;
        }
        // dw[:, c0*khkw ..] += dy[:, p0..p0+w] · col^T
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cout, (int)(cn * khkw), (int)w,
                    1.0f, dys + p0, (int)plane, b, (int)ldb, 1.0f, dw + c0 * khkw, (int)k);
      }
    }
    free(col);
  }
}

void isn_channel_sums(const float *a, const float *b, int rows, int channels, size_t spatial,
                      double *sum_a, double *sum_ab) {
  const size_t total = (size_t)rows * (size_t)channels * spatial;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (total >= ISN_PARALLEL_MIN)
  for (int c = 0; c < channels; c++) {
    double sa = 0.0, sab = 0.0;
    for (int r = 0; r < rows; r++) {
      const float *ar = a + ((size_t)r * (size_t)channels + (size_t)c) * spatial;
      if (sum_a) {
#pragma omp simd reduction(+ : sa)
        for (size_t i = 0; i < spatial; i++) sa += (double)ar[i];
      }
      if (b) {
        const float *br = b + ((size_t)r * (size_t)channels + (size_t)c) * spatial;
#pragma omp simd reduction(+ : sab)
        for (size_t i = 0; i < spatial; i++) sab += (double)ar[i] * (double)br[i];
      }
    }
    if (sum_a) sum_a[c] = sa;
    if (sum_ab) sum_ab[c] = sab;
  }
}

void isn_channel_scale_add(const float *x, int rows, int channels, size_t spatial,
                           const float *scale, int assign, float *y) {
  const size_t planes = (size_t)rows * (size_t)channels;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (planes * spatial >= ISN_PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    const float s = scale[pl % (size_t)channels];
    const float *xs = x + pl * spatial;
    float *ys = y + pl * spatial;
    if (assign) {
#pragma omp simd
      for (size_t i = 0; i < spatial; i++) ys[i] = 0.0f + xs[i] * s;  // 0 + v: the bits of zeroing, then adding
    } else {
#pragma omp simd
      for (size_t i = 0; i < spatial; i++) ys[i] += xs[i] * s;
    }
  }
}

void isn_batchnorm_sums(const float *x, const float *dy, int batch, int channels, size_t spatial,
                        const float *mean, const float *invstd, double *sum_dy, double *sum_dyx) {
  const size_t total = (size_t)batch * (size_t)channels * spatial;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (total >= ISN_PARALLEL_MIN)
  for (int c = 0; c < channels; c++) {
    const double m = mean[c], is = invstd[c];
    double sdy = 0.0, sdyx = 0.0;
    for (int n = 0; n < batch; n++) {
      const size_t off = ((size_t)n * (size_t)channels + (size_t)c) * spatial;
      const float *xs = x + off, *dys = dy + off;
      // Vector lanes of partial sums (a fixed order per build, as the moments' sums):
      // one running sum would wait on the adder's latency at every element.
      double run_dy = 0.0, run_dyx = 0.0;
#pragma omp simd reduction(+ : run_dy, run_dyx)
      for (size_t i = 0; i < spatial; i++) {
        run_dy += (double)dys[i];
        run_dyx += (double)dys[i] * ((double)xs[i] - m);
      }
      sdy += run_dy;
      sdyx += run_dyx;
    }
    sum_dy[c] = sdy;
    sum_dyx[c] = sdyx * is;
  }
}

void isn_batchnorm_input_adjoint(const float *x, const float *dy, int batch, int channels,
                                 size_t spatial, const float *mean, const float *invstd,
                                 const float *gamma, const double *sum_dy, const double *sum_dyx,
                                 int assign, float *dx) {
  const double count = (double)batch * (double)spatial;
  const size_t total = (size_t)batch * (size_t)channels * spatial;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (total >= ISN_PARALLEL_MIN)
  for (int c = 0; c < channels; c++) {
    const double m = mean[c], is = invstd[c];
    const double k = (double)gamma[c] * is, mdy = sum_dy[c] / count, mdyx = sum_dyx[c] / count;
    for (int n = 0; n < batch; n++) {
      const size_t off = ((size_t)n * (size_t)channels + (size_t)c) * spatial;
      const float *xs = x + off, *dys = dy + off;
      float *dxs = dx + off;
      if (assign) {
#pragma omp simd
        for (size_t i = 0; i < spatial; i++)
          dxs[i] = (float)(k * ((double)dys[i] - mdy - ((double)xs[i] - m) * is * mdyx));
      } else {
#pragma omp simd
        for (size_t i = 0; i < spatial; i++)
          dxs[i] += (float)(k * ((double)dys[i] - mdy - ((double)xs[i] - m) * is * mdyx));
      }
    }
  }
}

void isn_relu_backward(const float *y, const float *dy, size_t count, int assign, float *dx) {
  ISN_FOR_EACH_CHUNK(1, count, count, row, c0, len) {
    if (assign) {
#pragma omp simd
      for (size_t i = c0; i < c0 + len; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    } else {
#pragma omp simd
      for (size_t i = c0; i < c0 + len; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
    }
  }
}

void isn_accumulate(const float *x, size_t count, float *y) {
  ISN_FOR_EACH_CHUNK(1, count, count, row, c0, len) {
#pragma omp simd
    for (size_t i = c0; i < c0 + len; i++) y[i] += x[i];
  }
}

// With an `assign_*` flag, that output is written rather than added to: dr and dc rows
// take their term, dz and da (summed over the classes) start from class 0's term instead
// of 0 + that term. The same numbers either way, and each output's whether or not the
// other is computed in the same pass.
void isn_lrp_epsilon_divide_backward(const float *g, const float *out, const float *z,
                                     int batch, int classes, size_t count, float eps,
                                     const float *sample_eps, int assign_dr, int assign_dz,
                                     float *dr, float *dz) {
  ISN_FOR_EACH_CHUNK(batch, count, (size_t)batch * (size_t)classes * count, n, i0, len) {
    const float *zs = z + n * count;
    const float e = sample_eps ? sample_eps[n] : eps;
    for (int k = 0; k < classes; k++) {
      const size_t row = ((size_t)n * (size_t)classes + (size_t)k) * count;
      const int first = assign_dz && k == 0;
      for (size_t i = i0; i < i0 + len; i++) {
        const float zi = zs[i];
        const float s = zi + (zi >= 0.0f ? e : -e);
        const float gi = g[row + i];
        if (dr) dr[row + i] = (assign_dr ? 0.0f : dr[row + i]) + gi / s;
        if (dz) dz[n * count + i] = (first ? 0.0f : dz[n * count + i]) - gi * out[row + i] / s;
      }
    }
  }
}

void isn_lrp_multiply_backward(const float *g, const float *a, const float *c, int batch,
                               int classes, size_t count, int assign_da, int assign_dc,
                               float *da, float *dc) {
  ISN_FOR_EACH_CHUNK(batch, count, (size_t)batch * (size_t)classes * count, n, i0, len) {
    const float *as = a + n * count;
    for (int k = 0; k < classes; k++) {
      const size_t row = ((size_t)n * (size_t)classes + (size_t)k) * count;
      const int first = assign_da && k == 0;
      for (size_t i = i0; i < i0 + len; i++) {
        if (da) da[n * count + i] = (first ? 0.0f : da[n * count + i]) + g[row + i] * c[row + i];
        if (dc) dc[row + i] = (assign_dc ? 0.0f : dc[row + i]) + g[row + i] * as[i];
      }
    }
  }
}

void isn_avgpool2d_backward(const float *dy, int rows, int channels, int in_h, int in_w,
                            int kernel_h, int kernel_w, int stride_h, int stride_w,
                            int pad_h, int pad_w, int out_h, int out_w, float *dx) {
  const size_t planes = (size_t)rows * (size_t)channels;
  const float scale = 1.0f / (float)(kernel_h * kernel_w);
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (planes * (size_t)in_h * (size_t)in_w >= ISN_PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    const float *d = dy + pl * (size_t)out_h * (size_t)out_w;
    float *x = dx + pl * (size_t)in_h * (size_t)in_w;
    for (int oh = 0; oh < out_h; oh++)
      for (int ow = 0; ow < out_w; ow++) {
        const float v = d[oh * out_w + ow] * scale;
        for (int i = 0; i < kernel_h; i++) {
          const int h = oh * stride_h - pad_h + i;
          if (h < 0 || h >= in_h) continue;
          for (int j = 0; j < kernel_w; j++) {
            const int w = ow * stride_w - pad_w + j;
            if (w >= 0 && w < in_w) x[h * in_w + w] += v;
          }
        }
      }
  }
}

void isn_adaptive_avgpool2d_backward(const float *dy, int rows, int channels, int in_h,
                                     int in_w, int out_h, int out_w, float *dx) {
  const size_t planes = (size_t)rows * (size_t)channels;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (planes * (size_t)in_h * (size_t)in_w >= ISN_PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    const float *d = dy + pl * (size_t)out_h * (size_t)out_w;
    float *x = dx + pl * (size_t)in_h * (size_t)in_w;
    for (int oh = 0; oh < out_h; oh++) {
      const int h0 = oh * in_h / out_h, h1 = ((oh + 1) * in_h + out_h - 1) / out_h;
      for (int ow = 0; ow < out_w; ow++) {
        const int w0 = ow * in_w / out_w, w1 = ((ow + 1) * in_w + out_w - 1) / out_w;
        const float v = d[oh * out_w + ow] / (float)((h1 - h0) * (w1 - w0));
        for (int h = h0; h < h1; h++)
          for (int w = w0; w < w1; w++) x[h * in_w + w] += v;
      }
    }
  }
}

void isn_max_pool_gather(const float *g, const int32_t *argmax, int batch, int classes,
                         int channels, size_t in_plane, size_t out_plane, float *dc) {
  const size_t planes = (size_t)batch * (size_t)classes * (size_t)channels;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (planes * out_plane >= ISN_PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    const size_t c = pl % (size_t)channels, n = pl / (size_t)channels / (size_t)classes;
    const int32_t *idx = argmax + (n * (size_t)channels + c) * out_plane;
    const float *gs = g + pl * in_plane;
    float *d = dc + pl * out_plane;
    for (size_t o = 0; o < out_plane; o++) d[o] += gs[idx[o]];
  }
}

void isn_max_pool_scatter(const float *dy, const int32_t *argmax, int batch, int classes,
                          int channels, size_t in_plane, size_t out_plane, float *dx) {
  const size_t planes = (size_t)batch * (size_t)classes * (size_t)channels;
#pragma omp parallel for num_threads(isn_threads()) schedule(static) \
    if (planes * out_plane >= ISN_PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    const size_t c = pl % (size_t)channels, n = pl / (size_t)channels / (size_t)classes;
    const int32_t *idx = argmax + (n * (size_t)channels + c) * out_plane;
    const float *d = dy + pl * out_plane;
    float *x = dx + pl * in_plane;
    for (size_t o = 0; o < out_plane; o++) x[idx[o]] += d[o];
  }
}
