// Tests of module Index.
