/// Reading source files: from disk for the CLI, from memory for tests.

import Foundation

public struct LoadError: Error, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message }
}

public protocol SourceLoader: Sendable {
  func read(_ path: String) throws(LoadError) -> [UInt8]
}

/// Largest source file accepted; a model is a few kilobytes.
let maximumSourceBytes = 64 << 20

public struct FileSystemLoader: SourceLoader {
  public init() {}

  public func read(_ path: String) throws(LoadError) -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw LoadError("no such file")
    }
    guard !isDirectory.boolValue else { throw LoadError("is a directory") }
    guard let handle = FileHandle(forReadingAtPath: path) else { throw LoadError("cannot be read") }
    defer { try? handle.close() }
    guard let data = try? handle.read(upToCount: maximumSourceBytes + 1) else {
      return []
    }
    guard data.count <= maximumSourceBytes else {
      throw LoadError("is larger than \(maximumSourceBytes >> 20) MiB")
    }
    return [UInt8](data)
  }
}

public struct InMemoryLoader: SourceLoader {
  public var files: [String: String]
  public init(_ files: [String: String]) { self.files = files }

  public func read(_ path: String) throws(LoadError) -> [UInt8] {
    guard let text = files[path] else { throw LoadError("no such file") }
    return Array(text.utf8)
  }
}

/// `path` as seen from the file `importer`: relative paths start at its directory.
func resolveImport(_ path: String, from importer: String) -> String {
  guard !path.hasPrefix("/") else { return normalize(path) }
  let directory = importer.split(separator: "/", omittingEmptySubsequences: false).dropLast()
  let joined = directory.isEmpty ? path : directory.joined(separator: "/") + "/" + path
  return normalize(joined)
}

/// Removes "." segments and folds "dir/.." so one file has one name.
func normalize(_ path: String) -> String {
  var parts: [Substring] = []
  for part in path.split(separator: "/", omittingEmptySubsequences: false) {
    if part == "." || (part.isEmpty && !parts.isEmpty) { continue }
    if part == "..", let last = parts.last, last != "..", !last.isEmpty {
      parts.removeLast()
    } else {
      parts.append(part)
    }
  }
  return parts.joined(separator: "/")
}
