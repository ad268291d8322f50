#include <cblas.h>
// Threads of OpenBLAS's own pool; isnetc keeps it at 1 inside its OpenMP regions.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
