{
  "variables": {
    "codec_native": "<!(node -p \"require('path').relative('.', require('path').join(require('path').dirname(require.resolve('@walnut/codec/package.json')), 'native'))\")"
  },
  "targets": [
    {
      "target_name": "walnut_mmap",
      "sources": ["native/mmap_reader.c"],
      "include_dirs": ["<(codec_native)"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O2", "-std=gnu11", "-fvisibility=hidden"] },
      "defines": ["NAPI_VERSION=8"],
      "conditions": [["OS=='win'", { "type": "none" }]]
    }
  ]
}
