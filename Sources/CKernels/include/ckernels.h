// Numerical kernels for few-row matrix products (decoding steps), where a packed GEMM spends more time copying the
// weights into its panels than multiplying: each weight is read once, straight from memory.
#pragma once

/// y[r, c0:c1] = bias[c0:c1] (or 0) + x[r, :] · w[:, c0:c1], for r < rows; w is row-major [in, out].
/// Each row's result depends on that row alone (not on `rows` or the other rows).
void pl_rows_matmul(const float *x, const float *w, const float *bias, float *y,
                    int rows, int in, int out, int c0, int c1);

/// y[r, v] = x[r, :] · w[v, :] for v in [v0, v1), r < rows; w is row-major [V, in] (an LM head: the token
/// embedding), y row-major [rows, V]. Each row's result depends on that row alone.
void pl_rows_matmul_t(const float *x, const float *w, float *y, int rows, int in, int V, int v0, int v1);

/// One query's causal attention over a KV cache: scores[j] = scale · q · k_j for j < len (k_j = keys + j·stride),
/// softmax over them (scores holds the probabilities after), out[0:D] = Σ_j p_j · v_j (v_j = values + j·stride).
/// The same arithmetic whatever the other queries of a decoding step.
void pl_attend(const float *q, const float *keys, const float *values, int stride, int len, int D, float scale,
               float *scores, float *out);
