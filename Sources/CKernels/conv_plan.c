// The work split of the convolutions and their workspace size (see conv_plan.h).
//
// Column tiles: the direct (1x1) path reads x in place, so its tiles only serve load
// balance; im2col tiles hold K x tile floats, kept near isn_im2col_budget() so the tile OpenBLAS
// packs from is still in L2. While units are few, tiles are added to make their count
// even (two cores share them evenly), and when columns run out (7x7 maps) output channels
// are split until there are MIN_UNITS units. Widths are multiples of ALIGN.
#include <limits.h>
#include <unistd.h>

#include "conv_plan.h"

enum {
  BALANCE = 2,          // column tile counts below BALANCE_LIMIT are made multiples of this
  BALANCE_LIMIT = 16,   // past this many units, imbalance is at most a few percent
  MIN_UNITS = 2,        // channel blocks are added while there are fewer units (2 cores)
  MIN_COLS = 32,        // narrowest column tile added for balance
  MIN_TILE = 16,        // narrowest im2col tile at all (for very deep K)
  MIN_ROWS = 16,        // smallest channel block added for balance
  DIRECT_MAX_COLS = 1024,
  BWD_MAX_ROWS = 256,   // column rows per transposed unit (input channels x kh x kw)
  ALIGN = 8,            // GEMM tile widths and channel blocks round up to multiples of this
};

/// Floats in one thread's im2col/column tile: half of the core's L2 cache, so OpenBLAS's
/// packed panels fit beside it (128 Ki floats on a 1 MiB L2; read once from sysconf,
/// 512 KiB assumed when it does not say). The tile width changes no result: each output
/// is one GEMM dot product whatever the columns around it.
size_t isn_im2col_budget(void) {
  static _Atomic size_t cached = 0;
  size_t budget = cached;
  if (budget) return budget;
  long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (l2 < 256 * 1024) l2 = 512 * 1024;
  if (l2 > 16 * 1024 * 1024) l2 = 16 * 1024 * 1024;
  budget = (size_t)l2 / 2 / sizeof(float);
  cached = budget;
  return budget;
}

static int mul_ok(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }

/// Tile width for `n` items: start from ceil(n / max_tile) tiles, then add tiles while
/// others*tiles is below `limit` and not a multiple of `multiple`, keeping tiles at least
/// min_tile wide. The width is rounded up to a multiple of `align` (OpenBLAS handles ragged
/// GEMM edges more slowly); the tile count is ceil(n / width).
static size_t split(size_t n, size_t max_tile, size_t min_tile, size_t others, size_t limit,
                    size_t multiple, size_t align) {
  if (max_tile < 1) max_tile = 1;
  size_t t = isn_cdiv(n, max_tile);
  while (others < limit && others * t < limit && (others * t) % multiple != 0 &&
         n / (t + 1) >= min_tile)
    t++;
  size_t w = isn_cdiv(n, t);
  if (w > align && w % align != 0) w = isn_min(n, w + align - w % align);
  return w;
}

/// Column tiles: an even count while there are few.
static size_t split_cols(size_t n, size_t max_tile, size_t others) {
  return split(n, max_tile, MIN_COLS, others, BALANCE_LIMIT, BALANCE, ALIGN);
}

/// Channel blocks: only while there are fewer than MIN_UNITS units (small maps).
static size_t split_channels(size_t n, size_t max_block, size_t min_block, size_t others) {
  return split(n, max_block, min_block, others, MIN_UNITS, MIN_UNITS, ALIGN);
}

/// Largest tile width (a multiple of 8, at least MIN_TILE, at most n) whose `rows` x width
/// floats fit isn_im2col_budget().
static size_t budget_cols(size_t rows, size_t n) {
  size_t w = isn_im2col_budget() / (rows ? rows : 1);
  w -= w % 8;
  if (w < MIN_TILE) w = MIN_TILE;
  return isn_min(w, n);
}

int isn_conv_plan_make(const isn_conv_geometry *g, isn_conv_plan *p) {
  if (g->batch <= 0 || g->in_channels <= 0 || g->out_channels <= 0 || g->in_h <= 0 ||
      g->in_w <= 0 || g->out_h <= 0 || g->out_w <= 0 || g->kernel_h <= 0 || g->kernel_w <= 0 ||
      g->stride_h <= 0 || g->stride_w <= 0 || g->dilation_h <= 0 || g->dilation_w <= 0 ||
      g->pad_h < 0 || g->pad_w < 0 || g->groups <= 0 || g->in_channels % g->groups != 0 ||
      g->out_channels % g->groups != 0)
    return 0;
  p->cg_in = (size_t)(g->in_channels / g->groups);
  p->cg_out = (size_t)(g->out_channels / g->groups);
  if (!mul_ok((size_t)g->in_h, (size_t)g->in_w, &p->in_plane) ||
      !mul_ok((size_t)g->out_h, (size_t)g->out_w, &p->out_plane) ||
      !mul_ok((size_t)g->kernel_h, (size_t)g->kernel_w, &p->khkw) ||
      !mul_ok(p->cg_in, p->khkw, &p->k))
    return -1;
  // OpenBLAS takes int dimensions and leading dimensions.
  if (p->k > INT_MAX || p->out_plane > INT_MAX || p->in_plane > INT_MAX) return -1;
  p->direct = g->kernel_h == 1 && g->kernel_w == 1 && g->stride_h == 1 && g->stride_w == 1 &&
              g->pad_h == 0 && g->pad_w == 0 && g->in_h == g->out_h && g->in_w == g->out_w;

  const size_t n = p->out_plane;
  const size_t others = (size_t)g->batch * (size_t)g->groups;

  // Forward.
  size_t max_cols = p->direct ? isn_min(DIRECT_MAX_COLS, n) : budget_cols(p->k, n);
  p->fwd_tile = split_cols(n, max_cols, others);
  p->fwd_tiles = isn_cdiv(n, p->fwd_tile);
  p->fwd_mblock = split_channels(p->cg_out, p->cg_out, MIN_ROWS, others * p->fwd_tiles);
  p->fwd_mblocks = isn_cdiv(p->cg_out, p->fwd_mblock);
  p->fwd_ws = 0;
  if (!p->direct && !mul_ok(p->k, p->fwd_tile, &p->fwd_ws)) return -1;

  // Transposed.
  p->bwd_ws = 0;
  if (p->direct) {
    p->bwd_tile = p->fwd_tile;
    p->bwd_tiles = p->fwd_tiles;
    p->bwd_cblock = split_channels(p->cg_in, p->cg_in, MIN_ROWS, others * p->bwd_tiles);
    p->bwd_cblocks = isn_cdiv(p->cg_in, p->bwd_cblock);
  } else {
    size_t max_c = BWD_MAX_ROWS / p->khkw;
    p->bwd_cblock = split(p->cg_in, max_c ? max_c : 1, 1, others, BALANCE_LIMIT, BALANCE, 1);
    p->bwd_cblocks = isn_cdiv(p->cg_in, p->bwd_cblock);
    size_t rows;
    if (!mul_ok(p->bwd_cblock, p->khkw, &rows)) return -1;
    if (rows > INT_MAX) return -1;
    p->bwd_tile = budget_cols(rows, n);
    p->bwd_tiles = isn_cdiv(n, p->bwd_tile);
    if (!mul_ok(rows, p->bwd_tile, &p->bwd_ws)) return -1;
  }

  size_t ws = isn_max(p->fwd_ws, p->bwd_ws);
  if (ws > SIZE_MAX - 15) return -1;
  p->ws_per_thread = (ws + 15) & ~(size_t)15;
  return 1;
}

size_t isn_conv2d_workspace(const isn_conv_geometry *g, int threads) {
  // Sessions run any batch up to the planned one, and a smaller batch can split the work
  // differently (fewer units: other channel blocks and tiles), so size for the largest
  // per-thread need over every batch from 1 to g->batch.
  size_t per_thread = 0;
  isn_conv_geometry smaller = *g;
  for (int batch = 1; batch <= g->batch; batch++) {
    smaller.batch = batch;
    isn_conv_plan p;
    int made = isn_conv_plan_make(&smaller, &p);
    if (made < 0) return SIZE_MAX;  // overflows: no allocation can serve it
    if (made == 1) per_thread = isn_max(per_thread, p.ws_per_thread);
  }
  size_t total;
  if (!mul_ok(per_thread, (size_t)(threads < 1 ? 1 : threads), &total)) return SIZE_MAX;
  return total;
}
