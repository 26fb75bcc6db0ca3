// Module Train: see the README section of its stage(s).
