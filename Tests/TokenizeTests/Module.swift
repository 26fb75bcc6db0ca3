// Tests of module Tokenize.
