import Foundation

/// Small, dependency-free SVG charts for `tessera report`: line charts and
/// grouped bar charts with axes, ticks and a legend. Output is a standalone
/// `<svg>` element (no scripts, no external assets).
///
/// Every chart is `<svg class="plot" data-plot="ID">`; a line series is a
/// `<path class="series">`, a bar a `<rect class="bar">`, so a test (or a
/// person's browser) can check that something was drawn.
public enum SVGChart {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }
    }

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    static let width = 560.0
    static let height = 300.0
    static let margin = (left: 64.0, right: 16.0, top: 34.0, bottom: 56.0)

    /// A line chart of `series` (points sorted by x), with dots at the points.
    public static func line(id: String, title: String, xLabel: String, yLabel: String, series: [Series]) -> String {
        let all = series.flatMap(\.points)
        guard !all.isEmpty else { return empty(id: id, title: title) }
        let (x0, x1) = padded(all.map(\.x).min()!, all.map(\.x).max()!, zeroBased: false)
        let (y0, y1) = padded(min(0, all.map(\.y).min()!), all.map(\.y).max()!, zeroBased: true)
        var body = axes(title: title, xLabel: xLabel, yLabel: yLabel, x: (x0, x1), y: (y0, y1))
        for (index, line) in series.enumerated() where !line.points.isEmpty {
            let color = palette[index % palette.count]
            let points = line.points.sorted { $0.x < $1.x }.map { (sx($0.x, x0, x1), sy($0.y, y0, y1)) }
            let d = points.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(f($0.element.0)),\(f($0.element.1))" }.joined(separator: " ")
            body += "<path class=\"series\" data-series=\"\(escape(line.name))\" d=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            for point in points {
                body += "<circle cx=\"\(f(point.0))\" cy=\"\(f(point.1))\" r=\"2.5\" fill=\"\(color)\"/>\n"
            }
        }
        body += legend(series.map(\.name))
        return wrap(id: id, body)
    }

    /// A grouped bar chart: one group per category, one bar per series in each group.
    public static func bars(id: String, title: String, yLabel: String, categories: [String], series: [(name: String, values: [Double])]) -> String {
        let values = series.flatMap(\.values)
        guard !categories.isEmpty, !values.isEmpty else { return empty(id: id, title: title) }
        let (y0, y1) = padded(0, max(values.max()!, 0), zeroBased: true)
        var body = axes(title: title, xLabel: "", yLabel: yLabel, x: nil, y: (y0, y1))
        let plotWidth = width - margin.left - margin.right
        let group = plotWidth / Double(categories.count)
        let barWidth = group * 0.8 / Double(max(1, series.count))
        for (c, category) in categories.enumerated() {
            let left = margin.left + Double(c) * group + group * 0.1
            for (s, bar) in series.enumerated() where c < bar.values.count {
                let top = sy(bar.values[c], y0, y1)
                let bottom = sy(0, y0, y1)
                body += "<rect class=\"bar\" data-series=\"\(escape(bar.name))\" x=\"\(f(left + Double(s) * barWidth))\" y=\"\(f(top))\" width=\"\(f(max(1, barWidth - 1)))\" height=\"\(f(max(0.5, bottom - top)))\" fill=\"\(palette[s % palette.count])\"><title>\(escape(category)) \(escape(bar.name)): \(label(bar.values[c]))</title></rect>\n"
            }
            let cx = left + group * 0.4, cy = height - margin.bottom + 14
            body += categories.count > 8
                ? "<text x=\"\(f(cx))\" y=\"\(f(cy - 4))\" font-size=\"9\" text-anchor=\"end\" transform=\"rotate(-40 \(f(cx)) \(f(cy - 4)))\">\(escape(category))</text>\n"
                : "<text x=\"\(f(cx))\" y=\"\(f(cy))\" font-size=\"10\" text-anchor=\"middle\">\(escape(category))</text>\n"
        }
        if series.count > 1 { body += legend(series.map(\.name)) }
        return wrap(id: id, body)
    }

    // MARK: Pieces

    private static func empty(id: String, title: String) -> String {
        wrap(id: id, "<text class=\"title\" x=\"\(f(width / 2))\" y=\"20\" text-anchor=\"middle\" font-weight=\"bold\">\(escape(title))</text>\n<text x=\"\(f(width / 2))\" y=\"\(f(height / 2))\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n", empty: true)
    }

    private static func wrap(id: String, _ body: String, empty: Bool = false) -> String {
        "<svg class=\"plot\(empty ? " empty" : "")\" data-plot=\"\(escape(id))\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\">\n<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#fff\"/>\n\(body)</svg>"
    }

    private static func axes(title: String, xLabel: String, yLabel: String, x: (Double, Double)?, y: (Double, Double)) -> String {
        let left = margin.left, right = width - margin.right, top = margin.top, bottom = height - margin.bottom
        var out = "<text class=\"title\" x=\"\(f(width / 2))\" y=\"20\" text-anchor=\"middle\" font-weight=\"bold\">\(escape(title))</text>\n"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(right))\" y2=\"\(f(bottom))\" stroke=\"#333\"/>\n"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(bottom))\" stroke=\"#333\"/>\n"
        for tick in ticks(y.0, y.1) {
            let py = sy(tick, y.0, y.1)
            out += "<line x1=\"\(f(left))\" y1=\"\(f(py))\" x2=\"\(f(right))\" y2=\"\(f(py))\" stroke=\"#eee\"/>\n"
            out += "<text x=\"\(f(left - 4))\" y=\"\(f(py + 3))\" font-size=\"10\" text-anchor=\"end\">\(label(tick))</text>\n"
        }
        if let x {
            for tick in ticks(x.0, x.1) {
                let px = sx(tick, x.0, x.1)
                out += "<line x1=\"\(f(px))\" y1=\"\(f(bottom))\" x2=\"\(f(px))\" y2=\"\(f(bottom + 4))\" stroke=\"#333\"/>\n"
                out += "<text x=\"\(f(px))\" y=\"\(f(bottom + 15))\" font-size=\"10\" text-anchor=\"middle\">\(label(tick))</text>\n"
            }
        }
        if !xLabel.isEmpty {
            out += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(height - 8))\" font-size=\"11\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        }
        out += "<text x=\"14\" y=\"\(f((top + bottom) / 2))\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f((top + bottom) / 2)))\">\(escape(yLabel))</text>\n"
        return out
    }

    private static func legend(_ names: [String]) -> String {
        guard names.count > 1 else { return "" }
        var out = ""
        var x = margin.left + 8
        for (index, name) in names.enumerated() {
            out += "<rect x=\"\(f(x))\" y=\"\(f(margin.top - 4))\" width=\"10\" height=\"10\" fill=\"\(palette[index % palette.count])\"/>"
            out += "<text x=\"\(f(x + 14))\" y=\"\(f(margin.top + 5))\" font-size=\"10\">\(escape(name))</text>\n"
            x += 24 + Double(name.count) * 6
        }
        return out
    }

    private static func sx(_ value: Double, _ low: Double, _ high: Double) -> Double {
        margin.left + (value - low) / (high - low) * (width - margin.left - margin.right)
    }

    private static func sy(_ value: Double, _ low: Double, _ high: Double) -> Double {
        height - margin.bottom - (value - low) / (high - low) * (height - margin.top - margin.bottom)
    }

    private static func padded(_ low: Double, _ high: Double, zeroBased: Bool) -> (Double, Double) {
        if high > low { return zeroBased ? (low, high * 1.05) : (low, high) }
        return (low - 1, high + 1)
    }

    /// About five round tick values between `low` and `high`.
    static func ticks(_ low: Double, _ high: Double) -> [Double] {
        let span = high - low
        guard span > 0, span.isFinite else { return [low] }
        let raw = span / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var tick = ceil(low / step) * step
        var out: [Double] = []
        while tick <= high + step * 1e-9, out.count < 20 {
            out.append(tick)
            tick += step
        }
        return out
    }

    static func label(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1e9 { return String(format: "%.3gG", value / 1e9) }
        if magnitude >= 1e6 { return String(format: "%.3gM", value / 1e6) }
        if magnitude >= 1e4 { return String(format: "%.3gk", value / 1e3) }
        if magnitude >= 100 { return String(format: "%.0f", value) }
        if magnitude == 0 || magnitude >= 0.01 { return String(format: "%.3g", value) }
        return String(format: "%.2e", value)
    }

    private static func f(_ value: Double) -> String {
        String(format: "%.1f", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
