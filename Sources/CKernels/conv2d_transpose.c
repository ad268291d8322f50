// Transposed 2-D convolution (the input gradient of isn_conv2d): dx = conv_transpose(dy, W).
//
// Per (sample, group): columns C[K, out_h*out_w] = W^T[K, cg_out] * dY[cg_out, out_h*out_w],
// then col2im adds every column entry into the input position it came from. A 1x1
// stride-1 unpadded convolution needs no col2im: dX = W^T dY is written straight into dx.
// Otherwise a unit owns a block of input channels of one (sample, group): it zeroes them,
// then for each column tile in order multiplies the block's rows of W^T into its workspace
// slice and accumulates them with col2im. Units never share dx, and each dx element
// receives its contributions in a fixed order, so results do not depend on the thread
// count. in_h/in_w come from the geometry: positions no window reaches (PyTorch's
// output_padding) stay zero.
#include <cblas.h>
#include <string.h>

#include "conv_plan.h"

void isn_conv2d_transpose(const isn_conv_geometry *g, const float *dy, size_t dy_stride,
                          const float *weight, float *dx, size_t dx_stride,
                          float *workspace, int workspace_threads) {
  isn_conv_plan p;
  if (isn_conv_plan_make(g, &p) != 1) return;
  const size_t groups = (size_t)g->groups;
  const size_t n_cols = p.out_plane;
  const int threads = isn_workspace_threads(workspace_threads);

  if (p.direct) {
    const size_t units = (size_t)g->batch * groups * p.bwd_tiles * p.bwd_cblocks;
#pragma omp parallel for num_threads(threads) schedule(static) if (units > 1)
    for (size_t u = 0; u < units; u++) {
      const size_t cb = u % p.bwd_cblocks;
      const size_t t = (u / p.bwd_cblocks) % p.bwd_tiles;
      const size_t sg = u / p.bwd_cblocks / p.bwd_tiles;
      const size_t grp = sg % groups, n = sg / groups;
      const size_t p0 = t * p.bwd_tile, w = isn_min(p.bwd_tile, n_cols - p0);
      const size_t c0 = cb * p.bwd_cblock, cn = isn_min(p.bwd_cblock, p.cg_in - c0);
      // W_g is [cg_out, cg_in]; its columns c0.. are the rows of W_g^T this unit computes.
      const float *a = weight + grp * p.cg_out * p.cg_in + c0;
      const float *b = dy + n * dy_stride + grp * p.cg_out * n_cols + p0;
      float *c = dx + n * dx_stride + (grp * p.cg_in + c0) * n_cols + p0;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cn, (int)w, (int)p.cg_out, 1.0f,
                  a, (int)p.cg_in, b, (int)n_cols, 0.0f, c, (int)n_cols);
    }
    return;
  }

  const size_t units = (size_t)g->batch * groups * p.bwd_cblocks;
#pragma omp parallel num_threads(threads) if (units > 1)
  {
    float *ws = workspace + (size_t)omp_get_thread_num() * p.ws_per_thread;
#pragma omp for schedule(static)
    for (size_t u = 0; u < units; u++) {
      const size_t cb = u % p.bwd_cblocks;
      const size_t sg = u / p.bwd_cblocks;
      const size_t grp = sg % groups, n = sg / groups;
      const size_t c0 = cb * p.bwd_cblock, cn = isn_min(p.bwd_cblock, p.cg_in - c0);
      const size_t rows = cn * p.khkw;
      float *dxb = dx + n * dx_stride + (grp * p.cg_in + c0) * p.in_plane;
      memset(dxb, 0, cn * p.in_plane * sizeof(float));
      // Rows c0*khkw .. of W_g^T, i.e. columns of W_g ([cg_out, K]).
      const float *a = weight + grp * p.cg_out * p.k + c0 * p.khkw;
      const float *dyg = dy + n * dy_stride + grp * p.cg_out * n_cols;
      for (size_t t = 0; t < p.bwd_tiles; t++) {
        const size_t p0 = t * p.bwd_tile, w = isn_min(p.bwd_tile, n_cols - p0);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)w, (int)p.cg_out,
                    1.0f, a, (int)p.k, dyg + p0, (int)n_cols, 0.0f, ws, (int)w);
        isn_col2im_tile(g, ws, cn, p0, w, dxb);
      }
    }
  }
}
