import ArgumentParser
import Foundation
import TesseraCore
import TesseraRPC

struct Query: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ask a running cluster for a user's top-k items (Recommend over gRPC).")

    @Option(help: "The scheduler's host:port.")
    var scheduler: String

    @Option(help: "User id, as in the training data (may be omitted with --recent for a sequence model).")
    var user = ""

    @Option(help: "The user's recent items, oldest first (repeatable): a sequence model's query.")
    var recent: [String] = []

    @Option(help: "The scenario the request comes from.")
    var scenario = ""

    @Option(name: .short, help: "How many items.")
    var k = 10

    @Option(help: "Item ids never to return (repeatable).")
    var exclude: [String] = []

    @Flag(help: "Also return items the user interacted with in training.")
    var includeSeen = false

    @Option(help: "Deadline in seconds.")
    var timeout = 10.0

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var security: SecurityOptions

    func run() async throws {
        var request = Tessera_V1_RecommendRequest()
        guard !user.isEmpty || !recent.isEmpty else { throw ValidationError("give --user, --recent, or both") }
        request.userID = user
        request.recentItemIds = recent
        request.scenario = scenario
        request.k = UInt32(clamping: max(0, k))
        request.excludeItemIds = exclude
        request.includeSeen = includeSeen
        let client = InferenceClient(channel: try GRPCChannel(target: scheduler, security: try security.resolve().client))
        let response: Tessera_V1_RecommendResponse
        do {
            response = try await client.recommend(request, options: CallOptions(timeout: .seconds(timeout)))
        } catch let error as RPCError {
            throw UserError(description: "Recommend failed: \(error)")
        }
        if json {
            print(try response.jsonString())
            return
        }
        let who = user.isEmpty ? "recent items \(recent.joined(separator: ","))" : "user \(user)"
        print("\(who), model version \(response.modelVersion)\(response.popularityFallback ? " (unknown user: most popular items)" : "")")
        print("rank  item        score")
        for (rank, item) in response.items.enumerated() {
            let rankText = String(rank + 1)
            print(String(repeating: " ", count: max(0, 4 - rankText.count)) + rankText + "  "
                  + item.itemID.padding(toLength: max(10, item.itemID.count), withPad: " ", startingAt: 0) + "  "
                  + String(format: "%.4f", item.score))
        }
    }
}

struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a recommendations file (`user rank item score` lines) against held-out interactions.",
        discussion: """
            Uses the same metric code as training-time evaluation, so lists from any tool \
            (e.g. implicit, written by bench/implicit_bpr.py) are judged identically. The lists \
            must already exclude each user's training (and validation) items. Users with \
            held-out items but no list count as zero.
            """)

    @Option(help: "Recommendations file.")
    var recs: String

    @Option(help: "Held-out interactions (CSV with user,item columns, as `tessera split` writes).")
    var test: String

    @Option(help: "Column of user ids in the held-out file.")
    var userColumn = "user"

    @Option(help: "Column of item ids in the held-out file.")
    var itemColumn = "item"

    @Option(name: .short, help: "Cut-off of the metrics.")
    var k = 10

    @Option(help: "Training interactions (same columns): adds catalogue coverage and novelty beside accuracy.")
    var train: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let columns = ColumnNames(user: userColumn, item: itemColumn, rating: nil, timestamp: nil)
        let heldOut = try DataReader.read(DataSource(path: test, format: .auto, columns: columns))
        let recommendations = try RecommendationFile.read(from: URL(fileURLWithPath: recs))
        let pairs = heldOut.interactions.map { (user: heldOut.rawID(for: $0.user), item: heldOut.rawID(for: $0.item)) }
        var result = try RecommendationFile.evaluate(recs: recommendations, heldOut: pairs, k: k)
        if let train {
            // Beyond accuracy over the catalogue of the training and held-out data.
            let trained = try DataReader.read(DataSource(path: train, format: .auto, columns: columns))
            var index: [String: Int] = [:]
            var counts: [Int] = []
            func position(_ id: String) -> Int {
                if let known = index[id] { return known }
                index[id] = counts.count
                counts.append(0)
                return counts.count - 1
            }
            for interaction in trained.interactions { counts[position(trained.rawID(for: interaction.item))] += 1 }
            for interaction in heldOut.interactions { _ = position(heldOut.rawID(for: interaction.item)) }
            let catalogue = counts.count
            let lists = recommendations.values.map { $0.prefix(k).map(position) }
            result.metrics["coverage@\(k)"] = Double(Set(lists.joined().filter { $0 < catalogue }).count) / Double(max(1, catalogue))
            let users = Set(trained.interactions.map(\.user)).count
            result.metrics["novelty@\(k)"] = BeyondAccuracy.novelty(lists: lists.map { $0.filter { $0 < counts.count } },
                                                                     trainCounts: counts, trainUserCount: max(1, users))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            var object = result.metrics
            object["users"] = Double(result.users)
            print(String(decoding: try encoder.encode(object), as: UTF8.self))
        } else {
            print("users \(result.users)")
            for key in result.metrics.keys.sorted() {
                print(key.padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: "%.4f", result.metrics[key] ?? 0))
            }
        }
    }
}

struct Split: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the train/valid/test split a config produces, as CSV files, for other tools.",
        discussion: "Writes OUT/train.csv, OUT/valid.csv and OUT/test.csv with header user,item,rating,timestamp (raw ids).")

    @OptionGroup var config: ConfigOptions

    @Option(help: "Output folder.")
    var out: String

    func run() async throws {
        let resolved = try config.load()
        let data = try PreparedData.load(resolved.data, split: resolved.split)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for (name, part) in [("train", data.train), ("valid", data.valid), ("test", data.test)] {
            try InteractionWriter.write(part, names: data.names, to: "\(out)/\(name).csv")
            print("\(out)/\(name).csv: \(part.count) interactions")
        }
    }
}
