// 2-D convolution (NHWC input, [filterH, filterW, inChannels, outChannels] filter) and its two
// gradients, all as GEMMs over im2col patches.
#pragma once
#include <cstdint>
#include "gemm.h"
#include "pool.h"

struct ConvGeometry {
  int64_t batch, inHeight, inWidth, inChannels;
  int64_t outHeight, outWidth, outChannels;
  int64_t filterHeight, filterWidth;
  int64_t strideHeight, strideWidth, dilationHeight, dilationWidth;
  int64_t padTop, padLeft;
};

// epilogue: bias per output channel and an activation, applied as each output tile is finished.
void conv2d(Pool& pool, const ConvGeometry& g, const float* x, const float* filter, float* out, const Epilogue& epilogue = Epilogue());
void conv2dBackpropInput(Pool& pool, const ConvGeometry& g, const float* dy, const float* filter, float* dx);
void conv2dBackpropFilter(Pool& pool, const ConvGeometry& g, const float* x, const float* dy, float* dfilter);
