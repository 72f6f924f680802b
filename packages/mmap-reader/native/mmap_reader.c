/* Copy-on-write file mappings for @walnut/mmap-reader.
 *
 * A mapping is handed to JavaScript as an external ArrayBuffer whose finalizer unmaps
 * it: the garbage collector owns the mapping, so any view of it keeps it alive and no
 * JavaScript code can reach unmapped memory. It is private and writable: a caller that
 * writes into a payload view (an in-place decrypt, say) gets its own copy of that page,
 * and neither the file nor the process is harmed (a read-only mapping ended the process
 * with SIGSEGV). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

/* The N-API scaffolding, from @walnut/codec's native/ (binding.gyp finds it there). Frames
 * are walked by the codec's addon, through its walkFrames (decision 0114). */
#include "walnut_napi.h"

/* Throws an Error carrying errno, code and syscall like Node's own fs errors. */
static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  char message[512];
  snprintf(message, sizeof message, "%s failed for %s: %s", syscall, path, strerror(err));
  napi_value msg, error, value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &value);
  napi_set_named_property(env, error, "errno", value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "syscall", value);
  napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "path", value);
  napi_throw(env, error);
  return NULL;
}

/* Copies a JS string into a malloc'd C string (caller frees). */
static char *get_path(napi_env env, napi_value value) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "path must be a string");
    return NULL;
  }
  char *path = malloc(len + 1);
  if (!path) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, value, path, len + 1, &len);
  return path;
}

static int get_arraybuffer(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  void *ptr = NULL;
  if (napi_get_arraybuffer_info(env, value, &ptr, length) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected an ArrayBuffer");
    return 0;
  }
  *data = ptr;
  return 1;
}

struct mapping {
  void *addr;
  size_t length;
};

static void unmap_finalizer(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  struct mapping *m = hint;
  munmap(m->addr, m->length);
  free(m);
}

/* mapFile(path) -> [ArrayBuffer | null, size, sequentialAdviceApplied]
 * A zero-length file cannot be mapped: it yields null and size 0. */
static napi_value map_file(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  char *path = get_path(env, argv[0]);
  if (!path) return NULL;

  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    napi_value r = throw_errno(env, errno, "open", path);
    free(path);
    return r;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    napi_value r = throw_errno(env, err, "fstat", path);
    free(path);
    return r;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    napi_value r = throw_errno(env, EINVAL, "mmap (not a regular file)", path);
    free(path);
    return r;
  }
  size_t size = (size_t)st.st_size;
  napi_value result, buffer, value;
  CHECK(napi_create_array_with_length(env, 3, &result));
  bool advised = false;
  if (size == 0) {
    close(fd);
    CHECK(napi_get_null(env, &buffer));
  } else {
    /* MAP_NORESERVE: pages nobody writes never need swap or commit charge of their own. */
    void *addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
    int err = errno;
    /* The mapping holds its own reference to the file; the descriptor is not needed. */
    close(fd);
    if (addr == MAP_FAILED) {
      napi_value r = throw_errno(env, err, "mmap", path);
      free(path);
      return r;
    }
    advised = madvise(addr, size, MADV_SEQUENTIAL) == 0;
    struct mapping *m = malloc(sizeof *m);
    if (!m) {
      munmap(addr, size);
      free(path);
      napi_throw_error(env, NULL, "out of memory");
      return NULL;
    }
    m->addr = addr;
    m->length = size;
    if (napi_create_external_arraybuffer(env, addr, size, unmap_finalizer, m, &buffer) !=
        napi_ok) {
      munmap(addr, size);
      free(m);
      free(path);
      return throw_napi(env);
    }
  }
  free(path);
  CHECK(napi_set_element(env, result, 0, buffer));
  CHECK(napi_create_double(env, (double)size, &value));
  CHECK(napi_set_element(env, result, 1, value));
  CHECK(napi_get_boolean(env, advised, &value));
  CHECK(napi_set_element(env, result, 2, value));
  return result;
}

/* Linux's numbers, for headers older than the kernel; elsewhere (macOS) these hints do not
 * exist and asking for them reports failure, which callers treat as "no effect". */
#ifdef __linux__
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#else
#define MADV_POPULATE_READ -1
#define MADV_COLD -1
#define MADV_PAGEOUT -1
#endif


/* MADV_DONTNEED is never used: on a private mapping it would throw away the pages a caller
 * wrote into and read the file's bytes back in their place. COLD and PAGEOUT (Linux 5.4+)
 * leave written (anonymous) pages alone without swap and only let go of clean ones. */
enum advice {
  ADVISE_SEQUENTIAL = 0,
  ADVISE_COLD = 1,          /* reclaim these first: pages far behind a scan */
  ADVISE_WILLNEED = 2,
  ADVISE_POPULATE_READ = 3, /* Linux 5.14+: fault a range in with one call */
  ADVISE_PAGEOUT = 4,       /* reclaim now: releasePages() */
};

/* advise(arrayBuffer, offset, length, advice) -> boolean (whether madvise succeeded).
 * The range is widened to whole pages and clipped to the mapping. */
static napi_value advise(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  uint8_t *data;
  size_t size;
  if (!get_arraybuffer(env, argv[0], &data, &size)) return NULL;
  double offset_d, length_d;
  int32_t kind;
  CHECK(napi_get_value_double(env, argv[1], &offset_d));
  CHECK(napi_get_value_double(env, argv[2], &length_d));
  CHECK(napi_get_value_int32(env, argv[3], &kind));
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t from = offset_d <= 0 ? 0 : (size_t)offset_d;
  size_t to = length_d <= 0 ? from : from + (size_t)length_d;
  if (to > size) to = size;
  from -= from % page;
  bool ok = false;
  if (from < to) {
    int adv = kind == ADVISE_COLD            ? MADV_COLD
              : kind == ADVISE_PAGEOUT       ? MADV_PAGEOUT
              : kind == ADVISE_WILLNEED      ? MADV_WILLNEED
              : kind == ADVISE_POPULATE_READ ? MADV_POPULATE_READ
                                             : MADV_SEQUENTIAL;
    ok = adv >= 0 && madvise(data + from, to - from, adv) == 0;
  }
  return make_bool(env, ok);
}

/* fadviseDontneed(path) -> boolean: drops the file's clean pages from the page cache. */
static napi_value fadvise_dontneed(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  char *path = get_path(env, argv[0]);
  if (!path) return NULL;
  bool ok = false;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
#ifdef POSIX_FADV_DONTNEED
    ok = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
#endif
    close(fd);
  }
  free(path);
  return make_bool(env, ok);
}

static int all_zero(const uint8_t *p, size_t n) {
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    if (v) return 0;
    p += 8;
    n -= 8;
  }
  while (n--)
    if (*p++) return 0;
  return 1;
}

/* isZeroFrom(arrayBuffer, path, from) -> boolean: whether every mapped byte from `from`
 * is zero. Holes of a sparse file are skipped with SEEK_DATA/SEEK_HOLE, so checking a
 * large preallocated tail neither reads nor maps it. */
static napi_value is_zero_from(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  uint8_t *data;
  size_t size;
  if (!get_arraybuffer(env, argv[0], &data, &size)) return NULL;
  char *path = get_path(env, argv[1]);
  if (!path) return NULL;
  double from_d;
  if (napi_get_value_double(env, argv[2], &from_d) != napi_ok) {
    free(path);
    return throw_napi(env);
  }
  size_t pos = from_d <= 0 ? 0 : (size_t)from_d;
  int zero = 1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  free(path);
  while (zero && pos < size) {
    size_t data_end = size;
    if (fd >= 0) {
      off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
      if (d < 0) {
        if (errno == ENXIO) break; /* only a hole from here to the end of the file */
        close(fd);                 /* no SEEK_DATA here: check every byte */
        fd = -1;
      } else {
        if ((size_t)d >= size) break;
        pos = (size_t)d;
        off_t h = lseek(fd, d, SEEK_HOLE);
        if (h > d && (size_t)h < size) data_end = (size_t)h;
      }
    }
    zero = all_zero(data + pos, data_end - pos);
    pos = data_end;
  }
  if (fd >= 0) close(fd);
  return make_bool(env, zero);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mapFile", NULL, map_file, NULL, NULL, NULL, napi_default, NULL},
      {"advise", NULL, advise, NULL, NULL, NULL, napi_default, NULL},
      {"fadviseDontneed", NULL, fadvise_dontneed, NULL, NULL, NULL, napi_default, NULL},
      {"isZeroFrom", NULL, is_zero_from, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
