// Winograd convolution F(4x4, 3x3) for 3x3, stride-1, undilated, ungrouped convolutions.
//
// Each 4x4 block of outputs (a tile) comes from a 6x6 window of the input:
//   Y = A^T [ sum_ci (G w G^T) ⊙ (B^T d B) ] A
// so 36 products per (tile, input channel, output channel) replace 144 multiply-adds.
// Per frequency f (one of the 36 entries of a transformed tile) the sum over input
// channels is a matrix product M_f[tile, cout] = V_f[tile, cin] * U_f[cin, cout]. The
// matrices (interpolation points 0, ±1, ±2 and ∞) are Lavin and Gray's (2016).
//
// Work units are (sample, block of tiles in raster order). Per unit, a thread transforms
// the block's input into V (layout [cin][36][tile], tiles contiguous), multiplies it with
// the pretransformed weights U ([36][cin][cout rounded to 8]) into M ([tile][36][cout]),
// and transforms M into the output. The products run on a register-blocked kernel (MR tiles
// x NV·8 output channels per step, AVX2 FMA through clang vectors; 2·16 channels on
// AVX-512 where the CPU has it, the same bits) rather than OpenBLAS: they are many and
// small (36 per unit, K = cin), and an sgemm call costs microseconds.
//
// The block size depends only on the per-sample geometry, never on the thread count or
// the batch, and every output is computed by the same operations in the same order
// whichever unit holds its tile, so results are bitwise identical for any thread count,
// batch size or block split.
//
// The transforms work on clang vectors: the input transform 4 tiles at a time (first
// down the window's 6 rows, 4 columns at a time, then, after 4x4 transposes, across each
// tile's 6 columns); the output transform 8 output channels at a time.
#include <immintrin.h>
#include <limits.h>
#include <string.h>

#include "isn_internal.h"


typedef float v4 __attribute__((ext_vector_type(4)));
typedef float v8 __attribute__((ext_vector_type(8)));
typedef int v4i __attribute__((ext_vector_type(4)));

enum {
  ALPHA = 6,      // input window (and transformed tile) side
  FREQS = 36,     // ALPHA * ALPHA
  VL = 8,         // tiles per vector in the input transform
  CV = 8,         // output channels per vector (U and M pad cout to a multiple)
  MR = 6,         // tiles per step of the product kernel
  NV = 2,         // output-channel vectors per step of the product kernel
  MAX_BLOCK = 32, // tiles per work unit at most (V stays near L2 size for 128 channels)
};

static inline v4 load4(const float *p) {
  v4 v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void store4(float *p, v4 v) { memcpy(p, &v, sizeof v); }
static inline v8 load8(const float *p) {
  v8 v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void store8(float *p, v8 v) { memcpy(p, &v, sizeof v); }

/// o = B^T d for the 6-vectors d[0..5] (lane-wise).
#define INPUT_TRANSFORM(d, o)                                    \
  do {                                                           \
    const __typeof__(d[0]) a_ = d[4] - 4.0f * d[2], b_ = d[3] - 4.0f * d[1]; \
    const __typeof__(d[0]) c_ = d[4] - d[2], e_ = 2.0f * (d[3] - d[1]);      \
    o[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];                     \
    o[1] = a_ + b_;                                              \
    o[2] = a_ - b_;                                              \
    o[3] = c_ + e_;                                              \
    o[4] = c_ - e_;                                              \
    o[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];                     \
  } while (0)

/// o = A^T m for the 6-vectors m[0..5] (4 results, lane-wise).
#define OUTPUT_TRANSFORM(m, o)                                              \
  do {                                                                      \
    const __typeof__(m[0]) s12_ = m[1] + m[2], d12_ = m[1] - m[2];          \
    const __typeof__(m[0]) s34_ = m[3] + m[4], d34_ = m[3] - m[4];          \
    o[0] = m[0] + s12_ + s34_;                                              \
    o[1] = d12_ + 2.0f * d34_;                                              \
    o[2] = s12_ + 4.0f * s34_;                                              \
    o[3] = d12_ + 8.0f * d34_ + m[5];                                       \
  } while (0)

/// Transposes the 4x4 matrix whose rows are r[0..3].
static inline void transpose4(v4 r[4]) {
  const v4 t0 = __builtin_shufflevector(r[0], r[1], 0, 4, 1, 5);
  const v4 t1 = __builtin_shufflevector(r[0], r[1], 2, 6, 3, 7);
  const v4 t2 = __builtin_shufflevector(r[2], r[3], 0, 4, 1, 5);
  const v4 t3 = __builtin_shufflevector(r[2], r[3], 2, 6, 3, 7);
  r[0] = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
  r[1] = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
  r[2] = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
  r[3] = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
}

/// The work split of one geometry (see the header comment).
typedef struct {
  size_t tiles_h, tiles_w, tiles;  // 4x4 output tiles per sample
  size_t block, blocks;            // tiles per unit, units per sample
  size_t cout_p;                   // out_channels rounded up to CV
  size_t pitch;                    // V's floats per (channel, frequency): block + VL - 1
  size_t row_len;                  // floats per scratch row of the input transform
  size_t v_floats, m_floats, ws_per_thread;
} wino_plan;

int isn_winograd_supported(const isn_conv_geometry *g) {
  return g->kernel_h == 3 && g->kernel_w == 3 && g->stride_h == 1 && g->stride_w == 1 &&
         g->dilation_h == 1 && g->dilation_w == 1 && g->groups == 1 && g->pad_h >= 0 &&
         g->pad_w >= 0 && g->batch >= 0 && g->in_channels > 0 && g->out_channels > 0 &&
         g->in_h > 0 && g->in_w > 0 && g->out_h > 0 && g->out_w > 0 &&
         (long)g->out_h == (long)g->in_h + 2L * g->pad_h - 2 &&
         (long)g->out_w == (long)g->in_w + 2L * g->pad_w - 2;
}

static size_t round_up(size_t n, size_t m) { return isn_cdiv(n, m) * m; }

/// Fills `p` for a supported geometry.
static void plan_make(const isn_conv_geometry *g, wino_plan *p) {
  p->tiles_h = isn_cdiv((size_t)g->out_h, 4);
  p->tiles_w = isn_cdiv((size_t)g->out_w, 4);
  p->tiles = p->tiles_h * p->tiles_w;
  // An even number of blocks per sample, so batch 1 keeps two cores evenly busy.
  size_t nb = isn_cdiv(p->tiles, MAX_BLOCK);
  if (nb % 2 && p->tiles >= 2) nb++;
  p->block = isn_cdiv(p->tiles, nb);
  p->blocks = isn_cdiv(p->tiles, p->block);
  p->cout_p = round_up((size_t)g->out_channels, CV);
  p->pitch = round_up(p->block + VL - 1, VL);
  p->row_len = round_up(isn_min(p->tiles_w, p->block), VL) + VL;
  p->v_floats = round_up((size_t)g->in_channels * FREQS * p->pitch, 16);
  p->m_floats = round_up(p->block * FREQS * p->cout_p, 16);
  // V, M, 24 scratch rows, a zero row.
  p->ws_per_thread = round_up(p->v_floats + p->m_floats + 4 * ALPHA * p->row_len + (size_t)g->in_w, 16);
}

/// Whether the sizes of a supported geometry stay far from size_t's limits.
static int sizes_ok(const isn_conv_geometry *g) {
  const size_t limit = (size_t)1 << 40;  // floats; every product below stays under 2^63
  return (size_t)g->in_channels * (size_t)g->out_channels < limit &&
         (size_t)g->out_h * (size_t)g->out_w < limit && (size_t)g->in_w < limit;
}

size_t isn_winograd_weight_size(const isn_conv_geometry *g) {
  if (!isn_winograd_supported(g) || !sizes_ok(g)) return 0;
  return FREQS * (size_t)g->in_channels * round_up((size_t)g->out_channels, CV);
}

void isn_winograd_weights(const isn_conv_geometry *g, const float *weight, float *u) {
  static const double G[ALPHA][3] = {
      {1.0 / 4, 0, 0},
      {-1.0 / 6, -1.0 / 6, -1.0 / 6},
      {-1.0 / 6, 1.0 / 6, -1.0 / 6},
      {1.0 / 24, 1.0 / 12, 1.0 / 6},
      {1.0 / 24, -1.0 / 12, 1.0 / 6},
      {0, 0, 1},
  };
  const size_t total = isn_winograd_weight_size(g);
  if (total == 0) return;
  const size_t cin = (size_t)g->in_channels, cout = (size_t)g->out_channels;
  const size_t cout_p = round_up(cout, CV);
  // Training transforms the weights at every step, so this runs CV output channels at a
  // time (vectorised across them) and input channels in parallel. Every value is the same
  // expression as one at a time would compute, so the bits do not depend on either.
#pragma omp parallel for num_threads(isn_threads()) schedule(static) if (cin * cout >= 1024)
  for (size_t ci = 0; ci < cin; ci++) {
    for (size_t co0 = 0; co0 < cout_p; co0 += CV) {
      double w[9][CV];  // w[t][j]: tap t of output channel co0 + j (0 past cout)
      for (int j = 0; j < CV; j++)
        for (int t = 0; t < 9; t++)
          w[t][j] = co0 + (size_t)j < cout ? weight[((co0 + (size_t)j) * cin + ci) * 9 + (size_t)t] : 0.0;
      double gw[ALPHA][3][CV];  // G w
      for (int r = 0; r < ALPHA; r++)
        for (int b = 0; b < 3; b++)
          for (int j = 0; j < CV; j++)
            gw[r][b][j] = G[r][0] * w[b][j] + G[r][1] * w[3 + b][j] + G[r][2] * w[6 + b][j];
      for (int r = 0; r < ALPHA; r++)
        for (int c = 0; c < ALPHA; c++) {
          float *row = u + ((size_t)(r * ALPHA + c) * cin + ci) * cout_p + co0;
          for (int j = 0; j < CV; j++) {
            const double v = gw[r][0][j] * G[c][0] + gw[r][1][j] * G[c][1] + gw[r][2][j] * G[c][2];
            row[j] = co0 + (size_t)j < cout ? (float)v : 0.0f;
          }
        }
    }
  }
}

size_t isn_winograd_workspace(const isn_conv_geometry *g, int threads) {
  if (!isn_winograd_supported(g) || !sizes_ok(g)) return 0;
  wino_plan p;
  plan_make(g, &p);
  size_t t = (size_t)(threads < 1 ? 1 : threads);
  if (p.ws_per_thread > SIZE_MAX / t) return SIZE_MAX;
  return p.ws_per_thread * t;
}

/// One row segment of a block: tile row ty, tiles tx0 .. tx0+len-1, at tile e of the block.
typedef struct {
  size_t ty, tx0, len, e;
} segment;

/// Loads x[0..32) split by column phase: ph[p] lane l = x[4l + p] (p < 4, l < 8). With
/// `mask`, group q (x[4q .. 4q+3]) loads only the lanes set in mask[q] (the others read as
/// zero and are not accessed).
static inline void load_phases(const float *x, const v4i *mask, v8 ph[4]) {
  v4 q[8];
  for (int i = 0; i < 8; i++)
    q[i] = mask ? (v4)_mm_maskload_ps(x + 4 * i, (__m128i)mask[i]) : load4(x + 4 * i);
  // Pair groups i and i+4 in one vector, so that the in-lane 4x4 transposes leave the
  // lanes in column order.
  v8 a[4];
  for (int i = 0; i < 4; i++) a[i] = __builtin_shufflevector(q[i], q[i + 4], 0, 1, 2, 3, 4, 5, 6, 7);
  const v8 t0 = __builtin_shufflevector(a[0], a[1], 0, 8, 1, 9, 4, 12, 5, 13);
  const v8 t1 = __builtin_shufflevector(a[0], a[1], 2, 10, 3, 11, 6, 14, 7, 15);
  const v8 t2 = __builtin_shufflevector(a[2], a[3], 0, 8, 1, 9, 4, 12, 5, 13);
  const v8 t3 = __builtin_shufflevector(a[2], a[3], 2, 10, 3, 11, 6, 14, 7, 15);
  ph[0] = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
  ph[1] = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
  ph[2] = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
  ph[3] = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
}

/// Input transform of one channel plane `x` for one segment into `v`, that channel's 36 rows
/// of V (row f at v + f * pitch). Works on whole VL-tile vectors, so it writes up to VL-1
/// tiles past the segment: the next segment overwrites them, and the pitch leaves room
/// after the last.
///
/// Scratch row (k, p) at rows + (4k + p) * p->row_len holds B^T down the window's rows
/// (output k) at the columns of phase p: entry i is column 4i + p of the segment's window.
/// Across a tile's 6 columns, columns 0..3 are then phases 0..3 at the tile's index and
/// columns 4, 5 phases 0, 1 at the next index, so the second pass needs no shuffles.
static void input_segment(const isn_conv_geometry *g, const wino_plan *p, const float *x,
                          const float *zeros, segment s, float *v, float *rows) {
  const long in_h = g->in_h, in_w = g->in_w;
  const size_t rl = p->row_len, pitch = p->pitch;
  const size_t ncv = round_up(s.len, VL);
  const long c0 = (long)(4 * s.tx0) - g->pad_w;  // x column of the window's column 0
  const float *src[ALPHA];  // the window's rows (x column c0 at src[k] + c0)
  for (int k = 0; k < ALPHA; k++) {
    const long h = (long)(4 * s.ty) + k - g->pad_h;
    src[k] = h >= 0 && h < in_h ? x + h * in_w : zeros;
  }
  // Column pass, 32 columns (VL tiles) at a time; columns outside the image read as zeros
  // through masked loads.
  for (size_t i = 0; i < ncv; i += VL) {
    const long w = c0 + 4 * (long)i;
    v8 d[ALPHA][4], o[ALPHA];
    if (w >= 0 && w + 32 <= in_w) {
      for (int k = 0; k < ALPHA; k++) load_phases(src[k] + w, NULL, d[k]);
    } else {
      v4i mask[8];
      for (int q = 0; q < 8; q++) {
        const v4i col = (v4i)(int)(w + 4 * q) + (v4i){0, 1, 2, 3};
        mask[q] = (col >= 0) & (col < (int)in_w);
      }
      for (int k = 0; k < ALPHA; k++) load_phases(src[k] + w, mask, d[k]);
    }
    for (int ph = 0; ph < 4; ph++) {
      v8 col[ALPHA];
      for (int k = 0; k < ALPHA; k++) col[k] = d[k][ph];
      INPUT_TRANSFORM(col, o);
      for (int k = 0; k < ALPHA; k++) store8(rows + (size_t)(4 * k + ph) * rl + i, o[k]);
    }
  }
  // Columns 4*ncv and 4*ncv + 1 (phases 0 and 1 at index ncv): the last tile's columns 4, 5.
  for (int ph = 0; ph < 2; ph++) {
    const long w = c0 + 4 * (long)ncv + ph;
    float d[ALPHA], o[ALPHA];
    for (int k = 0; k < ALPHA; k++) d[k] = w >= 0 && w < in_w ? src[k][w] : 0.0f;
    INPUT_TRANSFORM(d, o);
    for (int k = 0; k < ALPHA; k++) rows[(size_t)(4 * k + ph) * rl + ncv] = o[k];
  }
  // Row pass: B^T across each tile's 6 columns.
  for (size_t i = 0; i < ncv; i += VL) {
    for (int r = 0; r < ALPHA; r++) {
      const float *row = rows + (size_t)(4 * r) * rl + i;
      v8 d[ALPHA], o[ALPHA];
      for (int ph = 0; ph < 4; ph++) d[ph] = load8(row + (size_t)ph * rl);
      d[4] = load8(row + 1);
      d[5] = load8(row + rl + 1);
      INPUT_TRANSFORM(d, o);
      for (int c = 0; c < ALPHA; c++) store8(v + (size_t)(r * ALPHA + c) * pitch + s.e + i, o[c]);
    }
  }
}

/// The product kernel: for tiles t < mr and output-channel vectors j < nv,
/// m[t * ldm + 8j ..] = sum over ci of v[ci * ldv + t] * u[ci * ldu + 8j ..].
/// Inlined with constant mr and nv, its accumulators stay in registers.
static inline __attribute__((always_inline)) void product_step(
    int mr, int nv, size_t cin, const float *v, size_t ldv, const float *u, size_t ldu,
    float *m, size_t ldm) {
  v8 acc[6][4];
  for (int t = 0; t < mr; t++)
    for (int j = 0; j < nv; j++) acc[t][j] = (v8)0.0f;
  for (size_t ci = 0; ci < cin; ci++) {
    v8 b[4];
    for (int j = 0; j < nv; j++) b[j] = load8(u + ci * ldu + (size_t)j * CV);
    for (int t = 0; t < mr; t++) {
      const v8 a = (v8)v[ci * ldv + (size_t)t];
      for (int j = 0; j < nv; j++) acc[t][j] = __builtin_elementwise_fma(a, b[j], acc[t][j]);
    }
  }
  for (int t = 0; t < mr; t++)
    for (int j = 0; j < nv; j++) store8(m + (size_t)t * ldm + (size_t)j * CV, acc[t][j]);
}

/// `product_step` for `mr` tiles and every output-channel vector.
static inline __attribute__((always_inline)) void product_tiles(
    int mr, size_t cin, size_t cout_p, const float *v, size_t ldv, const float *u, float *m,
    size_t ldm) {
  size_t co = 0;
  for (; co + NV * CV <= cout_p; co += NV * CV) product_step(mr, NV, cin, v, ldv, u + co, cout_p, m + co, ldm);
  if (co < cout_p) {
    // NV is at most 4: the remainder is 1 to 3 vectors.
    switch ((cout_p - co) / CV) {
    case 1: product_step(mr, 1, cin, v, ldv, u + co, cout_p, m + co, ldm); break;
    case 2: product_step(mr, 2, cin, v, ldv, u + co, cout_p, m + co, ldm); break;
    default: product_step(mr, 3, cin, v, ldv, u + co, cout_p, m + co, ldm); break;
    }
  }
}

// The products with 16-lane vectors, on CPUs with AVX-512 (chosen at run time, so the
// build still runs on AVX2-only machines). Each output is the same chain of FMAs over the
// input channels, from zero, as in the 8-lane kernel: the bits do not depend on the width.
#define ISN_AVX512 __attribute__((target("avx512f")))
typedef float v16 __attribute__((ext_vector_type(16)));

static inline __attribute__((always_inline)) ISN_AVX512 void product_step16(
    int mr, int nv, size_t cin, const float *v, size_t ldv, const float *u, size_t ldu,
    float *m, size_t ldm) {
  v16 acc[MR][2];
  for (int t = 0; t < mr; t++)
    for (int j = 0; j < nv; j++) acc[t][j] = (v16)0.0f;
  for (size_t ci = 0; ci < cin; ci++) {
    v16 b[2];
    for (int j = 0; j < nv; j++) memcpy(&b[j], u + ci * ldu + (size_t)j * 16, sizeof b[j]);
    for (int t = 0; t < mr; t++) {
      const v16 a = (v16)v[ci * ldv + (size_t)t];
      for (int j = 0; j < nv; j++) acc[t][j] = __builtin_elementwise_fma(a, b[j], acc[t][j]);
    }
  }
  for (int t = 0; t < mr; t++)
    for (int j = 0; j < nv; j++) memcpy(m + (size_t)t * ldm + (size_t)j * 16, &acc[t][j], sizeof acc[t][j]);
}

/// `product_step16` for `mr` tiles and every output channel: 32 at a time, then 16, then
/// the last 8 (cout_p is a multiple of 8) by the 8-lane kernel.
static inline __attribute__((always_inline)) ISN_AVX512 void product_tiles16(
    int mr, size_t cin, size_t cout_p, const float *v, size_t ldv, const float *u, float *m,
    size_t ldm) {
  size_t co = 0;
  for (; co + 32 <= cout_p; co += 32) product_step16(mr, 2, cin, v, ldv, u + co, cout_p, m + co, ldm);
  if (co + 16 <= cout_p) {
    product_step16(mr, 1, cin, v, ldv, u + co, cout_p, m + co, ldm);
    co += 16;
  }
  if (co < cout_p) product_step(mr, 1, cin, v, ldv, u + co, cout_p, m + co, ldm);
}

/// M_f[tile, :] = V_f[tile, :] * U_f for the block's `tiles` tiles and all 36 frequencies,
/// by `TILES` (product_tiles or product_tiles16).
#define DEFINE_PRODUCTS(NAME, TILES, ATTRIBUTES)                                               \
  static ATTRIBUTES void NAME(const wino_plan *p, size_t cin, size_t tiles, const float *v,   \
                              const float *u, float *m) {                                     \
    const size_t ldv = FREQS * p->pitch, ldm = FREQS * p->cout_p;                             \
    for (size_t f = 0; f < FREQS; f++) {                                                      \
      const float *vf = v + f * p->pitch, *uf = u + f * cin * p->cout_p;                      \
      float *mf = m + f * p->cout_p;                                                          \
      size_t t = 0;                                                                           \
      for (; t + MR <= tiles; t += MR) TILES(MR, cin, p->cout_p, vf + t, ldv, uf, mf + t * ldm, ldm); \
      /* MR is at most 6: the remainder is 0 to 5 tiles. */                                   \
      switch (tiles - t) {                                                                    \
      case 1: TILES(1, cin, p->cout_p, vf + t, ldv, uf, mf + t * ldm, ldm); break;            \
      case 2: TILES(2, cin, p->cout_p, vf + t, ldv, uf, mf + t * ldm, ldm); break;            \
      case 3: TILES(3, cin, p->cout_p, vf + t, ldv, uf, mf + t * ldm, ldm); break;            \
      case 4: TILES(4, cin, p->cout_p, vf + t, ldv, uf, mf + t * ldm, ldm); break;            \
      case 5: TILES(5, cin, p->cout_p, vf + t, ldv, uf, mf + t * ldm, ldm); break;            \
      default: break;                                                                         \
      }                                                                                       \
    }                                                                                         \
  }
DEFINE_PRODUCTS(products8, product_tiles, )
DEFINE_PRODUCTS(products16, product_tiles16, ISN_AVX512)

/// Whether the products run 16 lanes wide: -1 until first asked (then the CPU's answer),
/// 0 when a caller turned them off (isn_set_wide_vectors).
static _Atomic int wide_vectors = -1;

void isn_set_wide_vectors(int allowed) {
  __builtin_cpu_init();
  wide_vectors = allowed && __builtin_cpu_supports("avx512f");
}

int isn_wide_vectors(void) {
  int w = wide_vectors;
  if (w < 0) {
    __builtin_cpu_init();
    w = __builtin_cpu_supports("avx512f") ? 1 : 0;
    wide_vectors = w;
  }
  return w;
}

/// Output transform of one tile for output channels co .. co+7: `m` is the tile's M
/// (frequency f at m + f * cout_p + co); writes the channels below `cout` of the 4x4 tile
/// at row oh, column ow of the planes `y`, clipped to the image.
static void output_tile(const isn_conv_geometry *g, const float *m, size_t cout_p, size_t co,
                        size_t cout, const float *bias, int relu, size_t oh, size_t ow,
                        float *y) {
  const size_t out_h = (size_t)g->out_h, out_w = (size_t)g->out_w;
  const size_t plane = out_h * out_w;
  const size_t channels = isn_min(CV, cout - co);
  v8 b = (v8)0.0f;
  if (bias)
    for (size_t l = 0; l < channels; l++) b[l] = bias[co + l];
  v8 t[4][ALPHA];  // A^T down the tile's rows: t[i][c]
  for (int c = 0; c < ALPHA; c++) {
    v8 col[ALPHA], o[4];
    for (int r = 0; r < ALPHA; r++) col[r] = load8(m + (size_t)(r * ALPHA + c) * cout_p + co);
    OUTPUT_TRANSFORM(col, o);
    for (int i = 0; i < 4; i++) t[i][c] = o[i];
  }
  const size_t cols = isn_min(4, out_w - ow);
  for (size_t i = 0; i < 4 && oh + i < out_h; i++) {
    v8 o[4];
    OUTPUT_TRANSFORM(t[i], o);  // o[j] lane l = column j, channel co+l
    for (int j = 0; j < 4; j++) {
      o[j] += b;
      if (relu)
        for (int l = 0; l < CV; l++) o[j][l] = isn_relu1(o[j][l]);
    }
    v4 q[CV];  // q[l] = the 4 columns of channel co+l
    for (int j = 0; j < 4; j++) {
      q[j] = __builtin_shufflevector(o[j], o[j], 0, 1, 2, 3);
      q[4 + j] = __builtin_shufflevector(o[j], o[j], 4, 5, 6, 7);
    }
    transpose4(q);
    transpose4(q + 4);
    float *dst = y + co * plane + (oh + i) * out_w + ow;
    if (cols == 4) {
      for (size_t l = 0; l < channels; l++) store4(dst + l * plane, q[l]);
    } else {
      for (size_t l = 0; l < channels; l++)
        for (size_t j = 0; j < cols; j++) dst[l * plane + j] = q[l][j];
    }
  }
}

void isn_winograd_conv2d(const isn_conv_geometry *g, const float *x, size_t x_stride,
                         const float *u, const float *bias, int relu, float *y,
                         size_t y_stride, float *workspace, int workspace_threads) {
  if (g->batch <= 0 || !isn_winograd_supported(g) || !sizes_ok(g)) return;
  wino_plan p;
  plan_make(g, &p);
  const size_t cin = (size_t)g->in_channels, cout = (size_t)g->out_channels;
  const size_t in_plane = (size_t)g->in_h * (size_t)g->in_w;
  const size_t units = (size_t)g->batch * p.blocks;
  const int threads = isn_workspace_threads(workspace_threads);
  const int wide = isn_wide_vectors();

#pragma omp parallel num_threads(threads) if (units > 1)
  {
    float *v = workspace + (size_t)omp_get_thread_num() * p.ws_per_thread;
    float *m = v + p.v_floats;
    float *rows = m + p.m_floats;
    float *zeros = rows + 4 * ALPHA * p.row_len;
    memset(zeros, 0, (size_t)g->in_w * sizeof(float));

#pragma omp for schedule(static)
    for (size_t unit = 0; unit < units; unit++) {
      const size_t n = unit / p.blocks;
      const size_t e0 = unit % p.blocks * p.block, e1 = isn_min(p.tiles, e0 + p.block);
      const float *xn = x + n * x_stride;
      float *yn = y + n * y_stride;
      // Input transform, channel by channel, segment by segment (ascending, so each
      // segment's spill is overwritten by the next).
      for (size_t ci = 0; ci < cin; ci++) {
        for (size_t e = e0; e < e1;) {
          segment s = {e / p.tiles_w, e % p.tiles_w, 0, e - e0};
          s.len = isn_min(p.tiles_w - s.tx0, e1 - e);
          input_segment(g, &p, xn + ci * in_plane, zeros, s, v + ci * FREQS * p.pitch, rows);
          e += s.len;
        }
      }
      if (wide) {
        products16(&p, cin, e1 - e0, v, u, m);
      } else {
        products8(&p, cin, e1 - e0, v, u, m);
      }
      for (size_t e = e0; e < e1; e++) {
        const size_t oh = e / p.tiles_w * 4, ow = e % p.tiles_w * 4;
        for (size_t co = 0; co < cout; co += CV)
          output_tile(g, m + (e - e0) * FREQS * p.cout_p, p.cout_p, co, cout, bias, relu, oh, ow, yn);
      }
    }
  }
}
