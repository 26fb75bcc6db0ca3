/// numpy's legacy `np.random.RandomState(seed)`: the MT19937 generator and `randint(low, high, dtype=np.uint64)`,
/// bit for bit (masked rejection sampling, as the legacy generator draws). datatrove's `MinhashDedupSignature`
/// draws its permutation parameters this way.
public struct LegacyRandom {
    private var state = [UInt32](repeating: 0, count: 624)
    private var position = 624

    /// `RandomState(seed)` for an integer seed (numpy's `mt19937_seed`).
    public init(seed: UInt32) {
        state[0] = seed
        for i in 1..<624 {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
    }

    /// The next 32-bit output of MT19937.
    public mutating func next32() -> UInt32 {
        if position >= 624 { twist() }
        var y = state[position]
        position += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
            state[i] = state[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : 0x9908_B0DF)
        }
        position = 0
    }

    /// Two outputs, the first as the high half (numpy's `mt19937_next64`).
    public mutating func next64() -> UInt64 {
        let high = UInt64(next32())
        return high << 32 | UInt64(next32())
    }

    /// `randint(low, high, size=count, dtype=np.uint64)`: uniform in `low..<high`. Only ranges wider than 32 bits
    /// are drawn here (the legacy generator draws narrower ones 32 bits at a time).
    public mutating func randint(_ low: UInt64, _ high: UInt64, count: Int) -> [UInt64] {
        let range = high - 1 - low
        precondition(range > UInt64(UInt32.max), "narrow ranges are drawn differently by numpy")
        var mask = range
        for shift in [1, 2, 4, 8, 16, 32] as [UInt64] { mask |= mask >> shift }
        return (0..<count).map { _ in
            var value = next64() & mask
            while value > range { value = next64() & mask }
            return low + value
        }
    }
}
