/// The LRP derivation lives with the other graph passes (`Sources/GraphIR/Passes/`); this
/// module only re-exports GraphIR so that `import LRPTransform` keeps working.

@_exported import GraphIR
