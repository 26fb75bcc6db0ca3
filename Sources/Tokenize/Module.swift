// Module Tokenize: see the README section of its stage(s).
