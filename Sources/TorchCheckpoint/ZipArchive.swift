/// Read-only access to a zip archive through libzip: the record names and a record's bytes.
/// libzip checks the archive's consistency on open and each record's CRC while reading it,
/// so a truncated or corrupt checkpoint fails here with libzip's reason.

import CZip
import TensorFiles

final class ZipArchive {
  let path: String
  private let handle: OpaquePointer
  /// Record names in archive order.
  let names: [String]
  /// The archive's size on disk, the bound for stored (uncompressed) records.
  private let fileSize: UInt64

  init(path: String, fileSize: Int) throws(TensorFileError) {
    self.path = path
    self.fileSize = UInt64(fileSize)
    var code: Int32 = 0
    guard let handle = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code) else {
      var error = zip_error_t()
      zip_error_init_with_code(&error, code)
      defer { zip_error_fini(&error) }
      throw TensorFileError(file: path, "not a readable zip archive (truncated file?): \(String(cString: zip_error_strerror(&error)))")
    }
    self.handle = handle
    let count = zip_get_num_entries(handle, 0)
    var names = [String]()
    for index in 0..<max(count, 0) {
      guard let name = zip_get_name(handle, zip_uint64_t(index), zip_flags_t(ZIP_FL_ENC_RAW)) else {
        zip_discard(handle)
        throw TensorFileError(file: path, "zip record \(index) has no readable name")
      }
      names.append(String(cString: name))
    }
    self.names = names
  }

  deinit { zip_discard(handle) }

  /// The whole contents of the record `name`.
  func contents(of name: String) throws(TensorFileError) -> [UInt8] {
    let index = zip_name_locate(handle, name, zip_flags_t(ZIP_FL_ENC_RAW))
    guard index >= 0 else { throw TensorFileError(file: path, "the zip archive has no record '\(name)'") }
    var stat = zip_stat_t()
    zip_stat_init(&stat)
    guard zip_stat_index(handle, zip_uint64_t(index), 0, &stat) == 0, stat.valid & zip_uint64_t(ZIP_STAT_SIZE) != 0 else {
      throw TensorFileError(file: path, "zip record '\(name)': \(lastError())")
    }
    // A stored record cannot be larger than the archive; deflate expands at most ~1032 times.
    let limit = stat.comp_method == ZIP_CM_STORE ? fileSize : fileSize.multipliedReportingOverflow(by: 1032).partialValue
    guard stat.size <= limit, stat.size <= UInt64(Int.max) else {
      throw TensorFileError(file: path, "zip record '\(name)' claims \(stat.size) bytes, more than the archive can hold")
    }
    guard let file = zip_fopen_index(handle, zip_uint64_t(index), 0) else {
      throw TensorFileError(file: path, "zip record '\(name)': \(lastError())")
    }
    defer { zip_fclose(file) }
    let size = Int(stat.size)
    var bytes = [UInt8](repeating: 0, count: size)
    var filled = 0
    while filled < size {
      let n = bytes.withUnsafeMutableBytes { raw in
        zip_fread(file, raw.baseAddress! + filled, zip_uint64_t(size - filled))
      }
      guard n > 0 else {
        let reason = n < 0 ? String(cString: zip_error_strerror(zip_file_get_error(file))) : "it ends early"
        throw TensorFileError(file: path, "zip record '\(name)' cannot be read after \(filled) of \(size) bytes: \(reason)")
      }
      filled += Int(n)
    }
    // Reading past the end makes libzip compare the record's CRC.
    var extra: UInt8 = 0
    let tail = zip_fread(file, &extra, 1)
    guard tail == 0 else {
      let reason = tail < 0 ? String(cString: zip_error_strerror(zip_file_get_error(file))) : "it is longer than its header says"
      throw TensorFileError(file: path, "zip record '\(name)' is corrupt: \(reason)")
    }
    return bytes
  }

  private func lastError() -> String {
    String(cString: zip_error_strerror(zip_get_error(handle)))
  }
}
