// Malformed programs and the exact errors they give: message and position (the marker).
// Each program is small and shows one mistake; programs with several markers show that
// the compiler recovers and reports each mistake once, and nothing that follows from it.

import GraphIR
import ModelLang
import Testing

@Suite struct LexingDiagnostics {
  @Test func unexpectedCharacter() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = 1️⃣#relu(input);
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "unexpected character '#'"])
  }

  @Test func nonASCIICharacterIsNamedAndTheStatementGivesNoSecondError() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1], n: int = 2 1️⃣× 3) {
        x = relu(input);
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "unexpected character '×' (U+00D7)"])
  }

  @Test func binaryGarbageIsOneErrorPerRun() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = relu(input); 1️⃣\u{01}\u{02}\u{7F}\u{1B} 2️⃣\u{00}
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "unexpected byte 0x01 (and 3 more bad bytes)",
        "2️⃣": "unexpected byte 0x00",
      ])
  }

  @Test func unterminatedStringIsTheOnlyError() {
    // The string runs to the end of its line; the missing ';' that follows is a consequence.
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = relu(input) @ 1️⃣"act;
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "unterminated string: missing closing '\"'"])
  }

  @Test func unterminatedBlockCommentIsTheOnlyError() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = relu(input);  1️⃣/* the head:
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "unterminated comment: '/*' has no closing '*/'"])
  }

  @Test func integerTooLarge() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1], classes: int = 1️⃣99999999999999999999) {
        return linear(global_avgpool(input), out: classes) @ "fc";
      }
      """, ["1️⃣": "integer '99999999999999999999' is too large (at most 9223372036854775807)"])
  }

  @Test func floatOutOfRange() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = bn(input, eps: 1️⃣1e999) @ "bn";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "number '1e999' is out of range"])
  }

  @Test func twoDotsAreNotARangeOperator() {
    // '..' is not a token; the repeat is skipped as a whole (through its '}') and the next
    // statement's error is still found.
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = input;
        repeat i in 11️⃣..3 { x = relu(x); }
        y = 2️⃣;
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "unexpected character '.' (and 1 more bad byte)",
        "2️⃣": "expected a value, found ';'",
      ])
  }
}

@Suite struct SyntaxDiagnostics {
  @Test func missingSemicolonPointsAtTheNextToken() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = relu(input)
        1️⃣return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "expected ';' after the assignment, found 'return'"])
  }

  @Test func missingCloseParenthesis() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = relu(input1️⃣;
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "expected ')' to close the arguments of 'relu', found ';'"])
  }

  @Test func missingCloseBraceAtEndOfFileNotesTheOpenBrace() {
    let source = """
      model m(input: f32[3, 8, 8] in [0, 1]) 2️⃣{
        x = relu(input);
        return linear(global_avgpool(x), out: 2) @ "fc";
      1️⃣
      """
    assertDiagnostics(source.replacingMarker("2️⃣"), ["1️⃣": "expected '}' to close the body, found end of file"])
    let (compilation, markers) = compileMarked(source)
    #expect(compilation.log.diagnostics.first?.notes.map(\.message) == ["to match this opening '{'"])
    #expect(compilation.log.diagnostics.first?.notes.first?.location?.offset == markers["2️⃣"])
  }

  @Test func missingCloseBraceBeforeTheNextDeclaration() {
    assertDiagnostics(
      """
      block unit(x) {
        return relu(x);

      1️⃣model m(input: f32[3, 8, 8] in [0, 1]) {
        return linear(global_avgpool(unit(input)), out: 2) @ "fc";
      }
      """, ["1️⃣": "expected '}' to close the body before 'model'"])
  }

  @Test func unknownType() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1], classes: 1️⃣integer = 3) {
        return linear(global_avgpool(input), out: classes) @ "fc";
      }
      """, ["1️⃣": "unknown type 'integer' (expected int, float, bool, tensor or f32[...])"])
  }

  @Test func keywordAsVariableAndParameterName() {
    assertDiagnostics(
      """
      block unit(x, 1️⃣in: int) { return x; }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        2️⃣int = 3;
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "expected a parameter name, found keyword 'in'",
        "2️⃣": "expected a variable name, found keyword 'int'",
      ])
  }

  @Test func keywordCannotStartAStatement() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        1️⃣tensor x;
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """, ["1️⃣": "'tensor' cannot start a statement"])
  }

  @Test func statementStartingWithANumber() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        1️⃣3 = relu(input);
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """, ["1️⃣": "expected a statement (name = value;, return, repeat or scope), found number '3'"])
  }

  @Test func labelMustBeAString() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = relu(input) @ 1️⃣act;
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "expected a label string after '@', found 'act'"])
  }

  @Test func labelOnlyFollowsACall() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = input 1️⃣@ "in";
        y = (relu(input)) 2️⃣@ "act";
        return linear(global_avgpool(y), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "a label can only follow a call, like conv(...) @ \"conv1\"",
        "2️⃣": "a label can only follow a call, like conv(...) @ \"conv1\"",
      ])
  }

  @Test func braceInLabelWithoutClosingBrace() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = relu(input) @ "act1️⃣{1";
        y = relu(x) @ "act2️⃣}";
        return linear(global_avgpool(y), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "'{' in a label has no closing '}'",
        "2️⃣": "'}' in a label has no opening '{'",
      ])
  }

  @Test func badLabelExpressions() {
    // Errors inside `{...}` point into the string; the hole ends at '}', not at end of file.
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = relu(input) @ "a{1️⃣}";
        y = relu(x) @ "b{1 2️⃣2}";
        z = relu(y) @ "c{3 +3️⃣}";
        return linear(global_avgpool(z), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "expected a value, found '}'",
        "2️⃣": "unexpected number '2' in label expression",
        "3️⃣": "expected a value, found '}'",
      ])
  }

  @Test func scopeNeedsAString() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        scope 1️⃣features { x = relu(input); }
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """, ["1️⃣": "expected a scope name string after 'scope', found 'features'"])
  }

  @Test func unsupportedVersionAndBadOutputKind() {
    assertDiagnostics(
      """
      isnet 1️⃣2;
      model m(input: f32[3, 8, 8] in [0, 1]) -> 2️⃣softmaxx {
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "unsupported language version 2 (this is isnet 1)",
        "2️⃣": "expected 'softmax', 'sigmoid' or 'segmentation' after '->', found 'softmaxx'",
      ])
  }

  @Test func topLevelStatementIsNotADeclaration() {
    assertDiagnostics(
      """
      1️⃣x = 3;
      model m(input: f32[3, 8, 8] in [0, 1]) {
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """, ["1️⃣": "expected 'block', 'model' or 'import', found 'x'"])
  }

  @Test func severalSyntaxErrorsWithResynchronisation() {
    assertDiagnostics(
      """
      block unit(x) {
        y = relu(x) 1️⃣z;
        return 2️⃣;
      }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = unit(input 3️⃣;
        4️⃣5 = x;
        repeat i in 1...2 {
          x = relu(x)5️⃣) ;
        }
        x = global_avgpool(x);
        return linear(x, out: 2) @ "fc" 6️⃣x;
      }
      """,
      [
        "1️⃣": "expected ';' after the assignment, found 'z'",
        "2️⃣": "expected a value, found ';'",
        "3️⃣": "expected ')' to close the arguments of 'unit', found ';'",
        "4️⃣": "expected a statement (name = value;, return, repeat or scope), found number '5'",
        "5️⃣": "expected ';' after the assignment, found ')'",
        "6️⃣": "expected ';' after the returned value, found 'x'",
      ])
  }

  @Test func returnMustEndTheBody() {
    assertDiagnostics(
      """
      block unit(x) {
        1️⃣return relu(x);
        y = x;
      }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = unit(input);
        repeat i in 1...2 {
          2️⃣return linear(global_avgpool(x), out: 2) @ "fc";
        }
        scope "s" { 3️⃣return x; }
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "'return' must be the last statement of the body",
        "2️⃣": "'return' cannot be inside 'repeat'; it ends the block or model body",
        "3️⃣": "'return' cannot be inside 'scope'; it ends the block or model body",
      ])
  }
}

@Suite struct NameDiagnostics {
  @Test func unknownVariableWithDidYouMean() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = relu(1️⃣inptu);
        return linear(global_avgpool(2️⃣y), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "unknown name 'inptu'; did you mean 'input'?",
        "2️⃣": "unknown name 'y'",
      ])
  }

  @Test func unknownOpOrBlock() {
    assertDiagnostics(
      """
      block dense_layer(x) { return relu(x); }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = 1️⃣convv(input);
        x = 2️⃣dense_layr(x);
        x = 3️⃣transformer(x);
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "unknown op or block 'convv'; did you mean 'conv'?",
        "2️⃣": "unknown op or block 'dense_layr'; did you mean 'dense_layer'?",
        "3️⃣": "unknown op or block 'transformer'",
      ])
  }

  @Test func unknownAttribute() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = conv(input, out: 4, k: 3, 1️⃣strid: 2) @ "conv";
        x = relu(x, 2️⃣inplace: true);
        x = maxpool(x, k: 2, 3️⃣ceil: true);
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "conv has no attribute 'strid'; did you mean 'stride'?",
        "2️⃣": "relu has no attribute 'inplace'; it has none",
        "3️⃣": "maxpool has no attribute 'ceil'; it has 'k', 'stride', 'pad'",
      ])
  }

  @Test func attributeGivenTwice() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = conv(input, out: 4, k: 3, 1️⃣out: 8) @ "conv";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "attribute 'out' is given twice"])
  }

  @Test func blockParameterGivenTwiceOrUnknown() {
    assertDiagnostics(
      """
      block unit(x, out: int) { return conv(x, out: out, k: 1) @ "conv"; }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = unit(input, 4, 1️⃣out: 4) @ "a";
        y = unit(input, 2️⃣outs: 4) @ "b";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "parameter 'out' of block 'unit' is given twice",
        "2️⃣": "block 'unit' has no parameter 'outs'; did you mean 'out'?",
      ])
  }

  @Test func duplicateBlockParameterIsReportedAtTheDeclaration() {
    // Reported once, where it is declared, whether or not the block is called.
    assertDiagnostics(
      """
      block unit(x, 1️⃣x) { return relu(x); }
      block unused(x, n: int, 2️⃣n: int) { return x; }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        return linear(global_avgpool(unit(input, input)), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "duplicate parameter 'x' in block 'unit'",
        "2️⃣": "duplicate parameter 'n' in block 'unused'",
      ])
  }

  @Test func duplicateModelParameter() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1], classes: int = 2, 1️⃣classes: int = 3) {
        return linear(global_avgpool(input), out: classes) @ "fc";
      }
      """, ["1️⃣": "duplicate parameter 'classes' in model 'm'"])
  }

  @Test func blockNamedLikeAnOp() {
    assertDiagnostics(
      """
      block 1️⃣conv(x) { return x; }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """, ["1️⃣": "block 'conv' has the name of a built-in op"])
  }

  @Test func duplicateBlockDeclarationNotesTheFirst() {
    let source = """
      block 2️⃣unit(x) { return relu(x); }
      block 1️⃣unit(x) { return x; }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        return linear(global_avgpool(unit(input)), out: 2) @ "fc";
      }
      """
    assertDiagnostics(source.replacingMarker("2️⃣"), ["1️⃣": "block 'unit' is already declared"])
    let (compilation, markers) = compileMarked(source)
    let note = compilation.log.diagnostics.first?.notes.first
    #expect(note?.message == "previous declaration here")
    #expect(note?.location?.offset == markers["2️⃣"])
  }

  @Test func recursionBetweenTwoBlocks() {
    let source = """
      block a(x) { return 3️⃣b(x); }
      block b(x) { return 1️⃣a(x); }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        return linear(global_avgpool(2️⃣a(input)), out: 2) @ "fc";
      }
      """
    let (compilation, markers) = compileMarked(source)
    #expect(compilation.graph == nil)
    let errors = compilation.log.diagnostics
    #expect(errors.count == 1)
    #expect(errors.first?.message == "block 'a' calls itself (a -> b -> a); recursion is not allowed")
    #expect(errors.first?.location?.offset == markers["1️⃣"])
    #expect(errors.first?.notes.map(\.message) == ["in block 'b' called from here", "in block 'a' called from here"])
    #expect(errors.first?.notes.map(\.location?.offset) == [markers["3️⃣"], markers["2️⃣"]])
  }

  @Test func selfRecursion() {
    assertDiagnostics(
      """
      block loop(x) { return 1️⃣loop(relu(x)); }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        return linear(global_avgpool(loop(input)), out: 2) @ "fc";
      }
      """, ["1️⃣": "block 'loop' calls itself (loop -> loop); recursion is not allowed"])
  }

  @Test func missingRequiredAttribute() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = 1️⃣conv(input, k: 3) @ "conv";
        y = 2️⃣maxpool(input);
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "conv needs attribute 'out' (int)",
        "2️⃣": "maxpool needs attribute 'k' (int or [int, int])",
      ])
  }

  @Test func missingRequiredBlockParameterHasNoNoteAtItsOwnCall() {
    let source = """
      block unit(x, out: int, k: int = 1) { return conv(x, out: out, k: k) @ "conv"; }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = 1️⃣unit(input) @ "u";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """
    assertDiagnostics(source, ["1️⃣": "block 'unit' needs parameter 'out' (int)"])
    #expect(compileMarked(source).compilation.log.diagnostics.first?.notes.isEmpty == true)
  }

  @Test func tooManyPositionalArguments() {
    assertDiagnostics(
      """
      block unit(x, out: int) { return conv(x, out: out, k: 1) @ "conv"; }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = unit(input, 4, 1️⃣3, 2) @ "u";
        y = 2️⃣relu(input, input);
        z = conv(input, 3️⃣16, 3) @ "conv";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "block 'unit' takes 2 parameters, got 4 positional arguments",
        "2️⃣": "relu takes 1 input, got 2",
        "3️⃣": "conv takes tensors as positional arguments, got int; name attributes, like 'out: ...'",
      ])
  }

  @Test func missingImport() {
    assertDiagnostics(
      """
      import 1️⃣"blocks.isnet";
      model m(input: f32[3, 8, 8] in [0, 1]) {
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """, ["1️⃣": "cannot import 'blocks.isnet': no such file"])
  }
}

@Suite struct TypeDiagnostics {
  @Test func intAttributeGivenFloat() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = conv(input, out: 1️⃣16 / 2.0, k: 3) @ "conv";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "attribute 'out' of conv must be int, got float"])
  }

  @Test func pairGivenAThreeList() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = conv(input, out: 4, k: 1️⃣[3, 3, 3]) @ "conv";
        y = conv(input, out: 4, k: 2️⃣[3, 1.5]) @ "conv2";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "attribute 'k' of conv must be int or [int, int], got a list of 3 (int, int, int)",
        "2️⃣": "attribute 'k' of conv must be int or [int, int], got a list of 2 (int, float)",
      ])
  }

  @Test func tensorArithmetic() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = relu(input) 1️⃣+ input;
        y = input 2️⃣* 2;
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "'+' does not apply to tensors; use add(a, b) to sum tensors",
        "2️⃣": "'*' does not apply to tensors",
      ])
  }

  @Test func labelInterpolatingAFloat() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        s = 0.5;
        x = relu(input) @ "act{1️⃣s}";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "a label can only interpolate ints, got float"])
  }

  @Test func repeatBoundNotIntReportsNothingMoreAboutTheBody() {
    // `x` is first assigned in the skipped body; its later use is not a second error.
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        repeat i in 1...1️⃣2.5 { x = relu(input); }
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "a repeat bound must be an int, got float"])
  }

  @Test func boolWhereIntExpected() {
    assertDiagnostics(
      """
      block unit(x, out: int) { return conv(x, out: out, k: 1) @ "conv"; }
      model m(input: f32[3, 8, 8] in [0, 1], wide: bool = true) {
        x = conv(input, out: 1️⃣wide, k: 3) @ "conv";
        y = unit(input, out: 2️⃣true) @ "u";
        n = 3️⃣-wide;
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "attribute 'out' of conv must be int, got bool",
        "2️⃣": "parameter 'out' of block 'unit' is int, got bool",
        "3️⃣": "'-' needs a number, got bool",
      ])
  }

  @Test func operatorsNeedNumbers() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        a = true 1️⃣+ 1;
        b = [1, 2] 2️⃣* 2;
        c = 3️⃣-input;
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "'+' needs numbers, got bool and int",
        "2️⃣": "'*' needs numbers, got list and int",
        "3️⃣": "'-' needs a number, got tensor",
      ])
  }

  @Test func boolAttributeGivenInt() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = conv(input, out: 4, k: 3, bias: 1️⃣0) @ "conv";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "attribute 'bias' of conv must be bool, got int"])
  }

  @Test func modelReturningANumber() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1], classes: int = 2) {
        return 1️⃣classes;
      }
      """, ["1️⃣": "the model must return a tensor of logits, got int"])
  }

  @Test func remainderNeedsInts() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        n = 5.5 1️⃣% 2;
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """, ["1️⃣": "'%' needs ints, got float and int"])
  }

  @Test func modelParameterDefaultOfTheWrongType() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1], classes: int = 1️⃣2.5) {
        return linear(global_avgpool(input), out: classes) @ "fc";
      }
      """, ["1️⃣": "parameter 'classes' is declared int but its value is float"])
  }

  @Test func blockDefaultOfTheWrongType() {
    assertDiagnostics(
      """
      block unit(x, k: int = 1️⃣1.5) { return x; }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        return linear(global_avgpool(unit(input)), out: 2) @ "fc";
      }
      """, ["1️⃣": "default of 'k' is float, but the parameter is int"])
  }

  @Test func shapeOnABlockParameter() {
    assertDiagnostics(
      """
      block unit(1️⃣x: f32[3, 8, 8]) { return x; }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """, ["1️⃣": "only a model's input declares a shape; use 'tensor' in a block"])
  }

  @Test func modelWithoutAShapedInput() {
    assertDiagnostics(
      """
      model m(1️⃣input, classes: int = 2) {
        return linear(global_avgpool(input), out: classes) @ "fc";
      }
      """,
      [
        "1️⃣":
          "model 'm' needs exactly one input declared with its shape, like 'input: f32[3, 224, 224] in [0, 1]'"
      ])
  }
}

@Suite struct ShapeDiagnostics {
  @Test func concatOfMismatchedSpatialSizes() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        a = conv(input, out: 2, k: 3) @ "a";
        b = conv(input, out: 2, k: 1) @ "b";
        x = 1️⃣concat(a, b);
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      ["1️⃣": "concat inputs differ in size: input 1 is [2, 6, 6], input 2 is [2, 8, 8] (only channels may differ)"])
  }

  @Test func linearOnAnUnflattenedTensor() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        return 1️⃣linear(input, out: 2) @ "fc";
      }
      """, ["1️⃣": "linear needs a flat input [features], got [3, 8, 8]; flatten it first"])
  }

  @Test func addOfMismatchedShapes() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = 1️⃣add(input, conv(input, out: 3, k: 3) @ "conv");
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "add inputs differ in shape: input 1 is [3, 8, 8], input 2 is [3, 6, 6]"])
  }

  @Test func convKernelLargerThanInput() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = 1️⃣conv(input, out: 4, k: 9) @ "conv";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "conv window [9,9] (dilation [1,1]) does not fit the padded input [8,8]"])
  }

  @Test func groupsNotDividingChannels() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = 1️⃣conv(input, out: 4, k: 3, groups: 2) @ "conv";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "conv groups (2) must divide input channels (3) and output channels (4)"])
  }

  @Test func dropoutProbabilityOne() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = 1️⃣dropout(input, p: 1);
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "dropout p must be in [0, 1), got 1.0"])
  }

  @Test func opNamesAreTheOnesWritten() {
    // Messages name the op as written, a sugar op (global_avgpool) included.
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = 1️⃣bn(input, eps: 0) @ "bn";
        y = 2️⃣maxpool(input, k: 3, pad: 2);
        z = 3️⃣global_avgpool(global_avgpool(input));
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "bn eps must be positive, got 0.0",
        "2️⃣": "maxpool padding [2,2] must be at most half the kernel [3,3]",
        "3️⃣": "global_avgpool needs an image [channels, height, width], got [3]",
      ])
  }

  @Test func modelReturningAnImage() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        return 1️⃣conv(input, out: 2, k: 1) @ "conv";
      }
      """,
      [
        "1️⃣":
          "the model must return logits [classes], got [2, 8, 8]; add global_avgpool or flatten and a linear layer"
      ])
  }

  @Test func badInputSizeFromOptions() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = 1️⃣conv(input, out: 4, k: 7, stride: 2) @ "conv";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      ["1️⃣": "conv window [7,7] (dilation [1,1]) does not fit the padded input [2,2]"],
      options: CompileOptions(inputSize: Pair(2, 2)))
  }
}

@Suite struct SemanticDiagnostics {
  @Test func convWithoutLabel() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = 1️⃣conv(input, out: 4, k: 3);
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "conv owns parameters and needs a label naming them, like conv(...) @ \"conv1\""])
  }

  @Test func sameLabelTwiceNotesTheFirst() {
    let source = """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = conv(input, out: 4, k: 3) @ 2️⃣"conv";
        x = conv(x, out: 4, k: 3) @ 1️⃣"conv";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """
    assertDiagnostics(source.replacingMarker("2️⃣"), ["1️⃣": "parameters 'conv.*' are already defined"])
    let (compilation, markers) = compileMarked(source)
    #expect(compilation.log.diagnostics.first?.notes.map(\.message) == ["first defined here"])
    #expect(compilation.log.diagnostics.first?.notes.first?.location?.offset == markers["2️⃣"])
  }

  @Test func blockCalledTwiceWithTheSameLabelNamesBothCalls() {
    let source = """
      block unit(x) { return conv(x, out: 3, k: 1) @ 1️⃣"conv"; }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        scope "features" {
          x = 3️⃣unit(input) @ "layer{1}";
          x = 2️⃣unit(x) @ "layer1";
        }
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """
    assertDiagnostics(
      source.replacingMarker("2️⃣").replacingMarker("3️⃣"),
      ["1️⃣": "parameters 'features.layer1.conv.*' are already defined"])
    let (compilation, markers) = compileMarked(source)
    let notes = compilation.log.diagnostics.first?.notes ?? []
    #expect(notes.map(\.message) == ["in block 'unit' called from here", "first defined here", "in block 'unit' called from here"])
    #expect(notes.map(\.location?.offset) == [markers["2️⃣"], markers["1️⃣"], markers["3️⃣"]])
  }

  @Test func sameLabelInEveryIterationOfARepeat() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = input;
        repeat i in 1..<3 { x = conv(x, out: 3, k: 1) @ 1️⃣"conv"; }
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "parameters 'conv.*' are already defined"])
  }

  @Test func scopeWithABadLabelReportsNothingMoreAboutItsBody() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        scope 1️⃣"layer 1" {
          x = conv(input, out: 3, k: 1) @ "conv";
        }
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "label 'layer 1' must be dot-separated names of letters, digits and '_'"])
  }

  @Test func opWithoutItsInput() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = 1️⃣conv(out: 3, k: 1) @ "conv";
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "conv takes 1 input, got 0"])
  }

  @Test func badLabels() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        i = -1;
        a = relu(input) @ 1️⃣"act{i}";
        b = relu(a) @ 2️⃣"act..b";
        c = relu(b) @ 3️⃣"";
        return linear(global_avgpool(c), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "label 'act-1' must be dot-separated names of letters, digits and '_'",
        "2️⃣": "label 'act..b' must be dot-separated names of letters, digits and '_'",
        "3️⃣": "label '' must be dot-separated names of letters, digits and '_'",
      ])
  }

  @Test func noReturnInBlockOrModel() {
    assertDiagnostics(
      """
      block 1️⃣unit(x) { y = relu(x); }
      model 2️⃣m(input: f32[3, 8, 8] in [0, 1]) {
        x = unit(input);
      }
      """,
      [
        "1️⃣": "block 'unit' ends without 'return'",
        "2️⃣": "model 'm' does not return its logits (add 'return x;')",
      ])
  }

  @Test func noModel() {
    assertDiagnostics(
      """
      1️⃣block unit(x) { return relu(x); }
      """, ["1️⃣": "no model declared (expected 'model NAME(input: f32[...]) { ... }')"])
  }

  @Test func twoModels() {
    let source = """
      model 2️⃣a(input: f32[3, 8, 8] in [0, 1]) { return linear(global_avgpool(input), out: 2) @ "fc"; }
      model 1️⃣b(input: f32[3, 8, 8] in [0, 1]) { return linear(global_avgpool(input), out: 2) @ "fc"; }
      """
    assertDiagnostics(source.replacingMarker("2️⃣"), ["1️⃣": "only one model per program; 'a' is already declared"])
    let (compilation, markers) = compileMarked(source)
    #expect(compilation.log.diagnostics.first?.notes.first?.message == "'a' declared here")
    #expect(compilation.log.diagnostics.first?.notes.first?.location?.offset == markers["2️⃣"])
  }

  @Test func divisionByZero() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        a = 1 1️⃣/ 0;
        b = 7 2️⃣% (3 - 3);
        c = 1.5 3️⃣/ 0;
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "division by zero",
        "2️⃣": "remainder by zero",
        "3️⃣": "division by zero",
      ])
  }

  @Test func integerAndFloatOverflow() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        big = 9223372036854775807;
        a = big 1️⃣+ 1;
        b = big 2️⃣* 2;
        smallest = -big - 1;
        c = 3️⃣-smallest;
        d = smallest 4️⃣/ -1;
        e = 1e308 5️⃣* 10;
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "integer overflow in '+'",
        "2️⃣": "integer overflow in '*'",
        "3️⃣": "integer overflow in '-'",
        "4️⃣": "integer overflow in '/'",
        "5️⃣": "float overflow in '*'",
      ])
  }

  @Test func classesOptionWithoutClassesParameter() {
    assertDiagnostics(
      """
      model 1️⃣m(input: f32[3, 8, 8] in [0, 1], n: int = 2) {
        return linear(global_avgpool(input), out: n) @ "fc";
      }
      """, ["1️⃣": "--classes 3 given, but model 'm' has no 'classes' parameter"],
      options: CompileOptions(classes: 3))
  }

  @Test func classesOptionWithANonIntClassesParameter() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1], 1️⃣classes: float = 2) {
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """, ["1️⃣": "--classes 3 given, but parameter 'classes' of model 'm' is float, not int"],
      options: CompileOptions(classes: 3))
  }

  @Test func unusedOpIsAnError() {
    // Only the end of a dead chain is reported (the bn, not the conv feeding it).
    assertDiagnostics(
      """
      block branch(x) {
        unused = 1️⃣relu(x);
        return x;
      }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        y = conv(input, out: 4, k: 3) @ "conv";
        y = 2️⃣bn(y) @ "bn";
        x = branch(input);
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      [
        "1️⃣": "the result of 'relu' is never used: the logits do not depend on it",
        "2️⃣": "the result of 'bn' is never used: the logits do not depend on it",
      ])
  }

  @Test func loopVariableCannotBeAssigned() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = input;
        repeat j in 1...2 {
          1️⃣j = j + 1;
          x = relu(x);
        }
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """, ["1️⃣": "cannot assign to the loop variable 'j'"])
  }
}

@Suite struct LimitDiagnostics {
  @Test func parenthesesNestedTooDeep() {
    // The model body is level 1; parentheses 1...255 reach level 256; the 256th goes deeper.
    let source =
      "model m(input: f32[3, 8, 8] in [0, 1]) {\n  n = "
      + String(repeating: "(", count: 255) + "1️⃣" + String(repeating: "(", count: 10) + "1"
      + String(repeating: ")", count: 265) + ";\n"
      + "  return linear(global_avgpool(input), out: 2) @ \"fc\";\n}\n"
    assertDiagnostics(source, ["1️⃣": "nesting is too deep (more than 256 levels)"])
  }

  @Test func deepestAcceptedNesting() {
    let source =
      "model m(input: f32[3, 8, 8] in [0, 1]) {\n  n = "
      + String(repeating: "(", count: 255) + "1" + String(repeating: ")", count: 255) + ";\n"
      + "  return linear(global_avgpool(input), out: n + 1) @ \"fc\";\n}\n"
    assertDiagnostics(source, [:])
  }

  @Test func bracketsMinusesCallsAndBodiesCountOneLevelEach() {
    let head = "model m(input: f32[3, 8, 8] in [0, 1]) {\n"
    let tail = "  return linear(global_avgpool(input), out: 2) @ \"fc\";\n}\n"
    // 1 (body) + 127 brackets + 127 minuses + 1 call = 256; one more bracket is too deep.
    let deep = "  k = f(" + String(repeating: "[", count: 127) + String(repeating: "-", count: 127)
    assertDiagnostics(
      head + deep + "1️⃣[1" + String(repeating: "]", count: 128) + ");\n" + tail,
      ["1️⃣": "nesting is too deep (more than 256 levels)"])
    // 256 bodies: the model's and 255 scopes; the 256th scope's '{' is too deep.
    let scopes = String(repeating: "scope \"s\" { ", count: 255)
    assertDiagnostics(
      head + scopes + "scope \"s\" 1️⃣{ x = relu(input); }" + String(repeating: " }", count: 255) + "\n" + tail,
      ["1️⃣": "nesting is too deep (more than 256 levels)"])
  }

  @Test func blockCallChainTooDeep() {
    // b1 calls b2 ... calls b70; the call in b64 is the 65th block call active at once.
    var source = ""
    for i in 1..<70 {
      source += "block b\(i)(x) { return \(i == 64 ? "1️⃣" : "")b\(i + 1)(x); }\n"
    }
    source += "block b70(x) { return relu(x); }\n"
    source += "model m(input: f32[3, 8, 8] in [0, 1]) { return linear(global_avgpool(b1(input)), out: 2) @ \"fc\"; }\n"
    assertDiagnostics(source, ["1️⃣": "blocks are nested more than 64 calls deep"])
    let notes = compileMarked(source).compilation.log.diagnostics.first?.notes ?? []
    #expect(notes.count == 64)
    #expect(notes.first?.message == "in block 'b64' called from here")
    #expect(notes.last?.message == "in block 'b1' called from here")
  }

  @Test func errorInABlockCalledInARepeatIsReportedOnceWithANote() {
    let source = """
      block unit(x) { return 1️⃣conv(x, out: 3, k: 1); }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = input;
        repeat i in 1...5 { x = 2️⃣unit(x) @ "unit{i}"; }
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """
    assertDiagnostics(
      source.replacingMarker("2️⃣"),
      ["1️⃣": "conv owns parameters and needs a label naming them, like conv(...) @ \"conv1\""])
    let (compilation, markers) = compileMarked(source)
    #expect(compilation.log.diagnostics.count == 1)
    #expect(compilation.log.diagnostics.first?.notes.map(\.message) == ["in block 'unit' called from here"])
    #expect(compilation.log.diagnostics.first?.notes.first?.location?.offset == markers["2️⃣"])
  }

  @Test func hugeRepeatStopsAtTheStepLimit() {
    // An empty body must not loop 2^63 times.
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        repeat 1️⃣i in 0...9223372036854775807 { }
        return linear(global_avgpool(input), out: 2) @ "fc";
      }
      """, ["1️⃣": "elaboration takes more than 20000000 steps; is a repeat range too large?"])
  }

  @Test func errorsStopAtTheLimit() {
    let source =
      "model m(input: f32[3, 8, 8] in [0, 1]) {\n"
      + String(repeating: "  x = ;\n", count: 80) + "  return linear(global_avgpool(input), out: 2) @ \"fc\";\n}\n"
    let compilation = compileMarked(source).compilation
    #expect(compilation.log.diagnostics.count == DiagnosticLog.limit)
    #expect(compilation.log.truncated)
    #expect(compilation.renderedDiagnostics.hasSuffix("error: too many errors; stopping after 50\n"))
  }
}

extension String {
  /// The source with `marker` removed (for markers that only locate notes).
  func replacingMarker(_ marker: Character) -> String { filter { $0 != marker } }
}
