import ArgumentParser
import TesseraCore

/// `--metrics HOST:PORT|off` for the member roles (the scheduler reads `metrics:` from its config).
struct MetricsOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Serve Prometheus metrics at http://HOST:PORT/metrics (port 0: the OS picks), or 'off'.",
                               valueName: "HOST:PORT"))
    var metrics = "127.0.0.1:0"

    func settings() throws -> MetricsSettings {
        if metrics == "off" { return MetricsSettings(enabled: false) }
        guard let colon = metrics.lastIndex(of: ":"), let port = Int(metrics[metrics.index(after: colon)...]),
              (0...65_535).contains(port) else {
            throw ValidationError("--metrics: expected HOST:PORT or 'off', got '\(metrics)'")
        }
        return MetricsSettings(enabled: true, host: String(metrics[..<colon]), port: port)
    }
}
