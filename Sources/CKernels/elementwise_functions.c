// The element-wise functions of one tensor (GraphIR's ElementwiseFunction): one `case` per
// function in the forward and one in the derivative. Chunked like the other memory-bound
// kernels (ISN_FOR_EACH_CHUNK), so the results do not depend on the thread count.
#include <math.h>

#include "isn_internal.h"

void isn_elementwise(isn_elementwise_function f, const float *x, size_t x_stride, int batch,
                     size_t count, float *y, size_t y_stride) {
  if (batch <= 0 || count == 0) return;
  ISN_FOR_EACH_CHUNK(batch, count, (size_t)batch * count, n, i0, len) {
    const float *xs = x + n * x_stride + i0;
    float *ys = y + n * y_stride + i0;
    switch (f) {
    case ISN_ELEMENTWISE_NONE:
      for (size_t i = 0; i < len; i++) ys[i] = xs[i];
      break;
    case ISN_ELEMENTWISE_SIGMOID:
      for (size_t i = 0; i < len; i++) ys[i] = 1.0f / (1.0f + expf(-xs[i]));
      break;
    case ISN_ELEMENTWISE_STEP:
      for (size_t i = 0; i < len; i++) ys[i] = xs[i] > 0.0f ? 1.0f : 0.0f;
      break;
    }
  }
}

void isn_elementwise_backward(isn_elementwise_function f, const float *v, const float *dy,
                              size_t count, float *dx) {
  ISN_FOR_EACH_CHUNK(1, count, count, row, c0, len) {
    const float *vs = v + c0, *g = dy + c0;
    float *d = dx + c0;
    switch (f) {
    case ISN_ELEMENTWISE_NONE:
      for (size_t i = 0; i < len; i++) d[i] += g[i];
      break;
    case ISN_ELEMENTWISE_SIGMOID:  // v is the output σ
      for (size_t i = 0; i < len; i++) d[i] += g[i] * vs[i] * (1.0f - vs[i]);
      break;
    case ISN_ELEMENTWISE_STEP:  // flat: nothing to add
      break;
    }
  }
}
