/// Reading a whole file into memory and writing one atomically (temporary file in the same
/// directory, fsync, rename), with errors that name the file. POSIX only, no Foundation.

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

private func errnoText() -> String { String(cString: strerror(errno)) }

/// The whole contents of `path`.
func readFileBytes(_ path: String) throws -> [UInt8] {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  if fd < 0 { throw ImageError(file: path, "cannot open: \(errnoText())") }
  defer { close(fd) }
  var info = stat()
  if fstat(fd, &info) != 0 { throw ImageError(file: path, "cannot stat: \(errnoText())") }
  if (info.st_mode & S_IFMT) == S_IFDIR { throw ImageError(file: path, "is a directory, not an image") }
  var bytes = [UInt8]()
  bytes.reserveCapacity(max(Int(info.st_size), 0))
  var chunk = [UInt8](repeating: 0, count: 1 << 16)
  while true {
    let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n < 0 {
      if errno == EINTR { continue }
      throw ImageError(file: path, "read failed: \(errnoText())")
    }
    if n == 0 { break }
    bytes.append(contentsOf: chunk[0..<n])
  }
  return bytes
}

/// Replaces `path` with `bytes` atomically: a killed run leaves the old file or the new one.
func writeFileBytesAtomically(_ bytes: [UInt8], to path: String) throws {
  let slash = path.lastIndex(of: "/")
  let directory = slash.map { String(path[...$0]) } ?? ""
  let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
  var temporary = ""
  var fd: Int32 = -1
  for _ in 0..<16 {
    temporary = "\(directory).\(base).tmp-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    if fd >= 0 || errno != EEXIST { break }
  }
  if fd < 0 { throw ImageError(file: path, "cannot create a temporary file next to it: \(errnoText())") }
  var failure: String?
  bytes.withUnsafeBytes { raw in
    var offset = 0
    while offset < raw.count {
      let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
      if n < 0 {
        if errno == EINTR { continue }
        failure = "write failed: \(errnoText())"
        return
      }
      offset += n
    }
  }
  if failure == nil, fsync(fd) != 0 { failure = "fsync failed: \(errnoText())" }
  if close(fd) != 0, failure == nil { failure = "close failed: \(errnoText())" }
  if failure == nil, rename(temporary, path) != 0 { failure = "cannot rename the temporary file over it: \(errnoText())" }
  if let failure {
    unlink(temporary)
    throw ImageError(file: path, failure)
  }
  let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
  if dirFD >= 0 {
    _ = fsync(dirFD)
    close(dirFD)
  }
}
