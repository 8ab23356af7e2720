// The N-API surface: thin functions that check their arguments, take raw pointers from typed
// arrays the JavaScript side allocated, and run a kernel on this environment's thread pool.
// Argument order mirrors native/index.d.ts.
#include <node_api.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "conv.h"
#include "fused.h"
#include "recurrent.h"
#include "gemm.h"
#include "kernels.h"

namespace {

struct ArgumentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Pool& poolOf(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return *static_cast<Pool*>(data);
}

class Args {
 public:
  Args(napi_env env, napi_callback_info info, size_t expected, const char* name) : env_(env), name_(name) {
    size_t argc = 16;
    values_.resize(argc);
    napi_get_cb_info(env, info, &argc, values_.data(), nullptr, nullptr);
    if (argc < expected) throw ArgumentError(std::string(name) + ": expected " + std::to_string(expected) + " arguments");
    values_.resize(argc);
  }

  // The raw elements of a typed array (offset included) and its length in elements.
  template <typename T>
  T* array(size_t i, napi_typedarray_type type, size_t* length = nullptr) {
    bool isTyped = false;
    napi_is_typedarray(env_, values_[i], &isTyped);
    napi_typedarray_type actual;
    size_t count;
    void* data;
    napi_value buffer;
    size_t offset;
    if (!isTyped || napi_get_typedarray_info(env_, values_[i], &actual, &count, &data, &buffer, &offset) != napi_ok ||
        actual != type)
      throw ArgumentError(std::string(name_) + ": argument " + std::to_string(i) + " has the wrong array type");
    if (length) *length = count;
    return static_cast<T*>(data);
  }
  float* floats(size_t i, size_t* length = nullptr) { return array<float>(i, napi_float32_array, length); }
  int32_t* ints(size_t i, size_t* length = nullptr) { return array<int32_t>(i, napi_int32_array, length); }
  // Any array of 4-byte elements (float32 or int32 tensors): layout kernels only move them.
  uint32_t* words(size_t i, size_t* length = nullptr) {
    napi_typedarray_type type;
    size_t count;
    void* data;
    napi_value buffer;
    size_t offset;
    if (napi_get_typedarray_info(env_, values_[i], &type, &count, &data, &buffer, &offset) != napi_ok ||
        (type != napi_float32_array && type != napi_int32_array && type != napi_uint32_array))
      throw ArgumentError(std::string(name_) + ": argument " + std::to_string(i) + " must hold 4-byte elements");
    if (length) *length = count;
    return static_cast<uint32_t*>(data);
  }
  bool isNull(size_t i) {
    napi_valuetype type;
    napi_typeof(env_, values_[i], &type);
    return type == napi_null || type == napi_undefined;
  }
  int64_t integer(size_t i) {
    int64_t value;
    if (napi_get_value_int64(env_, values_[i], &value) != napi_ok)
      throw ArgumentError(std::string(name_) + ": argument " + std::to_string(i) + " must be a number");
    return value;
  }
  double number(size_t i) {
    double value;
    if (napi_get_value_double(env_, values_[i], &value) != napi_ok)
      throw ArgumentError(std::string(name_) + ": argument " + std::to_string(i) + " must be a number");
    return value;
  }
  bool boolean(size_t i) {
    bool value;
    if (napi_get_value_bool(env_, values_[i], &value) != napi_ok)
      throw ArgumentError(std::string(name_) + ": argument " + std::to_string(i) + " must be a boolean");
    return value;
  }
  std::vector<int64_t> intList(size_t i) {
    size_t length;
    const int32_t* data = ints(i, &length);
    return std::vector<int64_t>(data, data + length);
  }
  void need(bool condition, const char* what) {
    if (!condition) throw ArgumentError(std::string(name_) + ": " + what);
  }

 private:
  napi_env env_;
  const char* name_;
  std::vector<napi_value> values_;
};

// Wraps a kernel body so a C++ exception becomes a JavaScript error instead of a crash.
template <typename F>
napi_value guarded(napi_env env, F&& body) {
  try {
    return body();
  } catch (const std::exception& error) {
    napi_throw_error(env, "GENLOOM_NATIVE", error.what());
  } catch (...) {
    napi_throw_error(env, "GENLOOM_NATIVE", "native kernel failed");
  }
  return nullptr;
}

napi_value number(napi_env env, double value) {
  napi_value result;
  napi_create_double(env, value, &result);
  return result;
}

// matmul(a, b, out, batch, m, n, k, batchStrideA, batchStrideB, transposeA, transposeB, bias|null, activation, alpha)
napi_value MatMul(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 14, "matmul");
    size_t na, nb, nc;
    const float* a = args.floats(0, &na);
    const float* b = args.floats(1, &nb);
    float* c = args.floats(2, &nc);
    const GemmShape shape{args.integer(3), args.integer(4), args.integer(5), args.integer(6), args.integer(7), args.integer(8)};
    const bool transposeA = args.boolean(9), transposeB = args.boolean(10);
    const int64_t lastA = (shape.batch - 1) * shape.batchStrideA, lastB = (shape.batch - 1) * shape.batchStrideB;
    args.need(shape.batch >= 0 && shape.m >= 0 && shape.n >= 0 && shape.k >= 0, "negative size");
    args.need(nc == static_cast<size_t>(shape.batch * shape.m * shape.n), "output has the wrong length");
    args.need(shape.batch == 0 || (static_cast<int64_t>(na) >= lastA + shape.m * shape.k && static_cast<int64_t>(nb) >= lastB + shape.k * shape.n),
              "inputs are shorter than the shape says");
    Epilogue epilogue;
    if (!args.isNull(11)) {
      size_t biasLength;
      epilogue.bias = args.floats(11, &biasLength);
      args.need(biasLength == static_cast<size_t>(shape.n), "bias must have n elements");
    }
    const int64_t activation = args.integer(12);
    args.need(activation >= 0 && activation <= 5, "unknown activation");
    epilogue.activation = static_cast<Activation>(activation);
    epilogue.alpha = static_cast<float>(args.number(13));
    const MatrixView viewA = transposeA ? MatrixView{a, 1, shape.m} : MatrixView{a, shape.k, 1};
    const MatrixView viewB = transposeB ? MatrixView{b, 1, shape.k} : MatrixView{b, shape.n, 1};
    gemm(&poolOf(env), shape, viewA, viewB, c, false, epilogue);
    return nullptr;
  });
}

// Checks that shape/strides address only elements inside arrays of lengths na and nb.
void checkBroadcast(Args& args, const std::vector<int64_t>& shape, const std::vector<int64_t>& as,
                    const std::vector<int64_t>& bs, size_t na, size_t nb, size_t no) {
  args.need(shape.size() == as.size() && shape.size() == bs.size() && !shape.empty(), "shape and strides differ in rank");
  int64_t total = 1, lastA = 0, lastB = 0;
  for (size_t i = 0; i < shape.size(); i++) {
    args.need(shape[i] > 0 && as[i] >= 0 && bs[i] >= 0, "bad shape or strides");
    total *= shape[i];
    lastA += (shape[i] - 1) * as[i];
    lastB += (shape[i] - 1) * bs[i];
  }
  args.need(no == static_cast<size_t>(total) && lastA < static_cast<int64_t>(na) && lastB < static_cast<int64_t>(nb),
            "arrays do not match the shape");
}

// binary(op, a, b, out, outShape, aStrides, bStrides)
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 7, "binary");
    const int64_t op = args.integer(0);
    args.need(op >= 0 && op <= static_cast<int64_t>(BinaryOp::Pow), "unknown op");
    size_t na, nb, no;
    const float* a = args.floats(1, &na);
    const float* b = args.floats(2, &nb);
    float* out = args.floats(3, &no);
    const auto shape = args.intList(4), as = args.intList(5), bs = args.intList(6);
    checkBroadcast(args, shape, as, bs, na, nb, no);
    binary(poolOf(env), static_cast<BinaryOp>(op), a, b, out, shape, as, bs);
    return nullptr;
  });
}

// compare(op, a, b, out: Uint8Array, outShape, aStrides, bStrides)
napi_value Compare(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 7, "compare");
    const int64_t op = args.integer(0);
    args.need(op >= 0 && op <= static_cast<int64_t>(CompareOp::NotEqual), "unknown op");
    size_t na, nb, no;
    const float* a = args.floats(1, &na);
    const float* b = args.floats(2, &nb);
    uint8_t* out = args.array<uint8_t>(3, napi_uint8_array, &no);
    const auto shape = args.intList(4), as = args.intList(5), bs = args.intList(6);
    checkBroadcast(args, shape, as, bs, na, nb, no);
    compare(poolOf(env), static_cast<CompareOp>(op), a, b, out, shape, as, bs);
    return nullptr;
  });
}

// select(condition: Uint8Array, t, e, out)
napi_value Select(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 4, "select");
    size_t nc, nt, ne, no;
    const uint8_t* condition = args.array<uint8_t>(0, napi_uint8_array, &nc);
    const float* t = args.floats(1, &nt);
    const float* e = args.floats(2, &ne);
    float* out = args.floats(3, &no);
    args.need(nc == nt && nt == ne && ne == no, "arrays differ in length");
    select(poolOf(env), condition, t, e, out, static_cast<int64_t>(no));
    return nullptr;
  });
}

// unary(op, x, out, alpha)
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 4, "unary");
    const int64_t op = args.integer(0);
    args.need(op >= 0 && op <= static_cast<int64_t>(UnaryOp::Softplus), "unknown op");
    size_t nx, no;
    const float* x = args.floats(1, &nx);
    float* out = args.floats(2, &no);
    args.need(nx == no, "input and output lengths differ");
    unary(poolOf(env), static_cast<UnaryOp>(op), x, out, static_cast<int64_t>(nx), static_cast<float>(args.number(3)));
    return nullptr;
  });
}

// reduce(op, x, out, outer, size, inner)
napi_value Reduce(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 6, "reduce");
    const int64_t op = args.integer(0);
    args.need(op >= 0 && op <= static_cast<int64_t>(ReduceOp::Min), "unknown op");
    size_t nx, no;
    const float* x = args.floats(1, &nx);
    float* out = args.floats(2, &no);
    const int64_t outer = args.integer(3), size = args.integer(4), inner = args.integer(5);
    args.need(outer >= 0 && size > 0 && inner > 0 && nx == static_cast<size_t>(outer * size * inner) &&
                  no == static_cast<size_t>(outer * inner),
              "arrays do not match [outer, size, inner]");
    reduce(poolOf(env), static_cast<ReduceOp>(op), x, out, outer, size, inner);
    return nullptr;
  });
}

// softmax(x, out, rows, cols)
napi_value Softmax(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 4, "softmax");
    size_t nx, no;
    const float* x = args.floats(0, &nx);
    float* out = args.floats(1, &no);
    const int64_t rows = args.integer(2), cols = args.integer(3);
    args.need(rows >= 0 && cols > 0 && nx == static_cast<size_t>(rows * cols) && no == nx, "arrays do not match [rows, cols]");
    softmax(poolOf(env), x, out, rows, cols);
    return nullptr;
  });
}

// copy(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape)
napi_value Copy(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 7, "copy");
    size_t ns, nd;
    const uint32_t* src = args.words(0, &ns);
    const int64_t srcOffset = args.integer(1);
    const auto srcStrides = args.intList(2);
    uint32_t* dst = args.words(3, &nd);
    const int64_t dstOffset = args.integer(4);
    const auto dstStrides = args.intList(5), shape = args.intList(6);
    args.need(!shape.empty() && shape.size() == srcStrides.size() && shape.size() == dstStrides.size(), "shape and strides differ in rank");
    int64_t lastSrc = srcOffset, lastDst = dstOffset;
    bool empty = false;
    for (size_t i = 0; i < shape.size(); i++) {
      args.need(shape[i] >= 0 && srcStrides[i] >= 0 && dstStrides[i] >= 0, "bad shape or strides");
      empty = empty || shape[i] == 0;
      lastSrc += (shape[i] - 1) * srcStrides[i];
      lastDst += (shape[i] - 1) * dstStrides[i];
    }
    if (empty) return nullptr;
    args.need(srcOffset >= 0 && dstOffset >= 0 && lastSrc < static_cast<int64_t>(ns) && lastDst < static_cast<int64_t>(nd),
              "the copy reaches outside its arrays");
    copyStrided(poolOf(env), src + srcOffset, srcStrides, dst + dstOffset, dstStrides, shape);
    return nullptr;
  });
}

// gather(x, indices, out, outer, axisSize, inner) -> position of the first bad index, or -1
napi_value Gather(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 6, "gather");
    size_t nx, ni, no;
    const uint32_t* x = args.words(0, &nx);
    const int32_t* indices = args.ints(1, &ni);
    uint32_t* out = args.words(2, &no);
    const int64_t outer = args.integer(3), axisSize = args.integer(4), inner = args.integer(5);
    args.need(outer >= 0 && axisSize >= 0 && inner >= 0 && nx == static_cast<size_t>(outer * axisSize * inner) &&
                  no == static_cast<size_t>(outer * static_cast<int64_t>(ni) * inner),
              "arrays do not match [outer, axisSize, inner]");
    return number(env, static_cast<double>(gather(poolOf(env), x, indices, static_cast<int64_t>(ni), out, outer, axisSize, inner)));
  });
}

// unsortedSegmentSum(x, ids, out, inner, segments)
napi_value SegmentSum(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 5, "unsortedSegmentSum");
    size_t nx, ni, no;
    const float* x = args.floats(0, &nx);
    const int32_t* ids = args.ints(1, &ni);
    float* out = args.floats(2, &no);
    const int64_t inner = args.integer(3), segments = args.integer(4);
    args.need(inner > 0 && segments >= 0 && nx == ni * static_cast<size_t>(inner) && no == static_cast<size_t>(segments * inner),
              "arrays do not match [n, inner] and [segments, inner]");
    unsortedSegmentSum(poolOf(env), x, ids, out, static_cast<int64_t>(ni), inner, segments);
    return nullptr;
  });
}

// The geometry array: batch, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels,
// filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth, padTop, padLeft.
ConvGeometry geometry(Args& args, size_t i) {
  const auto v = args.intList(i);
  args.need(v.size() == 15, "conv geometry needs 15 numbers");
  for (size_t j = 0; j < 13; j++) args.need(v[j] >= (j < 7 ? 0 : 1), "conv geometry has a bad size");
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
}

// conv2d without an epilogue, in the shape of its two gradients.
void conv2dPlain(Pool& pool, const ConvGeometry& g, const float* x, const float* filter, float* out) { conv2d(pool, g, x, filter, out); }

template <void (*KERNEL)(Pool&, const ConvGeometry&, const float*, const float*, float*)>
napi_value Conv(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 4, "conv2d");
    size_t n0, n1, n2;
    const float* first = args.floats(0, &n0);
    const float* second = args.floats(1, &n1);
    float* out = args.floats(2, &n2);
    const ConvGeometry g = geometry(args, 3);
    const size_t input = g.batch * g.inHeight * g.inWidth * g.inChannels, output = g.batch * g.outHeight * g.outWidth * g.outChannels,
                 filter = g.filterHeight * g.filterWidth * g.inChannels * g.outChannels;
    size_t expected[3];
    if (KERNEL == conv2dPlain) expected[0] = input, expected[1] = filter, expected[2] = output;
    else if (KERNEL == conv2dBackpropInput) expected[0] = output, expected[1] = filter, expected[2] = input;
    else expected[0] = input, expected[1] = output, expected[2] = filter;
    args.need(n0 == expected[0] && n1 == expected[1] && n2 == expected[2], "arrays do not match the conv geometry");
    KERNEL(poolOf(env), g, first, second, out);
    return nullptr;
  });
}

// ---- fused kernels (fused.h) ------------------------------------------------------------------

// Checks rows·cols against an array's length.
void needMatrix(Args& args, size_t length, int64_t rows, int64_t cols, const char* what) {
  args.need(rows >= 0 && cols > 0 && length == static_cast<size_t>(rows * cols), what);
}

// layerNorm(x, gain, bias|null, y, normalized, rstd, rows, cols, epsilon)
napi_value LayerNorm(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 9, "layerNorm");
    size_t nx, ng, ny, nn, nr, nb = 0;
    const float* x = args.floats(0, &nx);
    const float* gain = args.floats(1, &ng);
    const float* bias = args.isNull(2) ? nullptr : args.floats(2, &nb);
    float* y = args.floats(3, &ny);
    float* normalized = args.floats(4, &nn);
    float* rstd = args.floats(5, &nr);
    const int64_t rows = args.integer(6), cols = args.integer(7);
    needMatrix(args, nx, rows, cols, "x does not match [rows, cols]");
    args.need(ny == nx && nn == nx && nr == static_cast<size_t>(rows), "outputs do not match [rows, cols]");
    args.need(ng == static_cast<size_t>(cols) && (!bias || nb == ng), "gain and bias must have cols elements");
    layerNorm(poolOf(env), x, gain, bias, y, normalized, rstd, rows, cols, static_cast<float>(args.number(8)));
    return nullptr;
  });
}

// layerNormGrad(dy, normalized, rstd, gain, dx, dgain, dbias|null, rows, cols)
napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 9, "layerNormGrad");
    size_t nd, nn, nr, ng, nx, ndg, ndb = 0;
    const float* dy = args.floats(0, &nd);
    const float* normalized = args.floats(1, &nn);
    const float* rstd = args.floats(2, &nr);
    const float* gain = args.floats(3, &ng);
    float* dx = args.floats(4, &nx);
    float* dgain = args.floats(5, &ndg);
    float* dbias = args.isNull(6) ? nullptr : args.floats(6, &ndb);
    const int64_t rows = args.integer(7), cols = args.integer(8);
    needMatrix(args, nd, rows, cols, "dy does not match [rows, cols]");
    args.need(nn == nd && nx == nd && nr == static_cast<size_t>(rows), "arrays do not match [rows, cols]");
    args.need(ng == static_cast<size_t>(cols) && ndg == ng && (!dbias || ndb == ng), "gain gradients must have cols elements");
    layerNormGrad(poolOf(env), dy, normalized, rstd, gain, dx, dgain, dbias, rows, cols);
    return nullptr;
  });
}

// groupNorm(x, scale, shift, y, normalized, rstd, batch, pixels, channels, groups, epsilon, silu)
napi_value GroupNorm(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 12, "groupNorm");
    size_t nx, ns, nb, ny, nn, nr;
    const float* x = args.floats(0, &nx);
    const float* scale = args.floats(1, &ns);
    const float* shift = args.floats(2, &nb);
    float* y = args.floats(3, &ny);
    float* normalized = args.floats(4, &nn);
    float* rstd = args.floats(5, &nr);
    const int64_t batch = args.integer(6), pixels = args.integer(7), channels = args.integer(8), groups = args.integer(9);
    args.need(batch > 0 && pixels > 0 && groups > 0 && channels > 0 && channels % groups == 0, "bad group norm shape");
    args.need(nx == static_cast<size_t>(batch * pixels * channels) && ny == nx && nn == nx && nr == static_cast<size_t>(batch * groups) &&
                  ns == static_cast<size_t>(channels) && nb == ns, "arrays do not match the group norm shape");
    groupNorm(poolOf(env), x, scale, shift, y, normalized, rstd, batch, pixels, channels, groups, static_cast<float>(args.number(10)), args.boolean(11));
    return nullptr;
  });
}

// groupNormGrad(dy, normalized, rstd, scale, shift, dx, dscale, dshift, batch, pixels, channels, groups, silu)
napi_value GroupNormGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 13, "groupNormGrad");
    size_t nd, nn, nr, ns, nb, nx, nds, ndb;
    const float* dy = args.floats(0, &nd);
    const float* normalized = args.floats(1, &nn);
    const float* rstd = args.floats(2, &nr);
    const float* scale = args.floats(3, &ns);
    const float* shift = args.floats(4, &nb);
    float* dx = args.floats(5, &nx);
    float* dscale = args.floats(6, &nds);
    float* dshift = args.floats(7, &ndb);
    const int64_t batch = args.integer(8), pixels = args.integer(9), channels = args.integer(10), groups = args.integer(11);
    args.need(batch > 0 && pixels > 0 && groups > 0 && channels > 0 && channels % groups == 0, "bad group norm shape");
    args.need(nd == static_cast<size_t>(batch * pixels * channels) && nn == nd && nx == nd && nr == static_cast<size_t>(batch * groups) &&
                  ns == static_cast<size_t>(channels) && nb == ns && nds == ns && ndb == ns, "arrays do not match the group norm shape");
    groupNormGrad(poolOf(env), dy, normalized, rstd, scale, shift, dx, dscale, dshift, batch, pixels, channels, groups, args.boolean(12));
    return nullptr;
  });
}

// gelu(x, y)
napi_value Gelu(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 2, "gelu");
    size_t nx, ny;
    const float* x = args.floats(0, &nx);
    float* y = args.floats(1, &ny);
    args.need(nx == ny, "input and output lengths differ");
    gelu(poolOf(env), x, y, static_cast<int64_t>(nx));
    return nullptr;
  });
}

// geluGrad(x, dy, dx)
napi_value GeluGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 3, "geluGrad");
    size_t nx, nd, no;
    const float* x = args.floats(0, &nx);
    const float* dy = args.floats(1, &nd);
    float* dx = args.floats(2, &no);
    args.need(nx == nd && nd == no, "arrays differ in length");
    geluGrad(poolOf(env), x, dy, dx, static_cast<int64_t>(nx));
    return nullptr;
  });
}

// softmaxCrossEntropy(logits, targets, probabilities, loss: Float64Array(1), rows, cols) -> first bad target row, or -1
napi_value SoftmaxCrossEntropy(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 6, "softmaxCrossEntropy");
    size_t nl, nt, np, nloss;
    const float* logits = args.floats(0, &nl);
    const int32_t* targets = args.ints(1, &nt);
    float* probabilities = args.floats(2, &np);
    double* loss = args.array<double>(3, napi_float64_array, &nloss);
    const int64_t rows = args.integer(4), cols = args.integer(5);
    needMatrix(args, nl, rows, cols, "logits do not match [rows, cols]");
    args.need(np == nl && nt == static_cast<size_t>(rows) && nloss == 1, "arrays do not match [rows, cols]");
    return number(env, static_cast<double>(softmaxCrossEntropy(poolOf(env), logits, targets, probabilities, rows, cols, loss)));
  });
}

// softmaxCrossEntropyGrad(probabilities, targets, scale, dlogits, rows, cols)
napi_value SoftmaxCrossEntropyGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 6, "softmaxCrossEntropyGrad");
    size_t np, nt, nd;
    const float* probabilities = args.floats(0, &np);
    const int32_t* targets = args.ints(1, &nt);
    const float scale = static_cast<float>(args.number(2));
    float* dlogits = args.floats(3, &nd);
    const int64_t rows = args.integer(4), cols = args.integer(5);
    needMatrix(args, np, rows, cols, "probabilities do not match [rows, cols]");
    args.need(nd == np && nt == static_cast<size_t>(rows), "arrays do not match [rows, cols]");
    for (size_t r = 0; r < nt; r++) args.need(targets[r] >= 0 && targets[r] < cols, "a target is outside [0, cols)");
    softmaxCrossEntropyGrad(poolOf(env), probabilities, targets, scale, dlogits, rows, cols);
    return nullptr;
  });
}

struct AttentionShape {
  int64_t batch, length, heads, headDim;
  size_t qkv() const { return static_cast<size_t>(batch * length * 3 * heads * headDim); }
  size_t out() const { return static_cast<size_t>(batch * length * heads * headDim); }
  size_t lse() const { return static_cast<size_t>(batch * heads * length); }
};

AttentionShape attentionShape(Args& args, size_t first) {
  const AttentionShape s{args.integer(first), args.integer(first + 1), args.integer(first + 2), args.integer(first + 3)};
  args.need(s.batch >= 0 && s.length > 0 && s.heads > 0 && s.headDim > 0, "bad attention shape");
  return s;
}

// causalAttention(qkv, out, logsumexp, batch, length, heads, headDim, scale)
napi_value CausalAttention(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 8, "causalAttention");
    size_t nq, no, nl;
    const float* qkv = args.floats(0, &nq);
    float* out = args.floats(1, &no);
    float* lse = args.floats(2, &nl);
    const AttentionShape s = attentionShape(args, 3);
    args.need(nq == s.qkv() && no == s.out() && nl == s.lse(), "arrays do not match the attention shape");
    causalAttention(poolOf(env), qkv, out, lse, s.batch, s.length, s.heads, s.headDim, static_cast<float>(args.number(7)));
    return nullptr;
  });
}

// causalAttentionGrad(qkv, out, dout, logsumexp, dqkv, batch, length, heads, headDim, scale)
napi_value CausalAttentionGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 10, "causalAttentionGrad");
    size_t nq, no, nd, nl, ndq;
    const float* qkv = args.floats(0, &nq);
    const float* out = args.floats(1, &no);
    const float* dout = args.floats(2, &nd);
    const float* lse = args.floats(3, &nl);
    float* dqkv = args.floats(4, &ndq);
    const AttentionShape s = attentionShape(args, 5);
    args.need(nq == s.qkv() && ndq == nq && no == s.out() && nd == no && nl == s.lse(), "arrays do not match the attention shape");
    causalAttentionGrad(poolOf(env), qkv, out, dout, lse, dqkv, s.batch, s.length, s.heads, s.headDim, static_cast<float>(args.number(9)));
    return nullptr;
  });
}

// cachedAttention(qkv, keyCache, valueCache, out, batch, length, heads, headDim, start, capacity, scale)
napi_value CachedAttention(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 11, "cachedAttention");
    size_t nq, nk, nv, no;
    const float* qkv = args.floats(0, &nq);
    float* keys = args.floats(1, &nk);
    float* values = args.floats(2, &nv);
    float* out = args.floats(3, &no);
    const AttentionShape s = attentionShape(args, 4);
    const int64_t start = args.integer(8), capacity = args.integer(9);
    args.need(start >= 0 && start + s.length <= capacity, "the new tokens do not fit in the cache");
    const size_t cache = static_cast<size_t>(s.batch * s.heads * capacity * s.headDim);
    args.need(nq == s.qkv() && no == s.out() && nk == cache && nv == cache, "arrays do not match the attention shape");
    cachedAttention(poolOf(env), qkv, keys, values, out, s.batch, s.length, s.heads, s.headDim, start, capacity, static_cast<float>(args.number(10)));
    return nullptr;
  });
}

// sumOfSquares(x) -> Σ x² (double)
napi_value SumOfSquares(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 1, "sumOfSquares");
    size_t n;
    const float* x = args.floats(0, &n);
    return number(env, sumOfSquares(poolOf(env), x, static_cast<int64_t>(n)));
  });
}

// adamw(theta, grad, m, v, newTheta, newM, newV, step: Float64Array [lr, β1, β2, ε, decay, c1, c2, gradScale])
napi_value AdamW(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 8, "adamw");
    size_t lengths[7], ns;
    const float* theta = args.floats(0, &lengths[0]);
    const float* grad = args.floats(1, &lengths[1]);
    const float* m = args.floats(2, &lengths[2]);
    const float* v = args.floats(3, &lengths[3]);
    float* newTheta = args.floats(4, &lengths[4]);
    float* newM = args.floats(5, &lengths[5]);
    float* newV = args.floats(6, &lengths[6]);
    const double* step = args.array<double>(7, napi_float64_array, &ns);
    for (size_t i = 1; i < 7; i++) args.need(lengths[i] == lengths[0], "arrays differ in length");
    args.need(ns == 8, "step must hold 8 numbers");
    const AdamStep s{step[0], step[1], step[2], step[3], step[4], step[5], step[6], step[7]};
    adamw(poolOf(env), s, theta, grad, m, v, newTheta, newM, newV, static_cast<int64_t>(lengths[0]));
    return nullptr;
  });
}

// ---- recurrent layers (recurrent.h) -----------------------------------------------------------

struct SequenceShape {
  int64_t steps, batch, hidden;
  size_t per(int64_t width) const { return static_cast<size_t>(steps * batch * width); }
};

SequenceShape sequenceShape(Args& args, size_t first) {
  const SequenceShape s{args.integer(first), args.integer(first + 1), args.integer(first + 2)};
  args.need(s.steps > 0 && s.batch > 0 && s.hidden > 0, "bad sequence shape");
  return s;
}

// lstmSequence(projected, recurrent, states, cells, gates, steps, batch, hidden)
napi_value LstmSequence(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 8, "lstmSequence");
    size_t np, nr, ns, nc, ng;
    const float* projected = args.floats(0, &np);
    const float* recurrent = args.floats(1, &nr);
    float* states = args.floats(2, &ns);
    float* cells = args.floats(3, &nc);
    float* gates = args.floats(4, &ng);
    const SequenceShape s = sequenceShape(args, 5);
    args.need(np == s.per(4 * s.hidden) && ng == np && ns == s.per(s.hidden) && nc == ns &&
                  nr == static_cast<size_t>(4 * s.hidden * s.hidden), "arrays do not match the sequence shape");
    lstmSequence(poolOf(env), projected, recurrent, states, cells, gates, s.steps, s.batch, s.hidden);
    return nullptr;
  });
}

// lstmSequenceGrad(dstates, gates, cells, recurrent, dprojected, steps, batch, hidden)
napi_value LstmSequenceGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 8, "lstmSequenceGrad");
    size_t nd, ng, nc, nr, ndp;
    const float* dstates = args.floats(0, &nd);
    const float* gates = args.floats(1, &ng);
    const float* cells = args.floats(2, &nc);
    const float* recurrent = args.floats(3, &nr);
    float* dprojected = args.floats(4, &ndp);
    const SequenceShape s = sequenceShape(args, 5);
    args.need(nd == s.per(s.hidden) && nc == nd && ng == s.per(4 * s.hidden) && ndp == ng &&
                  nr == static_cast<size_t>(4 * s.hidden * s.hidden), "arrays do not match the sequence shape");
    lstmSequenceGrad(poolOf(env), dstates, gates, cells, recurrent, dprojected, s.steps, s.batch, s.hidden);
    return nullptr;
  });
}

// gruSequence(projected, recurrent, recurrentBias, states, gates, steps, batch, hidden)
napi_value GruSequence(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 8, "gruSequence");
    size_t np, nr, nb, ns, ng;
    const float* projected = args.floats(0, &np);
    const float* recurrent = args.floats(1, &nr);
    const float* bias = args.floats(2, &nb);
    float* states = args.floats(3, &ns);
    float* gates = args.floats(4, &ng);
    const SequenceShape s = sequenceShape(args, 5);
    args.need(np == s.per(3 * s.hidden) && ns == s.per(s.hidden) && ng == s.per(4 * s.hidden) &&
                  nr == static_cast<size_t>(3 * s.hidden * s.hidden) && nb == static_cast<size_t>(3 * s.hidden),
              "arrays do not match the sequence shape");
    gruSequence(poolOf(env), projected, recurrent, bias, states, gates, s.steps, s.batch, s.hidden);
    return nullptr;
  });
}

// gruSequenceGrad(dstates, gates, states, recurrent, dprojected, dterm, steps, batch, hidden)
napi_value GruSequenceGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 9, "gruSequenceGrad");
    size_t nd, ng, ns, nr, ndp, ndt;
    const float* dstates = args.floats(0, &nd);
    const float* gates = args.floats(1, &ng);
    const float* states = args.floats(2, &ns);
    const float* recurrent = args.floats(3, &nr);
    float* dprojected = args.floats(4, &ndp);
    float* dterm = args.floats(5, &ndt);
    const SequenceShape s = sequenceShape(args, 6);
    args.need(nd == s.per(s.hidden) && ns == nd && ng == s.per(4 * s.hidden) && ndp == s.per(3 * s.hidden) && ndt == ndp &&
                  nr == static_cast<size_t>(3 * s.hidden * s.hidden), "arrays do not match the sequence shape");
    gruSequenceGrad(poolOf(env), dstates, gates, states, recurrent, dprojected, dterm, s.steps, s.batch, s.hidden);
    return nullptr;
  });
}

// conv2dFused(x, filter, out, geometry, bias|null, activation, alpha): conv2d with bias and activation.
napi_value Conv2dFused(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 7, "conv2dFused");
    size_t nx, nf, no, nb = 0;
    const float* x = args.floats(0, &nx);
    const float* filter = args.floats(1, &nf);
    float* out = args.floats(2, &no);
    const ConvGeometry g = geometry(args, 3);
    args.need(nx == static_cast<size_t>(g.batch * g.inHeight * g.inWidth * g.inChannels) &&
                  nf == static_cast<size_t>(g.filterHeight * g.filterWidth * g.inChannels * g.outChannels) &&
                  no == static_cast<size_t>(g.batch * g.outHeight * g.outWidth * g.outChannels),
              "arrays do not match the conv geometry");
    Epilogue epilogue;
    if (!args.isNull(4)) {
      epilogue.bias = args.floats(4, &nb);
      args.need(nb == static_cast<size_t>(g.outChannels), "bias must have outChannels elements");
    }
    const int64_t activation = args.integer(5);
    args.need(activation >= 0 && activation <= 5, "unknown activation");
    epilogue.activation = static_cast<Activation>(activation);
    epilogue.alpha = static_cast<float>(args.number(6));
    conv2d(poolOf(env), g, x, filter, out, epilogue);
    return nullptr;
  });
}

// resizeNearest(x, out, batch, inHeight, inWidth, channels, rowMap, colMap)
// resizeNearestGrad(dy, dx, batch, inHeight, inWidth, channels, rowMap, colMap)
template <bool GRAD>
napi_value ResizeNearest(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 8, GRAD ? "resizeNearestGrad" : "resizeNearest");
    size_t n0, n1, nr, nc;
    const int64_t batch = args.integer(2), inHeight = args.integer(3), inWidth = args.integer(4), channels = args.integer(5);
    const int32_t* rowMap = args.ints(6, &nr);
    const int32_t* colMap = args.ints(7, &nc);
    args.need(batch > 0 && inHeight > 0 && inWidth > 0 && channels > 0, "bad image shape");
    for (size_t i = 0; i < nr; i++) args.need(rowMap[i] >= 0 && rowMap[i] < inHeight, "a row index is outside the image");
    for (size_t i = 0; i < nc; i++) args.need(colMap[i] >= 0 && colMap[i] < inWidth, "a column index is outside the image");
    const size_t input = static_cast<size_t>(batch * inHeight * inWidth * channels), output = static_cast<size_t>(batch) * nr * nc * channels;
    if (GRAD) {
      const float* dy = args.floats(0, &n0);
      float* dx = args.floats(1, &n1);
      args.need(n0 == output && n1 == input, "arrays do not match the image shapes");
      resizeNearestGrad(poolOf(env), dy, dx, batch, inHeight, inWidth, channels, rowMap, static_cast<int64_t>(nr), colMap, static_cast<int64_t>(nc));
    } else {
      const uint32_t* x = args.words(0, &n0);
      uint32_t* out = args.words(1, &n1);
      args.need(n0 == input && n1 == output, "arrays do not match the image shapes");
      resizeNearest(poolOf(env), x, out, batch, inHeight, inWidth, channels, rowMap, static_cast<int64_t>(nr), colMap, static_cast<int64_t>(nc));
    }
    return nullptr;
  });
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, info, 1, "setThreads");
    const int64_t threads = args.integer(0);
    args.need(threads >= 1 && threads <= 256, "threads must be between 1 and 256");
    poolOf(env).resize(static_cast<int>(threads));
    return number(env, poolOf(env).size());
  });
}

napi_value Threads(napi_env env, napi_callback_info) { return number(env, poolOf(env).size()); }

napi_value IsaName(napi_env env, napi_callback_info) {
  napi_value result;
  napi_create_string_utf8(env, gemmIsa(), NAPI_AUTO_LENGTH, &result);
  return result;
}

// Enumerable and writable, like the exports of a JavaScript module (profilers can wrap them).
constexpr auto kMethod = static_cast<napi_property_attributes>(napi_writable | napi_enumerable | napi_configurable);

napi_value Init(napi_env env, napi_value exports) {
  // One pool per Node environment (the main thread, each worker_thread); N-API frees it, joining
  // its workers, when the environment ends. JS sets the size from the available parallelism.
  auto* pool = new Pool(1);
  napi_set_instance_data(env, pool, [](napi_env, void* data, void*) { delete static_cast<Pool*>(data); }, nullptr);
  const napi_property_descriptor properties[] = {
      {"matmul", nullptr, MatMul, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"reduce", nullptr, Reduce, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"softmax", nullptr, Softmax, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"compare", nullptr, Compare, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"select", nullptr, Select, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"copy", nullptr, Copy, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"gather", nullptr, Gather, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"unsortedSegmentSum", nullptr, SegmentSum, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"conv2d", nullptr, Conv<conv2dPlain>, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"conv2dFused", nullptr, Conv2dFused, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"conv2dBackpropInput", nullptr, Conv<conv2dBackpropInput>, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv<conv2dBackpropFilter>, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"layerNorm", nullptr, LayerNorm, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"layerNormGrad", nullptr, LayerNormGrad, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"groupNorm", nullptr, GroupNorm, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"groupNormGrad", nullptr, GroupNormGrad, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"gelu", nullptr, Gelu, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"geluGrad", nullptr, GeluGrad, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"softmaxCrossEntropy", nullptr, SoftmaxCrossEntropy, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"softmaxCrossEntropyGrad", nullptr, SoftmaxCrossEntropyGrad, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"causalAttention", nullptr, CausalAttention, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"causalAttentionGrad", nullptr, CausalAttentionGrad, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"cachedAttention", nullptr, CachedAttention, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"sumOfSquares", nullptr, SumOfSquares, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"adamw", nullptr, AdamW, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"lstmSequence", nullptr, LstmSequence, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"lstmSequenceGrad", nullptr, LstmSequenceGrad, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"gruSequence", nullptr, GruSequence, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"gruSequenceGrad", nullptr, GruSequenceGrad, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"resizeNearest", nullptr, ResizeNearest<false>, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"resizeNearestGrad", nullptr, ResizeNearest<true>, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, kMethod, nullptr},
      {"isa", nullptr, IsaName, nullptr, nullptr, nullptr, kMethod, nullptr},
  };
  napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
