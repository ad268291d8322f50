/// The machine's SGEMM rate through OpenBLAS, the ceiling benchmarks compare against:
/// `threads` OpenBLAS threads on an n×n×n product, best of `repeats`.

import CKernels
import COpenBLAS

public func measureSGEMM(size n: Int = 1024, threads: Int = 2, repeats: Int = 5) -> Double {
  let a = [Float](repeating: 0.5, count: n * n)
  let b = [Float](repeating: 0.25, count: n * n)
  var c = [Float](repeating: 0, count: n * n)
  openblas_set_num_threads(Int32(threads))
  defer { isn_set_threads(isn_threads()) }
  var best = Double.infinity
  for _ in 0..<max(1, repeats) {
    let start = ContinuousClock.now
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
    let d = ContinuousClock.now - start
    best = min(best, d.seconds)
  }
  return 2 * Double(n * n * n) / best / 1e9
}
