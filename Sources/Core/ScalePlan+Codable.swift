/// JSON form of a plan for the balancer's API: the same field names as the Swift properties.
extension ScalePlan: Codable {
    private enum CodingKeys: String, CodingKey {
        case activate, launch, drain, shed, remove, reasons
    }

    /// Decodes a plan; missing parts mean "nothing".
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            activate: try container.decodeIfPresent([InstanceID].self, forKey: .activate) ?? [],
            launch: try container.decodeIfPresent(Int.self, forKey: .launch) ?? 0,
            drain: try container.decodeIfPresent([InstanceID].self, forKey: .drain) ?? [],
            shed: try container.decodeIfPresent([ShedOrder].self, forKey: .shed) ?? [],
            remove: try container.decodeIfPresent([InstanceID].self, forKey: .remove) ?? [],
            reasons: try container.decodeIfPresent([String].self, forKey: .reasons) ?? []
        )
    }

    /// Encodes every part of the plan.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(activate, forKey: .activate)
        try container.encode(launch, forKey: .launch)
        try container.encode(drain, forKey: .drain)
        try container.encode(shed, forKey: .shed)
        try container.encode(remove, forKey: .remove)
        try container.encode(reasons, forKey: .reasons)
    }
}
