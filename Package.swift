// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "isnetc",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "isnetc", targets: ["isnetc"]),
    .library(name: "GraphIR", targets: ["GraphIR"]),
    .library(name: "ModelLang", targets: ["ModelLang"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    // The seeded generator behind every random draw (weights, datasets, augmentation).
    .target(name: "SeededRandom"),
    // The static graph: ops, shapes, parameters, text form, and the passes (deployment, the
    // LRP derivation of paper sections 4.1 and 4.4–4.7, reverse mode). Depends on nothing.
    .target(name: "GraphIR"),
    // The .isnet language: lexer, parser, elaboration into GraphIR.
    .target(name: "ModelLang", dependencies: ["GraphIR"]),
    // Re-exports GraphIR, whose passes now include the LRP derivation (kept for imports).
    .target(name: "LRPTransform", dependencies: ["GraphIR"]),
    // System libraries from Debian: OpenBLAS (GEMM), libpng and libjpeg (images).
    .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
    .systemLibrary(name: "CJPEG", providers: [.apt(["libjpeg62-turbo-dev"])]),
    // Cairo: the pictures' drawing, with anti-aliased text (FreeType through fontconfig).
    .systemLibrary(name: "CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"])]),
    // libzip reads the zip archives of PyTorch checkpoints.
    .systemLibrary(name: "CZip", pkgConfig: "libzip", providers: [.apt(["libzip-dev"])]),
    // C kernels: OpenMP (LLVM libomp) for parallel loops, OpenBLAS for GEMM. Built at -O3
    // even in debug builds, or tests crawl.
    .target(
      name: "CKernels",
      dependencies: ["COpenBLAS"],
      cSettings: [
        .unsafeFlags(["-O3", "-fopenmp", "-mavx2", "-mfma", "-I/usr/include/x86_64-linux-gnu/openblas-pthread"])
      ],
      linkerSettings: [.linkedLibrary(":libomp.so.5"), .linkedLibrary("openblas")]),
    // Tensor files: safetensors (memory-mapped reader, atomic writer) and .npy.
    .target(name: "TensorFiles"),
    // PyTorch checkpoints (.pth): a pickle interpreter that runs nothing, the zip and legacy formats.
    .target(name: "TorchCheckpoint", dependencies: ["TensorFiles", "CZip"]),
    // Images: PNG and JPEG decoding, resizing and the paper's preprocessing.
    // setjmp-based C wrappers: libpng and libjpeg report errors by longjmp, which Swift cannot survive.
    .target(
      name: "CImageShim", dependencies: ["CPNG", "CJPEG"],
      linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),
    // DICOM through DCMTK (C++; a C interface for Swift): monochrome X-rays, uncompressed or
    // in the JPEG, JPEG-LS and RLE transfer syntaxes DCMTK's codecs decode.
    .target(
      name: "CDicom",
      linkerSettings: [
        .linkedLibrary("dcmjpls"), .linkedLibrary("dcmjpeg"), .linkedLibrary("dcmimgle"), .linkedLibrary("dcmdata"),
        .linkedLibrary("oflog"), .linkedLibrary("ofstd"), .linkedLibrary("stdc++"),
      ]),
    .target(name: "ImageIO", dependencies: ["CImageShim", "CPNG", "CJPEG", "CDicom"]),
    // Dataset folders (canonical, wide CSV, ImageFolder), their checks, and the synthetic
    // benchmark datasets (the background-bias experiment's chest-X-ray-like task).
    .target(name: "Datasets", dependencies: ["SeededRandom", "ImageIO"]),
    // Training: the ISNet loss and its gradients (paper section 4.3), optimizers, the loop.
    .target(name: "Training", dependencies: ["SeededRandom", "GraphIR", "LRPTransform", "Runtime", "TensorFiles", "Evaluation", "Datasets", "ImageIO"]),
    // Classification metrics with confidence intervals, and background relevance.
    .target(name: "Evaluation", dependencies: ["SeededRandom"]),
    // Pictures: heatmap sheets (the paper's colormap, overlays, colour bars), training
    // curves, ROC curves and confusion matrices, drawn through Cairo.
    .target(name: "Visualization", dependencies: ["CCairo"]),
    // Executes graphs on the C kernels with a static memory plan.
    .target(name: "Runtime", dependencies: ["GraphIR", "CKernels", "COpenBLAS", "TensorFiles", "TorchCheckpoint", "SeededRandom"]),
    // ONNX export: a hand-written protobuf encoder, the lowering of every op (LRP block
    // included) to standard ONNX ops, external data.
    .target(name: "Export", dependencies: ["GraphIR", "LRPTransform", "TensorFiles", "Training"]),
    .executableTarget(
      name: "isnetc",
      dependencies: [
        "GraphIR", "ModelLang", "LRPTransform", "Runtime", "TensorFiles", "ImageIO", "CKernels", "Visualization", "Datasets", "Evaluation",
        "Training", "SeededRandom", "Export",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    // Helpers shared by the test targets: repository paths, golden files, model compilation.
    .target(name: "TestSupport", dependencies: ["GraphIR", "ModelLang", "SeededRandom"], path: "Tests/TestSupport"),
    .testTarget(name: "GraphIRTests", dependencies: ["GraphIR"]),
    .testTarget(name: "ExportTests", dependencies: ["Export", "GraphIR", "ModelLang", "TestSupport", "Training"]),
    .testTarget(name: "KernelTests", dependencies: ["CKernels", "TestSupport"]),
    .testTarget(name: "TensorFilesTests", dependencies: ["TensorFiles", "SeededRandom"]),
    .testTarget(name: "TorchCheckpointTests", dependencies: ["TorchCheckpoint", "TensorFiles", "SeededRandom", "TestSupport"]),
    .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "SeededRandom", "TestSupport"]),
    .testTarget(name: "VisualizationTests", dependencies: ["Visualization", "ImageIO"]),
    .testTarget(name: "EvaluationTests", dependencies: ["Evaluation"]),
    .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "ImageIO", "SeededRandom"]),
    .testTarget(
      name: "TrainingTests",
      dependencies: ["Training", "TensorFiles", "TestSupport", "Runtime", "GraphIR", "LRPTransform", "ModelLang", "Datasets", "ImageIO", "SeededRandom"]),
    .testTarget(
      name: "RuntimeTests",
      dependencies: ["Runtime", "ModelLang", "GraphIR", "TensorFiles", "LRPTransform", "TestSupport", "ImageIO", "Evaluation"]),
    .testTarget(
      name: "LRPTransformTests", dependencies: ["LRPTransform", "ModelLang", "GraphIR", "TestSupport"],
      exclude: ["Golden"]),
    .testTarget(
      name: "ModelLangTests", dependencies: ["ModelLang", "GraphIR", "TestSupport"],
      exclude: ["Golden"]),
  ],
  swiftLanguageModes: [.v6]
)
