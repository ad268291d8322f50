/// The ONNX messages an export writes (onnx.proto, IR version 8), as plain values with
/// their wire encoding. Field numbers are onnx.proto's.

public enum ONNXDataType: Int64, Sendable {
  case float = 1
  case int64 = 7
}

/// A tensor: an initializer or a constant. Values are stored little-endian in `raw_data`,
/// or, for an external tensor, in a sidecar file at `external`.
public struct ONNXTensor: Sendable {
  public enum Values: Sendable {
    case float([Float])
    case int64([Int64])
  }

  public struct ExternalLocation: Sendable {
    public var location: String
    public var offset: Int
    public var length: Int
  }

  public var name: String
  public var dims: [Int]
  public var values: Values
  public var docString: String?
  public var external: ExternalLocation?

  public init(name: String, dims: [Int], values: Values, docString: String? = nil) {
    self.name = name
    self.dims = dims
    self.values = values
    self.docString = docString
  }

  public var dataType: ONNXDataType {
    switch values {
    case .float: .float
    case .int64: .int64
    }
  }

  public var byteCount: Int {
    switch values {
    case .float(let v): v.count * 4
    case .int64(let v): v.count * 8
    }
  }

  /// The values as little-endian bytes, appended to `out`.
  public func appendRawBytes(to out: inout [UInt8]) {
    out.reserveCapacity(out.count + byteCount)
    switch values {
    case .float(let v):
      for x in v {
        let b = x.bitPattern
        out.append(UInt8(truncatingIfNeeded: b))
        out.append(UInt8(truncatingIfNeeded: b >> 8))
        out.append(UInt8(truncatingIfNeeded: b >> 16))
        out.append(UInt8(truncatingIfNeeded: b >> 24))
      }
    case .int64(let v):
      for x in v {
        let b = UInt64(bitPattern: x)
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: b >> UInt64(shift))) }
      }
    }
  }

  // TensorProto: dims 1, data_type 2, name 8, raw_data 9, doc_string 12, external_data 13,
  // data_location 14.
  func encode(_ w: inout ProtobufWriter) {
    w.packedInts(1, dims.map(Int64.init))
    w.int(2, dataType.rawValue)
    w.string(8, name)
    if let external {
      for (key, value) in [("location", external.location), ("offset", String(external.offset)), ("length", String(external.length))] {
        w.message(13) { entry in
          entry.string(1, key)
          entry.string(2, value)
        }
      }
      w.int(14, 1)  // EXTERNAL
    } else {
      w.bytes(9, count: byteCount) { appendRawBytes(to: &$0) }
    }
    if let docString { w.string(12, docString) }
  }
}

public enum ONNXAttributeValue: Sendable {
  case float(Float)
  case int(Int)
  case string(String)
  case tensor(ONNXTensor)
  case ints([Int])
}

public struct ONNXAttribute: Sendable {
  public var name: String
  public var value: ONNXAttributeValue
  public init(_ name: String, _ value: ONNXAttributeValue) {
    self.name = name
    self.value = value
  }

  // AttributeProto: name 1, f 2, i 3, s 4, t 5, ints 8, type 20.
  // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, INTS 7.
  func encode(_ w: inout ProtobufWriter) {
    w.string(1, name)
    switch value {
    case .float(let f):
      w.float(2, f)
      w.int(20, 1)
    case .int(let i):
      w.int(3, Int64(i))
      w.int(20, 2)
    case .string(let s):
      w.string(4, s)
      w.int(20, 3)
    case .tensor(let t):
      w.message(5) { t.encode(&$0) }
      w.int(20, 4)
    case .ints(let values):
      // Repeated int64 in proto2 without [packed]: one key per element.
      for v in values { w.int(8, Int64(v)) }
      w.int(20, 7)
    }
  }
}

public struct ONNXNode: Sendable {
  public var opType: String
  public var inputs: [String]
  public var outputs: [String]
  public var name: String
  public var attributes: [ONNXAttribute]
  public var docString: String?

  public init(opType: String, inputs: [String], outputs: [String], name: String, attributes: [ONNXAttribute] = [], docString: String? = nil) {
    self.opType = opType
    self.inputs = inputs
    self.outputs = outputs
    self.name = name
    self.attributes = attributes
    self.docString = docString
  }

  // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, doc_string 6.
  func encode(_ w: inout ProtobufWriter) {
    for input in inputs { w.string(1, input) }
    for output in outputs { w.string(2, output) }
    w.string(3, name)
    w.string(4, opType)
    for attribute in attributes { w.message(5) { attribute.encode(&$0) } }
    if let docString { w.string(6, docString) }
  }
}

/// A dimension of a graph input or output: a number or a symbolic name (the batch axis).
public enum ONNXDimension: Sendable, Equatable {
  case value(Int)
  case symbol(String)
}

public struct ONNXValueInfo: Sendable {
  public var name: String
  public var elementType: ONNXDataType
  public var dims: [ONNXDimension]
  public var docString: String?

  public init(name: String, elementType: ONNXDataType = .float, dims: [ONNXDimension], docString: String? = nil) {
    self.name = name
    self.elementType = elementType
    self.dims = dims
    self.docString = docString
  }

  // ValueInfoProto: name 1, type 2, doc_string 3. TypeProto: tensor_type 1.
  // TypeProto.Tensor: elem_type 1, shape 2. TensorShapeProto: dim 1.
  // Dimension: dim_value 1, dim_param 2.
  func encode(_ w: inout ProtobufWriter) {
    w.string(1, name)
    w.message(2) { type in
      type.message(1) { tensor in
        tensor.int(1, elementType.rawValue)
        tensor.message(2) { shape in
          for dim in dims {
            shape.message(1) { d in
              switch dim {
              case .value(let v): d.int(1, Int64(v))
              case .symbol(let s): d.string(2, s)
              }
            }
          }
        }
      }
    }
    if let docString { w.string(3, docString) }
  }
}

public struct ONNXGraph: Sendable {
  public var name: String
  public var nodes: [ONNXNode] = []
  public var initializers: [ONNXTensor] = []
  public var inputs: [ONNXValueInfo] = []
  public var outputs: [ONNXValueInfo] = []
  public var docString: String?

  public init(name: String) { self.name = name }

  // GraphProto: node 1, name 2, initializer 5, doc_string 10, input 11, output 12.
  func encode(_ w: inout ProtobufWriter) {
    for node in nodes { w.message(1) { node.encode(&$0) } }
    w.string(2, name)
    for tensor in initializers { w.message(5) { tensor.encode(&$0) } }
    if let docString { w.string(10, docString) }
    for input in inputs { w.message(11) { input.encode(&$0) } }
    for output in outputs { w.message(12) { output.encode(&$0) } }
  }
}

public struct ONNXModel: Sendable {
  /// IR version 8 goes with opsets 17 and 18.
  public var irVersion: Int = 8
  public var opset: Int = 17
  public var producerName = "isnetc"
  public var producerVersion = "1"
  public var docString: String?
  public var metadata: [(key: String, value: String)] = []
  public var graph: ONNXGraph

  public init(graph: ONNXGraph) { self.graph = graph }

  // ModelProto: ir_version 1, producer_name 2, producer_version 3, doc_string 6, graph 7,
  // opset_import 8, metadata_props 14. OperatorSetIdProto: domain 1, version 2.
  public func encoded() -> [UInt8] {
    var w = ProtobufWriter()
    w.int(1, Int64(irVersion))
    w.string(2, producerName)
    w.string(3, producerVersion)
    if let docString { w.string(6, docString) }
    w.message(7) { graph.encode(&$0) }
    w.message(8) { set in
      set.string(1, "")
      set.int(2, Int64(opset))
    }
    for entry in metadata {
      w.message(14) { e in
        e.string(1, entry.key)
        e.string(2, entry.value)
      }
    }
    return w.bytes
  }
}
