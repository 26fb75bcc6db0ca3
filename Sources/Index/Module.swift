// Module Index: see the README section of its stage(s).
