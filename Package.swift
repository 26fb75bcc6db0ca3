// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "pipeline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pipeline", targets: ["CLI"]),
        // libFuzzer targets over the parsers of untrusted bytes (`make fuzz`); a plain build prints how to use it.
        .executable(name: "pipeline-fuzz", targets: ["Fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C libraries, found through pkg-config; each has a one-line shim header and a module map.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        .systemLibrary(name: "CPoppler", pkgConfig: "poppler-glib",
                       providers: [.apt(["libpoppler-glib-dev"]), .brew(["poppler"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]),
        // SHA-256 from the system's OpenSSL libcrypto (no second copy of a crypto library compiled here).
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"]), .brew(["openssl"])]),

        .target(name: "CShims"),
        // The bottom layer: artifacts, records, the stage contract; knows no stage.
        .target(name: "Core", dependencies: [
            "CZstd", "CShims", "CCrypto",
            .product(name: "Logging", package: "swift-log"),
            argumentParser,
        ], swiftSettings: optimizedInDebug),
        // Orchestration: pipeline.toml, the stage registry, the runner and the report; only the CLI uses it
        // (TOMLKit lives here).
        .target(name: "Orchestration", dependencies: [
            "Core", "Ingest", "Dedup", "GSM8K", "Decontaminate", "Tokenize", "Index", "Train", "Metrics",
            .product(name: "TOMLKit", package: "TOMLKit"),
            argumentParser,
        ]),
        .target(name: "Ingest", dependencies: ["Core", "CPoppler", argumentParser]),
        // Exact and MinHash near-duplicate removal, identical to datatrove's (spaCy's English words, XXH64).
        .target(name: "Dedup", dependencies: ["Core", argumentParser], swiftSettings: optimizedInDebug),
        // GSM8K's domain: rows → records, the prompt format, answer extraction, the four rewards, synth-gsm8k.
        .target(name: "GSM8K", dependencies: ["Core", argumentParser], swiftSettings: optimizedInDebug),
        // `pipeline decontaminate`: evaluation n-grams against the training texts (reads GSM8K's records).
        .target(name: "Decontaminate", dependencies: ["Core", "GSM8K", argumentParser],
                swiftSettings: optimizedInDebug),
        .target(name: "Tokenize", dependencies: ["Core", argumentParser], swiftSettings: optimizedInDebug),
        .target(name: "Index", dependencies: ["Core", "Tokenize", "CSQLite", "COpenBLAS", argumentParser],
                swiftSettings: optimizedInDebug),
        // CKernels: few-row matrix products for decoding steps (C, AVX2+FMA chosen at run time).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "Train", dependencies: ["Core", "GSM8K", "Tokenize", "Metrics", "COpenBLAS", "CKernels",
                                              argumentParser],
                swiftSettings: optimizedInDebug),
        .target(name: "Metrics", dependencies: ["Core"], swiftSettings: optimizedInDebug),
        .executableTarget(name: "CLI", dependencies: [
            "Core", "Orchestration", "Ingest", "Dedup", "GSM8K", "Decontaminate", "Tokenize", "Index", "Train",
            "Metrics",
            argumentParser,
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "Fuzz", dependencies: ["Core", "Ingest", "Tokenize", "Index", "Train"]),

        .testTarget(name: "CoreTests", dependencies: ["Core"]),
        .testTarget(name: "OrchestrationTests",
                    dependencies: ["Orchestration", "Core", "Ingest", "Dedup", "GSM8K", "Decontaminate", "Tokenize",
                                   "Index", "Train", "Metrics"]),
        .testTarget(name: "IngestTests", dependencies: ["Ingest", "Core"], exclude: ["Fixtures"]),
        .testTarget(name: "DedupTests", dependencies: ["Dedup", "Core"], exclude: ["Fixtures"]),
        .testTarget(name: "GSM8KTests", dependencies: ["GSM8K", "Core"], exclude: ["Fixtures"]),
        .testTarget(name: "DecontaminateTests", dependencies: ["Decontaminate", "GSM8K", "Core"]),
        .testTarget(name: "TokenizeTests", dependencies: ["Tokenize", "Core"], exclude: ["Fixtures"]),
        .testTarget(name: "IndexTests", dependencies: ["Index", "Core", "Tokenize"], exclude: ["Fixtures"]),
        .testTarget(name: "TrainTests", dependencies: ["Train", "GSM8K", "Metrics", "Core"], exclude: ["Fixtures"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "Core"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)

/// The numeric modules are optimised in debug builds too, so `swift test` runs the conformance fixtures and the
/// end-to-end run in seconds rather than minutes (a root-package flag; testability is kept).
var optimizedInDebug: [SwiftSetting] { [.unsafeFlags(["-O"], .when(configuration: .debug))] }

/// Every stage declares its options as swift-argument-parser types (the CLI and pipeline.toml derive from them).
var argumentParser: Target.Dependency { .product(name: "ArgumentParser", package: "swift-argument-parser") }
