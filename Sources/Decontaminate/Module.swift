// Module Decontaminate: `pipeline decontaminate`, the evaluation set's 13-grams against every training text of the
// run (the GPT-3 paper's contamination rule, normalised as lm-evaluation-harness's Janitor). Logs through Core's
// `log`. See docs/decontamination.md.
