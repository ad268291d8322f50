import CKernels
import Foundation

/// Makes sure OpenBLAS runs the fastest kernels this CPU has (see blas_core.c: Debian's
/// OpenBLAS falls back to SSE3 kernels on CPUs newer than itself). When it did, and the
/// user has not chosen kernels with OPENBLAS_CORETYPE, the process restarts itself once
/// with that variable set; if the restart fails it goes on with the slow kernels.
enum BLASKernels {
  static let variable = "OPENBLAS_CORETYPE"
  /// The subcommands that multiply matrices; the others need no restart.
  static let computing: Set<String> = ["run", "heatmap", "bench", "train", "eval", "step", "demo", "export"]

  /// The kernels OpenBLAS runs, and why when they are narrower than the CPU's: for the
  /// benchmarks' reports.
  static var description: String {
    let core = String(cString: isn_blas_core())
    guard isn_blas_core_narrower_than_cpu() != 0 else { return core }
    if let chosen = ProcessInfo.processInfo.environment[variable] {
      return "\(core) (\(variable)=\(chosen) in the environment); this CPU has AVX-512, whose kernels OpenBLAS chooses without that setting (up to twice the GEMM rate)"
    }
    return "\(core); this CPU has AVX-512, which these kernels do not use (\(variable)=SkylakeX would: up to twice the GEMM rate)"
  }

  static func selectFastest() {
    let arguments = CommandLine.arguments
    guard arguments.count > 1, computing.contains(arguments[1]),
      ProcessInfo.processInfo.environment[variable] == nil,
      let better = isn_blas_better_core()
    else { return }
    setenv(variable, better, 1)
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
    argv.append(nil)
    execv("/proc/self/exe", &argv)
    // Only reached when exec failed: run on with the kernels already loaded.
    unsetenv(variable)
  }
}
