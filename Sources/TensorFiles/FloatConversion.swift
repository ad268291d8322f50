/// Conversions of little-endian raw tensor bytes into Float32, Int64 and back: IEEE half, bfloat16,
/// double. Reads are unaligned-safe (`loadUnaligned`), so tensors at any offset convert.

/// Converts IEEE 754 binary16 bits to Float (exact: every half is representable as a float).
@inlinable
func float(fromHalfBits h: UInt16) -> Float {
  let sign = UInt32(h & 0x8000) << 16
  let exponent = UInt32((h >> 10) & 0x1f)
  let mantissa = UInt32(h & 0x3ff)
  if exponent == 0 {
    // Zero or subnormal: mantissa × 2^-24.
    let magnitude = Float(mantissa) * 0x1p-24
    return sign == 0 ? magnitude : -magnitude
  }
  if exponent == 31 {
    return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
  }
  return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// Converts bfloat16 bits (the top half of a float) to Float.
@inlinable
func float(fromBFloat16Bits b: UInt16) -> Float {
  Float(bitPattern: UInt32(b) << 16)
}

/// Converts `count` elements of `dtype` at `bytes` (little-endian) to Float32.
/// The caller has checked that `dtype.convertsToFloat32` and the byte count.
func convertToFloats(_ bytes: UnsafeRawBufferPointer, dtype: TensorDType, count: Int) -> [Float] {
  [Float](unsafeUninitializedCapacity: count) { out, initialized in
    switch dtype {
    case .f32:
      #if _endian(little)
        // Same representation: one memcpy (works at any alignment).
        UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<(4 * count)]))
      #else
        for i in 0..<count {
          out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
      #endif
    case .f16:
      for i in 0..<count {
        out[i] = float(fromHalfBits: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
      }
    case .bf16:
      for i in 0..<count {
        out[i] = float(fromBFloat16Bits: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
      }
    case .f64:
      for i in 0..<count {
        out[i] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
      }
    default:
      preconditionFailure("convertToFloats called with \(dtype.rawValue)")
    }
    initialized = count
  }
}

/// Reads `count` integer (or boolean) elements of `dtype` as Int64; nil for a U64 value above Int64.max.
func convertToInt64s(_ bytes: UnsafeRawBufferPointer, dtype: TensorDType, count: Int) -> [Int64]? {
  var result = [Int64]()
  result.reserveCapacity(count)
  for i in 0..<count {
    let value: Int64
    switch dtype {
    case .bool, .u8: value = Int64(bytes[i])
    case .i8: value = Int64(Int8(bitPattern: bytes[i]))
    case .i16: value = Int64(Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
    case .u16: value = Int64(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
    case .i32: value = Int64(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
    case .u32: value = Int64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
    case .i64: value = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
    case .u64:
      let raw = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
      guard raw <= UInt64(Int64.max) else { return nil }
      value = Int64(raw)
    default:
      preconditionFailure("convertToInt64s called with \(dtype.rawValue)")
    }
    result.append(value)
  }
  return result
}

extension TensorDType {
  /// The first `count` elements of `bytes` (little-endian, this type) as Float32: F32 copied,
  /// F16, BF16 and F64 converted; nil for types that do not convert (`convertsToFloat32`) or
  /// when `bytes` holds fewer than `count` elements. For readers of other tensor formats.
  public func float32Values(_ bytes: UnsafeRawBufferPointer, count: Int) -> [Float]? {
    guard convertsToFloat32, count >= 0, bytes.count / byteSize >= count else { return nil }
    return convertToFloats(bytes, dtype: self, count: count)
  }
}
