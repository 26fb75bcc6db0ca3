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

/// Copies the first out/16·16 columns of w (row-major [in, out]) into strips of 16 columns, each strip
/// contiguous: wp[s·in·16 + k·16 + j] = w[k·out + 16s + j].
void pl_pack_strips(const float *w, float *wp, int in, int out);

/// The same strips from a transposed matrix w (row-major [V, in], an LM head): wp[s·in·16 + k·16 + j] =
/// w[(16s + j)·in + k], for the first V/16·16 rows.
void pl_pack_strips_t(const float *w, float *wp, int V, int in);

/// y[r, 16s:16s+16] = bias (or 0) + x[r, :] · W[:, 16s:16s+16] for strips s in [s0, s1), W packed by
/// pl_pack_strips (or pl_pack_strips_t); y has row stride `ystride`. One FMA chain over k per output, from the
/// bias: each row's result depends on that row alone, and equals pl_rows_matmul's bit for bit.
void pl_rows_matmul_packed(const float *x, const float *wp, const float *bias, float *y, int rows, int in,
                           int ystride, int s0, int s1);
