import Foundation
import Testing
import TesseraCore

@Suite struct ScratchTests {
    @Test func smallerSteps() throws {
        for loss in [TwoTowerLoss.sampledSoftmax, .bpr] {
            for normalize in [true, false] {
                let model = try TwoTowerModelTests.model(loss: loss, normalize: normalize)
                for step: Float in [1e-2, 3e-3, 1e-3] {
                    let checker = GradientCheck(step: step, tolerance: 2e-2, floor: 0.1, maxCoordinates: 400)
                    let r = try TowerTestSupport.checkGradients(model, batch: TwoTowerModelTests.batch, rows: TwoTowerModelTests.rows(model), checker: checker)
                    print("scratch \(loss) \(normalize) h=\(step): max \(r.maxError) worst \(r.worst!)")
                }
            }
        }
    }
}
