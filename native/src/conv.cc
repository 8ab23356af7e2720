#include "conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "gemm.h"

namespace {

// Output pixels per im2col chunk: the chunk's patch matrix stays in L2 for the GEMM that reads it.
constexpr int64_t kPixelsPerChunk = 128;

int64_t patchSize(const ConvGeometry& g) { return g.filterHeight * g.filterWidth * g.inChannels; }

// Rows [first, first + count) of the patch matrix: row = output pixel (n, oh, ow), columns =
// (kh, kw, c) in the filter's order; taps that fall in the padding are zero.
void im2col(const ConvGeometry& g, const float* x, int64_t first, int64_t count, float* patches) {
  const int64_t width = patchSize(g), perImage = g.outHeight * g.outWidth;
  for (int64_t r = 0; r < count; r++) {
    const int64_t pixel = first + r, n = pixel / perImage, oh = (pixel % perImage) / g.outWidth, ow = pixel % g.outWidth;
    float* row = patches + r * width;
    for (int64_t kh = 0; kh < g.filterHeight; kh++) {
      const int64_t ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight;
      for (int64_t kw = 0; kw < g.filterWidth; kw++) {
        const int64_t iw = ow * g.strideWidth - g.padLeft + kw * g.dilationWidth;
        float* dst = row + (kh * g.filterWidth + kw) * g.inChannels;
        if (ih < 0 || ih >= g.inHeight || iw < 0 || iw >= g.inWidth) std::fill_n(dst, g.inChannels, 0.f);
        else std::memcpy(dst, x + ((n * g.inHeight + ih) * g.inWidth + iw) * g.inChannels, sizeof(float) * g.inChannels);
      }
    }
  }
}

bool isPointwise(const ConvGeometry& g) {
  return g.filterHeight == 1 && g.filterWidth == 1 && g.strideHeight == 1 && g.strideWidth == 1 && g.padTop == 0 &&
         g.padLeft == 0 && g.inHeight == g.outHeight && g.inWidth == g.outWidth;
}

}  // namespace

// Patch floats per block: a block's patch matrix (8 MiB) is made in parallel and multiplied by one
// GEMM on the whole pool, which packs the filter once per block instead of once per 128 pixels.
constexpr int64_t kBlockFloats = 1 << 21;

void conv2d(Pool& pool, const ConvGeometry& g, const float* x, const float* filter, float* out, const Epilogue& epilogue) {
  const int64_t pixels = g.batch * g.outHeight * g.outWidth, width = patchSize(g);
  const MatrixView w{filter, g.outChannels, 1};
  if (isPointwise(g)) {
    gemm(&pool, {1, pixels, g.outChannels, width, 0, 0}, {x, width, 1}, w, out, false, epilogue);
    return;
  }
  const int64_t block = std::max<int64_t>(kPixelsPerChunk, kBlockFloats / std::max<int64_t>(width, 1) / kPixelsPerChunk * kPixelsPerChunk);
  thread_local std::vector<float> patches;
  patches.resize(static_cast<size_t>(std::min(block, pixels) * width));
  for (int64_t first = 0; first < pixels; first += block) {
    const int64_t count = std::min(block, pixels - first), chunks = (count + kPixelsPerChunk - 1) / kPixelsPerChunk;
    float* data = patches.data();
    auto fill = [&](int64_t c) {
      const int64_t start = c * kPixelsPerChunk;
      im2col(g, x, first + start, std::min(kPixelsPerChunk, count - start), data + start * width);
    };
    if (count * width < (1 << 15)) for (int64_t c = 0; c < chunks; c++) fill(c);
    else pool.run(chunks, fill);
    gemm(&pool, {1, count, g.outChannels, width, 0, 0}, {data, width, 1}, w, out + first * g.outChannels, false, epilogue);
  }
}

void conv2dBackpropInput(Pool& pool, const ConvGeometry& g, const float* dy, const float* filter, float* dx) {
  const int64_t width = patchSize(g), perImage = g.outHeight * g.outWidth;
  const int64_t imageSize = g.inHeight * g.inWidth * g.inChannels;
  // filter as [width, outChannels]; its transpose [outChannels, width] is a view with swapped strides.
  const MatrixView filterT{filter, 1, g.outChannels};
  if (isPointwise(g)) {
    gemm(&pool, {1, g.batch * perImage, width, g.outChannels, 0, 0}, {dy, g.outChannels, 1}, filterT, dx, false);
    return;
  }
  // Per block of images: columns = dy · filterᵀ (one row of patch gradients per output pixel) as
  // one GEMM on the pool, then, image by image in parallel, each column is added back where its
  // patch came from (col2im), in a fixed order.
  const int64_t imagesPerBlock = std::max<int64_t>(1, kBlockFloats / std::max<int64_t>(perImage * width, 1));
  thread_local std::vector<float> columns;
  columns.resize(static_cast<size_t>(std::min(imagesPerBlock, g.batch) * perImage * width));
  for (int64_t firstImage = 0; firstImage < g.batch; firstImage += imagesPerBlock) {
    const int64_t images = std::min(imagesPerBlock, g.batch - firstImage);
    float* data = columns.data();
    gemm(&pool, {1, images * perImage, width, g.outChannels, 0, 0}, {dy + firstImage * perImage * g.outChannels, g.outChannels, 1},
         filterT, data, false);
    auto image = [&](int64_t i) {
      float* target = dx + (firstImage + i) * imageSize;
      std::fill_n(target, imageSize, 0.f);
      for (int64_t oh = 0; oh < g.outHeight; oh++)
        for (int64_t ow = 0; ow < g.outWidth; ow++) {
          const float* row = data + ((i * g.outHeight + oh) * g.outWidth + ow) * width;
          for (int64_t kh = 0; kh < g.filterHeight; kh++) {
            const int64_t ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight;
            if (ih < 0 || ih >= g.inHeight) continue;
            for (int64_t kw = 0; kw < g.filterWidth; kw++) {
              const int64_t iw = ow * g.strideWidth - g.padLeft + kw * g.dilationWidth;
              if (iw < 0 || iw >= g.inWidth) continue;
              const float* src = row + (kh * g.filterWidth + kw) * g.inChannels;
              float* dst = target + (ih * g.inWidth + iw) * g.inChannels;
              for (int64_t c = 0; c < g.inChannels; c++) dst[c] += src[c];
            }
          }
        }
    };
    if (images * imageSize < (1 << 15)) for (int64_t i = 0; i < images; i++) image(i);
    else pool.run(images, image);
  }
}

void conv2dBackpropFilter(Pool& pool, const ConvGeometry& g, const float* x, const float* dy, float* dfilter) {
  const int64_t pixels = g.batch * g.outHeight * g.outWidth, width = patchSize(g);
  if (isPointwise(g)) {  // dfilter = xᵀ · dy
    gemm(&pool, {1, width, g.outChannels, pixels, 0, 0}, {x, 1, width}, {dy, g.outChannels, 1}, dfilter, false);
    return;
  }
  // dfilter [width, outChannels] = Σ over pixel blocks of patchesᵀ · dy, blocks taken in order.
  const int64_t block = std::max<int64_t>(kPixelsPerChunk, (1 << 21) / std::max<int64_t>(width, 1) / kPixelsPerChunk * kPixelsPerChunk);
  std::vector<float> patches(static_cast<size_t>(std::min(block, pixels) * width));
  if (pixels == 0) std::fill_n(dfilter, width * g.outChannels, 0.f);
  for (int64_t first = 0; first < pixels; first += block) {
    const int64_t count = std::min(block, pixels - first);
    const int64_t chunks = (count + kPixelsPerChunk - 1) / kPixelsPerChunk;
    auto fill = [&](int64_t c) {
      const int64_t start = c * kPixelsPerChunk, rows = std::min(kPixelsPerChunk, count - start);
      im2col(g, x, first + start, rows, patches.data() + start * width);
    };
    if (count * width < (1 << 15)) for (int64_t c = 0; c < chunks; c++) fill(c);
    else pool.run(chunks, fill);
    gemm(&pool, {1, width, g.outChannels, count, 0, 0}, {patches.data(), 1, width}, {dy + first * g.outChannels, g.outChannels, 1},
         dfilter, first > 0);
  }
}
