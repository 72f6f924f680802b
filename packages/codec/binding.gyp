{
  "targets": [
    {
      "target_name": "walnut_codec",
      "sources": ["native/codec_addon.c", "native/crc32c.c"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
