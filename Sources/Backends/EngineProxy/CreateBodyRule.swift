import Foundation

/// One engine's create-body rule (`DockerCreateBodyRule`, `LibpodCreateBodyRule`): which
/// fields a create body may have and with which values, an allow-list. What every engine's
/// rule shares is written once in the extension: the size bound, reading the body as JSON,
/// encoding the checked value again for the engine (so it never reads a field the rule did
/// not see: no JSON escapes, duplicate keys or case-folded key spellings get past), the
/// refusal of unlisted fields, and the checks of the image, command, environment names,
/// labels and stop timeout. Pure.
protocol CreateBodyRule {
    /// The pool's rules (image, command, network, publish address, labels).
    var policy: EngineProxyPolicy { get }

    /// Throws an `EngineProxyRefusal` naming the first field or value outside the rule.
    func checkFields(_ fields: [String: JSONValue]) throws
}

extension CreateBodyRule {
    /// The body to send on (the checked value encoded again), or why not.
    func check(_ body: Data) -> Result<Data, EngineProxyRefusal> {
        guard !body.isEmpty, body.count <= EngineProxyPolicy.maximumBodyBytes else {
            return .failure(EngineProxyRefusal("must be a JSON object of at most \(EngineProxyPolicy.maximumBodyBytes) bytes"))
        }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: body), let fields = value.object else {
            return .failure(EngineProxyRefusal("is not a JSON object"))
        }
        do {
            try checkFields(fields)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return .success(try encoder.encode(value))
        } catch let refusal as EngineProxyRefusal {
            return .failure(refusal)
        } catch {
            return .failure(EngineProxyRefusal("cannot be encoded again: \(error)"))
        }
    }

    /// Refuses the first field of `fields` outside `allowed`, naming it.
    func onlyFields(_ fields: [String: JSONValue], _ allowed: Set<String>, in place: String) throws {
        if let extra = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw EngineProxyRefusal("\(place) may not set \"\(extra)\" (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    /// `field` must be an object; its members.
    func object(_ value: JSONValue, _ field: String) throws -> [String: JSONValue] {
        guard let members = value.object else { throw EngineProxyRefusal("\(field) must be an object") }
        return members
    }

    /// The image: exactly the configured one.
    func checkImage(_ value: JSONValue?, field: String) throws {
        guard value?.string == policy.image else {
            throw EngineProxyRefusal("\(field) must be \"\(policy.image)\"")
        }
    }

    /// The command: exactly the configured one; absent or `null` when none is configured.
    func checkCommand(_ value: JSONValue?, field: String) throws {
        switch (value, policy.command) {
        case (nil, nil), (.null?, nil): break
        case let (command?, expected?) where command.strings == expected: break
        default: throw EngineProxyRefusal("\(field) must be \(policy.command.map { "\($0)" } ?? "absent (the image's own)")")
        }
    }

    /// The environment's variable names (`nil`: not in the engine's form): at most 256, each
    /// non-empty without `=` or NUL.
    func checkEnvironmentNames(_ names: [String]?, field: String, form: String) throws {
        guard let names, names.count <= 256,
              names.allSatisfy({ !$0.isEmpty && !$0.contains("=") && !$0.contains("\u{0}") }) else {
            throw EngineProxyRefusal("\(field) must be at most 256 \(form)")
        }
    }

    /// The labels: exactly the pool's fixed ones (`ContainerLabel.fixed`), an instance id and
    /// a port; returns the port they name.
    func checkLabels(_ labels: JSONValue?, field: String) throws -> Int {
        guard let labels = labels?.object else {
            throw EngineProxyRefusal("\(field) must name the pool (\(ContainerLabel.pool)=\(policy.pool)), the instance and its port")
        }
        let fixed = ContainerLabel.fixed(pool: policy.pool, composeProject: policy.composeProject)
        try onlyFields(labels, Set(fixed.keys).union([ContainerLabel.instance, ContainerLabel.port]), in: field)
        for (name, value) in fixed.sorted(by: { $0.key < $1.key }) where labels[name]?.string != value {
            throw EngineProxyRefusal("the label \(name) must be \"\(value)\"")
        }
        guard let instance = labels[ContainerLabel.instance]?.string, ContainerDriver.isValidName(instance) else {
            throw EngineProxyRefusal("the label \(ContainerLabel.instance) must be an instance id")
        }
        guard let port = labels[ContainerLabel.port]?.string, let number = Int(port), (1...65535).contains(number), String(number) == port else {
            throw EngineProxyRefusal("the label \(ContainerLabel.port) must be a port number")
        }
        return number
    }

    /// The stop timeout, when given: whole seconds in 0…3600.
    func checkStopTimeout(_ value: JSONValue?, field: String) throws {
        if let value {
            guard let seconds = value.integer, (0...3600).contains(seconds) else {
                throw EngineProxyRefusal("\(field) must be whole seconds in 0…3600")
            }
        }
    }

    /// `true` or `false`, when given.
    func checkFlag(_ value: JSONValue?, field: String) throws {
        if let value {
            guard case .bool = value else { throw EngineProxyRefusal("\(field) must be true or false") }
        }
    }
}
