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

#define MADAM_STEP(NAME, T, EXP, SQRT, FINITE, TINY)                                               \
int64_t NAME(int64_t n_tensors, const int64_t *w_ptrs, const int64_t *g_ptrs, const int64_t *v_ptrs, \
             const int64_t *sizes, const T *bias_corrections, const T *w_maxs, T lr, T beta,          \
             T one_minus_beta, T g_bound, T eps, int32_t maximize, int32_t n_threads, int64_t chunk)  \
{                                                                                                   \
    int64_t total = 0;                                                                              \
    for (int64_t i = 0; i < n_tensors; i++) total += (sizes[i] + chunk - 1) / chunk;                \
    const T neg_lr = -lr;                                                                           \
    _Pragma("omp parallel for schedule(dynamic, 1) num_threads(n_threads) if(n_threads > 1)")      \
    for (int64_t item = 0; item < total; item++) {                                                  \
        int64_t i = 0, first = 0;                                                                   \
        for (;;) {                                                                                  \
            int64_t n_chunks = (sizes[i] + chunk - 1) / chunk;                                      \
            if (item < first + n_chunks) break;                                                     \
            first += n_chunks;                                                                      \
            i++;                                                                                    \
        }                                                                                           \
        int64_t lo = (item - first) * chunk, hi = lo + chunk;                                       \
        if (hi > sizes[i]) hi = sizes[i];                                                           \
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
