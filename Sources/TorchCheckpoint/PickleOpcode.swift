/// Pickle opcodes by byte, with their names for messages. The machine implements the ones
/// `torch.save` emits (protocol 2, or 4 with `pickle_protocol=4`) and the plain-data ones next
/// to them; the rest are known by name only, so an error can say which one was met.

enum PickleOpcode: UInt8 {
  // Protocol 2 and 4 framing and control.
  case proto = 0x80, frame = 0x95, stop = 0x2E, mark = 0x28, pop = 0x30, popMark = 0x31, dup = 0x32
  // Constants and numbers.
  case none = 0x4E, newTrue = 0x88, newFalse = 0x89
  case binInt = 0x4A, binInt1 = 0x4B, binInt2 = 0x4D, long1 = 0x8A, long4 = 0x8B, binFloat = 0x47
  // Strings and bytes.
  case binUnicode = 0x58, shortBinUnicode = 0x8C, binUnicode8 = 0x8D
  case binString = 0x54, shortBinString = 0x55
  case binBytes = 0x42, shortBinBytes = 0x43, binBytes8 = 0x8E
  // Containers.
  case emptyTuple = 0x29, tuple = 0x74, tuple1 = 0x85, tuple2 = 0x86, tuple3 = 0x87
  case emptyList = 0x5D, append = 0x61, appends = 0x65, list = 0x6C
  case emptyDict = 0x7D, setItem = 0x73, setItems = 0x75, dict = 0x64
  // The memo.
  case binPut = 0x71, longBinPut = 0x72, memoize = 0x94, binGet = 0x68, longBinGet = 0x6A
  // Objects: globals (allow-listed), their application, persistent ids.
  case global = 0x63, stackGlobal = 0x93, reduce = 0x52, build = 0x62, newObj = 0x81, binPersId = 0x51

  // Known, never implemented: protocol 0 text forms, sets, instances, extensions, buffers.
  case int = 0x49, long = 0x4C, float = 0x46, string = 0x53, unicode = 0x56, put = 0x70, get = 0x67
  case persId = 0x50, inst = 0x69, obj = 0x6F, newObjEx = 0x92, emptySet = 0x8F, addItems = 0x90
  case frozenSet = 0x91, ext1 = 0x82, ext2 = 0x83, ext4 = 0x84, byteArray8 = 0x96
  case nextBuffer = 0x97, readonlyBuffer = 0x98

  /// The name Python's pickletools gives it.
  var name: String {
    switch self {
    case .proto: "PROTO"
    case .frame: "FRAME"
    case .stop: "STOP"
    case .mark: "MARK"
    case .pop: "POP"
    case .popMark: "POP_MARK"
    case .dup: "DUP"
    case .none: "NONE"
    case .newTrue: "NEWTRUE"
    case .newFalse: "NEWFALSE"
    case .binInt: "BININT"
    case .binInt1: "BININT1"
    case .binInt2: "BININT2"
    case .long1: "LONG1"
    case .long4: "LONG4"
    case .binFloat: "BINFLOAT"
    case .binUnicode: "BINUNICODE"
    case .shortBinUnicode: "SHORT_BINUNICODE"
    case .binUnicode8: "BINUNICODE8"
    case .binString: "BINSTRING"
    case .shortBinString: "SHORT_BINSTRING"
    case .binBytes: "BINBYTES"
    case .shortBinBytes: "SHORT_BINBYTES"
    case .binBytes8: "BINBYTES8"
    case .emptyTuple: "EMPTY_TUPLE"
    case .tuple: "TUPLE"
    case .tuple1: "TUPLE1"
    case .tuple2: "TUPLE2"
    case .tuple3: "TUPLE3"
    case .emptyList: "EMPTY_LIST"
    case .append: "APPEND"
    case .appends: "APPENDS"
    case .list: "LIST"
    case .emptyDict: "EMPTY_DICT"
    case .setItem: "SETITEM"
    case .setItems: "SETITEMS"
    case .dict: "DICT"
    case .binPut: "BINPUT"
    case .longBinPut: "LONG_BINPUT"
    case .memoize: "MEMOIZE"
    case .binGet: "BINGET"
    case .longBinGet: "LONG_BINGET"
    case .global: "GLOBAL"
    case .stackGlobal: "STACK_GLOBAL"
    case .reduce: "REDUCE"
    case .build: "BUILD"
    case .newObj: "NEWOBJ"
    case .binPersId: "BINPERSID"
    case .int: "INT"
    case .long: "LONG"
    case .float: "FLOAT"
    case .string: "STRING"
    case .unicode: "UNICODE"
    case .put: "PUT"
    case .get: "GET"
    case .persId: "PERSID"
    case .inst: "INST"
    case .obj: "OBJ"
    case .newObjEx: "NEWOBJ_EX"
    case .emptySet: "EMPTY_SET"
    case .addItems: "ADDITEMS"
    case .frozenSet: "FROZENSET"
    case .ext1: "EXT1"
    case .ext2: "EXT2"
    case .ext4: "EXT4"
    case .byteArray8: "BYTEARRAY8"
    case .nextBuffer: "NEXT_BUFFER"
    case .readonlyBuffer: "READONLY_BUFFER"
    }
  }
}
