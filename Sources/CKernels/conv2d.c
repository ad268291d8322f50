// Forward 2-D convolution: y = conv(x, W) + bias, optional ReLU, as GEMMs per group.
//
// Per (sample, group) the convolution is Y[cg_out, out_h*out_w] = W[cg_out, K] * X[K, out_h*
// out_w], K = cg_in*kh*kw. A 1x1 stride-1 unpadded convolution reads X straight from x (no
// im2col); otherwise each thread builds one column tile of X in its own workspace slice
// (im2col) and multiplies it. The plan (conv_plan.c) cuts columns (and, for small maps,
// output channels) into units so batch 1 uses every core. OpenBLAS writes each unit's
// block straight into the strided output, and bias and ReLU are applied to that block
// while it is still in cache (the fused epilogue).
#include <cblas.h>

#include "conv_plan.h"

/// Adds bias (when given) and applies ReLU (when asked) to a rows x w block with row
/// pitch ldc.
static void epilogue(float *c, size_t ldc, size_t rows, size_t w, const float *bias, int relu) {
  if (!bias && !relu) return;
  for (size_t r = 0; r < rows; r++) {
    float *row = c + r * ldc;
    const float b = bias ? bias[r] : 0.0f;
    if (relu) {
#pragma omp simd
      for (size_t j = 0; j < w; j++) row[j] = isn_relu1(row[j] + b);
    } else {
#pragma omp simd
      for (size_t j = 0; j < w; j++) row[j] += b;
    }
  }
}

void isn_conv2d(const isn_conv_geometry *g, const float *x, size_t x_stride,
                const float *weight, const float *bias, int relu, float *y,
                size_t y_stride, float *workspace, int workspace_threads) {
  isn_conv_plan p;
  if (isn_conv_plan_make(g, &p) != 1) return;
  const size_t groups = (size_t)g->groups;
  const size_t n_cols = p.out_plane;
  const size_t units = (size_t)g->batch * groups * p.fwd_tiles * p.fwd_mblocks;
  const int threads = isn_workspace_threads(workspace_threads);

#pragma omp parallel num_threads(threads) if (units > 1)
  {
    float *ws = p.fwd_ws ? workspace + (size_t)omp_get_thread_num() * p.ws_per_thread : NULL;
    size_t cached = SIZE_MAX;  // (sample, group, tile) whose im2col tile `ws` holds

#pragma omp for schedule(static)
    for (size_t u = 0; u < units; u++) {
      const size_t mb = u % p.fwd_mblocks;
      const size_t tile_id = u / p.fwd_mblocks;  // (sample, group, tile)
      const size_t t = tile_id % p.fwd_tiles;
      const size_t sg = tile_id / p.fwd_tiles;
      const size_t grp = sg % groups, n = sg / groups;

      const size_t p0 = t * p.fwd_tile, w = isn_min(p.fwd_tile, n_cols - p0);
      const size_t m0 = mb * p.fwd_mblock, mn = isn_min(p.fwd_mblock, p.cg_out - m0);
      const float *xg = x + n * x_stride + grp * p.cg_in * p.in_plane;

      const float *b;
      size_t ldb;
      if (p.direct) {
        b = xg + p0;
        ldb = n_cols;
      } else {
        if (cached != tile_id) {
          isn_im2col_tile(g, xg, p.cg_in, p0, w, ws);
          cached = tile_id;
        }
        b = ws;
        ldb = w;
      }
      const size_t oc = grp * p.cg_out + m0;
      float *c = y + n * y_stride + oc * n_cols + p0;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mn, (int)w, (int)p.k, 1.0f,
                  weight + oc * p.k, (int)p.k, b, (int)ldb, 0.0f, c, (int)n_cols);
      epilogue(c, n_cols, mn, w, bias ? bias + oc : NULL, relu);
    }
  }
}
