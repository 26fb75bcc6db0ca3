// Module Index: see the README section of its stage(s).
import COpenBLAS
import CSQLite

/// The versions of the libraries this module links, for `pipeline --version`.
public enum IndexLibraries {
    /// SQLite (with FTS5).
    public static var sqlite: String { String(cString: sqlite3_libversion()) }
    /// OpenBLAS's build configuration and the kernel it chose for this CPU.
    public static var openblas: String {
        String(cString: openblas_get_config()).trimmingCharacters(in: .whitespaces) + ", kernel "
            + String(cString: openblas_get_corename())
    }
}
