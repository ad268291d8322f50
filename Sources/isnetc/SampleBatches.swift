/// Reads the command line's inputs and hands them on in batches of at most `batch`
/// samples (a tensor file may hold several), with a progress bar; errors name the file.
func forEachBatch(
  _ inputs: [String], reader: InputReader, batch: Int, label: String,
  _ body: ([LoadedSample]) throws -> Void
) throws {
  var pending: [LoadedSample] = []
  let progress = Progress(total: inputs.count, label: label)
  func flush() throws {
    guard !pending.isEmpty else { return }
    do { try body(pending) } catch { throw fail(error) }
    pending.removeAll()
  }
  for (index, path) in inputs.enumerated() {
    let samples: [LoadedSample]
    do { samples = try reader.read(path) } catch { throw fail(error) }
    for sample in samples {
      pending.append(sample)
      if pending.count == batch { try flush() }
    }
    progress.update(index + 1)
  }
  try flush()
  progress.finish()
}
