{
  "targets": [
    {
      "target_name": "palisade_native",
      "sources": [
        "native/src/addon.cc", "native/src/errors.cc", "native/src/log.cc", "native/src/kernelfs.cc",
        "native/src/object.cc", "native/src/attach.cc", "native/src/map.cc", "native/src/ringbuf.cc",
        "native/src/probe.cc"
      ],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').gyp\")"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall"],
      "cflags_cc!": ["-fno-exceptions"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "libraries": ["<!@(pkg-config --libs libbpf)"]
    }
  ]
}
