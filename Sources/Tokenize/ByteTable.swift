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

@inline(__always)
func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    if n <= 8 {
        var i = 0
        while i < n { if a[i] != b[i] { return false }; i += 1 }
        return true
    }
    return memcmp(a, b, n) == 0
}

/// An open-addressing hash table from byte strings to an Int64 value. Keys are stored in one arena;
/// entries keep insertion order (entry index = insertion rank). Manual memory for speed (no bounds or
/// uniqueness checks in the probe loop).
final class ByteTable {
    private var arena: UnsafeMutablePointer<UInt8>
    private var arenaCount = 0
    private var arenaCapacity: Int
    private var keyStart: UnsafeMutablePointer<Int>
    private var keyLen: UnsafeMutablePointer<Int32>
    private var vals: UnsafeMutablePointer<Int64>
    private var entryCapacity: Int
    private(set) var count = 0
    /// Slots: full hash, and entry index + 1 (0 = empty).
    private var slotHash: UnsafeMutablePointer<UInt64>
    private var slotEntry: UnsafeMutablePointer<Int32>
    private var slotCount: Int
    private var mask: Int

    init(capacity: Int = 1 << 12) {
        var c = 1024
        while c < capacity * 2 { c <<= 1 }
        slotCount = c
        mask = c - 1
        slotHash = .allocate(capacity: c)
        slotEntry = .allocate(capacity: c)
        slotEntry.initialize(repeating: 0, count: c)
        entryCapacity = max(256, capacity)
        keyStart = .allocate(capacity: entryCapacity)
        keyLen = .allocate(capacity: entryCapacity)
        vals = .allocate(capacity: entryCapacity)
        arenaCapacity = entryCapacity * 8
        arena = .allocate(capacity: arenaCapacity)
    }

    deinit {
        arena.deallocate(); keyStart.deallocate(); keyLen.deallocate(); vals.deallocate()
        slotHash.deallocate(); slotEntry.deallocate()
    }

    /// The value of entry `e`.
    @inline(__always) func value(_ e: Int) -> Int64 { vals[e] }

    /// Adds `delta` to the value of the key (inserting it with `delta`); returns the entry index.
    @inline(__always)
    @discardableResult
    func add(_ p: UnsafePointer<UInt8>, _ n: Int, _ delta: Int64) -> Int {
        let h = hashBytes(p, n)
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slotEntry[s])
            if e == 0 { break }
            if slotHash[s] == h && Int(keyLen[e - 1]) == n && bytesEqual(arena + keyStart[e - 1], p, n) {
                vals[e - 1] += delta
                return e - 1
            }
            s = (s + 1) & mask
        }
        return insert(p, n, h, delta, slot: s)
    }

    /// The entry index of the key, or nil.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        let h = hashBytes(p, n)
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slotEntry[s])
            if e == 0 { return nil }
            if slotHash[s] == h && Int(keyLen[e - 1]) == n && bytesEqual(arena + keyStart[e - 1], p, n) {
                return e - 1
            }
            s = (s + 1) & mask
        }
    }

    private func insert(_ p: UnsafePointer<UInt8>, _ n: Int, _ h: UInt64, _ value: Int64, slot: Int) -> Int {
        if count == entryCapacity {
            let c = entryCapacity * 2
            keyStart = grown(keyStart, count, c)
            keyLen = grown(keyLen, count, c)
            vals = grown(vals, count, c)
            entryCapacity = c
        }
        if arenaCount + n > arenaCapacity {
            var c = arenaCapacity * 2
            while arenaCount + n > c { c *= 2 }
            arena = grown(arena, arenaCount, c)
            arenaCapacity = c
        }
        let e = count
        (arena + arenaCount).update(from: p, count: n)
        keyStart[e] = arenaCount
        keyLen[e] = Int32(n)
        vals[e] = value
        arenaCount += n
        count += 1
        slotHash[slot] = h
        slotEntry[slot] = Int32(e + 1)
        if count * 2 > slotCount { rehash() }
        return e
    }

    private func grown<T>(_ p: UnsafeMutablePointer<T>, _ used: Int, _ capacity: Int) -> UnsafeMutablePointer<T> {
        let q = UnsafeMutablePointer<T>.allocate(capacity: capacity)
        q.moveInitialize(from: p, count: used)
        p.deallocate()
        return q
    }

    private func rehash() {
        let c = slotCount * 2
        let oldHash = slotHash, oldEntry = slotEntry, oldCount = slotCount
        slotHash = .allocate(capacity: c)
        slotEntry = .allocate(capacity: c)
        slotEntry.initialize(repeating: 0, count: c)
        slotCount = c
        mask = c - 1
        for i in 0..<oldCount where oldEntry[i] != 0 {
            var s = Int(truncatingIfNeeded: oldHash[i]) & mask
            while slotEntry[s] != 0 { s = (s + 1) & mask }
            slotHash[s] = oldHash[i]
            slotEntry[s] = oldEntry[i]
        }
        oldHash.deallocate()
        oldEntry.deallocate()
    }

    /// Calls `body` with the bytes of entry `e`'s key.
    @inline(__always)
    func key<R>(_ e: Int, _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        body(arena + keyStart[e], Int(keyLen[e]))
    }

    func keyBytes(_ e: Int) -> [UInt8] { Array(UnsafeBufferPointer(start: arena + keyStart[e], count: Int(keyLen[e]))) }

    /// Total bytes of all keys.
    var keyBytesTotal: Int { arenaCount }

    func removeAll() {
        count = 0
        arenaCount = 0
        slotEntry.update(repeating: 0, count: slotCount)
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
        keys.withUnsafeBufferPointer { kp in
            vals.withUnsafeBufferPointer { vp in
                var s = U64Index.mix(k) & mask
                while true {
                    let v = vp[s]
                    if v < 0 { return nil }
                    if kp[s] == k { return v }
                    s = (s + 1) & mask
                }
            }
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
