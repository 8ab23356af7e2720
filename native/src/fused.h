// Fused kernels: what tfjs would run as a chain of elementwise ops, reductions and small matrix
// products, done in one pass (forward) and one pass (backward) each. Every reduction runs in fixed
// chunks summed in a fixed order, so results do not depend on the number of threads.
#pragma once
#include <cstdint>
#include "pool.h"

// Layer norm over the rows of x [rows, cols]: y = x̂·gain (+ bias), x̂ = (x − mean)·rstd,
// rstd = 1/√(var + ε). Keeps x̂ and rstd for the backward pass. bias may be null.
void layerNorm(Pool& pool, const float* x, const float* gain, const float* bias, float* y, float* normalized,
               float* rstd, int64_t rows, int64_t cols, float epsilon);

// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·gain; dgain = Σrows dy·x̂; dbias = Σrows dy (may be null).
void layerNormGrad(Pool& pool, const float* dy, const float* normalized, const float* rstd, const float* gain,
                   float* dx, float* dgain, float* dbias, int64_t rows, int64_t cols);

// Group norm over x [batch, pixels, channels] (NHWC, pixels = H·W) in `groups` groups of
// channels, then scale and shift per channel and, with silu, x·σ(x): y = act(x̂·scale + shift).
// Keeps x̂ and rstd [batch, groups] for the backward pass.
void groupNorm(Pool& pool, const float* x, const float* scale, const float* shift, float* y, float* normalized, float* rstd,
               int64_t batch, int64_t pixels, int64_t channels, int64_t groups, float epsilon, bool silu);
// dx, dscale, dshift from dy and what the forward pass kept (x̂ and rstd; the pre-activation is
// recomputed from x̂).
void groupNormGrad(Pool& pool, const float* dy, const float* normalized, const float* rstd, const float* scale,
                   const float* shift, float* dx, float* dscale, float* dshift, int64_t batch, int64_t pixels, int64_t channels,
                   int64_t groups, bool silu);

// GELU with the tanh approximation (GPT-2's gelu_new), as x·σ(2u), u = √(2/π)(x + 0.044715x³).
void gelu(Pool& pool, const float* x, float* y, int64_t n);
void geluGrad(Pool& pool, const float* x, const float* dy, float* dx, int64_t n);

// Mean cross-entropy of logits [rows, cols] against targets [rows]; writes the softmax
// probabilities for the backward pass. Returns the index of the first target outside [0, cols)
// (nothing else is meaningful then), or -1 with the loss in *loss.
int64_t softmaxCrossEntropy(Pool& pool, const float* logits, const int32_t* targets, float* probabilities,
                            int64_t rows, int64_t cols, double* loss);
// dlogits = (probabilities − onehot(targets))·scale.
void softmaxCrossEntropyGrad(Pool& pool, const float* probabilities, const int32_t* targets, float scale,
                             float* dlogits, int64_t rows, int64_t cols);

// Causal multi-head self-attention straight from the fused projection qkv [batch·length, 3·dim]
// (queries, keys, values side by side, each dim = heads·headDim wide, heads side by side) to the
// merged heads out [batch·length, dim]: no head transposes, no [batch, heads, length, length]
// tensor. Keeps the log-sum-exp of each query's scores [batch, heads, length] for the backward
// pass, which recomputes the probabilities block by block (FlashAttention's scheme).
void causalAttention(Pool& pool, const float* qkv, float* out, float* logsumexp, int64_t batch, int64_t length,
                     int64_t heads, int64_t headDim, float scale);
void causalAttentionGrad(Pool& pool, const float* qkv, const float* out, const float* dout, const float* logsumexp,
                         float* dqkv, int64_t batch, int64_t length, int64_t heads, int64_t headDim, float scale);

// Attention of `length` new tokens per sequence with a KV cache, for generation: their keys and
// values (from qkv [batch·length, 3·dim]) are written into the caches [batch, heads, capacity,
// headDim] at positions start.., and each new query attends to every cached position up to its own.
// out [batch·length, dim]. No gradient: generation only.
void cachedAttention(Pool& pool, const float* qkv, float* keyCache, float* valueCache, float* out, int64_t batch,
                     int64_t length, int64_t heads, int64_t headDim, int64_t start, int64_t capacity, float scale);

// Σ x², in double, chunk by chunk in a fixed order.
double sumOfSquares(Pool& pool, const float* x, int64_t n);

// One AdamW step of one parameter, in double as the JavaScript loop does it (same bytes):
// g = grad·gradScale; m' = β1·m + (1−β1)·g; v' = β2·v + (1−β2)·g²;
// θ' = θ − lr·(m'/c1 / (√(v'/c2) + ε) + decay·θ). Writes new arrays; the old ones are only read.
struct AdamStep {
  double learningRate, beta1, beta2, epsilon, decay, correction1, correction2, gradScale;
};
void adamw(Pool& pool, const AdamStep& step, const float* theta, const float* grad, const float* m, const float* v,
           float* newTheta, float* newM, float* newV, int64_t n);
