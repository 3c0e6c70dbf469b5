import Foundation
import Testing
import TesseraCore

@Suite struct RecommendationFileTests {
    let lists = [
        RecommendationList(user: "42", items: ["318", "50", "B00005N5PF"], scores: [3.1416, 2.5, -1e-05]),
        RecommendationList(user: "alice", items: ["7"], scores: [0]),
    ]

    @Test func formatIsOneLinePerRank() throws {
        let text = try RecommendationFile.format(lists)
        #expect(text == "42 1 318 3.1416\n42 2 50 2.5\n42 3 B00005N5PF -1e-05\nalice 1 7 0.0\n")
    }

    @Test func roundTrip() throws {
        let url = EvalSupport.temporaryFile("recs.txt")
        defer { try? FileManager.default.removeItem(at: url) }
        try RecommendationFile.write(lists, to: url)
        #expect(try RecommendationFile.readLists(from: url) == lists)
        #expect(try RecommendationFile.read(from: url) == ["42": ["318", "50", "B00005N5PF"], "alice": ["7"]])
    }

    @Test func interleavedUsersCRLFAndBlankLines() throws {
        let parsed = try RecommendationFile.parse("1 1 a 0.5\r\n2 1 b 1\n\n1 2 c 0.25\n")
        #expect(parsed == [
            RecommendationList(user: "1", items: ["a", "c"], scores: [0.5, 0.25]),
            RecommendationList(user: "2", items: ["b"], scores: [1]),
        ])
    }

    @Test(arguments: [
        ("1 1 a", "recs.txt:2:"),                       // three fields
        ("1 1 a 0.5 x", "recs.txt:2:"),                 // five fields
        ("1  1 a 0.5", "single spaces"),                // double space
        ("1\t1 a 0.5", "single spaces"),                // tab
        ("1 0 a 0.5", "not a positive integer"),
        ("1 x a 0.5", "not a positive integer"),
        ("1 2 b abc", "not a number"),
        ("1 1 b 0.5", "duplicate rank 1 for user 1 (first on line 1)"),
        ("1 3 b 0.5", "follows rank 1"),                // skips rank 2
        ("2 2 b 0.5", "follows rank 0"),                // first rank is not 1
        ("1 2 a 0.5", "item a appears twice for user 1"),
    ])
    func malformedLineIsRejected(line: String, message: String) {
        do {
            _ = try RecommendationFile.parse("1 1 a 0.9\n" + line + "\n", file: "recs.txt")
            Issue.record("accepted \"\(line)\"")
        } catch {
            #expect(error.code == .malformedFile)
            #expect(error.message.hasPrefix("recs.txt:2: "), "\(error.message)")
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func missingFileAndBadIDsThrow() {
        #expect(throws: EvaluationError.self) { try RecommendationFile.read(from: EvalSupport.temporaryFile("absent")) }
        let bad = [RecommendationList(user: "a b", items: ["1"], scores: [1])]
        #expect(throws: EvaluationError.self) { try RecommendationFile.format(bad) }
    }

    @Test func evaluateByHand() throws {
        // a: relevant {x}, list [x, z] → hit at 1: recall 1, NDCG 1, MRR 1, precision 1/2.
        // b: relevant {y, w}, no list → zeros. c: list but nothing held out → ignored.
        let recs = ["a": ["x", "z"], "c": ["y"]]
        let heldOut = [(user: "a", item: "x"), (user: "b", item: "y"), (user: "b", item: "w"), (user: "a", item: "x")]
        let result = try RecommendationFile.evaluate(recs: recs, heldOut: heldOut, k: 2)
        #expect(result.users == 2)
        #expect(result.metrics == ["recall@2": 0.5, "ndcg@2": 0.5, "hit@2": 0.5, "mrr@2": 0.5, "precision@2": 0.25])
        #expect(throws: EvaluationError.self) { try RecommendationFile.evaluate(recs: recs, heldOut: heldOut, k: 0) }
    }

    @Test func evaluateAgreesWithEvaluator() throws {
        let data = EvalSupport.randomSplit(users: 50, items: 40, seed: 31)
        let s = EvaluationSet(items: data.items, train: data.train, heldOut: data.test, extraMask: data.valid)
        var rng = SplitMix64(seed: 8)
        let dim = 3
        let users = EvalSupport.integerVectors(count: s.users.count * dim, rng: &rng)
        let vectors = EvalSupport.integerVectors(count: data.items.count * dim, rng: &rng)
        let direct = try FullRankingEvaluator(k: 10)
            .evaluate(s, userVectors: users, itemVectors: vectors, dim: dim, keepLists: true)

        // Export, write, read back, and judge the file.
        let url = EvalSupport.temporaryFile("agree.txt")
        defer { try? FileManager.default.removeItem(at: url) }
        try RecommendationFile.write(RecommendationList.lists(from: direct.lists!, of: s), to: url)
        let recs = try RecommendationFile.read(from: url)
        let viaKeys = try RecommendationFile.evaluate(recs: recs, heldOut: data.test, k: 10)
        let viaStrings = try RecommendationFile.evaluate(
            recs: recs, heldOut: data.test.map { (user: String($0.user), item: String($0.item)) }, k: 10)
        #expect(direct.users > 20)
        #expect(viaKeys.users == direct.users)
        #expect(EvalSupport.close(viaKeys.metrics, direct.metrics, 1e-12))
        #expect(EvalSupport.close(viaStrings.metrics, direct.metrics, 1e-12))
    }
}
