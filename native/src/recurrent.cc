#include "recurrent.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "fastmath.h"
#include "gemm.h"

namespace {

// The gate arithmetic of one step runs over the batch's rows, a few rows per task.
constexpr int64_t kRowsPerTask = 4;

void overRows(Pool& pool, int64_t batch, int64_t hidden, const std::function<void(int64_t)>& row) {
  parallelFor(pool, batch, kRowsPerTask, 16384 / std::max<int64_t>(hidden, 1) + 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; b++) row(b);
  });
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void lstmRow(float* a, const float* cPrev, float* c, float* h, int64_t hidden) {
  float* gi = a;
  float* gf = a + hidden;
  float* gg = a + 2 * hidden;
  float* go = a + 3 * hidden;
  for (int64_t j = 0; j < hidden; j++) {
    const float i = sigmoidApprox(gi[j]), f = sigmoidApprox(gf[j]), g = tanhApprox(gg[j]), o = sigmoidApprox(go[j]);
    const float cell = f * (cPrev ? cPrev[j] : 0.f) + i * g;
    gi[j] = i, gf[j] = f, gg[j] = g, go[j] = o;
    c[j] = cell;
    h[j] = o * tanhApprox(cell);
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void lstmGradRow(const float* gates, const float* cell, const float* cPrev, const float* dOut, float* dh, float* dc,
                 float* dA, int64_t hidden) {
  const float* si = gates;
  const float* sf = gates + hidden;
  const float* tg = gates + 2 * hidden;
  const float* so = gates + 3 * hidden;
  for (int64_t j = 0; j < hidden; j++) {
    const float tc = tanhApprox(cell[j]);
    const float dhj = dOut[j] + dh[j];
    const float dcj = dc[j] + dhj * so[j] * (1.f - tc * tc);
    const float previous = cPrev ? cPrev[j] : 0.f;
    dA[j] = dcj * tg[j] * si[j] * (1.f - si[j]);
    dA[hidden + j] = dcj * previous * sf[j] * (1.f - sf[j]);
    dA[2 * hidden + j] = dcj * si[j] * (1.f - tg[j] * tg[j]);
    dA[3 * hidden + j] = dhj * tc * so[j] * (1.f - so[j]);
    dc[j] = dcj * sf[j];
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void gruRow(const float* x, const float* hu, const float* hPrev, float* h, float* gates, int64_t hidden) {
  for (int64_t j = 0; j < hidden; j++) {
    const float r = sigmoidApprox(x[j] + hu[j]);
    const float z = sigmoidApprox(x[hidden + j] + hu[hidden + j]);
    const float hn = hu[2 * hidden + j];
    const float n = tanhApprox(x[2 * hidden + j] + r * hn);
    h[j] = z * (hPrev ? hPrev[j] : 0.f) + (1.f - z) * n;
    gates[j] = r, gates[hidden + j] = z, gates[2 * hidden + j] = n, gates[3 * hidden + j] = hn;
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void gruGradRow(const float* gates, const float* hPrev, const float* dOut, float* dh, float* dX, float* dTerm, int64_t hidden) {
  const float* r = gates;
  const float* z = gates + hidden;
  const float* n = gates + 2 * hidden;
  const float* hn = gates + 3 * hidden;
  for (int64_t j = 0; j < hidden; j++) {
    const float dhj = dOut[j] + dh[j];
    const float dPreN = dhj * (1.f - z[j]) * (1.f - n[j] * n[j]);
    const float dPreR = dPreN * hn[j] * r[j] * (1.f - r[j]);
    const float dPreZ = dhj * ((hPrev ? hPrev[j] : 0.f) - n[j]) * z[j] * (1.f - z[j]);
    dX[j] = dPreR, dX[hidden + j] = dPreZ, dX[2 * hidden + j] = dPreN;
    dTerm[j] = dPreR, dTerm[hidden + j] = dPreZ, dTerm[2 * hidden + j] = dPreN * r[j];
    dh[j] = dhj * z[j];  // the recurrent product's part is added after the row loop
  }
}

}  // namespace

void lstmSequence(Pool& pool, const float* projected, const float* recurrent, float* states, float* cells, float* gates,
                  int64_t steps, int64_t batch, int64_t hidden) {
  const int64_t width = 4 * hidden, stepGates = batch * width, stepStates = batch * hidden;
  for (int64_t t = 0; t < steps; t++) {
    float* a = gates + t * stepGates;
    std::memcpy(a, projected + t * stepGates, sizeof(float) * stepGates);
    // a += h_{t−1} · U (h₀ = 0)
    if (t > 0) gemm(&pool, {1, batch, width, hidden, 0, 0}, {states + (t - 1) * stepStates, hidden, 1}, {recurrent, width, 1}, a, true);
    const float* cPrev = t > 0 ? cells + (t - 1) * stepStates : nullptr;
    overRows(pool, batch, hidden, [&](int64_t b) {
      lstmRow(a + b * width, cPrev ? cPrev + b * hidden : nullptr, cells + t * stepStates + b * hidden, states + t * stepStates + b * hidden, hidden);
    });
  }
}

void lstmSequenceGrad(Pool& pool, const float* dstates, const float* gates, const float* cells, const float* recurrent,
                      float* dprojected, int64_t steps, int64_t batch, int64_t hidden) {
  const int64_t width = 4 * hidden, stepGates = batch * width, stepStates = batch * hidden;
  std::vector<float> dh(static_cast<size_t>(stepStates), 0.f), dc(static_cast<size_t>(stepStates), 0.f);
  for (int64_t t = steps - 1; t >= 0; t--) {
    float* dA = dprojected + t * stepGates;
    const float* cPrev = t > 0 ? cells + (t - 1) * stepStates : nullptr;
    overRows(pool, batch, hidden, [&](int64_t b) {
      lstmGradRow(gates + t * stepGates + b * width, cells + t * stepStates + b * hidden, cPrev ? cPrev + b * hidden : nullptr,
                  dstates + t * stepStates + b * hidden, dh.data() + b * hidden, dc.data() + b * hidden, dA + b * width, hidden);
    });
    // dh_{t−1} = dA_t · Uᵀ
    if (t > 0) gemm(&pool, {1, batch, hidden, width, 0, 0}, {dA, width, 1}, {recurrent, 1, width}, dh.data(), false);
  }
}

void gruSequence(Pool& pool, const float* projected, const float* recurrent, const float* recurrentBias, float* states,
                 float* gates, int64_t steps, int64_t batch, int64_t hidden) {
  const int64_t width = 3 * hidden, stepStates = batch * hidden;
  std::vector<float> hu(static_cast<size_t>(batch * width));
  for (int64_t t = 0; t < steps; t++) {
    // hu = h_{t−1} · U + c (h₀ = 0)
    for (int64_t b = 0; b < batch; b++) std::memcpy(hu.data() + b * width, recurrentBias, sizeof(float) * width);
    if (t > 0) gemm(&pool, {1, batch, width, hidden, 0, 0}, {states + (t - 1) * stepStates, hidden, 1}, {recurrent, width, 1}, hu.data(), true);
    const float* hPrev = t > 0 ? states + (t - 1) * stepStates : nullptr;
    overRows(pool, batch, hidden, [&](int64_t b) {
      gruRow(projected + (t * batch + b) * width, hu.data() + b * width, hPrev ? hPrev + b * hidden : nullptr,
             states + t * stepStates + b * hidden, gates + (t * batch + b) * 4 * hidden, hidden);
    });
  }
}

void gruSequenceGrad(Pool& pool, const float* dstates, const float* gates, const float* states, const float* recurrent,
                     float* dprojected, float* dterm, int64_t steps, int64_t batch, int64_t hidden) {
  const int64_t width = 3 * hidden, stepStates = batch * hidden;
  std::vector<float> dh(static_cast<size_t>(stepStates), 0.f);
  for (int64_t t = steps - 1; t >= 0; t--) {
    const float* hPrev = t > 0 ? states + (t - 1) * stepStates : nullptr;
    float* dTerm = dterm + t * batch * width;
    overRows(pool, batch, hidden, [&](int64_t b) {
      gruGradRow(gates + (t * batch + b) * 4 * hidden, hPrev ? hPrev + b * hidden : nullptr, dstates + t * stepStates + b * hidden,
                 dh.data() + b * hidden, dprojected + (t * batch + b) * width, dTerm + b * width, hidden);
    });
    // dh_{t−1} = dh·z + dTerm_t · Uᵀ
    if (t > 0) gemm(&pool, {1, batch, hidden, width, 0, 0}, {dTerm, width, 1}, {recurrent, 1, width}, dh.data(), true);
  }
}
