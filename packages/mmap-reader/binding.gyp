{
  "targets": [
    {
      "target_name": "walnut_mmap",
      "sources": ["native/mmap_reader.c", "native/crc32c.c", "native/frame_scan.c"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
