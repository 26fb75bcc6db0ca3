// Module Ingest: see the README section of its stage(s).
