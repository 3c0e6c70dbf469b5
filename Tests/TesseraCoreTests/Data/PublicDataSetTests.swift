import Foundation
import Testing
import TesseraCore

/// The published data sets in `shared/data`, when present.
@Suite struct PublicDataSetTests {
    @Test(
        "MovieLens latest-small ratings.csv",
        .enabled(if: DataTestFiles.exists(DataTestFiles.movieLensRatings),
                 "shared/data/ml-latest-small/ratings.csv is absent"))
    func movieLensSmall() throws {
        let data = try DataReader.read(DataSource(path: DataTestFiles.movieLensRatings))
        #expect(data.interactions.count == 100_836)
        #expect(data.users().count == 610)
        #expect(data.items.count == 9_724)
        #expect(data.names.isEmpty)
        #expect(data.interactions.first == Interaction(user: 1, item: 1, rating: 4, timestamp: 964_982_703))
        #expect(data.interactions.allSatisfy { $0.rating >= 0.5 && $0.rating <= 5 })

        let liked = try DataReader.read(DataSource(path: DataTestFiles.movieLensRatings, minRating: 4))
        #expect(liked.interactions.count == 48_580)
        #expect(liked.items.count == 9_724)
    }

    @Test(
        "MovieLens movies.csv with quoted titles",
        .enabled(if: DataTestFiles.exists(DataTestFiles.movieLensMovies),
                 "shared/data/ml-latest-small/movies.csv is absent"))
    func movieLensTitles() throws {
        let columns = ColumnNames(user: "movieId", item: "title", rating: nil, timestamp: nil)
        let data = try DataReader.read(DataSource(path: DataTestFiles.movieLensMovies, columns: columns))
        #expect(data.interactions.count == 9_742)
        let titles = Set(data.names.values)
        #expect(titles.contains("American President, The (1995)"))
    }

    @Test(
        "Amazon games interactions.txt as pairs",
        .enabled(if: DataTestFiles.exists(DataTestFiles.amazonGames),
                 "shared/data/amazon-games/interactions.txt is absent"))
    func amazonGames() throws {
        let data = try DataReader.read(DataSource(path: DataTestFiles.amazonGames, format: .pairs))
        #expect(data.interactions.count == 287_107)
        #expect(data.users().count == 31_013)
        #expect(data.items.count == 23_715)
        // Auto-detection picks the same format.
        let detected = try DataReader.read(DataSource(path: DataTestFiles.amazonGames))
        #expect(detected.interactions == data.interactions)

        let split = InteractionSplit.leaveOneOut(data.interactions)
        // Users with at least 3 interactions get one test and one valid item.
        var counts: [UInt64: Int] = [:]
        for interaction in data.interactions { counts[interaction.user, default: 0] += 1 }
        let eligible = counts.values.filter { $0 >= 3 }.count
        #expect(eligible == 30_901)
        #expect(split.test.count == eligible && split.valid.count == eligible)
        #expect(split.train.count + split.valid.count + split.test.count == data.interactions.count)
    }
}
