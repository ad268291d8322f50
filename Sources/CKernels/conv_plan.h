// How a convolution is cut into independent work units (private to the conv kernels).
//
// The forward and transposed convolutions are GEMMs per (sample, group); the plan splits
// them into units small enough that batch 1 keeps every core busy and the im2col tile
// stays in L2. The split depends on the geometry alone, never on the thread count, so
// each unit runs the same GEMM calls whatever thread runs it and results are bitwise
// identical for any thread count. `isn_conv2d_workspace` sizes scratch from the same plan.
#ifndef ISN_CONV_PLAN_H
#define ISN_CONV_PLAN_H

#include "isn_internal.h"

typedef struct {
  size_t in_plane, out_plane;  // in_h*in_w, out_h*out_w (out_plane is the GEMM's N)
  size_t cg_in, cg_out;        // channels per group
  size_t khkw;                 // kernel_h*kernel_w
  size_t k;                    // cg_in*khkw: the forward GEMM's depth
  int direct;                  // 1x1, stride 1, no padding, same size: x is the column matrix

  // Forward units: (sample, group, column tile, output-channel block), the last innermost
  // so consecutive units of one thread reuse the im2col tile.
  size_t fwd_tile, fwd_tiles;    // columns of out_plane per tile, and their count
  size_t fwd_mblock, fwd_mblocks;  // output channels per block, and their count
  size_t fwd_ws;                 // floats of im2col tile per thread (0 when direct)

  // Transposed units. Direct: (sample, group, column tile, input-channel block), a plain
  // GEMM. Otherwise: (sample, group, input-channel block), each owning its dx channels and
  // looping over column tiles in order (col2im accumulates, so tiles cannot be split).
  size_t bwd_tile, bwd_tiles;
  size_t bwd_cblock, bwd_cblocks;
  size_t bwd_ws;                 // floats of column tile per thread (0 when direct)

  size_t ws_per_thread;          // max(fwd_ws, bwd_ws) rounded to 16 floats (64 bytes)
} isn_conv_plan;

/// Fills `p` for `g`. Returns 1 on success, 0 when there is nothing to compute (an empty
/// dimension or an invalid geometry), -1 when sizes overflow size_t or OpenBLAS's int; the
/// kernels return at once unless it is 1.
int isn_conv_plan_make(const isn_conv_geometry *g, isn_conv_plan *p);

/// im2col of one column tile: rows (c, ki, kj) for the `channels` channels at `x` (one
/// input plane each), columns p0 .. p0+w-1 of the out_h*out_w output positions; `col` is
/// [channels*kh*kw, w] dense. Padded positions become 0.
void isn_im2col_tile(const isn_conv_geometry *g, const float *x, size_t channels, size_t p0,
                     size_t w, float *col);

/// `isn_im2col_tile` with rows `ld` floats apart (ld >= w): tiles of several samples side
/// by side in one column matrix.
void isn_im2col_tile_ld(const isn_conv_geometry *g, const float *x, size_t channels, size_t p0,
                        size_t w, float *col, size_t ld);

/// The adjoint of `isn_im2col_tile`: adds each column entry of `col` ([channels*kh*kw, w])
/// to the input position it was gathered from, in row-major (row, column) order.
void isn_col2im_tile(const isn_conv_geometry *g, const float *col, size_t channels, size_t p0,
                     size_t w, float *dx);

#endif
