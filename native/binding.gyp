{
  "targets": [{
    "target_name": "genloom_native",
    "sources": ["src/addon.cc", "src/gemm.cc", "src/kernels.cc", "src/conv.cc", "src/fused.cc", "src/recurrent.cc"],
    "cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y"],
    "defines": ["NAPI_VERSION=8"]
  }]
}
