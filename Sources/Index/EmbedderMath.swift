/// Vectorised element-wise functions of the encoder (8 lanes; the compiler maps them onto SSE/AVX registers).
enum EmbedderMath {
    typealias V = SIMD8<Float>

    /// e^x, Cephes-style: x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial for e^r (≈1 ulp), 2^n by exponent bits.
    /// Inputs are clamped to [-87.3, 88.3] (e^-87.3 ≈ 1e-38: negligible beside the 1 a softmax row always holds).
    @inline(__always)
    static func exp(_ x0: V) -> V {
        let x = x0.clamped(lowerBound: V(repeating: -87.3), upperBound: V(repeating: 88.3))
        let magic = V(repeating: 12582912) // 1.5 · 2^23: adding it rounds to an integer held in the low bits
        let nm = x * 1.44269504088896341 + magic
        let n = nm - magic
        var r = x - n * 0.693359375
        r = r - n * -2.12194440e-4
        let z = r * r
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let er = p * z + r + 1
        // n + 127 sits in the low mantissa bits of nm (n is within ±128 after the clamp).
        let bits = (unsafeBitCast(nm, to: SIMD8<UInt32>.self) &+ 127) & 0xff
        let scale = unsafeBitCast(bits &<< 23, to: V.self)
        return er * scale
    }

    /// GELU with the error function: 0.5·x·(1 + erf(x/√2)); erf by Abramowitz–Stegun 7.1.26 (|error| ≤ 1.5e-7).
    @inline(__always)
    static func gelu(_ x: V) -> V {
        let z = x * 0.70710678118654752440
        let a = unsafeBitCast(unsafeBitCast(z, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: V.self)
        let t = V(repeating: 1) / (a * 0.3275911 + V(repeating: 1))
        var p = V(repeating: 1.061405429)
        p = p * t - 1.453152027
        p = p * t + 1.421413741
        p = p * t - 0.284496736
        p = p * t + 0.254829592
        let y = V(repeating: 1) - p * t * exp(-(a * a))
        let erf = y.replacing(with: -y, where: z .< 0)
        return (erf + V(repeating: 1)) * x * V(repeating: 0.5)
    }

    /// GELU in place over `count` floats.
    static func gelu(_ p: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: gelu(v), as: V.self)
            i += 8
        }
        if i < count {
            var v = V(repeating: 0)
            for k in 0..<(count - i) { v[k] = p[i + k] }
            let g = gelu(v)
            for k in 0..<(count - i) { p[i + k] = g[k] }
        }
    }

    /// Softmax of one row in place.
    static func softmax(_ row: UnsafeMutablePointer<Float>, count n: Int) {
        var m = -Float.infinity
        for c in 0..<n where row[c] > m { m = row[c] }
        let mv = V(repeating: m)
        var sumv = V(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let e = exp(UnsafeRawPointer(row + i).loadUnaligned(as: V.self) - mv)
            UnsafeMutableRawPointer(row + i).storeBytes(of: e, as: V.self)
            sumv += e
            i += 8
        }
        var sum = sumv.sum()
        if i < n {
            var v = V(repeating: -Float.infinity)
            for k in 0..<(n - i) { v[k] = row[i + k] }
            let e = exp(v - mv)
            for k in 0..<(n - i) { row[i + k] = e[k]; sum += e[k] }
        }
        let inv = 1 / sum
        for c in 0..<n { row[c] *= inv }
    }
}
