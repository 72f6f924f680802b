/*
 * The storage-io addon on Windows (addon.c is the POSIX one; both export the same names).
 * There is no io_uring, fallocate or sync_file_range here: those answer "unsupported" and the
 * log runs on sync-fs. What Windows needs from the addon is the one-writer lock and durable
 * renames:
 *
 *   flock(fd, op)      LockFileEx on one byte far past the lock file's end: the system drops
 *                      it when the process ends, however it ends, as Linux drops a flock. The
 *                      holder writes its pid beside the file, to <file>.pid (lock-file.ts).
 *   renameDurable(a,b) MoveFileExW with MOVEFILE_WRITE_THROUGH: returns once the rename is on
 *                      the disk, the nearest Windows has to rename + fsync of the directory.
 *
 * `fd` is a node:fs descriptor. Those are numbers in the C runtime table libuv keeps inside
 * node.exe, not in this DLL's runtime (mingw links msvcrt, node.exe its own static one), so the
 * handle behind one comes from node.exe's exported uv_get_osfhandle, found at load time.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "walnut_napi.h"

/* flock's operations, numbered as on Linux: the JavaScript side passes them back unchanged. */
#define LOCK_EX 2
#define LOCK_NB 4
#define LOCK_UN 8

typedef HANDLE (*get_osfhandle_fn)(int fd);
static get_osfhandle_fn node_get_osfhandle;

static HANDLE handle_of(int fd) {
  if (node_get_osfhandle == NULL) return INVALID_HANDLE_VALUE;
  return node_get_osfhandle(fd);
}

/* The locked byte, at 2^62: past any content, so that a locked file can still be read. */
static OVERLAPPED lock_byte(void) {
  OVERLAPPED at = {0};
  at.OffsetHigh = 0x40000000u;
  return at;
}

/* The errno numbers Node reports on Windows (os.constants.errno), which the C runtime's
 * errno.h shares; only the ones these calls can meet. */
static int errno_of(DWORD error) {
  switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
      return ENOENT;
    case ERROR_ACCESS_DENIED:
      return EPERM;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
      return EBUSY;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
      return EEXIST;
    case ERROR_DIR_NOT_EMPTY:
      return ENOTEMPTY;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      return ENOSPC;
    case ERROR_INVALID_HANDLE:
      return EBADF;
    case ERROR_INVALID_NAME:
    case ERROR_INVALID_PARAMETER:
    case ERROR_FILENAME_EXCED_RANGE:
      return EINVAL;
    case ERROR_WRITE_PROTECT:
      return EROFS;
    default:
      return EIO;
  }
}

/* flock(fd, operation) → 0 or -errno; a lock held elsewhere is -EWOULDBLOCK, as on Linux. */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  int32_t operation;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[1], &operation));
  HANDLE h = handle_of(fd);
  if (h == INVALID_HANDLE_VALUE) return make_int(env, -EBADF);
  OVERLAPPED at = lock_byte();
  if (operation & LOCK_UN) {
    if (!UnlockFileEx(h, 0, 1, 0, &at))
      return make_int(env, -errno_of(GetLastError()));
    return make_int(env, 0);
  }
  if (!(operation & LOCK_EX)) return make_int(env, -EINVAL);
  DWORD flags = LOCKFILE_EXCLUSIVE_LOCK | ((operation & LOCK_NB) ? LOCKFILE_FAIL_IMMEDIATELY : 0);
  if (LockFileEx(h, flags, 0, 1, 0, &at)) return make_int(env, 0);
  DWORD error = GetLastError();
  return make_int(env, error == ERROR_LOCK_VIOLATION || error == ERROR_IO_PENDING
                           ? -EWOULDBLOCK
                           : -errno_of(error));
}

/* A lock's descriptor, held so that the lock never outlives its environment (a worker that
 * ended without releasing it). This DLL cannot close a node:fs descriptor (it is node.exe's
 * runtime's), so the teardown unlocks it instead: the lock goes, the descriptor stays open
 * until the process ends. */
typedef struct {
  int fd; /* -1 once handed back by releaseHeldFd */
  int hooked;
  int collected;
} held_fd;

static void held_fd_teardown(void *arg) {
  held_fd *h = arg;
  h->hooked = 0;
  if (h->fd >= 0) {
    OVERLAPPED at = lock_byte();
    HANDLE handle = handle_of(h->fd);
    if (handle != INVALID_HANDLE_VALUE) UnlockFileEx(handle, 0, 1, 0, &at);
  }
  h->fd = -1;
  if (h->collected) free(h);
}

static void held_fd_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  held_fd *h = data;
  if (h->hooked) h->collected = 1;
  else free(h);
}

static napi_value js_hold_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0)
    return throw_type(env, "holdFd(fd): a file descriptor");
  held_fd *h = calloc(1, sizeof *h);
  if (h == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  h->fd = fd;
  if (napi_add_env_cleanup_hook(env, held_fd_teardown, h) != napi_ok) {
    free(h);
    return throw_napi(env);
  }
  h->hooked = 1;
  napi_value out;
  if (napi_create_external(env, h, held_fd_finalize, NULL, &out) != napi_ok) {
    napi_remove_env_cleanup_hook(env, held_fd_teardown, h);
    free(h);
    return throw_napi(env);
  }
  return out;
}

static napi_value js_release_held_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL)
    return throw_type(env, "releaseHeldFd(handle): a handle from holdFd");
  held_fd *h = data;
  if (h->hooked) napi_remove_env_cleanup_hook(env, held_fd_teardown, h);
  h->hooked = 0;
  h->fd = -1;
  return NULL;
}

/* A UTF-8 JavaScript string as a UTF-16 path (malloc'd), or NULL. */
static wchar_t *wide_path(napi_env env, napi_value value) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) return NULL;
  char *utf8 = malloc(length + 1);
  if (utf8 == NULL) return NULL;
  napi_get_value_string_utf8(env, value, utf8, length + 1, &length);
  int units = MultiByteToWideChar(CP_UTF8, 0, utf8, -1, NULL, 0);
  wchar_t *wide = units > 0 ? malloc(sizeof(wchar_t) * (size_t)units) : NULL;
  if (wide != NULL) MultiByteToWideChar(CP_UTF8, 0, utf8, -1, wide, units);
  free(utf8);
  return wide;
}

/* renameDurable(from, to) → 0 or -errno: replaces `to`, on the disk when it returns. */
static napi_value js_rename_durable(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "renameDurable(from, to): two paths");
  wchar_t *from = wide_path(env, argv[0]);
  wchar_t *to = wide_path(env, argv[1]);
  int rc = 0;
  if (from == NULL || to == NULL) rc = -EINVAL;
  else if (!MoveFileExW(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
    rc = -errno_of(GetLastError());
  free(from);
  free(to);
  return make_int(env, rc);
}

static napi_value unsupported(napi_env env, napi_callback_info info) {
  (void)info;
  return make_int(env, -EOPNOTSUPP);
}

static napi_value probe(napi_env env, napi_callback_info info) {
  (void)info;
  return make_string(env, "io_uring is Linux-only");
}

static napi_value create_ring(napi_env env, napi_callback_info info) {
  (void)info;
  napi_throw_error(env, NULL, "io_uring is Linux-only");
  return NULL;
}

#define ALIGNED_BUFFER_ALIGNMENT 4096

static void free_aligned(napi_env env, void *data, void *hint) {
  int64_t ignored;
  napi_adjust_external_memory(env, -(int64_t)(intptr_t)hint, &ignored);
  _aligned_free(data);
}

static napi_value js_alloc_aligned(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t size;
  napi_value out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int64(env, argv[0], &size));
  void *data = size > 0 ? _aligned_malloc((size_t)size, ALIGNED_BUFFER_ALIGNMENT) : NULL;
  if (data == NULL) {
    napi_get_null(env, &out);
    return out;
  }
  memset(data, 0, (size_t)size);
  if (napi_create_external_buffer(env, (size_t)size, data, free_aligned, (void *)(intptr_t)size,
                                  &out) != napi_ok) {
    _aligned_free(data);
    napi_get_null(env, &out);
    return out;
  }
  int64_t ignored;
  napi_adjust_external_memory(env, size, &ignored);
  return out;
}

static void set_named(napi_env env, napi_value object, const char *name, napi_value value) {
  napi_set_named_property(env, object, name, value);
}

static napi_value init(napi_env env, napi_value exports) {
  node_get_osfhandle =
      (get_osfhandle_fn)(void (*)(void))GetProcAddress(GetModuleHandleW(NULL), "uv_get_osfhandle");
  if (node_get_osfhandle == NULL) {
    /* Not Node's node.exe (another runtime): the lock could not reach its descriptors. */
    napi_throw_error(env, NULL, "uv_get_osfhandle is not exported by this process");
    return NULL;
  }
  napi_value constants;
  CHECK(napi_create_object(env, &constants));
  set_named(env, constants, "LOCK_EX", make_int(env, LOCK_EX));
  set_named(env, constants, "LOCK_NB", make_int(env, LOCK_NB));
  set_named(env, constants, "LOCK_UN", make_int(env, LOCK_UN));

  napi_property_descriptor props[] = {
      {"createRing", NULL, create_ring, NULL, NULL, NULL, napi_default, NULL},
      {"probe", NULL, probe, NULL, NULL, NULL, napi_default, NULL},
      {"flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL},
      {"holdFd", NULL, js_hold_fd, NULL, NULL, NULL, napi_default, NULL},
      {"releaseHeldFd", NULL, js_release_held_fd, NULL, NULL, NULL, napi_default, NULL},
      {"fallocate", NULL, unsupported, NULL, NULL, NULL, napi_default, NULL},
      {"syncFileRangeWrite", NULL, unsupported, NULL, NULL, NULL, napi_default, NULL},
      {"allocAligned", NULL, js_alloc_aligned, NULL, NULL, NULL, napi_default, NULL},
      {"renameDurable", NULL, js_rename_durable, NULL, NULL, NULL, napi_default, NULL},
      {"constants", NULL, NULL, NULL, NULL, constants, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
