{
  "targets": [
    {
      "target_name": "walnut_storage_io",
      "sources": ["native/addon.c", "native/ring.c"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
