import CSQLite
import Foundation

private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A minimal SQLite connection (system libsqlite3 through CSQLite): exec, prepared statements, typed binds.
final class SQLiteDB {
    /// The path errors name: the database's final place when it is being built in a temporary folder.
    let path: String
    private(set) var handle: OpaquePointer?

    init(path file: String, readOnly: Bool = false, displayPath: String? = nil) throws {
        let path = file
        self.path = displayPath ?? file
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var h: OpaquePointer?
        let rc = sqlite3_open_v2(path, &h, flags | SQLITE_OPEN_NOMUTEX, nil)
        handle = h
        guard rc == SQLITE_OK else {
            let msg = h.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(h)
            handle = nil
            throw IndexError.sqlite(path: self.path, reason: msg)
        }
    }

    deinit { close() }

    func close() {
        if let h = handle { sqlite3_close_v2(h) }
        handle = nil
    }

    var errorMessage: String { handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed" }

    func exec(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &err) != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? errorMessage
            sqlite3_free(err)
            throw IndexError.sqlite(path: path, reason: msg)
        }
    }

    func prepare(_ sql: String) throws -> Statement {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &stmt, nil) == SQLITE_OK, let s = stmt else {
            throw IndexError.sqlite(path: path, reason: "\(errorMessage) in: \(sql.prefix(80))")
        }
        return Statement(db: self, stmt: s)
    }
}

/// A prepared statement. `bind` values are 1-based; `step()` returns true while a row is available.
final class Statement {
    let db: SQLiteDB
    let stmt: OpaquePointer

    init(db: SQLiteDB, stmt: OpaquePointer) { self.db = db; self.stmt = stmt }
    deinit { sqlite3_finalize(stmt) }

    func reset() { sqlite3_reset(stmt); sqlite3_clear_bindings(stmt) }

    func bind(_ i: Int32, _ v: String?) {
        if let v = v { sqlite3_bind_text(stmt, i, v, -1, SQLITE_TRANSIENT) } else { sqlite3_bind_null(stmt, i) }
    }
    func bind(_ i: Int32, _ v: Int?) {
        if let v = v { sqlite3_bind_int64(stmt, i, Int64(v)) } else { sqlite3_bind_null(stmt, i) }
    }
    func bind(_ i: Int32, _ v: Double) { sqlite3_bind_double(stmt, i, v) }
    func bind(_ i: Int32, floats: UnsafeBufferPointer<Float>) {
        // Floats are stored little-endian (the native order on every supported platform).
        sqlite3_bind_blob(stmt, i, floats.baseAddress, Int32(floats.count * 4), SQLITE_TRANSIENT)
    }
    func bind(_ i: Int32, blob: UnsafeRawBufferPointer) {
        sqlite3_bind_blob(stmt, i, blob.baseAddress, Int32(blob.count), SQLITE_TRANSIENT)
    }

    @discardableResult
    func step() throws -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw IndexError.sqlite(path: db.path, reason: db.errorMessage)
    }

    /// Runs a statement that returns no rows, then resets it.
    func run() throws {
        defer { reset() }
        _ = try step()
    }

    func isNull(_ c: Int32) -> Bool { sqlite3_column_type(stmt, c) == SQLITE_NULL }
    func int(_ c: Int32) -> Int { Int(sqlite3_column_int64(stmt, c)) }
    func double(_ c: Int32) -> Double { sqlite3_column_double(stmt, c) }
    func string(_ c: Int32) -> String {
        guard let p = sqlite3_column_text(stmt, c) else { return "" }
        return String(cString: p)
    }
    func optionalInt(_ c: Int32) -> Int? { isNull(c) ? nil : int(c) }
    func optionalString(_ c: Int32) -> String? { isNull(c) ? nil : string(c) }
    /// The blob of column `c` as raw bytes (valid until the next step).
    func blob(_ c: Int32) -> UnsafeRawBufferPointer {
        let n = Int(sqlite3_column_bytes(stmt, c))
        guard let p = sqlite3_column_blob(stmt, c) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: p, count: n)
    }
}

extension SQLiteDB {
    /// Rows changed by the last INSERT/UPDATE/DELETE.
    var changes: Int { Int(sqlite3_changes(handle)) }
}
