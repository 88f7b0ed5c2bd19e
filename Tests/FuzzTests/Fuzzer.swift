import Foundation

/// A small mutation fuzzer, deterministic from its seed: each round takes an input of the
/// corpus (`Corpus/<name>/`, kept in the repository) and mutates it 1–8 times (bit flips,
/// byte changes, inserts of bytes that parsers care about, deletions, truncation, duplicated
/// or spliced chunks, deep nesting), then hands it to the parser. A parser that traps ends the
/// test process, which fails the run; each check also reports what its parser broke of its
/// promises.
///
/// `WSSCALE_FUZZ_ITERATIONS` sets the rounds per parser (300 by default: a few seconds in
/// CI, beside every other suite); `WSSCALE_FUZZ_SEED` changes the seed, for a longer hunt by
/// hand (`WSSCALE_FUZZ_ITERATIONS=100000 WSSCALE_FUZZ_SEED=7 swift test --filter ParserFuzzTests`).
struct Fuzzer {
    /// Rounds per parser.
    static var iterations: Int {
        ProcessInfo.processInfo.environment["WSSCALE_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 300
    }

    /// The seed of every run.
    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["WSSCALE_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5eed_f00d
    }

    /// Bytes parsers give meaning to.
    static let interesting: [[UInt8]] = [
        Array("\"".utf8), Array("\\".utf8), Array("{".utf8), Array("}".utf8), Array("[".utf8), Array("]".utf8),
        Array(":".utf8), Array(",".utf8), Array("\n".utf8), Array("\r\n".utf8), Array(" ".utf8), Array("\t".utf8),
        Array(";".utf8), Array("#".utf8), Array("%".utf8), Array("@".utf8), Array("/".utf8), Array("=".utf8),
        Array("-1".utf8), Array("0".utf8), Array("99999999999999999999".utf8), Array("1e309".utf8),
        Array("null".utf8), Array("\\u0000".utf8), Array("\\ud800".utf8), [0x00], [0xff], [0xc3], [0xe2, 0x82],
        [0x7f], [0x80], [0xfe, 0xff],
    ]

    private var state: UInt64
    private let corpus: [[UInt8]]
    private let maxNesting: Int

    /// A fuzzer over the corpus folder `name`.
    /// - Parameter maxNesting: the deepest nesting a mutation adds (JSON parsers get 100,000).
    init(corpus name: String, maxNesting: Int = 1000, filePath: String = #filePath) {
        self.maxNesting = maxNesting
        let folder = URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("Corpus/\(name)")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.sorted() ?? []
        corpus = files.compactMap { try? Data(contentsOf: folder.appendingPathComponent($0)) }.map { Array($0) }
        state = Self.seed ^ name.utf8.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) }
    }

    /// Runs `check` on every seed of the corpus `name`, then on `iterations` mutants, on a
    /// thread of its own: a CPU-bound loop must not hold one of the few threads that the async
    /// tests running beside it share (it starved their timers in a full run).
    /// - Returns: the problems `check` reported (at most 20), each with its input.
    static func hunt(corpus name: String, maxNesting: Int = 1000, filePath: String = #filePath,
                     _ check: @escaping @Sendable ([UInt8]) -> String?) async -> [String] {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var fuzzer = Fuzzer(corpus: name, maxNesting: maxNesting, filePath: filePath)
                var problems: [String] = fuzzer.corpus.isEmpty ? ["the corpus folder \(name) is empty"] : []
                func record(_ input: [UInt8]) {
                    guard problems.count < 20, let problem = check(input) else { return }
                    problems.append("\(problem) (input: \(String(decoding: input.prefix(200), as: UTF8.self).debugDescription))")
                }
                for seed in fuzzer.corpus { record(seed) }
                for _ in 0..<Self.iterations { record(fuzzer.mutant()) }
                continuation.resume(returning: problems)
            }
        }
    }

    /// One mutated input.
    mutating func mutant() -> [UInt8] {
        var bytes = corpus.isEmpty ? [] : corpus[next(corpus.count)]
        for _ in 0...next(8) { mutate(&bytes) }
        return bytes
    }

    private mutating func mutate(_ bytes: inout [UInt8]) {
        switch next(9) {
        case 0 where !bytes.isEmpty:  // flip a bit
            bytes[next(bytes.count)] ^= UInt8(1) << UInt8(next(8))
        case 1 where !bytes.isEmpty:  // any byte
            bytes[next(bytes.count)] = UInt8(truncatingIfNeeded: next(256))
        case 2:  // insert an interesting token
            bytes.insert(contentsOf: Self.interesting[next(Self.interesting.count)], at: next(bytes.count + 1))
        case 3 where !bytes.isEmpty:  // delete a run
            let start = next(bytes.count)
            bytes.removeSubrange(start..<min(bytes.count, start + 1 + next(8)))
        case 4 where !bytes.isEmpty:  // truncate
            bytes.removeLast(next(bytes.count))
        case 5 where !bytes.isEmpty:  // duplicate a chunk, sometimes many times
            let start = next(bytes.count)
            let chunk = Array(bytes[start..<min(bytes.count, start + 1 + next(16))])
            let copies = next(4) == 0 ? 1 + next(1000) : 1
            bytes.insert(contentsOf: Array(repeating: chunk, count: copies).joined(), at: next(bytes.count + 1))
        case 6 where corpus.count > 1:  // splice with another seed
            let other = corpus[next(corpus.count)]
            bytes = Array(bytes.prefix(next(bytes.count + 1))) + Array(other.suffix(next(other.count + 1)))
        case 7:  // deep nesting
            let depth = 1 + next(maxNesting)
            let open: UInt8 = next(2) == 0 ? UInt8(ascii: "[") : UInt8(ascii: "{")
            bytes.insert(contentsOf: Array(repeating: open, count: depth), at: next(bytes.count + 1))
        default:  // a random byte anywhere
            bytes.insert(UInt8(truncatingIfNeeded: next(256)), at: next(bytes.count + 1))
        }
    }

    /// SplitMix64: a uniform number in `0..<bound`.
    private mutating func next(_ bound: Int) -> Int {
        guard bound > 1 else { return 0 }
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        z ^= z >> 31
        return Int(z % UInt64(bound))
    }
}
