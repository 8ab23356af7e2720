#include "kernels.h"

#include "fastmath.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace {

// Below this many elements an elementwise kernel stays on the calling thread.
constexpr int64_t kSerialBelow = 1 << 20;
constexpr int64_t kGrain = 1 << 14;

float nan() { return std::numeric_limits<float>::quiet_NaN(); }

template <BinaryOp OP>
inline float apply(float a, float b) {
  if constexpr (OP == BinaryOp::Add) return a + b;
  if constexpr (OP == BinaryOp::Sub) return a - b;
  if constexpr (OP == BinaryOp::Mul) return a * b;
  if constexpr (OP == BinaryOp::Div) return a / b;
  // Math.max/min semantics, which the cpu backend has: NaN wins.
  if constexpr (OP == BinaryOp::Max) return (a != a || b != b) ? nan() : (a > b ? a : b);
  if constexpr (OP == BinaryOp::Min) return (a != a || b != b) ? nan() : (a < b ? a : b);
  if constexpr (OP == BinaryOp::SquaredDifference) return (a - b) * (a - b);
  if constexpr (OP == BinaryOp::Pow) return std::pow(a, b);
  return 0.f;
}

template <CompareOp OP>
inline uint8_t apply(float a, float b) {
  if constexpr (OP == CompareOp::Greater) return a > b;
  if constexpr (OP == CompareOp::GreaterEqual) return a >= b;
  if constexpr (OP == CompareOp::Less) return a < b;
  if constexpr (OP == CompareOp::LessEqual) return a <= b;
  if constexpr (OP == CompareOp::Equal) return a == b;
  if constexpr (OP == CompareOp::NotEqual) return a != b;
  return 0;
}

// Merges adjacent axes that are contiguous for both operands, so the inner loop is as long as
// possible: [12, 64, 128] + [128] becomes [768, 128] + [128] with b's row stride 0.
void collapse(std::vector<int64_t>& shape, std::vector<int64_t>& as, std::vector<int64_t>& bs) {
  std::vector<int64_t> s, a, b;
  for (size_t i = 0; i < shape.size(); i++) {
    if (shape[i] == 1) continue;
    if (!s.empty() && a.back() == as[i] * shape[i] && b.back() == bs[i] * shape[i]) {
      s.back() *= shape[i];
      a.back() = as[i];
      b.back() = bs[i];
    } else {
      s.push_back(shape[i]);
      a.push_back(as[i]);
      b.push_back(bs[i]);
    }
  }
  if (s.empty()) s = {1}, a = {0}, b = {0};
  shape = s, as = a, bs = b;
}

// Where row r (all axes but the last, in row-major order) of `shape` starts in two strided layouts.
inline void rowOffsets(int64_t r, const std::vector<int64_t>& shape, const std::vector<int64_t>& first,
                       const std::vector<int64_t>& second, int64_t* firstOffset, int64_t* secondOffset) {
  int64_t a = 0, b = 0;
  for (size_t i = shape.size() - 1; i-- > 0;) {
    const int64_t index = r % shape[i];
    r /= shape[i];
    a += index * first[i];
    b += index * second[i];
  }
  *firstOffset = a;
  *secondOffset = b;
}

// Elementwise over a broadcast shape; F maps (a, b) to the output element.
template <typename Out, typename F>
void broadcastLoop(Pool& pool, const float* a, const float* b, Out* out, std::vector<int64_t> shape,
                   std::vector<int64_t> as, std::vector<int64_t> bs, F f) {
  collapse(shape, as, bs);
  const size_t rank = shape.size();
  const int64_t inner = shape[rank - 1], sa = as[rank - 1], sb = bs[rank - 1];
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < rank; i++) rows *= shape[i];
  auto row = [&](int64_t r, int64_t from, int64_t to) {
    int64_t offA, offB;
    rowOffsets(r, shape, as, bs, &offA, &offB);
    const float* pa = a + offA;
    const float* pb = b + offB;
    Out* po = out + r * inner;
    if (sa == 1 && sb == 1)
      for (int64_t j = from; j < to; j++) po[j] = f(pa[j], pb[j]);
    else if (sa == 1)
      for (int64_t j = from; j < to; j++) po[j] = f(pa[j], pb[0]);
    else if (sb == 1)
      for (int64_t j = from; j < to; j++) po[j] = f(pa[0], pb[j]);
    else
      for (int64_t j = from; j < to; j++) po[j] = f(pa[j * sa], pb[j * sb]);
  };
  // Split by flat element ranges so one long row is shared too.
  parallelFor(pool, rows * inner, kGrain, kSerialBelow, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin / inner; r * inner < end; r++) {
      const int64_t from = std::max<int64_t>(begin - r * inner, 0), to = std::min<int64_t>(end - r * inner, inner);
      row(r, from, to);
    }
  });
}

template <UnaryOp OP>
inline float apply(float x, float alpha) {
  if constexpr (OP == UnaryOp::Exp) return std::exp(x);
  if constexpr (OP == UnaryOp::Log) return std::log(x);
  if constexpr (OP == UnaryOp::Neg) return -x;
  if constexpr (OP == UnaryOp::Sqrt) return std::sqrt(x);
  if constexpr (OP == UnaryOp::Rsqrt) return 1.f / std::sqrt(x);
  if constexpr (OP == UnaryOp::Square) return x * x;
  if constexpr (OP == UnaryOp::Tanh) return std::tanh(x);
  if constexpr (OP == UnaryOp::Sigmoid) return 1.f / (1.f + std::exp(-x));
  if constexpr (OP == UnaryOp::Relu) return x != x ? x : (x > 0.f ? x : 0.f);
  if constexpr (OP == UnaryOp::Abs) return std::fabs(x);
  if constexpr (OP == UnaryOp::Reciprocal) return 1.f / x;
  if constexpr (OP == UnaryOp::Step) return x != x ? x : (x > 0.f ? 1.f : alpha);
  if constexpr (OP == UnaryOp::LeakyRelu) return x < 0.f ? alpha * x : x;
  if constexpr (OP == UnaryOp::Elu) return x >= 0.f ? x : std::expm1(x);
  if constexpr (OP == UnaryOp::Sin) return std::sin(x);
  if constexpr (OP == UnaryOp::Cos) return std::cos(x);
  if constexpr (OP == UnaryOp::Relu6) return x != x ? x : std::min(std::max(x, 0.f), 6.f);
  if constexpr (OP == UnaryOp::Log1p) return std::log1p(x);
  // tfjs's softplus: thresholds where exp under- or overflows float32.
  if constexpr (OP == UnaryOp::Softplus) {
    const float threshold = std::log(1.1920928955078125e-7f) + 2.f;
    if (x > -threshold) return x;
    if (x < threshold) return std::exp(x);
    return std::log1p(std::exp(x));
  }
  return 0.f;
}

// kind 0: e^x, 1: σ(x), 2: tanh(x), over [begin, end).
__attribute__((target_clones("avx512f", "avx2", "default")))
void transcendentalRange(int kind, const float* __restrict x, float* __restrict out, int64_t begin, int64_t end) {
  if (kind == 0) for (int64_t i = begin; i < end; i++) out[i] = expApprox(x[i]);
  else if (kind == 1) for (int64_t i = begin; i < end; i++) out[i] = sigmoidApprox(x[i]);
  else for (int64_t i = begin; i < end; i++) out[i] = tanhApprox(x[i]);
}

template <UnaryOp OP>
void unaryTyped(Pool& pool, const float* x, float* out, int64_t n, float alpha) {
  // exp, σ and tanh through the vectorized approximations (libm's are a call per element).
  if constexpr (OP == UnaryOp::Exp || OP == UnaryOp::Sigmoid || OP == UnaryOp::Tanh) {
    constexpr int kind = OP == UnaryOp::Exp ? 0 : OP == UnaryOp::Sigmoid ? 1 : 2;
    parallelFor(pool, n, kGrain, kSerialBelow / 8, [&](int64_t begin, int64_t end) { transcendentalRange(kind, x, out, begin, end); });
    return;
  }
  parallelFor(pool, n, kGrain, kSerialBelow, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) out[i] = apply<OP>(x[i], alpha);
  });
}

}  // namespace

void binary(Pool& pool, BinaryOp op, const float* a, const float* b, float* out, const std::vector<int64_t>& shape,
            const std::vector<int64_t>& as, const std::vector<int64_t>& bs) {
#define GENLOOM_BINARY(NAME) \
  case BinaryOp::NAME: return broadcastLoop(pool, a, b, out, shape, as, bs, [](float x, float y) { return apply<BinaryOp::NAME>(x, y); });
  switch (op) {
    GENLOOM_BINARY(Add) GENLOOM_BINARY(Sub) GENLOOM_BINARY(Mul) GENLOOM_BINARY(Div) GENLOOM_BINARY(Max)
    GENLOOM_BINARY(Min) GENLOOM_BINARY(SquaredDifference) GENLOOM_BINARY(Pow)
  }
#undef GENLOOM_BINARY
}

void compare(Pool& pool, CompareOp op, const float* a, const float* b, uint8_t* out, const std::vector<int64_t>& shape,
             const std::vector<int64_t>& as, const std::vector<int64_t>& bs) {
#define GENLOOM_COMPARE(NAME) \
  case CompareOp::NAME: return broadcastLoop(pool, a, b, out, shape, as, bs, [](float x, float y) { return apply<CompareOp::NAME>(x, y); });
  switch (op) {
    GENLOOM_COMPARE(Greater) GENLOOM_COMPARE(GreaterEqual) GENLOOM_COMPARE(Less) GENLOOM_COMPARE(LessEqual)
    GENLOOM_COMPARE(Equal) GENLOOM_COMPARE(NotEqual)
  }
#undef GENLOOM_COMPARE
}

void select(Pool& pool, const uint8_t* condition, const float* t, const float* e, float* out, int64_t n) {
  parallelFor(pool, n, kGrain, kSerialBelow, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) out[i] = condition[i] ? t[i] : e[i];
  });
}

void unary(Pool& pool, UnaryOp op, const float* x, float* out, int64_t n, float alpha) {
#define GENLOOM_UNARY(NAME) \
  case UnaryOp::NAME: return unaryTyped<UnaryOp::NAME>(pool, x, out, n, alpha);
  switch (op) {
    GENLOOM_UNARY(Exp) GENLOOM_UNARY(Log) GENLOOM_UNARY(Neg) GENLOOM_UNARY(Sqrt) GENLOOM_UNARY(Rsqrt)
    GENLOOM_UNARY(Square) GENLOOM_UNARY(Tanh) GENLOOM_UNARY(Sigmoid) GENLOOM_UNARY(Relu) GENLOOM_UNARY(Abs)
    GENLOOM_UNARY(Reciprocal) GENLOOM_UNARY(Step) GENLOOM_UNARY(LeakyRelu) GENLOOM_UNARY(Elu) GENLOOM_UNARY(Sin)
    GENLOOM_UNARY(Cos) GENLOOM_UNARY(Relu6) GENLOOM_UNARY(Log1p) GENLOOM_UNARY(Softplus)
  }
#undef GENLOOM_UNARY
}

void reduce(Pool& pool, ReduceOp op, const float* x, float* out, int64_t outer, int64_t size, int64_t inner) {
  // Sums accumulate in double, as the cpu backend's JavaScript numbers do, and always in index
  // order, so the result is the same whatever the thread count.
  const bool extreme = op == ReduceOp::Max || op == ReduceOp::Min;
  auto finish = [&](double sum) { return op == ReduceOp::Mean ? static_cast<float>(static_cast<float>(sum) / static_cast<double>(size)) : static_cast<float>(sum); };
  if (inner == 1) {
    parallelFor(pool, outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(size, 1)), kSerialBelow / std::max<int64_t>(size, 1) + 1,
                [&](int64_t begin, int64_t end) {
                  for (int64_t o = begin; o < end; o++) {
                    const float* row = x + o * size;
                    if (extreme) {
                      float m = size ? row[0] : nan();
                      for (int64_t i = 1; i < size; i++) {
                        const float v = row[i];
                        if (v != v || (op == ReduceOp::Max ? v > m : v < m)) m = v;
                      }
                      out[o] = m;
                    } else {
                      double sum = 0;
                      for (int64_t i = 0; i < size; i++) sum += row[i];
                      out[o] = finish(sum);
                    }
                  }
                });
    return;
  }
  // Reducing an outer axis ([rows, columns] summed down the columns, e.g. a bias gradient):
  // split the columns, walk the rows in order.
  parallelFor(pool, outer * inner, 256, kSerialBelow / std::max<int64_t>(size, 1) + 1, [&](int64_t begin, int64_t end) {
    std::vector<double> sums;
    for (int64_t start = begin; start < end;) {
      const int64_t o = start / inner, j0 = start % inner, j1 = std::min(inner, j0 + (end - start));
      const float* base = x + o * size * inner;
      float* dst = out + o * inner;
      if (extreme) {
        for (int64_t j = j0; j < j1; j++) dst[j] = size ? base[j] : nan();
        for (int64_t i = 1; i < size; i++) {
          const float* row = base + i * inner;
          for (int64_t j = j0; j < j1; j++) {
            const float v = row[j];
            if (v != v || (op == ReduceOp::Max ? v > dst[j] : v < dst[j])) dst[j] = v;
          }
        }
      } else {
        sums.assign(static_cast<size_t>(j1 - j0), 0.0);
        for (int64_t i = 0; i < size; i++) {
          const float* row = base + i * inner;
          for (int64_t j = j0; j < j1; j++) sums[j - j0] += row[j];
        }
        for (int64_t j = j0; j < j1; j++) dst[j] = finish(sums[j - j0]);
      }
      start += j1 - j0;
    }
  });
}

void softmax(Pool& pool, const float* x, float* out, int64_t rows, int64_t cols) {
  parallelFor(pool, rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(cols, 1)), kSerialBelow / std::max<int64_t>(cols, 1) + 1,
              [&](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; r++) {
                  const float* in = x + r * cols;
                  float* o = out + r * cols;
                  float m = -std::numeric_limits<float>::infinity();
                  for (int64_t j = 0; j < cols; j++) m = (in[j] != in[j] || in[j] > m) ? in[j] : m;
                  double sum = 0;
                  for (int64_t j = 0; j < cols; j++) sum += (o[j] = std::exp(in[j] - m));
                  const float total = static_cast<float>(sum);
                  for (int64_t j = 0; j < cols; j++) o[j] /= total;
                }
              });
}

void copyStrided(Pool& pool, const uint32_t* src, const std::vector<int64_t>& srcStrides, uint32_t* dst,
                 const std::vector<int64_t>& dstStrides, const std::vector<int64_t>& shape) {
  const size_t rank = shape.size();
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  if (total == 0) return;
  const int64_t inner = shape[rank - 1], srcInner = srcStrides[rank - 1], dstInner = dstStrides[rank - 1];
  const int64_t rows = total / inner;
  parallelFor(pool, rows, std::max<int64_t>(1, kGrain / inner), kSerialBelow / inner + 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      int64_t srcOffset, dstOffset;
      rowOffsets(r, shape, srcStrides, dstStrides, &srcOffset, &dstOffset);
      const uint32_t* in = src + srcOffset;
      uint32_t* o = dst + dstOffset;
      if (srcInner == 1 && dstInner == 1) std::memcpy(o, in, sizeof(uint32_t) * inner);
      else for (int64_t j = 0; j < inner; j++) o[j * dstInner] = in[j * srcInner];
    }
  });
}

int64_t gather(Pool& pool, const uint32_t* x, const int32_t* indices, int64_t count, uint32_t* out, int64_t outer,
               int64_t axisSize, int64_t inner) {
  for (int64_t i = 0; i < count; i++)
    if (indices[i] < 0 || indices[i] >= axisSize) return i;
  parallelFor(pool, outer * count, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)), kSerialBelow / std::max<int64_t>(inner, 1) + 1,
              [&](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; r++) {
                  const int64_t o = r / count, i = r % count;
                  std::memcpy(out + r * inner, x + (o * axisSize + indices[i]) * inner, sizeof(uint32_t) * inner);
                }
              });
  return -1;
}

void unsortedSegmentSum(Pool& pool, const float* x, const int32_t* ids, float* out, int64_t n, int64_t inner,
                        int64_t segments) {
  std::fill_n(out, segments * inner, 0.f);
  // Columns are split over threads; every row is added in order, so sums are deterministic.
  parallelFor(pool, inner, 64, kSerialBelow / std::max<int64_t>(n, 1) + 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = 0; i < n; i++) {
      const int32_t id = ids[i];
      if (id < 0 || id >= segments) continue;
      const float* row = x + i * inner;
      float* dst = out + id * inner;
      for (int64_t j = begin; j < end; j++) dst[j] += row[j];
    }
  });
}

void resizeNearest(Pool& pool, const uint32_t* x, uint32_t* out, int64_t batch, int64_t inHeight, int64_t inWidth,
                   int64_t channels, const int32_t* rowMap, int64_t rows, const int32_t* colMap, int64_t cols) {
  parallelFor(pool, batch * rows, 1, kSerialBelow / std::max<int64_t>(cols * channels, 1) + 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; t++) {
      const int64_t b = t / rows, r = t % rows;
      const uint32_t* source = x + (b * inHeight + rowMap[r]) * inWidth * channels;
      uint32_t* target = out + t * cols * channels;
      for (int64_t c = 0; c < cols; c++) std::memcpy(target + c * channels, source + colMap[c] * channels, sizeof(uint32_t) * channels);
    }
  });
}

void resizeNearestGrad(Pool& pool, const float* dy, float* dx, int64_t batch, int64_t inHeight, int64_t inWidth,
                       int64_t channels, const int32_t* rowMap, int64_t rows, const int32_t* colMap, int64_t cols) {
  const int64_t imageSize = inHeight * inWidth * channels;
  parallelFor(pool, batch, 1, kSerialBelow / std::max<int64_t>(rows * cols * channels, 1) + 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; b++) {
      float* image = dx + b * imageSize;
      std::fill_n(image, imageSize, 0.f);
      for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
          const float* source = dy + ((b * rows + r) * cols + c) * channels;
          float* target = image + (rowMap[r] * inWidth + colMap[c]) * channels;
          for (int64_t d = 0; d < channels; d++) target[d] += source[d];
        }
    }
  });
}
