// Tests of module Ingest.
