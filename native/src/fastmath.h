// Elementwise math written so that loops of it vectorize (libm's expf is a call per element).
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>

// e^x, written so that the compiler vectorizes loops of it (libm's expf is a call per element):
// 2^k·e^r with k = round(x·log₂e) and r = x − k·ln 2 in two parts (Cody–Waite), e^r by Cephes'
// expf polynomial (about 1 ulp on [−ln2/2, ln2/2]). Below −87.3 it is 0; above ln(FLT_MAX), +∞;
// NaN stays NaN. k = 128 (x near ln(FLT_MAX)) is taken as 2^127 · 2 so the top of the range is finite.
inline float expApprox(float x) {
  float clamped = x < -87.3f ? -87.3f : x;  // comparisons, not std::min/max: NaN passes through
  clamped = clamped > 88.72f ? 88.72f : clamped;
  // Round to nearest by adding and subtracting 1.5·2²³ (no libm call, so the loop vectorizes).
  const float k = (clamped * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const float r = clamped - k * 0.693359375f + k * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const float exponent = k > 127.f ? 127.f : k;
  const int32_t bits = (static_cast<int32_t>(exponent) + 127) << 23;
  float power;
  std::memcpy(&power, &bits, sizeof power);
  const float value = p * power * (k > 127.f ? 2.f : 1.f);
  return x < -87.3f ? 0.f : (x > 88.72f ? std::numeric_limits<float>::infinity() : value);
}

// σ(x) = 1/(1 + e^−x), through expApprox (absolute error ~1e-7).
inline float sigmoidApprox(float x) { return 1.f / (1.f + expApprox(-x)); }

// tanh(x) = 1 − 2/(1 + e^2x), and near 0, where that cancels, its Taylor series to x⁷ (error
// below 1e-10 for |x| < 0.125), so small values keep their relative precision.
inline float tanhApprox(float x) {
  const float x2 = x * x;
  const float series = x * (1.f + x2 * (-1.f / 3 + x2 * (2.f / 15 + x2 * (-17.f / 315))));
  const float viaExp = 1.f - 2.f / (1.f + expApprox(2.f * x));
  return x2 < 0.015625f ? series : viaExp;
}
