/// Arithmetic on sizes read from files: nil instead of a trap when a hostile header overflows.
public enum Checked {
    /// The product of `factors` (a tensor's element count from its shape), or nil when a factor is negative or
    /// the product overflows `Int`.
    public static func product(_ factors: [Int]) -> Int? {
        var r = 1
        for f in factors {
            guard f >= 0 else { return nil }
            let (v, overflow) = r.multipliedReportingOverflow(by: f)
            if overflow { return nil }
            r = v
        }
        return r
    }

    /// `count * width` in bytes, or nil on overflow.
    public static func bytes(_ count: Int, width: Int) -> Int? {
        let (v, overflow) = count.multipliedReportingOverflow(by: width)
        return overflow ? nil : v
    }
}
