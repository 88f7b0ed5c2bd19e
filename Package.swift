// swift-tools-version:6.0
import PackageDescription

/// wsscale: scales WebSocket servers horizontally by their number of persistent connections.
///
/// Layout (fixed): `Sources/Core` is pure policy and protocols, `Sources/Backends`
/// holds one folder per backend plus the HAProxy and Redis adapters, `Sources/Server`
/// is the WebSocket server. `Sources/Client` is the client simulator, `Sources/Balancer`
/// the balancer's HTTP API and wiring, `Sources/LocalStack` what `wsscale up` runs around it,
/// `Sources/CurlHTTP` the HTTP client, `Sources/API` the client simulator's JSON,
/// `Sources/Dashboard` the web page over both (port 8489), `Sources/wsscale` the executable.

let package = Package(
    name: "wsscale",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "wsscale", targets: ["wsscale"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // MARK: System libraries (Debian packages named in `providers`)
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis", pkgConfig: "hiredis",
                       providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSystemd", path: "Sources/CSystemd", pkgConfig: "libsystemd",
                       providers: [.apt(["libsystemd-dev"])]),
        /// Typed, non-variadic wrappers around libcurl's variadic calls.
        .target(name: "CCurlShim", dependencies: ["CCurl"], path: "Sources/CCurlShim"),

        // MARK: The scaler: configuration, policy, protocols, control loop. No I/O.
        .target(
            name: "WSScaleCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Core"
        ),

        // MARK: The HTTP client of the engine APIs and the dashboard: libcurl, over a unix socket or TCP
        .target(
            name: "WSScaleCurlHTTP",
            dependencies: [
                "WSScaleCore", "CCurl", "CCurlShim",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/CurlHTTP"
        ),

        // MARK: Backends (process, docker, podman, systemd) and adapters (HAProxy, Redis)
        .target(
            name: "WSScaleBackends",
            dependencies: [
                "WSScaleCore", "WSScaleCurlHTTP", "CHiredis", "CSystemd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Backends",
            exclude: ["EngineProxy/README.md"]
        ),

        // MARK: The bounds every HTTP listener keeps (request deadline, connection bound)
        .target(
            name: "WSScaleListeners",
            dependencies: [
                "WSScaleCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Listeners"
        ),

        // MARK: The JSON of the client simulator's API, shared with its callers (the dashboard)
        .target(
            name: "WSScaleAPI",
            dependencies: ["WSScaleCore"],
            path: "Sources/API"
        ),

        // MARK: The WebSocket server (SwiftNIO channel handlers on the hot path)
        .target(
            name: "WSScaleServer",
            dependencies: [
                "WSScaleCore", "WSScaleListeners", "CSystemd",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Server"
        ),

        // MARK: The client simulator (users that connect through the load balancer)
        .target(
            name: "WSScaleClient",
            dependencies: [
                "WSScaleCore", "WSScaleAPI", "WSScaleListeners",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Client"
        ),

        // MARK: The balancer's HTTP API and the wiring of the control loop
        .target(
            name: "WSScaleBalancer",
            dependencies: [
                "WSScaleCore", "WSScaleBackends", "WSScaleListeners",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Balancer"
        ),

        // MARK: `wsscale up`: redis-server and HAProxy as supervised children, beside the balancer
        .target(
            name: "WSScaleLocalStack",
            dependencies: [
                "WSScaleCore", "WSScaleBackends", "WSScaleBalancer",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/LocalStack"
        ),

        // MARK: The dashboard: a web page over the balancer's and the client simulator's APIs
        .target(
            name: "WSScaleDashboard",
            dependencies: [
                "WSScaleCore", "WSScaleCurlHTTP", "WSScaleAPI", "WSScaleListeners",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Dashboard"
        ),

        // MARK: The executable: parses arguments and wires services together
        .executableTarget(
            name: "wsscale",
            dependencies: [
                "WSScaleCore", "WSScaleBackends", "WSScaleServer", "WSScaleClient", "WSScaleBalancer",
                "WSScaleLocalStack", "WSScaleDashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/wsscale"
        ),

        // MARK: Benchmarks (see bench/README.md)
        .executableTarget(
            name: "ConnectionBench",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "bench/Sources/ConnectionBench"
        ),

        .executableTarget(
            name: "ScalingBench",
            dependencies: [
                "WSScaleCore", "WSScaleTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "bench/Sources/ScalingBench"
        ),

        .executableTarget(
            name: "BurstBench",
            dependencies: [
                "WSScaleCore", "WSScaleTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "bench/Sources/BurstBench"
        ),

        // MARK: Tests, beside what they test
        /// Shared test helpers: free ports, real redis-server / haproxy / wsscale processes.
        .target(
            name: "WSScaleTestSupport",
            dependencies: [
                "WSScaleCore", "WSScaleBackends",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/Support"
        ),
        .testTarget(
            name: "CoreTests",
            dependencies: [
                "WSScaleCore", "WSScaleTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/CoreTests"
        ),
        .testTarget(
            name: "APITests",
            dependencies: ["WSScaleAPI", "WSScaleCore"],
            path: "Tests/APITests"
        ),
        .testTarget(
            name: "CurlHTTPTests",
            dependencies: [
                "WSScaleCurlHTTP", "WSScaleTestSupport", "WSScaleCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/CurlHTTPTests"
        ),
        .testTarget(
            name: "BackendsTests",
            dependencies: [
                "WSScaleTestSupport",
                "WSScaleCore", "WSScaleBackends", "WSScaleCurlHTTP", "CHiredis", "CCurl", "CCurlShim", "CSystemd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/BackendsTests"
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "WSScaleTestSupport",
                "WSScaleCore", "WSScaleServer", "WSScaleBackends", "WSScaleListeners",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Tests/ServerTests"
        ),
        .testTarget(
            name: "ClientTests",
            dependencies: [
                "WSScaleTestSupport", "WSScaleCore", "WSScaleAPI", "WSScaleClient", "WSScaleListeners",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/ClientTests"
        ),
        .testTarget(
            name: "BalancerTests",
            dependencies: [
                "WSScaleCore", "WSScaleBalancer", "WSScaleLocalStack", "WSScaleTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/BalancerTests"
        ),
        .testTarget(
            name: "LocalStackTests",
            dependencies: [
                "WSScaleCore", "WSScaleBackends", "WSScaleLocalStack", "WSScaleTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/LocalStackTests"
        ),
        .testTarget(
            name: "FuzzTests",
            dependencies: [
                "WSScaleCore", "WSScaleBackends", "WSScaleServer", "WSScaleAPI", "WSScaleClient", "WSScaleDashboard", "WSScaleBalancer",
                "WSScaleLocalStack",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Tests/FuzzTests",
            exclude: ["Corpus"]
        ),
        .testTarget(
            name: "DashboardTests",
            dependencies: ["WSScaleCore", "WSScaleAPI", "WSScaleClient", "WSScaleDashboard",
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            path: "Tests/DashboardTests"
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "WSScaleTestSupport", "WSScaleCore", "WSScaleBackends", "WSScaleClient", "WSScaleDashboard",
                "WSScaleServer", "WSScaleBalancer", "WSScaleLocalStack",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Tests/IntegrationTests"
        ),
    ]
)
