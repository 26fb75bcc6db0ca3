import Foundation

/// Hash of a byte string (8 bytes at a time, multiply-xorshift mixing).
@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 8 <= n {
        let v = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ v) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        i += 8
    }
    if i < n {
        var v: UInt64 = 0
        var s: UInt64 = 0
        while i < n { v |= UInt64(p[i]) << s; s += 8; i += 1 }
        h = (h ^ v) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 29
    }
    h = (h ^ (h >> 32)) &* 0xD6E8_FEB8_6659_FD93
    return h ^ (h >> 32)
}

/// An open-addressing hash table from byte strings to an Int64 value. Keys are stored in one arena;
/// entries keep insertion order (entry index = insertion rank).
final class ByteTable {
    private(set) var arena: [UInt8] = []
    private(set) var keyStart: [Int] = []
    private(set) var keyLen: [Int32] = []
    var values: [Int64] = []
    private var hashes: [UInt32] = []
    /// Slot -> entry index + 1 (0 = empty).
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int = 1 << 16) {
        var c = 1024
        while c < capacity * 2 { c <<= 1 }
        slots = [Int32](repeating: 0, count: c)
        mask = c - 1
    }

    var count: Int { values.count }

    /// Adds `delta` to the value of the key (inserting it with `delta`); returns the entry index.
    @inline(__always)
    @discardableResult
    func add(_ p: UnsafePointer<UInt8>, _ n: Int, _ delta: Int64) -> Int {
        let h = hashBytes(p, n)
        if let e = find(p, n, h) {
            values[e] += delta
            return e
        }
        return insert(p, n, h, delta)
    }

    /// The entry index of the key, or nil.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        find(p, n, hashBytes(p, n))
    }

    @inline(__always)
    private func find(_ p: UnsafePointer<UInt8>, _ n: Int, _ h: UInt64) -> Int? {
        var s = Int(truncatingIfNeeded: h) & mask
        let h32 = UInt32(truncatingIfNeeded: h >> 32)
        return slots.withUnsafeBufferPointer { sl -> Int? in
            while true {
                let e = Int(sl[s])
                if e == 0 { return nil }
                if hashes[e - 1] == h32 && Int(keyLen[e - 1]) == n {
                    let start = keyStart[e - 1]
                    let equal = arena.withUnsafeBufferPointer { a in memcmp(a.baseAddress! + start, p, n) == 0 }
                    if equal { return e - 1 }
                }
                s = (s + 1) & mask
            }
        }
    }

    @discardableResult
    func insert(_ p: UnsafePointer<UInt8>, _ n: Int, _ h: UInt64, _ value: Int64) -> Int {
        let e = values.count
        keyStart.append(arena.count)
        keyLen.append(Int32(n))
        arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        values.append(value)
        hashes.append(UInt32(truncatingIfNeeded: h >> 32))
        if (e + 1) * 2 > slots.count { grow() } else { place(e, h) }
        return e
    }

    private func place(_ e: Int, _ h: UInt64) {
        var s = Int(truncatingIfNeeded: h) & mask
        while slots[s] != 0 { s = (s + 1) & mask }
        slots[s] = Int32(e + 1)
    }

    private func grow() {
        let c = slots.count * 2
        slots = [Int32](repeating: 0, count: c)
        mask = c - 1
        for e in 0..<values.count {
            let h = key(e) { hashBytes($0, $1) }
            place(e, h)
        }
    }

    /// Calls `body` with the bytes of entry `e`'s key.
    @inline(__always)
    func key<R>(_ e: Int, _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        let start = keyStart[e], n = Int(keyLen[e])
        return arena.withUnsafeBufferPointer { body($0.baseAddress! + start, n) }
    }

    func keyBytes(_ e: Int) -> [UInt8] { key(e) { Array(UnsafeBufferPointer(start: $0, count: $1)) } }

    func removeAll() {
        arena.removeAll(keepingCapacity: true)
        keyStart.removeAll(keepingCapacity: true)
        keyLen.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        hashes.removeAll(keepingCapacity: true)
        for i in slots.indices { slots[i] = 0 }
    }
}

/// An open-addressing hash table from a 64-bit key to a dense index (insertion rank).
struct U64Index {
    private var keys: [UInt64]
    private var vals: [Int32]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 1 << 16) {
        var c = 1024
        while c < capacity * 2 { c <<= 1 }
        keys = [UInt64](repeating: 0, count: c)
        vals = [Int32](repeating: -1, count: c)
        mask = c - 1
    }

    @inline(__always)
    static func mix(_ k: UInt64) -> Int {
        var h = k &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return Int(truncatingIfNeeded: h)
    }

    @inline(__always)
    func get(_ k: UInt64) -> Int32? {
        var s = U64Index.mix(k) & mask
        while true {
            let v = vals[s]
            if v < 0 { return nil }
            if keys[s] == k { return v }
            s = (s + 1) & mask
        }
    }

    /// The index of `k`, inserting it with index `count` when absent.
    @inline(__always)
    mutating func getOrInsert(_ k: UInt64) -> (index: Int32, inserted: Bool) {
        var s = U64Index.mix(k) & mask
        while true {
            let v = vals[s]
            if v < 0 { break }
            if keys[s] == k { return (v, false) }
            s = (s + 1) & mask
        }
        let idx = Int32(count)
        keys[s] = k
        vals[s] = idx
        count += 1
        if count * 2 > keys.count { grow() }
        return (idx, true)
    }

    private mutating func grow() {
        let oldK = keys, oldV = vals
        let c = keys.count * 2
        keys = [UInt64](repeating: 0, count: c)
        vals = [Int32](repeating: -1, count: c)
        mask = c - 1
        for i in 0..<oldK.count where oldV[i] >= 0 {
            var s = U64Index.mix(oldK[i]) & mask
            while vals[s] >= 0 { s = (s + 1) & mask }
            keys[s] = oldK[i]
            vals[s] = oldV[i]
        }
    }
}
