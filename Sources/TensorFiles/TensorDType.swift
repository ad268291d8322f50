/// Element types of safetensors files, with their sizes and which of them convert to Float32.

public enum TensorDType: String, Sendable, Hashable, CaseIterable {
  case bool = "BOOL"
  case u8 = "U8"
  case i8 = "I8"
  case f8e5m2 = "F8_E5M2"
  case f8e4m3 = "F8_E4M3"
  case i16 = "I16"
  case u16 = "U16"
  case f16 = "F16"
  case bf16 = "BF16"
  case i32 = "I32"
  case u32 = "U32"
  case f32 = "F32"
  case f64 = "F64"
  case i64 = "I64"
  case u64 = "U64"

  /// Bytes per element.
  public var byteSize: Int {
    switch self {
    case .bool, .u8, .i8, .f8e5m2, .f8e4m3: 1
    case .i16, .u16, .f16, .bf16: 2
    case .i32, .u32, .f32: 4
    case .f64, .i64, .u64: 8
    }
  }

  /// Whether `SafetensorsFile.floats` can convert this type (F32 as is; F16, BF16, F64 converted).
  public var convertsToFloat32: Bool {
    switch self {
    case .f32, .f16, .bf16, .f64: true
    default: false
    }
  }

  /// Whether `SafetensorsFile.integers` can read this type (booleans read as 0 and 1).
  public var isInteger: Bool {
    switch self {
    case .bool, .u8, .i8, .i16, .u16, .i32, .u32, .i64, .u64: true
    default: false
    }
  }
}
