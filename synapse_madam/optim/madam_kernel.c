/* One published Madam step over a table of tensors, in one pass over memory (CPU).
 *
 * For every element of every tensor i (Bernstein et al., NeurIPS 2020; synapse_madam/rule.py):
 *
 *     g      <- g if finite else 0            (then -g if maximize)
 *     v      <- beta * v + (1 - beta) * g^2
 *     v_hat  <- max(v / bc_i, smallest normal)          bc_i = 1 - beta^t_i, computed by the caller
 *     g_hat  <- clip(g / (sqrt(v_hat) + eps), -g_bound, g_bound)
 *     w      <- clip(w * exp((sign(w) * -lr) * g_hat), -w_max_i, w_max_i)
 *
 * in the operation order of rule.madam_update, so the result agrees with it to a few ulps (the
 * exp comes from the C library, not torch's). w, g and v are read once and w, v written once:
 * 20 bytes per float32 parameter. The work is split into chunks of whole tensors' slices and
 * shared among OpenMP threads with dynamic scheduling (a descheduled thread on a busy machine
 * does not hold the others up). With SM_MVEC the loop calls glibc's vector exp (libmvec).
 *
 * Built and loaded by synapse_madam/optim/native.py; the caller checks that every tensor is
 * contiguous, on the CPU and of the kernel's dtype.
 */
#include <stdint.h>
#include <stdlib.h>
#include <float.h>

#ifdef SM_MVEC
#pragma omp declare simd notinbranch
float expf(float);
#pragma omp declare simd notinbranch
double exp(double);
#else
float expf(float);
double exp(double);
#endif
float sqrtf(float);
double sqrt(double);

static inline float finite_or_zero_f32(float x) {
    union { float f; uint32_t u; } b = {x};
    return ((b.u & 0x7f800000u) == 0x7f800000u) ? 0.0f : x;
}

static inline double finite_or_zero_f64(double x) {
    union { double f; uint64_t u; } b = {x};
    return ((b.u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull) ? 0.0 : x;
}

/* Work items: every tensor is cut into chunks of `chunk` elements; item k is one chunk of one
 * tensor. count_items gives how many there are; locate gives item k's tensor and [lo, hi). */
static inline int64_t count_items(int64_t n_tensors, const int64_t *sizes, int64_t chunk) {
    int64_t total = 0;
    for (int64_t i = 0; i < n_tensors; i++) total += (sizes[i] + chunk - 1) / chunk;
    return total;
}

static inline int64_t locate(int64_t item, const int64_t *sizes, int64_t chunk, int64_t *lo, int64_t *hi) {
    int64_t i = 0, first = 0;
    for (;;) {
        int64_t n_chunks = (sizes[i] + chunk - 1) / chunk;
        if (item < first + n_chunks) break;
        first += n_chunks;
        i++;
    }
    *lo = (item - first) * chunk;
    *hi = *lo + chunk < sizes[i] ? *lo + chunk : sizes[i];
    return i;
}

#define MADAM_STEP(NAME, T, EXP, SQRT, FINITE, TINY)                                               \
int64_t NAME(int64_t n_tensors, const int64_t *w_ptrs, const int64_t *g_ptrs, const int64_t *v_ptrs, \
             const int64_t *sizes, const T *bias_corrections, const T *w_maxs, T lr, T beta,          \
             T one_minus_beta, T g_bound, T eps, int32_t maximize, int32_t n_threads, int64_t chunk)  \
{                                                                                                   \
    const int64_t total = count_items(n_tensors, sizes, chunk);                                        \
    const T neg_lr = -lr;                                                                           \
    _Pragma("omp parallel for schedule(dynamic, 1) num_threads(n_threads) if(n_threads > 1)")      \
    for (int64_t item = 0; item < total; item++) {                                                  \
        int64_t lo, hi;                                                                                \
        const int64_t i = locate(item, sizes, chunk, &lo, &hi);                                        \
        T *w = (T *)(intptr_t)w_ptrs[i];                                                            \
        const T *g = (const T *)(intptr_t)g_ptrs[i];                                                \
        T *v = (T *)(intptr_t)v_ptrs[i];                                                            \
        const T bc = bias_corrections[i], w_max = w_maxs[i];                                        \
        _Pragma("omp simd")                                                                         \
        for (int64_t k = lo; k < hi; k++) {                                                         \
            T gk = FINITE(g[k]);                                                                    \
            if (maximize) gk = -gk;                                                                 \
            T vk = beta * v[k] + one_minus_beta * (gk * gk);                                        \
            v[k] = vk;                                                                              \
            T v_hat = vk / bc;                                                                      \
            v_hat = v_hat < TINY ? TINY : v_hat;                                                    \
            T denom = SQRT(v_hat);                                                                  \
            if (eps != (T)0) denom = denom + eps;                                                   \
            T g_hat = gk / denom;                                                                   \
            g_hat = g_hat < -g_bound ? -g_bound : g_hat;                                            \
            g_hat = g_hat > g_bound ? g_bound : g_hat;                                              \
            T wk = w[k];                                                                            \
            T sign = wk > (T)0 ? (T)1 : (wk < (T)0 ? (T)-1 : (T)0);                                 \
            T w_new = wk * EXP((sign * neg_lr) * g_hat);                                            \
            w_new = w_new > w_max ? w_max : w_new;                                                  \
            w_new = w_new < -w_max ? -w_max : w_new;                                                \
            w[k] = w_new;                                                                           \
        }                                                                                           \
    }                                                                                               \
    return total;                                                                                   \
}

MADAM_STEP(madam_step_f32, float, expf, sqrtf, finite_or_zero_f32, FLT_MIN)
MADAM_STEP(madam_step_f64, double, exp, sqrt, finite_or_zero_f64, DBL_MIN)

/* 1 when built with OpenMP (the kernel can use several threads), else 0. */
int32_t madam_kernel_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* One LNSMadam step (synapse_madam/optim/lns_madam.py, log-space terms off) over a table of
 * tensors: float32 weights, gradients and second moments, packed B-bit codes (int8 or int16).
 *
 *     g, v, g_hat as above (float32)
 *     sign, k <- unpack(code)                 code = k for sign +1, -1 - k for sign -1
 *     delta   <- (c * sign) * g_hat            c = lr / ln(base) (float32)
 *     k       <- clip(k + round(delta), 0, k_max)
 *                round = floor(delta + u), u = hash_uniform(seed_i, t_i, element index), or
 *                to nearest (half to even)
 *     code    <- pack(sign, k);   w <- sign * level_i[k]    (level_i: the tensor's decoded levels)
 *
 * The hash is synapse_madam/hashnoise.py's: x = (index + seed * 0x9E3779B9 + t * 0x85EBCA6B)
 * mod 2^32, then "lowbias32" twice, u = x / 2^32 rounded to float32.
 */
static inline uint32_t lowbias32_twice(uint32_t x) {
    x ^= x >> 16; x *= 0x7FEB352Du; x ^= x >> 15; x *= 0x846CA68Bu; x ^= x >> 16;
    x ^= x >> 16; x *= 0x7FEB352Du; x ^= x >> 15; x *= 0x846CA68Bu; x ^= x >> 16;
    return x;
}

/* bits / 2^32 rounded to float32, as (float)((double)bits / 2^32): the two 16-bit halves are
 * exact floats, so their sum is the integer rounded once; scaling by 2^-32 is exact. (Written so
 * that the loop vectorizes: there is no vector unsigned-to-float conversion before AVX-512.) */
static inline float unit_interval(uint32_t bits) {
    float hi = (float)(int32_t)(bits >> 16) * 65536.0f;
    float lo = (float)(int32_t)(bits & 0xFFFFu);
    return (hi + lo) * 2.3283064365386963e-10f;
}

float floorf(float);
float rintf(float);

/* work-item size of the LNS kernel (its chunk argument must not exceed it) */
#define LNS_CHUNK 8192

/* the element update of LNS_STEP; ROUNDED is the rounded delta */
#define LNS_ELEMENT(V_LOAD, V_STORE, ROUNDED)                                                                \
    float gk = finite_or_zero_f32(g[k]);                                                            \
    float vk = beta * V_LOAD(v[k]) + one_minus_beta * (gk * gk);                                    \
    V_STORE(v[k], vk);                                                                              \
    float v_hat = vk / bc;                                                                          \
    v_hat = v_hat < FLT_MIN ? FLT_MIN : v_hat;                                                      \
    float denom = sqrtf(v_hat);                                                                     \
    if (eps != 0.0f) denom = denom + eps;                                                           \
    float g_hat = gk / denom;                                                                       \
    g_hat = g_hat < -g_bound ? -g_bound : g_hat;                                                    \
    g_hat = g_hat > g_bound ? g_bound : g_hat;                                                      \
    int32_t code = code_buf[k - lo];                                                                \
    int32_t mask = code >> 31;                  /* -1 for a negative weight, else 0 */              \
    float sign = code < 0 ? -1.0f : 1.0f;                                                           \
    float k_old = (float)(code ^ mask);         /* k = -1 - code = ~code when negative */          \
    float delta = (c * sign) * g_hat;                                                               \
    float k_new = k_old + (ROUNDED);                                                                \
    k_new = k_new < 0.0f ? 0.0f : (k_new > k_top ? k_top : k_new);                                  \
    int32_t kn = (int32_t)k_new;                                                                    \
    code_buf[k - lo] = kn ^ mask;                                                                   \
    w[k] = sign * level[kn];

#define LNS_STEP(NAME, CODE_T, V_T, V_LOAD, V_STORE)                                                                    \
int64_t NAME(int64_t n_tensors, const int64_t *w_ptrs, const int64_t *g_ptrs, const int64_t *v_ptrs, \
             const int64_t *code_ptrs, const int64_t *level_ptrs, const int64_t *sizes,               \
             const float *bias_corrections, const int64_t *seeds, const int64_t *counters,            \
             float c, float beta, float one_minus_beta, float g_bound, float eps, int32_t k_max,      \
             int32_t stochastic, int32_t n_threads, int64_t chunk)                                    \
{                                                                                                   \
    if (chunk > LNS_CHUNK) chunk = LNS_CHUNK;                                                       \
    const int64_t total = count_items(n_tensors, sizes, chunk);                                        \
    const float k_top = (float)k_max;                                                               \
    _Pragma("omp parallel for schedule(dynamic, 1) num_threads(n_threads) if(n_threads > 1)")      \
    for (int64_t item = 0; item < total; item++) {                                                  \
        int64_t lo, hi;                                                                                \
        const int64_t i = locate(item, sizes, chunk, &lo, &hi);                                        \
        float *w = (float *)(intptr_t)w_ptrs[i];                                                    \
        const float *g = (const float *)(intptr_t)g_ptrs[i];                                        \
        V_T *v = (V_T *)(intptr_t)v_ptrs[i];                                                        \
        CODE_T *codes = (CODE_T *)(intptr_t)code_ptrs[i];                                           \
        const float *level = (const float *)(intptr_t)level_ptrs[i];                                \
        const float bc = bias_corrections[i];                                                       \
        const uint32_t key = (uint32_t)((uint64_t)seeds[i] * 0x9E3779B9ull + (uint64_t)counters[i] * 0x85EBCA6Bull); \
        /* codes widened to int32 and the rounding noise first: then every loop has one element   \
           width and vectorizes (with int8 codes in the main loop GCC's vectorizer gives up) */   \
        int32_t code_buf[LNS_CHUNK];                                                                \
        _Pragma("omp simd")                                                                         \
        for (int64_t k = lo; k < hi; k++) code_buf[k - lo] = (int32_t)codes[k];                     \
        if (stochastic) {                                                                           \
            float u[LNS_CHUNK];                                                                     \
            _Pragma("omp simd")                                                                     \
            for (int64_t k = lo; k < hi; k++)                                                       \
                u[k - lo] = unit_interval(lowbias32_twice((uint32_t)k + key));                      \
            _Pragma("omp simd")                                                                     \
            for (int64_t k = lo; k < hi; k++) {                                                     \
                LNS_ELEMENT(V_LOAD, V_STORE, floorf(delta + u[k - lo]))                                    \
            }                                                                                       \
        } else {                                                                                    \
            _Pragma("omp simd")                                                                     \
            for (int64_t k = lo; k < hi; k++) {                                                     \
                LNS_ELEMENT(V_LOAD, V_STORE, rintf(delta))                                                 \
            }                                                                                       \
        }                                                                                           \
        _Pragma("omp simd")                                                                         \
        for (int64_t k = lo; k < hi; k++) codes[k] = (CODE_T)code_buf[k - lo];                      \
    }                                                                                               \
    return total;                                                                                   \
}

#define F32_LOAD(x) (x)
#define F32_STORE(dst, x) ((dst) = (x))
/* bfloat16 second moments: stored rounded to nearest even, as torch's copy_ does, and the
 * rounded value used for g_hat (lns_madam_update_ reads it back). v is finite and >= 0. */
static inline float bf16_load(uint16_t b) {
    union { uint32_t u; float f; } x = {(uint32_t)b << 16};
    return x.f;
}
static inline uint16_t bf16_round(float f) {
    union { float f; uint32_t u; } x = {f};
    return (uint16_t)((x.u + 0x7FFFu + ((x.u >> 16) & 1u)) >> 16);
}
#define BF16_STORE(dst, x) ((dst) = bf16_round(x), (x) = bf16_load(dst))

LNS_STEP(lns_madam_step_i8, int8_t, float, F32_LOAD, F32_STORE)
LNS_STEP(lns_madam_step_i16, int16_t, float, F32_LOAD, F32_STORE)
LNS_STEP(lns_madam_step_i8_bf16, int8_t, uint16_t, bf16_load, BF16_STORE)
LNS_STEP(lns_madam_step_i16_bf16, int16_t, uint16_t, bf16_load, BF16_STORE)

/* Rounding onto a B-bit uniform grid (synapse_madam/optim/fixed_point.py, UniformQuantized):
 * for float32 weights of tensor i with spacing delta_i,
 *     q <- clip(round(w / delta_i), -q_max, q_max),   w <- q * delta_i
 * round = floor(x + u) with u = hash_uniform(seed_i, t_i, element index), or to nearest (even).
 */
int64_t uniform_quantize_f32(int64_t n_tensors, const int64_t *w_ptrs, const int64_t *sizes, const float *deltas,
                             const int64_t *seeds, const int64_t *counters, float q_max, int32_t stochastic,
                             int32_t n_threads, int64_t chunk)
{
    const int64_t total = count_items(n_tensors, sizes, chunk);
    #pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) if(n_threads > 1)
    for (int64_t item = 0; item < total; item++) {
        int64_t lo, hi;
        const int64_t i = locate(item, sizes, chunk, &lo, &hi);
        float *w = (float *)(intptr_t)w_ptrs[i];
        const float delta = deltas[i];
        const uint32_t key = (uint32_t)((uint64_t)seeds[i] * 0x9E3779B9ull + (uint64_t)counters[i] * 0x85EBCA6Bull);
        if (stochastic) {
            #pragma omp simd
            for (int64_t k = lo; k < hi; k++) {
                float q = floorf(w[k] / delta + unit_interval(lowbias32_twice((uint32_t)k + key)));
                q = q < -q_max ? -q_max : (q > q_max ? q_max : q);
                w[k] = q * delta;
            }
        } else {
            #pragma omp simd
            for (int64_t k = lo; k < hi; k++) {
                float q = rintf(w[k] / delta);
                q = q < -q_max ? -q_max : (q > q_max ? q_max : q);
                w[k] = q * delta;
            }
        }
    }
    return total;
}

/* LNSMadam with the "log8" second moment (synapse_madam/optim/log_moment.py): v is a uint8 code
 * per element and an integer exponent E_i per tensor, decoding to 0 (code 0) or
 * 2^((E_i + code - 255) / 8) = fractions[n mod 8] * 2^(n div 8), n = E_i + code - 255 (exact).
 * Three passes per call, as the torch step does them:
 *   1. per work item, the largest new v = beta * decode(code) + (1 - beta) * g^2 (float32);
 *   2. per tensor, E_i = the smallest integer with 2^(E_i/8) >= max v (unchanged when max v = 0);
 *   3. per element, the LNS step of LNS_ELEMENT with that v, then v re-coded: n with
 *      2^(n/8) <= v < 2^((n+1)/8) (from the double's exponent and mantissa), code n - E_i + 255
 *      rounded up with probability (v - 2^(n/8)) / (2^((n+1)/8) - 2^(n/8)) (float64), u from the
 *      hash of (seed_i + v_stream, t_i), codes below 1 to 1, v = 0 to code 0.
 * The same float32 and float64 operations as the torch step: the same bits. */
static inline double log8_level(int64_t n, const double *fractions) {   /* |n / 8| < 1022 */
    int64_t q = n >= 0 ? n / 8 : -((-n + 7) / 8);   /* floor(n / 8) */
    union { uint64_t u; double d; } power = {(uint64_t)(q + 1023) << 52};   /* 2^q, exact */
    return fractions[n - 8 * q] * power.d;
}

static inline float log8_decode(uint8_t code, int64_t e, const double *fractions) {
    return code == 0 ? 0.0f : (float)log8_level(e + (int64_t)code - 255, fractions);
}

/* n with 2^(n/8) <= x < 2^((n+1)/8), for a positive normal double x = m 2^e (m in [1, 2)): n = 8 e + r,
 * r = how many of fractions[1..7] are <= m. Exact (no log2). */
static inline int64_t log8_index(double x, const double *fractions) {
    union { double d; uint64_t u; } b = {x};
    const int64_t e = (int64_t)((b.u >> 52) & 0x7ffu) - 1023;
    b.u = (b.u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    int64_t r = 0;
    for (int j = 1; j < 8; j++) r += b.d >= fractions[j];
    return 8 * e + r;
}

/* the decoded v of every code under exponent e (float32, code 0 -> 0) */
static inline void log8_decode_table(float *table, int64_t e, const double *fractions) {
    table[0] = 0.0f;
    for (int64_t code = 1; code < 256; code++) table[code] = (float)log8_level(e + code - 255, fractions);
}

#define LNS_LOG8_STEP(NAME, CODE_T)                                                                  \
int64_t NAME(int64_t n_tensors, const int64_t *w_ptrs, const int64_t *g_ptrs, const int64_t *v_ptrs,    \
             const int64_t *code_ptrs, const int64_t *level_ptrs, const int64_t *sizes,                  \
             const float *bias_corrections, const int64_t *seeds, const int64_t *counters,               \
             float *exponents, const double *fractions, int64_t v_stream,                                \
             float c, float beta, float one_minus_beta, float g_bound, float eps, int32_t k_max,         \
             int32_t stochastic, int32_t n_threads, int64_t chunk)                                       \
{                                                                                                      \
    if (chunk > LNS_CHUNK) chunk = LNS_CHUNK;                                                          \
    const int64_t total = count_items(n_tensors, sizes, chunk);                                           \
    const float k_top = (float)k_max;                                                                  \
    float *item_max = (float *)malloc((size_t)(total > 0 ? total : 1) * sizeof(float));                \
    float *new_exponents = (float *)malloc((size_t)(n_tensors > 0 ? n_tensors : 1) * sizeof(float));   \
    if (!item_max || !new_exponents) { free(item_max); free(new_exponents); return -1; }               \
    /* 1. the largest new v of every work item */                                                    \
    _Pragma("omp parallel for schedule(dynamic, 1) num_threads(n_threads) if(n_threads > 1)")         \
    for (int64_t item = 0; item < total; item++) {                                                     \
        int64_t lo, hi;                                                                                   \
        const int64_t i = locate(item, sizes, chunk, &lo, &hi);                                           \
        const float *g = (const float *)(intptr_t)g_ptrs[i];                                           \
        const uint8_t *v = (const uint8_t *)(intptr_t)v_ptrs[i];                                       \
        float decoded[256];                                                                            \
        log8_decode_table(decoded, (int64_t)exponents[i], fractions);                                  \
        float m = 0.0f;                                                                                \
        for (int64_t k = lo; k < hi; k++) {                                                            \
            float gk = finite_or_zero_f32(g[k]);                                                       \
            float vk = beta * decoded[v[k]] + one_minus_beta * (gk * gk);                              \
            m = vk > m ? vk : m;                                                                       \
        }                                                                                              \
        item_max[item] = m;                                                                            \
    }                                                                                                  \
    /* 2. every tensor's new exponent */                                                             \
    for (int64_t i = 0, item = 0; i < n_tensors; i++) {                                                \
        float m = 0.0f;                                                                                \
        for (int64_t n_chunks = (sizes[i] + chunk - 1) / chunk; n_chunks > 0; n_chunks--, item++)      \
            m = item_max[item] > m ? item_max[item] : m;                                               \
        new_exponents[i] = exponents[i];                                                               \
        if (m > 0.0f) {                                                                                \
            int64_t n = log8_index((double)m, fractions);                                              \
            if (log8_level(n, fractions) < (double)m) n++;                                             \
            new_exponents[i] = (float)n;                                                               \
        }                                                                                              \
    }                                                                                                  \
    /* 3. the LNS step and the re-coded v */                                                         \
    _Pragma("omp parallel for schedule(dynamic, 1) num_threads(n_threads) if(n_threads > 1)")         \
    for (int64_t item = 0; item < total; item++) {                                                     \
        int64_t lo, hi;                                                                                   \
        const int64_t i = locate(item, sizes, chunk, &lo, &hi);                                           \
        float *w = (float *)(intptr_t)w_ptrs[i];                                                       \
        const float *g = (const float *)(intptr_t)g_ptrs[i];                                           \
        uint8_t *v = (uint8_t *)(intptr_t)v_ptrs[i];                                                   \
        CODE_T *codes = (CODE_T *)(intptr_t)code_ptrs[i];                                              \
        const float *level = (const float *)(intptr_t)level_ptrs[i];                                   \
        const float bc = bias_corrections[i];                                                          \
        const int64_t e_new = (int64_t)new_exponents[i];                                               \
        float decoded[256];                                                                            \
        double upper_levels[256];  /* upper_levels[j] = the level of code j + 1, j = 0..254 */          \
        log8_decode_table(decoded, (int64_t)exponents[i], fractions);                                  \
        for (int64_t j = 0; j < 255; j++) upper_levels[j] = log8_level(e_new + j + 1 - 255, fractions); \
        const uint32_t key = (uint32_t)((uint64_t)seeds[i] * 0x9E3779B9ull + (uint64_t)counters[i] * 0x85EBCA6Bull); \
        const uint32_t v_key = (uint32_t)((uint64_t)(seeds[i] + v_stream) * 0x9E3779B9ull                 \
                                          + (uint64_t)counters[i] * 0x85EBCA6Bull);                       \
        float vs[LNS_CHUNK], u[LNS_CHUNK], uv[LNS_CHUNK];                                              \
        _Pragma("omp simd")                                                                            \
        for (int64_t k = lo; k < hi; k++) {                                                            \
            u[k - lo] = unit_interval(lowbias32_twice((uint32_t)k + key));                             \
            uv[k - lo] = unit_interval(lowbias32_twice((uint32_t)k + v_key));                          \
        }                                                                                              \
        for (int64_t k = lo; k < hi; k++) {                                                            \
            float gk = finite_or_zero_f32(g[k]);                                                       \
            float vk = beta * decoded[v[k]] + one_minus_beta * (gk * gk);                              \
            vs[k - lo] = vk;                                                                           \
            float v_hat = vk / bc;                                                                     \
            v_hat = v_hat < FLT_MIN ? FLT_MIN : v_hat;                                                 \
            float denom = sqrtf(v_hat);                                                                \
            if (eps != 0.0f) denom = denom + eps;                                                      \
            float g_hat = gk / denom;                                                                  \
            g_hat = g_hat < -g_bound ? -g_bound : g_hat;                                               \
            g_hat = g_hat > g_bound ? g_bound : g_hat;                                                 \
            int32_t code = (int32_t)codes[k];                                                          \
            int32_t mask = code >> 31;                                                                 \
            float sign = code < 0 ? -1.0f : 1.0f;                                                      \
            float k_old = (float)(code ^ mask);                                                        \
            float delta = (c * sign) * g_hat;                                                          \
            float k_new = k_old + (stochastic ? floorf(delta + u[k - lo]) : rintf(delta));             \
            k_new = k_new < 0.0f ? 0.0f : (k_new > k_top ? k_top : k_new);                             \
            int32_t kn = (int32_t)k_new;                                                               \
            codes[k] = (CODE_T)(kn ^ mask);                                                            \
            w[k] = sign * level[kn];                                                                   \
        }                                                                                              \
        for (int64_t k = lo; k < hi; k++) {                                                            \
            double x = (double)vs[k - lo];                                                             \
            uint8_t out = 0;                                                                           \
            if (x > 0.0) {                                                                             \
                int64_t j = log8_index(x, fractions) - e_new + 255;  /* code of the level <= x */      \
                if (j >= 255) out = 255;                                                               \
                else if (j < 1) out = 1;                                                               \
                else {                                                                                 \
                    double lower = upper_levels[j - 1], upper = upper_levels[j];                       \
                    out = (uint8_t)(j + ((double)uv[k - lo] < (x - lower) / (upper - lower) ? 1 : 0)); \
                }                                                                                      \
            }                                                                                          \
            v[k] = out;                                                                                \
        }                                                                                              \
    }                                                                                                  \
    for (int64_t i = 0; i < n_tensors; i++) exponents[i] = new_exponents[i];                           \
    free(new_exponents);                                                                               \
    free(item_max);                                                                                    \
    return total;                                                                                      \
}

LNS_LOG8_STEP(lns_madam_step_i8_log8, int8_t)
LNS_LOG8_STEP(lns_madam_step_i16_log8, int16_t)
