// Tests of module GSM8K.
