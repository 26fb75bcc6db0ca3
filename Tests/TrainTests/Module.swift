// Tests of module Train.
