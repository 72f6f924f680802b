{
  "targets": [
    {
      "target_name": "walnut_codec",
      "sources": ["native/codec_addon.c", "native/crc32c.c", "native/frame_walk.c"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O2", "-std=gnu11", "-fvisibility=hidden"] },
      "defines": ["NAPI_VERSION=8"],
      "conditions": [["OS=='win'", { "type": "none" }]]
    }
  ]
}
