// Inverted dropout with a counter-based generator: y = x * keep / (1 - p).
//
// Element i of sample n draws splitmix64's output at position i of a stream keyed by
// (seed, n), so the mask is a pure function of (seed, n, i): the same for any thread
// count and any split of the work. An element is kept when the top 32 bits of its draw
// are at least p * 2^32, which happens with probability 1 - p (to 2^-32).
#include <math.h>

#include "isn_internal.h"

#define GOLDEN 0x9E3779B97F4A7C15ULL

/// splitmix64's output function (Steele, Lea and Flood, 2014).
static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void isn_dropout(const float *x, size_t x_stride, int batch, size_t count, float p,
                 uint64_t seed, float *y, size_t y_stride, uint8_t *mask) {
  if (batch <= 0 || count == 0) return;
  const int drop_all = p >= 1.0f;
  const uint64_t threshold = (p > 0.0f && !drop_all) ? (uint64_t)ldexp((double)p, 32) : 0;
  const float scale = drop_all ? 0.0f : (float)(1.0 / (1.0 - (double)(p > 0.0f ? p : 0.0f)));
  ISN_FOR_EACH_CHUNK(batch, count, (size_t)batch * count, n, i0, len) {
    const float *xs = x + n * x_stride + i0;
    float *ys = y + n * y_stride + i0;
    uint8_t *ms = mask ? mask + n * count + i0 : NULL;
    const uint64_t key = mix64(seed ^ mix64((uint64_t)(n + 1) * GOLDEN));
    for (size_t i = 0; i < len; i++) {
      const uint64_t r = mix64(key + (uint64_t)(i0 + i + 1) * GOLDEN);
      const int keep = !drop_all && (r >> 32) >= threshold;
      ys[i] = keep ? xs[i] * scale : 0.0f;
      if (ms) ms[i] = (uint8_t)keep;
    }
  }
}
