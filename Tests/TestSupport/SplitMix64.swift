// The tests draw their seeded inputs from the project's own generator.
@_exported import SeededRandom
