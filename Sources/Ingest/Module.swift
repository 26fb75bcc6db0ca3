// Module Ingest: see the README section of its stage(s).
import CPoppler

/// The version of the libraries this module links, for `pipeline --version`.
public enum IngestLibraries {
    /// poppler (through poppler-glib).
    public static var poppler: String { String(cString: poppler_get_version()) }
}
