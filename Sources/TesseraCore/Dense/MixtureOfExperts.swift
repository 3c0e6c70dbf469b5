/// Multi-gate mixture of experts (MMoE, Ma et al. 2018): shared expert MLPs, one softmax
/// gate per task, each task's output the gated sum of the experts.
///
///     e_k = Expert_k(x)                   k = 0 ..< experts
///     g_t = softmax(x · W_tᵀ + b_t)        t = 0 ..< tasks
///     out_t = Σ_k g_t[k] · e_k
///
/// Input `batch x inputs`; each task output `batch x expertSizes.last`. Experts are MLPs
/// with every layer activated (including the last, as in the MMoE paper's ReLU experts) and
/// dropout after hidden layers. With `tasks == 1`
/// it is a plain (single-gate) mixture of experts. Task towers on top of `out_t` are the
/// model's own `MLP`s. Parameters: `"\(name).expert.\(k).*"`, `"\(name).gate.\(t).*"`.
public struct MixtureOfExperts: Sendable, Hashable {
    /// The shared experts.
    public let experts: [MLP]
    /// One gate per task.
    public let gates: [SoftmaxGate]

    /// What `backward` needs.
    public struct Cache: Sendable {
        let experts: [MLP.Cache]
        let expertOutputs: [Matrix]
        /// Per task, its gate cache (with the gate values).
        public let gates: [SoftmaxGate.Cache]
    }

    /// Registers `experts` MLPs (`[inputs] + expertSizes`) and `tasks` gates under `name`.
    /// Preconditions: `experts >= 1`, `tasks >= 1`, `expertSizes` non-empty.
    public init(
        _ name: String, inputs: Int, expertSizes: [Int], experts: Int, tasks: Int,
        activation: Activation = .relu, dropout: Float = 0, layout: inout ParameterLayout
    ) {
        precondition(experts >= 1 && tasks >= 1 && !expertSizes.isEmpty, "MMoE needs experts, tasks and expert sizes")
        self.experts = (0..<experts).map { k in
            MLP("\(name).expert.\(k)", sizes: [inputs] + expertSizes, activation: activation,
                activateOutput: true, dropout: dropout, layout: &layout)
        }
        gates = (0..<tasks).map { t in
            SoftmaxGate("\(name).gate.\(t)", inputs: inputs, experts: experts, layout: &layout)
        }
    }

    /// One output per task for `x`.
    public func forward(_ x: Matrix, parameters: [Float], mode: ForwardMode = .inference) -> (outputs: [Matrix], cache: Cache) {
        var expertCaches: [MLP.Cache] = []
        var expertOutputs: [Matrix] = []
        for (k, expert) in experts.enumerated() {
            let (e, ce) = expert.forward(x, parameters: parameters, mode: mode.derived(UInt64(k)))
            expertOutputs.append(e)
            expertCaches.append(ce)
        }
        var outputs: [Matrix] = []
        var gateCaches: [SoftmaxGate.Cache] = []
        for gate in gates {
            let (g, cg) = gate.forward(x, parameters: parameters)
            outputs.append(SoftmaxGate.mix(gates: g, experts: expertOutputs))
            gateCaches.append(cg)
        }
        return (outputs, Cache(experts: expertCaches, expertOutputs: expertOutputs, gates: gateCaches))
    }

    /// Returns `dx` for per-task upstream gradients and accumulates experts' and gates'
    /// parameter gradients. Precondition: `dOutputs.count == gates.count`.
    public func backward(_ dOutputs: [Matrix], cache: Cache, parameters: [Float], gradients: inout [Float]) -> Matrix {
        precondition(dOutputs.count == gates.count, "\(dOutputs.count) task gradients for \(gates.count) tasks")
        var dExperts: [Matrix]? = nil
        var dx: Matrix? = nil
        for (t, gate) in gates.enumerated() {
            let (dg, de) = SoftmaxGate.mixBackward(dOutputs[t], gates: cache.gates[t].gates, experts: cache.expertOutputs)
            if dExperts == nil {
                dExperts = de
            } else {
                for k in de.indices { dExperts![k].add(de[k]) }
            }
            let dxGate = gate.backward(dg, cache: cache.gates[t], parameters: parameters, gradients: &gradients)
            if dx == nil { dx = dxGate } else { dx!.add(dxGate) }
        }
        for (k, expert) in experts.enumerated() {
            dx!.add(expert.backward(dExperts![k], cache: cache.experts[k], parameters: parameters, gradients: &gradients))
        }
        return dx!
    }
}
