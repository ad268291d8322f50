// Which OpenBLAS kernels this process runs, and which it should.
//
// Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) picks its kernels by CPU model number, and does
// not know models newer than itself: on a recent Xeon with AVX-512 it falls back to the
// SSE3 "Prescott" kernels, four times slower than its AVX-512 ones. The choice is made when
// the library loads and can only be overridden through OPENBLAS_CORETYPE in the
// environment, so the command-line tool asks here and restarts itself when needed.
#include <string.h>

char *openblas_get_corename(void);

/// Generic fallbacks OpenBLAS chooses for CPUs it does not recognise.
static const char *const fallbacks[] = {"Prescott", "Core2", "Katmai", "Coppermine", "Northwood",
                                        "Banias", "Atom", "Penryn", "Dunnington"};

const char *isn_blas_core(void) { return openblas_get_corename(); }

/// Whether the CPU has the AVX-512 subsets OpenBLAS's SkylakeX kernels use.
static int cpu_has_avx512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

const char *isn_blas_better_core(void) {
  const char *core = openblas_get_corename();
  int fallback = 0;
  for (size_t i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; i++)
    if (core && strcmp(core, fallbacks[i]) == 0) fallback = 1;
  if (!fallback) return NULL;
  if (cpu_has_avx512()) return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  if (__builtin_cpu_supports("avx")) return "Sandybridge";
  return NULL;
}

/// OpenBLAS's cores with AVX-512 kernels (0.3.21 and later).
static const char *const wide_cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};

int isn_blas_core_narrower_than_cpu(void) {
  const char *core = openblas_get_corename();
  if (!core) return 0;
  for (size_t i = 0; i < sizeof wide_cores / sizeof wide_cores[0]; i++)
    if (strcmp(core, wide_cores[i]) == 0) return 0;
  return cpu_has_avx512();
}
