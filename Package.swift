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
    // The static graph: ops, shapes, parameters, text form. Depends on nothing.
    .target(name: "GraphIR"),
    // The .isnet language: lexer, parser, elaboration into GraphIR.
    .target(name: "ModelLang", dependencies: ["GraphIR"]),
    .executableTarget(
      name: "isnetc",
      dependencies: [
        "GraphIR", "ModelLang",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .testTarget(name: "GraphIRTests", dependencies: ["GraphIR"]),
    .testTarget(
      name: "ModelLangTests", dependencies: ["ModelLang", "GraphIR"],
      exclude: ["Golden"]),
  ],
  swiftLanguageModes: [.v6]
)
