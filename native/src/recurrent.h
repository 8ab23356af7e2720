// LSTM and GRU layers over whole sequences, forward and backward through time, each one call:
// per step one product with the recurrent weight (on the thread pool) and the gate arithmetic,
// instead of ~20 tfjs kernels per step. Sequences are time-major: step t of [T, B, W] is the
// contiguous block t·B·W. The recurrent weight's own gradient is one product over all steps,
// which the caller takes (it needs no sequential loop).
#pragma once
#include <cstdint>
#include "pool.h"

// projected [T, B, 4H] = x·W + b per step; recurrent [H, 4H]. Writes the states h [T, B, H], the
// cells c [T, B, H] and the activated gates σ(i), σ(f), tanh(g), σ(o) [T, B, 4H].
void lstmSequence(Pool& pool, const float* projected, const float* recurrent, float* states, float* cells, float* gates,
                  int64_t steps, int64_t batch, int64_t hidden);
// dprojected [T, B, 4H] from dstates [T, B, H] and what the forward pass kept.
void lstmSequenceGrad(Pool& pool, const float* dstates, const float* gates, const float* cells, const float* recurrent,
                      float* dprojected, int64_t steps, int64_t batch, int64_t hidden);

// projected [T, B, 3H]; recurrent [H, 3H] with its bias [3H]. Writes h [T, B, H] and, per step,
// r, z, n and h·U_n + c_n [T, B, 4H].
void gruSequence(Pool& pool, const float* projected, const float* recurrent, const float* recurrentBias, float* states,
                 float* gates, int64_t steps, int64_t batch, int64_t hidden);
// dprojected [T, B, 3H] and the gradient of the recurrent term h·U + c [T, B, 3H].
void gruSequenceGrad(Pool& pool, const float* dstates, const float* gates, const float* states, const float* recurrent,
                     float* dprojected, float* dterm, int64_t steps, int64_t batch, int64_t hidden);
