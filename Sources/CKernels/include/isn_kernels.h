#ifndef ISN_KERNELS_H
#define ISN_KERNELS_H
// isnetc's CPU kernels: float32, NCHW. Each function does one thing and documents its
// shapes. Parallel loops use OpenMP; GEMMs call OpenBLAS single-threaded inside them.
//
// Strided samples: every tensor argument `x` comes with `x_stride`, the number of floats
// between the starts of consecutive samples. It equals C*H*W for a dense tensor and is
// larger when the tensor is a channel slice of a concatenation buffer (DenseNet writes each
// layer's output straight into its place in the block's concatenation, so concatenation
// copies nothing). Within a sample, data is dense C x H x W.
//
// Determinism: for the same inputs and thread count every kernel returns the same bits.
#include <stddef.h>
#include <stdint.h>

/// Sets the OpenMP threads of every kernel (OpenBLAS stays at one thread inside them).
void isn_set_threads(int threads);
/// The OpenMP threads kernels use.
int isn_threads(void);

/// The name of the kernels OpenBLAS chose for this CPU ("SkylakeX", "Haswell", …).
const char *isn_blas_core(void);
/// When OpenBLAS fell back to generic kernels on a CPU it does not recognise but whose
/// features a faster kernel set needs, that set's OPENBLAS_CORETYPE name; otherwise NULL.
const char *isn_blas_better_core(void);

/// Nonzero when OpenBLAS runs kernels without AVX-512 on a CPU that has it (e.g. chosen
/// through OPENBLAS_CORETYPE): its GEMMs then run at about half this CPU's rate.
int isn_blas_core_narrower_than_cpu(void);

/// The geometry of a 2-D convolution (PyTorch's Conv2d semantics, zero padding).
typedef struct {
  int batch;
  int in_channels, in_h, in_w;
  int out_channels, out_h, out_w;
  int kernel_h, kernel_w;
  int stride_h, stride_w;
  int pad_h, pad_w;
  int dilation_h, dilation_w;
  int groups;
} isn_conv_geometry;

/// Floats in one thread's im2col tile at most (for the widest kernels a tile is one
/// aligned column block more): half of the core's L2 cache.
size_t isn_im2col_budget(void);

/// Floats of scratch memory `isn_conv2d` and `isn_conv2d_transpose` need for `threads`
/// threads, enough for every batch from 1 to g->batch (a smaller batch may split the work
/// otherwise); 0 when the convolution needs none, e.g. 1x1 stride 1 without padding.
size_t isn_conv2d_workspace(const isn_conv_geometry *g, int threads);

/// y = conv(x, weight) + bias, then max(y, 0) when `relu` is nonzero.
/// x: [batch, in_channels, in_h, in_w] (stride x_stride); weight: [out_channels,
/// in_channels/groups, kernel_h, kernel_w]; bias: [out_channels] or NULL;
/// y: [batch, out_channels, out_h, out_w] (stride y_stride). `workspace` holds
/// `isn_conv2d_workspace(g, workspace_threads)` floats; the kernel runs on at most
/// `workspace_threads` threads, so a workspace sized for one session's count is never
/// overrun when another session raises the process-wide count (`isn_set_threads`).
void isn_conv2d(const isn_conv_geometry *g, const float *x, size_t x_stride,
                const float *weight, const float *bias, int relu, float *y,
                size_t y_stride, float *workspace, int workspace_threads);

/// Winograd F(4x4, 3x3) convolution (winograd.c): the same result as `isn_conv2d` within
/// float32 rounding (a few 1e-6 of the output's largest magnitude), with about a quarter
/// of the multiplications. Usage: check `isn_winograd_supported`, transform the weights
/// once with `isn_winograd_weights` into `isn_winograd_weight_size` floats, then call
/// `isn_winograd_conv2d` with a workspace of `isn_winograd_workspace` floats.

/// Nonzero when `g` is a 3x3, stride-1, undilated, ungrouped convolution (any padding)
/// that the Winograd kernels compute.
int isn_winograd_supported(const isn_conv_geometry *g);

/// Floats of transformed weights for `g` (36 * out_channels * in_channels; 0 when
/// unsupported). They do not depend on `g->batch`.
size_t isn_winograd_weight_size(const isn_conv_geometry *g);

/// Transforms weight [out_channels, in_channels, 3, 3] into `u`
/// (`isn_winograd_weight_size` floats), in double precision: u[f][co][ci] = (G w G^T)[f].
void isn_winograd_weights(const isn_conv_geometry *g, const float *weight, float *u);

/// Floats of scratch memory `isn_winograd_conv2d` needs for `threads` threads (0 when
/// unsupported, SIZE_MAX when it overflows). It does not depend on `g->batch`.
size_t isn_winograd_workspace(const isn_conv_geometry *g, int threads);

/// y = conv(x, weight) + bias, then max(y, 0) when `relu` is nonzero, from the transformed
/// weights `u`; the other arguments are those of `isn_conv2d` (strided samples; y may be a
/// channel slice of a concatenation; `workspace_threads` caps the threads as there).
/// Results do not depend on the thread count or batch.
void isn_winograd_conv2d(const isn_conv_geometry *g, const float *x, size_t x_stride,
                         const float *u, const float *bias, int relu, float *y,
                         size_t y_stride, float *workspace, int workspace_threads);

/// Whether the Winograd products run on 16-lane (AVX-512) vectors: by default where the
/// CPU has them. The results are the same bits either way; `isn_set_wide_vectors(0)` keeps
/// them 8 lanes wide (to compare), 1 restores the default.
void isn_set_wide_vectors(int allowed);
int isn_wide_vectors(void);

/// The transposed convolution (the gradient of `isn_conv2d` with respect to its input):
/// dx = conv_transpose(dy, weight), no bias. dy: [batch, out_channels, out_h, out_w]
/// (stride dy_stride); dx: [batch, in_channels, in_h, in_w] (stride dx_stride), overwritten.
/// in_h/in_w in `g` fix the output size, so PyTorch's output_padding is implied by them.
/// `workspace` and `workspace_threads` as for `isn_conv2d`.
void isn_conv2d_transpose(const isn_conv_geometry *g, const float *dy, size_t dy_stride,
                          const float *weight, float *dx, size_t dx_stride,
                          float *workspace, int workspace_threads);

/// Per-channel affine map (inference batch norm, folded): y = x * scale[c] + shift[c],
/// then max(y, 0) when `relu` is nonzero. x, y: [batch, channels, spatial]. In place is allowed.
void isn_channel_affine(const float *x, size_t x_stride, int batch, int channels,
                        size_t spatial, const float *scale, const float *shift, int relu,
                        float *y, size_t y_stride);

/// Batch statistics per channel over batch and spatial positions: mean[c] and the biased
/// variance var[c] (divided by batch*spatial), computed in double precision.
void isn_channel_moments(const float *x, size_t x_stride, int batch, int channels,
                         size_t spatial, float *mean, float *var);

/// y = max(x, 0) over `count` floats per sample. In place is allowed.
/// The element-wise functions of one tensor (GraphIR's ElementwiseFunction; Runtime's
/// ElementwiseKernels.swift maps each to its code here).
typedef enum {
  ISN_ELEMENTWISE_NONE = 0,
  ISN_ELEMENTWISE_SIGMOID = 1,
  ISN_ELEMENTWISE_STEP = 2,
} isn_elementwise_function;

/// y = f(x) element by element, x and y [batch][count] (y may be x).
void isn_elementwise(isn_elementwise_function f, const float *x, size_t x_stride, int batch,
                     size_t count, float *y, size_t y_stride);
/// dx += f'·dy over `count` dense floats, f' computed from `v`: f's input or its output,
/// whichever the function's description names.
void isn_elementwise_backward(isn_elementwise_function f, const float *v, const float *dy,
                              size_t count, float *dx);

void isn_relu(const float *x, size_t x_stride, int batch, size_t count, float *y,
              size_t y_stride);

/// y = a + b (then max(., 0) when `relu`) over `count` floats per sample.
void isn_add(const float *a, size_t a_stride, const float *b, size_t b_stride, int batch,
             size_t count, int relu, float *y, size_t y_stride);

/// y (+)= a ⊙ b with b broadcast (broadcast_multiply.c): a and y are [d0, d1, d2, d3] per
/// sample (a's shape padded with leading 1s); b's element for index (i0, i1, i2, i3) is
/// b[n·b_stride + Σ iₖ·b_steps[k]], b_steps[k] = 0 along a dimension b broadcasts. Adds
/// into y when `accumulate` is nonzero.
void isn_broadcast_multiply(const float *a, size_t a_stride, const float *b, size_t b_stride,
                            int batch, const int64_t dims[4], const int64_t b_steps[4],
                            int accumulate, float *y, size_t y_stride);

/// The adjoint of `isn_broadcast_multiply` for b: db[n, j] += Σ g·a over a's elements that
/// read b's element j (shapes and steps as there).
void isn_broadcast_multiply_reduce(const float *g, size_t g_stride, const float *a,
                                   size_t a_stride, int batch, const int64_t dims[4],
                                   const int64_t b_steps[4], float *db, size_t db_stride);

/// Upsampling by integer scales (upsample.c): x [batch, channels, in_h, in_w] (stride
/// x_stride) → y [batch, channels, in_h·scale_h, in_w·scale_w]; nearest, or bilinear when
/// `bilinear` is nonzero (PyTorch's align_corners=False).
void isn_upsample(const float *x, size_t x_stride, int batch, int channels, int in_h, int in_w,
                  int scale_h, int scale_w, int bilinear, float *y, size_t y_stride);

/// Its adjoint: dx [batch, channels, in_h, in_w] += upsampleᵀ(dy) (both dense).
void isn_upsample_backward(const float *dy, int batch, int channels, int in_h, int in_w,
                           int scale_h, int scale_w, int bilinear, float *dx);

/// Copies `count` floats per sample (concatenation where a producer cannot write in place).
void isn_copy(const float *x, size_t x_stride, int batch, size_t count, float *y,
              size_t y_stride);

/// Max pooling; padded positions never win. argmax (optional, NULL to skip):
/// [batch, channels, out_h, out_w] int32 index h*in_w + w of each window's maximum within
/// its input plane; ties go to the first position in row-major window order (PyTorch's).
void isn_maxpool2d(const float *x, size_t x_stride, int batch, int channels, int in_h,
                   int in_w, int kernel_h, int kernel_w, int stride_h, int stride_w,
                   int pad_h, int pad_w, int out_h, int out_w, float *y, size_t y_stride,
                   int32_t *argmax);

/// Routes dy back to the arg-max positions, SUMMING where windows share one (the gradient
/// of max pooling). dy/argmax: [batch, channels, out_h, out_w]; dx: [batch, channels, in_h,
/// in_w], overwritten (zero where no window's maximum fell).
void isn_max_unpool2d_sum(const float *dy, size_t dy_stride, const int32_t *argmax,
                          int batch, int channels, int in_h, int in_w, int out_h,
                          int out_w, float *dx, size_t dx_stride);

/// Average pooling dividing by kernel_h*kernel_w always (zero padding counts, PyTorch's
/// count_include_pad=True).
void isn_avgpool2d(const float *x, size_t x_stride, int batch, int channels, int in_h,
                   int in_w, int kernel_h, int kernel_w, int stride_h, int stride_w,
                   int pad_h, int pad_w, int out_h, int out_w, float *y, size_t y_stride);

/// Adaptive average pooling with PyTorch's windows: output row i averages input rows
/// floor(i*in_h/out_h) .. ceil((i+1)*in_h/out_h) - 1; columns likewise.
void isn_adaptive_avgpool2d(const float *x, size_t x_stride, int batch, int channels,
                            int in_h, int in_w, int out_h, int out_w, float *y,
                            size_t y_stride);

/// y = x W^T + bias (then max(., 0) when `relu`). x: [batch, in_features] (stride
/// x_stride); weight: [out_features, in_features]; bias: [out_features] or NULL;
/// y: [batch, out_features] (stride y_stride).
void isn_linear(const float *x, size_t x_stride, int batch, int in_features,
                const float *weight, const float *bias, int out_features, int relu,
                float *y, size_t y_stride);

/// Inverted dropout: y = x * keep / (1 - p), keep drawn with probability 1 - p from a
/// counter-based generator of (seed, sample, index), so the mask does not depend on the
/// thread count. mask (optional): 1 where kept, 0 where dropped, as uint8 per element.
void isn_dropout(const float *x, size_t x_stride, int batch, size_t count, float p,
                 uint64_t seed, float *y, size_t y_stride, uint8_t *mask);

/// Sum of all `count` floats per sample over the batch, in double precision, in a fixed
/// order (deterministic for any thread count).
double isn_sum(const float *x, size_t x_stride, int batch, size_t count);

// --- The LRP block (relevance tensors carry a class axis: [batch, classes, count]) ---

/// out[b, k, j] = logits[b, j] if j == k else 0, for k, j < classes. With `chosen` (one
/// class per sample, each in [0, classes)): out[b, 0, j] = logits[b, j] if j == chosen[b].
void isn_lrp_seed(const float *logits, size_t logits_stride, int batch, int classes,
                  const int32_t *chosen, float *out, size_t out_stride);

/// The ε-rule's division: out[b, k, i] = r[b, k, i] / (z[b, i] + eps·sign(z[b, i])), with
/// sign(0) = +1; z broadcast over the classes. r, out: [batch, classes, count] (strides
/// per sample); z: [batch, count]. `sample_eps`, when not NULL, holds one ε per sample
/// ([batch]) and sample b uses sample_eps[b] in place of `eps` (the same formula; with
/// NULL, the same bits as one ε for all). In place (out == r) is allowed.
void isn_lrp_epsilon_divide(const float *r, size_t r_stride, const float *z, size_t z_stride,
                            int batch, int classes, size_t count, float eps,
                            const float *sample_eps, float *out, size_t out_stride);

/// The Zᴮ rule's relevance at the input from the two transposed convolutions by the
/// positive and negative weights: out[b, k, i] = (x[b, i] − low)·pos[b, k, i] +
/// (x[b, i] − high)·neg[b, k, i]. Both terms have the sign of the relevance they carry, so
/// float32 loses nothing to cancellation (x·convᵀ(s, W) − l·convᵀ(s, W⁺) − h·convᵀ(s, W⁻)
/// would). In place (out == pos) is allowed.
void isn_lrp_zb_combine(const float *x, size_t x_stride, const float *pos, const float *neg,
                        int batch, int classes, size_t count, float low, float high,
                        float *out);

/// out[b, k, i] = a[b, i] · c[b, k, i]: relevance at an activation; a broadcast over the
/// classes. In place (out == c) is allowed.
void isn_lrp_multiply(const float *a, size_t a_stride, const float *c, size_t c_stride,
                      int batch, int classes, size_t count, float *out, size_t out_stride);

/// One pass for the chain the LRP block repeats at every activation: relevance R = a ⊙ c,
/// the ε-rule's s = R / (z + eps·sign(z)) with the next step's z, and (when `scale` is not
/// NULL) the batch-norm transpose's per-channel factor: out[b, k, ch, i] =
/// a[b, ch, i]·c[b, k, ch, i] / (z[b, ch, i] ± eps) · scale[ch]. a and z: [batch, channels,
/// plane] (strides per sample); c and out: [batch, classes, channels, plane]. With
/// `addend` (shaped like out) the result is added to it: the adjoint sum that follows the
/// chain where a value has several consumers. `sample_eps` (NULL or [batch]) as for
/// isn_lrp_epsilon_divide. Bitwise equal to the kernels run one after another. out may be
/// addend. `addend_class_stride` is the floats between one class's addend and the next's:
/// channels·plane when dense, more when the addend is a channel slice read in place from a
/// wider relevance tensor.
void isn_lrp_fused_ratio(const float *a, size_t a_stride, const float *c, size_t c_stride,
                         const float *z, size_t z_stride, const float *scale,
                         const float *addend, size_t addend_stride,
                         size_t addend_class_stride, int batch, int classes,
                         int channels, size_t plane, float eps, const float *sample_eps,
                         float *out, size_t out_stride);

// --- Training: gradients (backward.c). Every output ACCUMULATES (+=); tensors are dense. ---

/// dw += Σ_r dy_r · im2col(x_{r / x_repeat})ᵀ: the weight gradient of `isn_conv2d` (groups
/// must be 1). g->batch is the number of dy rows; x has g->batch / x_repeat samples (the
/// LRP block's [batch, classes] rows read one forward sample per `x_repeat` classes).
/// dw: [out_channels, in_channels, kernel_h, kernel_w].
void isn_conv2d_weight_grad(const isn_conv_geometry *g, const float *x, size_t x_stride,
                            int x_repeat, const float *dy, size_t dy_stride, float *dw);
/// Per channel over rows and spatial positions, in double: sum_a[c] = Σ a (skipped when
/// NULL), sum_ab[c] = Σ a·b (skipped when b or sum_ab is NULL). a, b: [rows, channels, spatial].
void isn_channel_sums(const float *a, const float *b, int rows, int channels, size_t spatial,
                      double *sum_a, double *sum_ab);
/// y += x · scale[c]. x, y: [rows, channels, spatial]. With `assign` nonzero, y = x · scale[c]
/// (an adjoint's first contribution).
void isn_channel_scale_add(const float *x, int rows, int channels, size_t spatial,
                           const float *scale, int assign, float *y);
/// Training batch norm's backward, with x̂ = (x − mean)·invstd: the per-channel sums
/// sum_dy = Σ dy (β's gradient) and sum_dyx = Σ dy·x̂ (γ's), in float64, one pass; the
/// input adjoint reads them too, so one pass serves all three.
void isn_batchnorm_sums(const float *x, const float *dy, int batch, int channels, size_t spatial,
                        const float *mean, const float *invstd, double *sum_dy, double *sum_dyx);
/// dx += γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)), the means from isn_batchnorm_sums;
/// with `assign` nonzero dx = … instead (an adjoint's first contribution: no zeroing pass).
void isn_batchnorm_input_adjoint(const float *x, const float *dy, int batch, int channels,
                                 size_t spatial, const float *mean, const float *invstd,
                                 const float *gamma, const double *sum_dy, const double *sum_dyx,
                                 int assign, float *dx);
/// dx += dy where y > 0 (y = max(x, 0), so y > 0 exactly where x > 0); with `assign`
/// nonzero dx = … instead.
void isn_relu_backward(const float *y, const float *dy, size_t count, int assign, float *dx);
/// y += x over `count` floats.
void isn_accumulate(const float *x, size_t count, float *y);
/// The ε-division's backward (out = r / s, s = z + eps·sign(z)): dr += g / s and
/// dz[b, i] −= Σ_k g·out / s (z broadcast over the classes). `sample_eps` (NULL or
/// [batch]) as for isn_lrp_epsilon_divide. Either output may be NULL: the runtime computes
/// both in one pass where the reverse needs both. With `assign_dr` (`assign_dz`) nonzero
/// that output is written, not added to (an adjoint's first contribution: no zeroing
/// pass; the same numbers, as 0 + v = v).
void isn_lrp_epsilon_divide_backward(const float *g, const float *out, const float *z,
                                     int batch, int classes, size_t count, float eps,
                                     const float *sample_eps, int assign_dr, int assign_dz,
                                     float *dr, float *dz);
/// The backward of out = a ⊙ c (a broadcast over classes): da[b, i] += Σ_k g·c,
/// dc += g·a. Either output may be NULL; the `assign_*` flags as for
/// isn_lrp_epsilon_divide_backward.
void isn_lrp_multiply_backward(const float *g, const float *a, const float *c, int batch,
                               int classes, size_t count, int assign_da, int assign_dc,
                               float *da, float *dc);
/// The adjoint of `isn_avgpool2d`: each dy spread evenly over its window (÷ kh·kw).
void isn_avgpool2d_backward(const float *dy, int rows, int channels, int in_h, int in_w,
                            int kernel_h, int kernel_w, int stride_h, int stride_w,
                            int pad_h, int pad_w, int out_h, int out_w, float *dx);
/// The adjoint of `isn_adaptive_avgpool2d`.
void isn_adaptive_avgpool2d_backward(const float *dy, int rows, int channels, int in_h,
                                     int in_w, int out_h, int out_w, float *dx);
/// dc[b, k, c, o] += g[b, k, c, argmax[b, c, o]]: the adjoint of routing values to their
/// windows' arg-max (argmax [batch, channels, out_plane] from `isn_maxpool2d`).
void isn_max_pool_gather(const float *g, const int32_t *argmax, int batch, int classes,
                         int channels, size_t in_plane, size_t out_plane, float *dc);
/// dx[b, k, c, argmax[b, c, o]] += dy[b, k, c, o]: routes values to the arg-max, summing
/// where windows share one (max pooling's gradient with classes = 1; the LRP block's
/// winner-take-all unpooling with classes = K).
void isn_max_pool_scatter(const float *dy, const int32_t *argmax, int batch, int classes,
                          int channels, size_t in_plane, size_t out_plane, float *dx);

#endif
