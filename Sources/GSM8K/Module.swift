// Module GSM8K: GSM8K rows → records (`pipeline gsm8k`), the prompt format (ChatFormat, ReasoningMarkers), answer
// extraction, the four reward functions (`pipeline reward`, used by Train's GRPO and eval), `synth-gsm8k`, and the
// Python text semantics they depend on. See docs/gsm8k.md.
