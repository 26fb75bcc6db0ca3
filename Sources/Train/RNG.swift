import Foundation

/// The deterministic random generator of training and sampling: xoshiro256** (Blackman & Vigna), seeded by
/// expanding a 64-bit seed with splitmix64. Normals come from the Box–Muller transform in Double (both values
/// of a pair are used). The full state (four words plus a cached normal) is saved in checkpoints so a resumed
/// run draws the same numbers as an uninterrupted one.
public struct Xoshiro256: Codable, Equatable, Sendable {
    /// The four state words.
    public var s: [UInt64]
    /// The second normal of the last Box–Muller pair, not yet drawn.
    public var spareNormal: Double?

    /// A generator seeded from `seed` (expanded with splitmix64).
    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = [splitmix(), splitmix(), splitmix(), splitmix()]
        spareNormal = nil
    }

    @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = Xoshiro256.rotl(s[1] &* 5, 7) &* 9
        let t = s[1] << 17
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]
        s[2] ^= t
        s[3] = Xoshiro256.rotl(s[3], 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform integer in 0..<n (n > 0), by rejection (no modulo bias).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let r = next()
            if r < limit { return Int(r % bound) }
        }
    }

    /// Standard normal.
    public mutating func normal() -> Double {
        if let z = spareNormal { spareNormal = nil; return z }
        var u1 = uniform()
        while u1 <= 0 { u1 = uniform() }
        let u2 = uniform()
        let r = (-2 * Foundation.log(u1)).squareRoot()
        spareNormal = r * sin(2 * Double.pi * u2)
        return r * cos(2 * Double.pi * u2)
    }
}
