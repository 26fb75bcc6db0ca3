// Few-row matrix products for decoding (see ckernels.h). An AVX2+FMA version is chosen at run time when the CPU
// has it; the portable version is plain loops. Both sum every dot product in the same order for any `rows`, so a
// row's result never depends on the other rows of the call.
#include "ckernels.h"
#include <math.h>
#include <stddef.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PL_X86 1
#endif

static void rows_matmul_portable(const float *x, const float *w, const float *bias, float *y,
                                 int rows, int in, int out, int c0, int c1) {
    for (int r = 0; r < rows; r++) {
        float *yr = y + (size_t)r * out;
        for (int c = c0; c < c1; c++) yr[c] = bias ? bias[c] : 0.0f;
        for (int k = 0; k < in; k++) {
            const float xv = x[(size_t)r * in + k];
            const float *wk = w + (size_t)k * out;
            for (int c = c0; c < c1; c++) yr[c] += xv * wk[c];
        }
    }
}

static void rows_matmul_t_portable(const float *x, const float *w, float *y, int rows, int in, int V,
                                   int v0, int v1) {
    for (int r = 0; r < rows; r++)
        for (int v = v0; v < v1; v++) {
            float s = 0.0f;
            for (int k = 0; k < in; k++) s += x[(size_t)r * in + k] * w[(size_t)v * in + k];
            y[(size_t)r * V + v] = s;
        }
}


static void attend_portable(const float *q, const float *keys, const float *values, int stride, int len, int D,
                            float scale, float *sc, float *out) {
    float mx = -__builtin_inff();
    for (int j = 0; j < len; j++) {
        const float *k = keys + (size_t)j * stride;
        float s = 0.0f;
        for (int d = 0; d < D; d++) s += q[d] * k[d];
        s *= scale;
        sc[j] = s;
        if (s > mx) mx = s;
    }
    float sum = 0.0f;
    for (int j = 0; j < len; j++) { const float e = expf(sc[j] - mx); sc[j] = e; sum += e; }
    for (int d = 0; d < D; d++) out[d] = 0.0f;
    for (int j = 0; j < len; j++) {
        const float p = sc[j] / sum, *v = values + (size_t)j * stride;
        sc[j] = p;
        for (int d = 0; d < D; d++) out[d] += p * v[d];
    }
}

static void rows_matmul_packed_portable(const float *x, const float *wp, const float *bias, float *y, int rows,
                                        int in, int ystride, int s0, int s1) {
    for (int s = s0; s < s1; s++) {
        const float *ws = wp + (size_t)s * in * 16;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < 16; j++) {
                float a = bias ? bias[16 * s + j] : 0.0f;
                for (int k = 0; k < in; k++) a = __builtin_fmaf(x[(size_t)r * in + k], ws[k * 16 + j], a);
                y[(size_t)r * ystride + 16 * s + j] = a;
            }
    }
}

#ifdef PL_X86
// The weight matrix streamed row by row (four rows of w at a time, each read left to right, which the hardware
// prefetchers follow), the outputs of a chunk of columns kept in L1 and updated in place, two x rows at a time
// (8 FMAs per 6 loads). Walking w down a 16-column strip instead touches a new page at every k, which no
// prefetcher follows: that version ran at ~20 GFLOP/s on two cores. A row's arithmetic is unchanged: one FMA
// chain over k, in order, from the bias, whatever the grouping of rows or columns.
#define PL_CHUNK 512
__attribute__((target("avx2,fma")))
static void rows_matmul_avx2(const float *x, const float *w, const float *bias, float *y,
                             int rows, int in, int out, int c0, int c1) {
    const int n8 = c0 + (c1 - c0) / 8 * 8;
    for (int cb = c0; cb < n8; cb += PL_CHUNK) {
        const int ce = cb + PL_CHUNK < n8 ? cb + PL_CHUNK : n8;
        for (int r = 0; r < rows; r++)
            for (int c = cb; c < ce; c += 8)
                _mm256_storeu_ps(y + (size_t)r * out + c, bias ? _mm256_loadu_ps(bias + c) : _mm256_setzero_ps());
        int k = 0;
        for (; k + 4 <= in; k += 4) {
            const float *w0 = w + (size_t)k * out, *w1 = w0 + out, *w2 = w1 + out, *w3 = w2 + out;
            int r = 0;
            for (; r + 2 <= rows; r += 2) {
                const float *xa = x + (size_t)r * in + k, *xb = xa + in;
                const __m256 a0 = _mm256_broadcast_ss(xa), a1 = _mm256_broadcast_ss(xa + 1);
                const __m256 a2 = _mm256_broadcast_ss(xa + 2), a3 = _mm256_broadcast_ss(xa + 3);
                const __m256 b0 = _mm256_broadcast_ss(xb), b1 = _mm256_broadcast_ss(xb + 1);
                const __m256 b2 = _mm256_broadcast_ss(xb + 2), b3 = _mm256_broadcast_ss(xb + 3);
                float *ya = y + (size_t)r * out, *yb = ya + out;
                for (int c = cb; c < ce; c += 8) {
                    const __m256 u0 = _mm256_loadu_ps(w0 + c), u1 = _mm256_loadu_ps(w1 + c);
                    const __m256 u2 = _mm256_loadu_ps(w2 + c), u3 = _mm256_loadu_ps(w3 + c);
                    __m256 s = _mm256_loadu_ps(ya + c), t = _mm256_loadu_ps(yb + c);
                    s = _mm256_fmadd_ps(a0, u0, s); t = _mm256_fmadd_ps(b0, u0, t);
                    s = _mm256_fmadd_ps(a1, u1, s); t = _mm256_fmadd_ps(b1, u1, t);
                    s = _mm256_fmadd_ps(a2, u2, s); t = _mm256_fmadd_ps(b2, u2, t);
                    s = _mm256_fmadd_ps(a3, u3, s); t = _mm256_fmadd_ps(b3, u3, t);
                    _mm256_storeu_ps(ya + c, s); _mm256_storeu_ps(yb + c, t);
                }
            }
            for (; r < rows; r++) {
                const float *xa = x + (size_t)r * in + k;
                const __m256 a0 = _mm256_broadcast_ss(xa), a1 = _mm256_broadcast_ss(xa + 1);
                const __m256 a2 = _mm256_broadcast_ss(xa + 2), a3 = _mm256_broadcast_ss(xa + 3);
                float *ya = y + (size_t)r * out;
                for (int c = cb; c < ce; c += 8) {
                    __m256 s = _mm256_loadu_ps(ya + c);
                    s = _mm256_fmadd_ps(a0, _mm256_loadu_ps(w0 + c), s);
                    s = _mm256_fmadd_ps(a1, _mm256_loadu_ps(w1 + c), s);
                    s = _mm256_fmadd_ps(a2, _mm256_loadu_ps(w2 + c), s);
                    s = _mm256_fmadd_ps(a3, _mm256_loadu_ps(w3 + c), s);
                    _mm256_storeu_ps(ya + c, s);
                }
            }
        }
        for (; k < in; k++) {
            const float *wk = w + (size_t)k * out;
            for (int r = 0; r < rows; r++) {
                const __m256 a = _mm256_broadcast_ss(x + (size_t)r * in + k);
                float *ya = y + (size_t)r * out;
                for (int c = cb; c < ce; c += 8)
                    _mm256_storeu_ps(ya + c, _mm256_fmadd_ps(a, _mm256_loadu_ps(wk + c), _mm256_loadu_ps(ya + c)));
            }
        }
    }
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * in;
        for (int cc = n8; cc < c1; cc++) {
            float s = bias ? bias[cc] : 0.0f;
            for (int k = 0; k < in; k++) s = __builtin_fmaf(xr[k], w[(size_t)k * out + cc], s);
            y[(size_t)r * out + cc] = s;
        }
    }
}

__attribute__((target("avx2,fma")))
static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

// One (x row, vocabulary row) dot product: 8-wide FMA chain over k, horizontal sum, FMA tail. Every path below
// computes each dot product exactly this way, so the result does not depend on the grouping.
__attribute__((target("avx2,fma")))
static inline float dot_tail(__m256 acc, const float *xr, const float *wv, int k8, int in) {
    float s = hsum256(acc);
    for (int k = k8; k < in; k++) s = __builtin_fmaf(xr[k], wv[k], s);
    return s;
}

// Four vocabulary rows by two x rows at a time: 8 independent FMA chains; the four rows of w (6 KB at width 384)
// stay in L1 for every x row.
__attribute__((target("avx2,fma")))
static void rows_matmul_t_avx2(const float *x, const float *w, float *y, int rows, int in, int V, int v0, int v1) {
    const int k8 = in / 8 * 8;
    int v = v0;
    for (; v + 4 <= v1; v += 4) {
        const float *w0 = w + (size_t)v * in, *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
        int r = 0;
        for (; r + 2 <= rows; r += 2) {
            const float *xa = x + (size_t)r * in, *xb = xa + in;
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps();
            __m256 a3 = _mm256_setzero_ps(), b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
            __m256 b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
            for (int k = 0; k < k8; k += 8) {
                const __m256 xv = _mm256_loadu_ps(xa + k), xw = _mm256_loadu_ps(xb + k);
                const __m256 u0 = _mm256_loadu_ps(w0 + k), u1 = _mm256_loadu_ps(w1 + k);
                const __m256 u2 = _mm256_loadu_ps(w2 + k), u3 = _mm256_loadu_ps(w3 + k);
                a0 = _mm256_fmadd_ps(xv, u0, a0); a1 = _mm256_fmadd_ps(xv, u1, a1);
                a2 = _mm256_fmadd_ps(xv, u2, a2); a3 = _mm256_fmadd_ps(xv, u3, a3);
                b0 = _mm256_fmadd_ps(xw, u0, b0); b1 = _mm256_fmadd_ps(xw, u1, b1);
                b2 = _mm256_fmadd_ps(xw, u2, b2); b3 = _mm256_fmadd_ps(xw, u3, b3);
            }
            float *ya = y + (size_t)r * V + v, *yb = ya + V;
            ya[0] = dot_tail(a0, xa, w0, k8, in); ya[1] = dot_tail(a1, xa, w1, k8, in);
            ya[2] = dot_tail(a2, xa, w2, k8, in); ya[3] = dot_tail(a3, xa, w3, k8, in);
            yb[0] = dot_tail(b0, xb, w0, k8, in); yb[1] = dot_tail(b1, xb, w1, k8, in);
            yb[2] = dot_tail(b2, xb, w2, k8, in); yb[3] = dot_tail(b3, xb, w3, k8, in);
        }
        for (; r < rows; r++) {
            const float *xr = x + (size_t)r * in;
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
            __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
            for (int k = 0; k < k8; k += 8) {
                const __m256 xv = _mm256_loadu_ps(xr + k);
                a0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w0 + k), a0);
                a1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w1 + k), a1);
                a2 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w2 + k), a2);
                a3 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w3 + k), a3);
            }
            float *yr = y + (size_t)r * V + v;
            yr[0] = dot_tail(a0, xr, w0, k8, in); yr[1] = dot_tail(a1, xr, w1, k8, in);
            yr[2] = dot_tail(a2, xr, w2, k8, in); yr[3] = dot_tail(a3, xr, w3, k8, in);
        }
    }
    for (; v < v1; v++) {
        const float *wv = w + (size_t)v * in;
        for (int r = 0; r < rows; r++) {
            const float *xr = x + (size_t)r * in;
            __m256 a = _mm256_setzero_ps();
            for (int k = 0; k < k8; k += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(xr + k), _mm256_loadu_ps(wv + k), a);
            y[(size_t)r * V + v] = dot_tail(a, xr, wv, k8, in);
        }
    }
}

// Attention of one query: the dot products as 8-wide FMA chains over the head dimension (two chains when D ≥ 16,
// added at the end), the weighted sum of values 8 columns at a time.
__attribute__((target("avx2,fma")))
static void attend_avx2(const float *q, const float *keys, const float *values, int stride, int len, int D,
                        float scale, float *sc, float *out) {
    const int d8 = D / 8 * 8;
    float mx = -__builtin_inff();
    for (int j = 0; j < len; j++) {
        const float *k = keys + (size_t)j * stride;
        __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
        int d = 0;
        for (; d + 16 <= d8; d += 16) {
            a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), a);
            b = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), _mm256_loadu_ps(k + d + 8), b);
        }
        if (d < d8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), a);
        float s = hsum256(_mm256_add_ps(a, b));
        for (d = d8; d < D; d++) s = __builtin_fmaf(q[d], k[d], s);
        s *= scale;
        sc[j] = s;
        if (s > mx) mx = s;
    }
    float sum = 0.0f;
    for (int j = 0; j < len; j++) { const float e = expf(sc[j] - mx); sc[j] = e; sum += e; }
    for (int j = 0; j < len; j++) sc[j] /= sum;
    int d = 0;
    for (; d + 32 <= d8; d += 32) {
        __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0;
        for (int j = 0; j < len; j++) {
            const float *v = values + (size_t)j * stride + d;
            const __m256 p = _mm256_broadcast_ss(sc + j);
            o0 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v), o0); o1 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8), o1);
            o2 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 16), o2); o3 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 24), o3);
        }
        _mm256_storeu_ps(out + d, o0); _mm256_storeu_ps(out + d + 8, o1);
        _mm256_storeu_ps(out + d + 16, o2); _mm256_storeu_ps(out + d + 24, o3);
    }
    for (; d + 8 <= d8; d += 8) {
        __m256 o = _mm256_setzero_ps();
        for (int j = 0; j < len; j++)
            o = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + j), _mm256_loadu_ps(values + (size_t)j * stride + d), o);
        _mm256_storeu_ps(out + d, o);
    }
    for (; d < D; d++) {
        float o = 0.0f;
        for (int j = 0; j < len; j++) o = __builtin_fmaf(sc[j], values[(size_t)j * stride + d], o);
        out[d] = o;
    }
}

// A packed strip (16 columns, k-major, contiguous) read front to back, four rows at a time against it (8
// independent FMA chains); the strip stays in L1/L2 for the next rows.
__attribute__((target("avx2,fma")))
static void rows_matmul_packed_avx2(const float *x, const float *wp, const float *bias, float *y, int rows,
                                    int in, int ystride, int s0, int s1) {
    for (int s = s0; s < s1; s++) {
        const float *ws = wp + (size_t)s * in * 16;
        const int c = 16 * s;
        const __m256 b0 = bias ? _mm256_loadu_ps(bias + c) : _mm256_setzero_ps();
        const __m256 b1 = bias ? _mm256_loadu_ps(bias + c + 8) : _mm256_setzero_ps();
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            const float *x0 = x + (size_t)r * in, *x1 = x0 + in, *x2 = x1 + in, *x3 = x2 + in;
            __m256 a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
            for (int k = 0; k < in; k++) {
                const __m256 w0 = _mm256_loadu_ps(ws + k * 16), w1 = _mm256_loadu_ps(ws + k * 16 + 8);
                __m256 xv = _mm256_broadcast_ss(x0 + k);
                a00 = _mm256_fmadd_ps(xv, w0, a00); a01 = _mm256_fmadd_ps(xv, w1, a01);
                xv = _mm256_broadcast_ss(x1 + k);
                a10 = _mm256_fmadd_ps(xv, w0, a10); a11 = _mm256_fmadd_ps(xv, w1, a11);
                xv = _mm256_broadcast_ss(x2 + k);
                a20 = _mm256_fmadd_ps(xv, w0, a20); a21 = _mm256_fmadd_ps(xv, w1, a21);
                xv = _mm256_broadcast_ss(x3 + k);
                a30 = _mm256_fmadd_ps(xv, w0, a30); a31 = _mm256_fmadd_ps(xv, w1, a31);
            }
            float *y0 = y + (size_t)r * ystride + c;
            _mm256_storeu_ps(y0, a00); _mm256_storeu_ps(y0 + 8, a01); y0 += ystride;
            _mm256_storeu_ps(y0, a10); _mm256_storeu_ps(y0 + 8, a11); y0 += ystride;
            _mm256_storeu_ps(y0, a20); _mm256_storeu_ps(y0 + 8, a21); y0 += ystride;
            _mm256_storeu_ps(y0, a30); _mm256_storeu_ps(y0 + 8, a31);
        }
        for (; r < rows; r++) {
            const float *xr = x + (size_t)r * in;
            __m256 a0 = b0, a1 = b1;
            for (int k = 0; k < in; k++) {
                const __m256 xv = _mm256_broadcast_ss(xr + k);
                a0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(ws + k * 16), a0);
                a1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(ws + k * 16 + 8), a1);
            }
            _mm256_storeu_ps(y + (size_t)r * ystride + c, a0);
            _mm256_storeu_ps(y + (size_t)r * ystride + c + 8, a1);
        }
    }
}

static int has_avx2_fma(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}
#endif

void pl_rows_matmul(const float *x, const float *w, const float *bias, float *y,
                    int rows, int in, int out, int c0, int c1) {
#ifdef PL_X86
    if (has_avx2_fma()) { rows_matmul_avx2(x, w, bias, y, rows, in, out, c0, c1); return; }
#endif
    rows_matmul_portable(x, w, bias, y, rows, in, out, c0, c1);
}

void pl_rows_matmul_t(const float *x, const float *w, float *y, int rows, int in, int V, int v0, int v1) {
#ifdef PL_X86
    if (has_avx2_fma()) { rows_matmul_t_avx2(x, w, y, rows, in, V, v0, v1); return; }
#endif
    rows_matmul_t_portable(x, w, y, rows, in, V, v0, v1);
}

void pl_attend(const float *q, const float *keys, const float *values, int stride, int len, int D, float scale,
               float *scores, float *out) {
#ifdef PL_X86
    if (has_avx2_fma()) { attend_avx2(q, keys, values, stride, len, D, scale, scores, out); return; }
#endif
    attend_portable(q, keys, values, stride, len, D, scale, scores, out);
}

void pl_pack_strips(const float *w, float *wp, int in, int out) {
    for (int s = 0; s < out / 16; s++)
        for (int k = 0; k < in; k++)
            for (int j = 0; j < 16; j++) wp[((size_t)s * in + k) * 16 + j] = w[(size_t)k * out + 16 * s + j];
}

void pl_pack_strips_t(const float *w, float *wp, int V, int in) {
    for (int s = 0; s < V / 16; s++)
        for (int j = 0; j < 16; j++) {
            const float *row = w + (size_t)(16 * s + j) * in;
            for (int k = 0; k < in; k++) wp[((size_t)s * in + k) * 16 + j] = row[k];
        }
}

void pl_rows_matmul_packed(const float *x, const float *wp, const float *bias, float *y, int rows, int in,
                           int ystride, int s0, int s1) {
#ifdef PL_X86
    if (has_avx2_fma()) { rows_matmul_packed_avx2(x, wp, bias, y, rows, in, ystride, s0, s1); return; }
#endif
    rows_matmul_packed_portable(x, wp, bias, y, rows, in, ystride, s0, s1);
}
