/// The parameter table as text (`isnetc compile --emit params`): one tensor per line,
/// `name  shape  role  elements`, in node order.

extension Graph {
  public var parameterTable: String {
    let table = parameters
    let nameWidth = table.map(\.name.count).max() ?? 0
    let shapeWidth = table.map { shapeText($0.shape).count }.max() ?? 0
    var out = ""
    for parameter in table {
      let shape = shapeText(parameter.shape)
      out += parameter.name + String(repeating: " ", count: nameWidth - parameter.name.count + 2)
      out += shape + String(repeating: " ", count: shapeWidth - shape.count + 2)
      out += parameter.role.rawValue.padding(14) + grouped(parameter.elementCount) + "\n"
    }
    return out
  }
}

extension String {
  func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(1, width - count)) }
}
