/*
 * N-API binding of the io_uring driver (ring.c): SQE preparation for JS submissions,
 * completion delivery on the libuv loop (an eventfd registered with the ring, watched by
 * uv_poll), the few system calls Node lacks (flock, fallocate, sync_file_range), and
 * page-aligned buffers for O_DIRECT I/O, which Node's allocator cannot promise.
 *
 * Buffer lifetime: every SQE that points into JS memory holds napi references to its
 * buffers until its CQE was reaped, so the memory the kernel reads or writes cannot be
 * collected under it. References do not hold when an environment ends: Node then frees
 * external buffers (the aligned ones below) first, so their finalizer waits for the kernel
 * (wait_for_kernel). Liveness: while operations are in flight the uv_poll handle is
 * referenced (the process stays up) and the JS completion callback is held strongly;
 * when idle both are released, so an unused ring can be garbage collected. The ring object
 * itself holds its callback (a property), so the callback lives as long as the ring.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <pthread.h>
#include <unistd.h>

/* CHECK, throw_napi and the make_* helpers: the one copy in @walnut/codec's native/
 * (binding.gyp finds it there; decision 0114). */
#include "walnut_napi.h"

/* io_uring, eventfd, fallocate and sync_file_range are Linux's: elsewhere (macOS) the addon
 * gives flock and aligned buffers only, and says io_uring is unavailable (binding.gyp). */
#ifdef __linux__
#include <sys/eventfd.h>
/* RWF_DSYNC from <linux/fs.h>, kept here so that older headers still build. */
#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif
#include <uv.h>

#include "ring.h"
#endif

#ifdef __linux__
/* Linux caps one read/write at this many bytes; larger requests complete short. */
#define MAX_TRANSFER 0x7ffff000u
#define NO_SLOT UINT32_MAX

typedef struct {
  double token;
  napi_ref buffer;   /* write/read: the one buffer */
  napi_ref *buffers; /* writev: one reference per buffer */
  uint32_t buffer_count;
  struct iovec *iov;
  /* The memory the kernel may still read or write: [lo, hi). */
  uintptr_t lo, hi;
  uint32_t next_free;
} op_slot;

typedef struct addon_ring {
  wal_ring ring;
  napi_env env;
  int eventfd;
  uv_poll_t *poll;
  int busy;
  int closed;
  int sqpoll;
  int hook_installed;
  /* Prepared or in the kernel, CQE not reaped yet. */
  uint32_t in_flight;
  op_slot *slots;
  uint32_t slot_capacity;
  uint32_t free_head;
  napi_ref callback;
  napi_ref completions_ref;
  double *completions;
  uint32_t completions_capacity; /* in (token, result) pairs */
  napi_async_context async_context;
  /* On the process's list of open rings (open_rings). */
  int listed;
  struct addon_ring *prev_open, *next_open;
} addon_ring;

/* Every ring not closed yet, of every environment in the process. When an environment ends,
 * Node frees its external buffers before any cleanup hook runs, whatever references hold
 * them, so free_aligned looks here for operations the kernel is still doing on the memory it
 * is about to free (a worker that ends with a direct-I/O write in flight). */
static pthread_mutex_t open_rings_lock = PTHREAD_MUTEX_INITIALIZER;
static addon_ring *open_rings;

#endif /* __linux__ */

/* ---------- helpers ---------- */

static void set_named(napi_env env, napi_value object, const char *name, napi_value value) {
  napi_set_named_property(env, object, name, value);
}

static char *errno_message(const char *what, int err, char *buf, size_t len) {
  snprintf(buf, len, "%s failed with %s (errno %d)", what, strerror(err), err);
  return buf;
}

#ifdef __linux__
/* ---------- slots ---------- */

static uint32_t slot_alloc(addon_ring *r) {
  if (r->free_head == NO_SLOT) {
    uint32_t old = r->slot_capacity;
    uint32_t grown = old == 0 ? 256 : old * 2;
    op_slot *slots = realloc(r->slots, grown * sizeof(op_slot));
    if (slots == NULL) return NO_SLOT;
    memset(slots + old, 0, (grown - old) * sizeof(op_slot));
    for (uint32_t i = old; i < grown; i++) slots[i].next_free = i + 1 < grown ? i + 1 : NO_SLOT;
    r->slots = slots;
    r->slot_capacity = grown;
    r->free_head = old;
  }
  uint32_t index = r->free_head;
  r->free_head = r->slots[index].next_free;
  return index;
}

static void slot_release(addon_ring *r, uint32_t index) {
  op_slot *slot = &r->slots[index];
  if (slot->buffer != NULL) napi_delete_reference(r->env, slot->buffer);
  for (uint32_t i = 0; i < slot->buffer_count; i++) napi_delete_reference(r->env, slot->buffers[i]);
  free(slot->buffers);
  free(slot->iov);
  memset(slot, 0, sizeof(*slot));
  slot->next_free = r->free_head;
  r->free_head = index;
}

/* ---------- liveness ---------- */

static void update_busy(addon_ring *r) {
  int busy = r->in_flight > 0 && !r->closed;
  if (busy == r->busy) return;
  r->busy = busy;
  uint32_t count;
  if (busy) {
    uv_ref((uv_handle_t *)r->poll);
    napi_reference_ref(r->env, r->callback, &count);
  } else {
    uv_unref((uv_handle_t *)r->poll);
    napi_reference_unref(r->env, r->callback, &count);
  }
}

/* ---------- completions ---------- */

/* Moves up to `capacity` CQEs into `out` (token, result pairs; NULL to discard). Flushes
 * the kernel's overflow list into the CQ when it is flagged. */
static uint32_t reap(addon_ring *r, double *out, uint32_t capacity) {
  wal_ring *ring = &r->ring;
  uint32_t n = 0;
  for (;;) {
    unsigned head = *ring->cq_head;
    unsigned tail = __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE);
    while (head != tail && n < capacity) {
      struct io_uring_cqe *cqe = &ring->cqes[head & ring->cq_mask];
      uint32_t index = (uint32_t)cqe->user_data;
      if (out != NULL) {
        out[2 * n] = r->slots[index].token;
        out[2 * n + 1] = cqe->res;
      }
      slot_release(r, index);
      head++;
      n++;
    }
    __atomic_store_n(ring->cq_head, head, __ATOMIC_RELEASE);
    if (n == capacity || !wal_ring_cq_overflowed(ring)) break;
    /* Completions the CQ had no room for wait in the kernel: GETEVENTS moves them in. */
    unsigned before = __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE);
    if (wal_ring_wait(ring, 0) < 0) break;
    if (__atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE) == before && head == before) break;
  }
  r->in_flight -= n;
  update_busy(r);
  return n;
}

static void deliver(addon_ring *r, napi_value callback, uint32_t count) {
  napi_env env = r->env;
  napi_value argv[1];
  napi_value recv;
  napi_value result;
  napi_create_uint32(env, count, &argv[0]);
  napi_get_global(env, &recv); /* MakeCallback needs an object receiver */
  napi_status status = napi_make_callback(env, r->async_context, recv, callback, 1, argv, &result);
  if (status == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)status;
  (void)events;
  addon_ring *r = handle->data;
  if (r == NULL || r->closed) return;
  uint64_t value;
  while (read(r->eventfd, &value, sizeof(value)) < 0 && errno == EINTR) {
  }
  napi_handle_scope scope;
  if (napi_open_handle_scope(r->env, &scope) != napi_ok) return;
  /* Take the callback before reaping: reaping the last CQE makes the reference weak. */
  napi_value callback = NULL;
  napi_get_reference_value(r->env, r->callback, &callback);
  if (callback != NULL) {
    for (;;) {
      uint32_t n = reap(r, r->completions, r->completions_capacity);
      if (n == 0) break;
      deliver(r, callback, n);
      if (r->closed || n < r->completions_capacity) break;
    }
  }
  napi_close_handle_scope(r->env, scope);
}

/* ---------- teardown ---------- */

static void free_poll(uv_handle_t *handle) { free(handle); }

static void cleanup_hook(void *arg);

/* Waits for every operation in flight (their buffers stay referenced until then), then
 * releases everything. Safe to call more than once. `teardown`: the environment is going
 * away, and with a worker that was the only one to load this addon, the addon's code is
 * unloaded before libuv runs the close callbacks still due — so none of ours is left
 * behind, and the poll handle's few bytes are left to the loop that goes with it. */
static void drain(addon_ring *r) {
  while (r->in_flight > 0) {
    int submitted = wal_ring_submit(&r->ring);
    if (submitted < 0 && submitted != -EBUSY && submitted != -EAGAIN) break;
    if (reap(r, NULL, UINT32_MAX) > 0) continue;
    if (wal_ring_wait(&r->ring, 1) < 0) break;
  }
}

static void list_open(addon_ring *r) {
  pthread_mutex_lock(&open_rings_lock);
  r->prev_open = NULL;
  r->next_open = open_rings;
  if (open_rings != NULL) open_rings->prev_open = r;
  open_rings = r;
  r->listed = 1;
  pthread_mutex_unlock(&open_rings_lock);
}

static void unlist_open(addon_ring *r) {
  pthread_mutex_lock(&open_rings_lock);
  if (r->listed) {
    if (r->prev_open != NULL) r->prev_open->next_open = r->next_open;
    else open_rings = r->next_open;
    if (r->next_open != NULL) r->next_open->prev_open = r->prev_open;
    r->listed = 0;
  }
  pthread_mutex_unlock(&open_rings_lock);
}

static int touches(const addon_ring *r, uintptr_t start, uintptr_t end) {
  if (r->in_flight == 0) return 0;
  for (uint32_t i = 0; i < r->slot_capacity; i++)
    if (r->slots[i].lo < end && r->slots[i].hi > start) return 1;
  return 0;
}

/* Waits until no operation of `env`'s rings can still touch [start, end). Only a ring of the
 * calling thread's environment is drained, so no other thread's ring is read. */
static void wait_for_kernel(napi_env env, uintptr_t start, uintptr_t end) {
  for (;;) {
    addon_ring *found = NULL;
    pthread_mutex_lock(&open_rings_lock);
    for (addon_ring *r = open_rings; r != NULL && found == NULL; r = r->next_open)
      if (r->env == env && touches(r, start, end)) found = r;
    pthread_mutex_unlock(&open_rings_lock);
    if (found == NULL) return;
    drain(found);
    if (found->in_flight > 0) return; /* the ring failed; nothing more to wait for */
  }
}

static void close_ring(addon_ring *r, int teardown) {
  if (r->closed) return;
  drain(r);
  unlist_open(r);
  r->closed = 1;
  r->busy = 0;
  if (r->poll != NULL) {
    uv_poll_stop(r->poll);
    r->poll->data = NULL;
    uv_close((uv_handle_t *)r->poll, teardown ? NULL : free_poll);
    r->poll = NULL;
  }
  wal_ring_destroy(&r->ring);
  if (r->eventfd >= 0) close(r->eventfd);
  r->eventfd = -1;
  if (r->callback != NULL) napi_delete_reference(r->env, r->callback);
  if (r->completions_ref != NULL) napi_delete_reference(r->env, r->completions_ref);
  if (r->async_context != NULL) napi_async_destroy(r->env, r->async_context);
  r->callback = NULL;
  r->completions_ref = NULL;
  r->async_context = NULL;
  free(r->slots);
  r->slots = NULL;
  if (r->hook_installed) {
    r->hook_installed = 0;
    napi_remove_env_cleanup_hook(r->env, cleanup_hook, r);
  }
}

static void cleanup_hook(void *arg) {
  addon_ring *r = arg;
  r->hook_installed = 0;
  close_ring(r, 1);
}

static void finalize_ring(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  addon_ring *r = data;
  close_ring(r, 0);
  free(r);
}

/* ---------- Ring class ---------- */

static addon_ring *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  addon_ring *r = NULL;
  if (napi_unwrap(env, self, (void **)&r) != napi_ok || r == NULL) {
    napi_throw_error(env, NULL, "not a ring");
    return NULL;
  }
  if (r->closed) {
    napi_throw_error(env, "WAL_CLOSED", "the io_uring ring is closed");
    return NULL;
  }
  return r;
}

static int get_bytes(napi_env env, napi_value value, void **data, size_t *length) {
  bool is_typed = false;
  napi_is_typedarray(env, value, &is_typed);
  if (!is_typed) {
    napi_throw_type_error(env, NULL, "expected a Uint8Array");
    return -1;
  }
  napi_typedarray_type type;
  napi_value arraybuffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, length, data, &arraybuffer, &offset) != napi_ok)
    return -1;
  if (type != napi_uint8_array && type != napi_uint8_clamped_array) {
    napi_throw_type_error(env, NULL, "expected a Uint8Array");
    return -1;
  }
  return 0;
}

/* Common head of every prep: token, fd, a free SQE and a slot. Returns the SQE, or NULL
 * with *full set when the SQ has no room (nothing consumed), or NULL on a JS error. */
static struct io_uring_sqe *begin_prep(napi_env env, addon_ring *r, napi_value token_value,
                                       napi_value fd_value, uint32_t *slot_index, int *full) {
  double token;
  int32_t fd;
  *full = 0;
  if (napi_get_value_double(env, token_value, &token) != napi_ok ||
      napi_get_value_int32(env, fd_value, &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "token and fd must be numbers");
    return NULL;
  }
  if (wal_ring_sq_space(&r->ring) == 0) {
    *full = 1;
    return NULL;
  }
  uint32_t index = slot_alloc(r);
  if (index == NO_SLOT) {
    napi_throw_error(env, NULL, "out of memory for io_uring slots");
    return NULL;
  }
  struct io_uring_sqe *sqe = wal_ring_get_sqe(&r->ring);
  sqe->fd = fd;
  sqe->user_data = index;
  r->slots[index].token = token;
  *slot_index = index;
  return sqe;
}

static void finish_prep(addon_ring *r, struct io_uring_sqe *sqe, bool link) {
  if (link) sqe->flags |= IOSQE_IO_LINK;
  r->in_flight++;
  update_busy(r);
}

/* An optional boolean argument, false when absent. */
static int get_flag(napi_env env, size_t argc, napi_value *argv, size_t index) {
  bool flag = false;
  if (argc > index) napi_get_value_bool(env, argv[index], &flag);
  return flag;
}


/* prepWrite/prepRead(token, fd, bytes, offset, link[, punt[, dsync]]).
 * `punt` sets IOSQE_ASYNC: buffered writes on file systems without non-blocking buffered
 * writes (ext4) fail the inline attempt with EAGAIN and are punted to io-wq anyway; going
 * there directly skips that attempt. `dsync` sets RWF_DSYNC: the kernel syncs the written
 * range before it posts the completion. */
static napi_value prep_rw(napi_env env, napi_callback_info info, uint8_t opcode) {
  size_t argc = 7;
  napi_value argv[7];
  addon_ring *r = unwrap(env, info, &argc, argv);
  if (r == NULL) return NULL;
  void *data;
  size_t length;
  int64_t offset;
  bool link;
  if (get_bytes(env, argv[2], &data, &length) < 0) return NULL;
  CHECK(napi_get_value_int64(env, argv[3], &offset));
  CHECK(napi_get_value_bool(env, argv[4], &link));
  napi_ref buffer;
  CHECK(napi_create_reference(env, argv[2], 1, &buffer));
  uint32_t index;
  int full;
  struct io_uring_sqe *sqe = begin_prep(env, r, argv[0], argv[1], &index, &full);
  if (sqe == NULL) {
    napi_delete_reference(env, buffer);
    return full ? make_bool(env, false) : NULL;
  }
  r->slots[index].buffer = buffer;
  r->slots[index].lo = (uintptr_t)data;
  r->slots[index].hi = (uintptr_t)data + length;
  sqe->opcode = opcode;
  if (get_flag(env, argc, argv, 5)) sqe->flags |= IOSQE_ASYNC;
  if (get_flag(env, argc, argv, 6)) sqe->rw_flags = RWF_DSYNC;
  sqe->addr = (uint64_t)(uintptr_t)data;
  sqe->len = length > MAX_TRANSFER ? MAX_TRANSFER : (uint32_t)length;
  sqe->off = (uint64_t)offset;
  finish_prep(r, sqe, link);
  return make_bool(env, true);
}

static napi_value prep_write(napi_env env, napi_callback_info info) {
  return prep_rw(env, info, IORING_OP_WRITE);
}

static napi_value prep_read(napi_env env, napi_callback_info info) {
  return prep_rw(env, info, IORING_OP_READ);
}

/* prepWritev(token, fd, buffers[], offset, link[, punt[, dsync]]) */
static napi_value prep_writev(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  addon_ring *r = unwrap(env, info, &argc, argv);
  if (r == NULL) return NULL;
  uint32_t count;
  int64_t offset;
  bool link;
  CHECK(napi_get_array_length(env, argv[2], &count));
  CHECK(napi_get_value_int64(env, argv[3], &offset));
  CHECK(napi_get_value_bool(env, argv[4], &link));
  struct iovec *iov = calloc(count == 0 ? 1 : count, sizeof(struct iovec));
  napi_ref *refs = calloc(count == 0 ? 1 : count, sizeof(napi_ref));
  if (iov == NULL || refs == NULL) {
    free(iov);
    free(refs);
    napi_throw_error(env, NULL, "out of memory for an iovec");
    return NULL;
  }
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    void *data;
    size_t length;
    if (napi_get_element(env, argv[2], i, &element) != napi_ok ||
        get_bytes(env, element, &data, &length) < 0) {
      free(iov);
      free(refs);
      return NULL;
    }
    iov[i].iov_base = data;
    iov[i].iov_len = length;
    if ((uintptr_t)data < lo) lo = (uintptr_t)data;
    if ((uintptr_t)data + length > hi) hi = (uintptr_t)data + length;
  }
  uint32_t index;
  int full;
  struct io_uring_sqe *sqe = begin_prep(env, r, argv[0], argv[1], &index, &full);
  if (sqe == NULL) {
    free(iov);
    free(refs);
    return full ? make_bool(env, false) : NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    napi_get_element(env, argv[2], i, &element);
    napi_create_reference(env, element, 1, &refs[i]);
  }
  if (hi > 0) {
    r->slots[index].lo = lo;
    r->slots[index].hi = hi;
  }
  r->slots[index].iov = iov;
  r->slots[index].buffers = refs;
  r->slots[index].buffer_count = count;
  sqe->opcode = IORING_OP_WRITEV;
  if (get_flag(env, argc, argv, 5)) sqe->flags |= IOSQE_ASYNC;
  if (get_flag(env, argc, argv, 6)) sqe->rw_flags = RWF_DSYNC;
  sqe->addr = (uint64_t)(uintptr_t)iov;
  sqe->len = count;
  sqe->off = (uint64_t)offset;
  finish_prep(r, sqe, link);
  return make_bool(env, true);
}

/* prepFsync(token, fd, datasync, link) */
static napi_value prep_fsync(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  addon_ring *r = unwrap(env, info, &argc, argv);
  if (r == NULL) return NULL;
  bool datasync;
  bool link;
  CHECK(napi_get_value_bool(env, argv[2], &datasync));
  CHECK(napi_get_value_bool(env, argv[3], &link));
  uint32_t index;
  int full;
  struct io_uring_sqe *sqe = begin_prep(env, r, argv[0], argv[1], &index, &full);
  if (sqe == NULL) return full ? make_bool(env, false) : NULL;
  sqe->opcode = IORING_OP_FSYNC;
  sqe->fsync_flags = datasync ? IORING_FSYNC_DATASYNC : 0;
  finish_prep(r, sqe, link);
  return make_bool(env, true);
}

/* The SQE of a (token, fd, offset, length, link) call with `off` set, counted in flight and
 * linked as asked; the caller fills in the opcode and length before the next submit publishes
 * it. NULL when the SQ is full (*full) or an exception is pending. */
static struct io_uring_sqe *prep_range(napi_env env, napi_callback_info info, int *full,
                                       int64_t *length) {
  size_t argc = 5;
  napi_value argv[5];
  *full = 0;
  addon_ring *r = unwrap(env, info, &argc, argv);
  if (r == NULL) return NULL;
  int64_t offset;
  bool link;
  if (napi_get_value_int64(env, argv[2], &offset) != napi_ok ||
      napi_get_value_int64(env, argv[3], length) != napi_ok ||
      napi_get_value_bool(env, argv[4], &link) != napi_ok) {
    napi_throw_type_error(env, NULL, "offset and length must be numbers, link a boolean");
    return NULL;
  }
  uint32_t index;
  struct io_uring_sqe *sqe = begin_prep(env, r, argv[0], argv[1], &index, full);
  if (sqe == NULL) return NULL;
  sqe->off = (uint64_t)offset;
  finish_prep(r, sqe, link);
  return sqe;
}

/* prepFallocate(token, fd, offset, length, link) — mode 0 */
static napi_value prep_fallocate(napi_env env, napi_callback_info info) {
  int full;
  int64_t length;
  struct io_uring_sqe *sqe = prep_range(env, info, &full, &length);
  if (sqe == NULL) return full ? make_bool(env, false) : NULL;
  sqe->opcode = IORING_OP_FALLOCATE;
  sqe->addr = (uint64_t)length;
  sqe->len = 0;
  return make_bool(env, true);
}

/* prepWriteback(token, fd, offset, length, link) — sync_file_range(SYNC_FILE_RANGE_WRITE):
 * starts writeback of the range without waiting for it. The SQE's length is 32 bits; a
 * longer range is sent as 0, which the kernel reads as "to the end of the file". */
static napi_value prep_writeback(napi_env env, napi_callback_info info) {
  int full;
  int64_t length;
  struct io_uring_sqe *sqe = prep_range(env, info, &full, &length);
  if (sqe == NULL) return full ? make_bool(env, false) : NULL;
  sqe->opcode = IORING_OP_SYNC_FILE_RANGE;
  sqe->len = length > (int64_t)UINT32_MAX ? 0 : (uint32_t)length;
  sqe->sync_range_flags = SYNC_FILE_RANGE_WRITE;
  return make_bool(env, true);
}

static napi_value ring_submit(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  addon_ring *r = unwrap(env, info, &argc, NULL);
  if (r == NULL) return NULL;
  int n = wal_ring_submit(&r->ring);
  if (n >= 0 && r->sqpoll && wal_ring_sq_space(&r->ring) == 0) {
    int waited = wal_ring_wait_sq_space(&r->ring);
    if (waited < 0) n = waited;
  }
  return make_int(env, n);
}

/* reap(enter?) -> pairs moved into the completion array. With `enter`, when the CQ is
 * empty but operations are in flight, enters the kernel once without waiting
 * (GETEVENTS, min_complete 0): completions the kernel finished but has not posted yet
 * (task work runs when the submitting thread enters the kernel) are posted, and a thread
 * that has not made a system call since — a JavaScript loop that never yields — sees them. */
static napi_value ring_reap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  addon_ring *r = unwrap(env, info, &argc, argv);
  if (r == NULL) return NULL;
  bool enter = false;
  if (argc >= 1) napi_get_value_bool(env, argv[0], &enter);
  uint32_t n = reap(r, r->completions, r->completions_capacity);
  if (n == 0 && enter && r->in_flight > 0 && wal_ring_wait(&r->ring, 0) == 0) {
    n = reap(r, r->completions, r->completions_capacity);
  }
  return make_int(env, n);
}

static napi_value ring_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value self;
  CHECK(napi_get_cb_info(env, info, &argc, NULL, &self, NULL));
  addon_ring *r = NULL;
  CHECK(napi_unwrap(env, self, (void **)&r));
  close_ring(r, 0);
  return NULL;
}

static napi_value get_sq_space(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  addon_ring *r = unwrap(env, info, &argc, NULL);
  if (r == NULL) return NULL;
  return make_int(env, wal_ring_sq_space(&r->ring));
}

static napi_value get_sq_entries(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  addon_ring *r = unwrap(env, info, &argc, NULL);
  if (r == NULL) return NULL;
  return make_int(env, r->ring.sq_entries);
}

static napi_value get_in_flight(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  addon_ring *r = unwrap(env, info, &argc, NULL);
  if (r == NULL) return NULL;
  return make_int(env, r->in_flight);
}


static napi_value ring_info(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  addon_ring *r = unwrap(env, info, &argc, NULL);
  if (r == NULL) return NULL;
  napi_value out;
  CHECK(napi_create_object(env, &out));
  set_named(env, out, "sqEntries", make_int(env, r->ring.sq_entries));
  set_named(env, out, "cqEntries", make_int(env, r->ring.cq_entries));
  set_named(env, out, "sqpoll", make_bool(env, r->sqpoll));
  set_named(env, out, "submitAll", make_bool(env, (r->ring.setup_flags & IORING_SETUP_SUBMIT_ALL) != 0));
  set_named(env, out, "features", make_int(env, r->ring.features));
  set_named(env, out, "noDrop", make_bool(env, (r->ring.features & IORING_FEAT_NODROP) != 0));
  napi_value delivery;
  napi_create_string_utf8(env, "eventfd registered with the ring, watched by uv_poll", NAPI_AUTO_LENGTH,
                          &delivery);
  set_named(env, out, "completionDelivery", delivery);
  return out;
}

static int get_named_uint32(napi_env env, napi_value object, const char *name, uint32_t *out) {
  napi_value value;
  if (napi_get_named_property(env, object, name, &value) != napi_ok) return -1;
  return napi_get_value_uint32(env, value, out) == napi_ok ? 0 : -1;
}

/* new Ring({ entries, cqEntries, sqpoll, sqpollIdleMs, completions, onCompletions }) */
static napi_value ring_construct(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value self;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "Ring needs an options object");
    return NULL;
  }
  uint32_t entries = 256;
  uint32_t cq_entries = 0;
  uint32_t idle_ms = 50;
  bool sqpoll = false;
  get_named_uint32(env, argv[0], "entries", &entries);
  get_named_uint32(env, argv[0], "cqEntries", &cq_entries);
  get_named_uint32(env, argv[0], "sqpollIdleMs", &idle_ms);
  napi_value value;
  CHECK(napi_get_named_property(env, argv[0], "sqpoll", &value));
  napi_get_value_bool(env, value, &sqpoll);
  napi_value completions;
  napi_value callback;
  CHECK(napi_get_named_property(env, argv[0], "completions", &completions));
  CHECK(napi_get_named_property(env, argv[0], "onCompletions", &callback));
  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value arraybuffer;
  size_t byte_offset;
  if (napi_get_typedarray_info(env, completions, &type, &length, &data, &arraybuffer,
                               &byte_offset) != napi_ok ||
      type != napi_float64_array || length < 2) {
    napi_throw_type_error(env, NULL, "completions must be a Float64Array of at least 2");
    return NULL;
  }
  napi_valuetype callback_type;
  napi_typeof(env, callback, &callback_type);
  if (callback_type != napi_function) {
    napi_throw_type_error(env, NULL, "onCompletions must be a function");
    return NULL;
  }

  addon_ring *r = calloc(1, sizeof(addon_ring));
  if (r == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  r->env = env;
  r->eventfd = -1;
  r->free_head = NO_SLOT;
  r->sqpoll = sqpoll;
  r->completions = data;
  r->completions_capacity = (uint32_t)(length / 2);
  if (cq_entries == 0) cq_entries = entries * 4;
  char message[256];
  int err = wal_ring_init(&r->ring, entries, cq_entries, sqpoll, idle_ms);
  if (err < 0) {
    free(r);
    napi_throw_error(env, NULL, errno_message("io_uring_setup", -err, message, sizeof(message)));
    return NULL;
  }
  r->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r->eventfd < 0 || (err = wal_ring_register_eventfd(&r->ring, r->eventfd)) < 0) {
    int e = r->eventfd < 0 ? errno : -err;
    if (r->eventfd >= 0) close(r->eventfd);
    wal_ring_destroy(&r->ring);
    free(r);
    napi_throw_error(env, NULL, errno_message("registering the eventfd", e, message, sizeof(message)));
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  r->poll = calloc(1, sizeof(uv_poll_t));
  if (r->poll == NULL || uv_poll_init(loop, r->poll, r->eventfd) != 0) {
    free(r->poll);
    close(r->eventfd);
    wal_ring_destroy(&r->ring);
    free(r);
    napi_throw_error(env, NULL, "uv_poll_init failed on the ring's eventfd");
    return NULL;
  }
  r->poll->data = r;
  uv_poll_start(r->poll, UV_READABLE, on_readable);
  uv_unref((uv_handle_t *)r->poll);
  napi_create_reference(env, completions, 1, &r->completions_ref);
  napi_create_reference(env, callback, 0, &r->callback);
  napi_value resource_name;
  napi_create_string_utf8(env, "walnut:io_uring", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, self, resource_name, &r->async_context);
  /* The ring object holds its callback: r->callback is weak while idle, and a callback that
   * nothing else held was collected then, every later completion dropped unseen (the io_uring
   * proof's test read, whenever a scavenge fell between its createRing and prepRead). */
  napi_property_descriptor held = {"onCompletions", NULL, NULL, NULL, NULL, callback,
                                   napi_default, NULL};
  if (napi_define_properties(env, self, 1, &held) != napi_ok ||
      napi_wrap(env, self, r, finalize_ring, NULL, NULL) != napi_ok) {
    close_ring(r, 0);
    free(r);
    napi_throw_error(env, NULL, "holding the callback or napi_wrap failed");
    return NULL;
  }
  napi_add_env_cleanup_hook(env, cleanup_hook, r);
  r->hook_installed = 1;
  list_open(r);
  return self;
}

/* ---------- free functions ---------- */

static const int REQUIRED_OPS[] = {IORING_OP_WRITE, IORING_OP_READ, IORING_OP_WRITEV,
                                   IORING_OP_FSYNC, IORING_OP_FALLOCATE,
                                   IORING_OP_SYNC_FILE_RANGE};
static const char *REQUIRED_OP_NAMES[] = {"WRITE",  "READ",      "WRITEV",
                                          "FSYNC", "FALLOCATE", "SYNC_FILE_RANGE"};

/* probe(): null when a real ring with every needed opcode and an eventfd works. */
static napi_value probe(napi_env env, napi_callback_info info) {
  (void)info;
  wal_ring ring;
  char message[512];
  napi_value out;
  int err = wal_ring_init(&ring, 4, 8, 0, 0);
  if (err < 0) {
    const char *hint = "";
    if (err == -ENOSYS) hint = ": this kernel has no io_uring";
    if (err == -EPERM || err == -EACCES)
      hint = ": io_uring is disabled (sysctl kernel.io_uring_disabled) or blocked by a seccomp "
             "profile (containers)";
    snprintf(message, sizeof(message), "io_uring_setup failed with %s (errno %d)%s",
             strerror(-err), -err, hint);
    napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &out);
    return out;
  }
  int missing = wal_ring_probe_ops(&ring, REQUIRED_OPS, 5);
  int efd = missing == 0 ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
  int registered = efd >= 0 ? wal_ring_register_eventfd(&ring, efd) : 0;
  if (efd >= 0) close(efd);
  wal_ring_destroy(&ring);
  if (missing < 0) {
    errno_message("IORING_REGISTER_PROBE", -missing, message, sizeof(message));
  } else if (missing > 0) {
    const char *name = "?";
    for (int i = 0; i < 5; i++)
      if (REQUIRED_OPS[i] == missing - 1) name = REQUIRED_OP_NAMES[i];
    snprintf(message, sizeof(message), "the kernel's io_uring lacks IORING_OP_%s", name);
  } else if (registered < 0) {
    errno_message("IORING_REGISTER_EVENTFD", -registered, message, sizeof(message));
  } else {
    napi_get_null(env, &out);
    return out;
  }
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &out);
  return out;
}

#else
static napi_value probe(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_string_utf8(env, "io_uring is Linux-only", NAPI_AUTO_LENGTH, &out);
  return out;
}
#endif /* __linux__ */

/* flock(fd, operation) → 0 or -errno */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  int32_t operation;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[1], &operation));
  int rc;
  do {
    rc = flock(fd, operation);
  } while (rc < 0 && errno == EINTR);
  return make_int(env, rc < 0 ? -errno : 0);
}

/* A lock's descriptor, held so that it never outlives its environment: a flock dies with its
 * descriptor, and a worker that ended without releasing its lock would otherwise keep the log
 * locked for the rest of the process. The environment's teardown closes it unless it was
 * released first (then its owner closes it). Only for runtimes whose node:fs descriptors are
 * the system's and outlive a worker (Node): where the runtime closes a worker's files itself,
 * a second close could hit a number reused since. Collected unreleased, it stays open until
 * the teardown, as a lock dropped without release always did. */
typedef struct {
  int fd; /* -1 once closed here, or handed back by releaseHeldFd */
  int hooked; /* the teardown hook is installed */
  int collected; /* the JavaScript handle is gone: whoever closes last frees */
} held_fd;

static void held_fd_teardown(void *arg) {
  held_fd *h = arg;
  h->hooked = 0;
  if (h->fd >= 0) close(h->fd);
  h->fd = -1;
  if (h->collected) free(h);
}

static void held_fd_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  held_fd *h = data;
  if (h->hooked) h->collected = 1; /* the teardown closes it and frees */
  else free(h);
}

/* holdFd(fd) → a handle: the environment's teardown closes `fd` unless releaseHeldFd came first. */
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

/* releaseHeldFd(handle): the teardown will not close the descriptor (its owner is about to). */
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

/* fallocate(fd, mode, offset, length) → 0 or -errno */
static napi_value js_fallocate(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd;
  int32_t mode;
  int64_t offset;
  int64_t length;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[1], &mode));
  CHECK(napi_get_value_int64(env, argv[2], &offset));
  CHECK(napi_get_value_int64(env, argv[3], &length));
#ifdef __linux__
  int rc;
  do {
    rc = fallocate(fd, mode, offset, length);
  } while (rc < 0 && errno == EINTR);
  return make_int(env, rc < 0 ? -errno : 0);
#else
  (void)fd;
  (void)mode;
  (void)offset;
  (void)length;
  return make_int(env, -EOPNOTSUPP);
#endif
}

/* syncFileRangeWrite(fd, offset, length) → 0 or -errno: starts writeback, does not wait. */
static napi_value js_sync_file_range_write(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  int64_t offset;
  int64_t length;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int64(env, argv[1], &offset));
  CHECK(napi_get_value_int64(env, argv[2], &length));
#ifdef __linux__
  int rc;
  do {
    rc = sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
  } while (rc < 0 && errno == EINTR);
  return make_int(env, rc < 0 ? -errno : 0);
#else
  (void)fd;
  (void)offset;
  (void)length;
  return make_int(env, -EOPNOTSUPP);
#endif
}

/* O_DIRECT needs the memory itself aligned; a Buffer from Node's allocator is not. */
#define ALIGNED_BUFFER_ALIGNMENT 4096

static void free_aligned(napi_env env, void *data, void *hint) {
  int64_t size = (int64_t)(intptr_t)hint;
#ifdef __linux__
  wait_for_kernel(env, (uintptr_t)data, (uintptr_t)data + (uintptr_t)size);
#endif
  int64_t ignored;
  napi_adjust_external_memory(env, -size, &ignored);
  free(data);
}

/* allocAligned(size) → a zero-filled Buffer whose memory starts on a 4096-byte boundary,
 * freed when the garbage collector drops it; null when the allocation failed. */
static napi_value js_alloc_aligned(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t size;
  napi_value out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int64(env, argv[0], &size));
  void *data = NULL;
  if (size <= 0 || posix_memalign(&data, ALIGNED_BUFFER_ALIGNMENT, (size_t)size) != 0) {
    napi_get_null(env, &out);
    return out;
  }
  memset(data, 0, (size_t)size);
  if (napi_create_external_buffer(env, (size_t)size, data, free_aligned, (void *)(intptr_t)size,
                                  &out) != napi_ok) {
    free(data);
    napi_get_null(env, &out);
    return out;
  }
  int64_t ignored;
  napi_adjust_external_memory(env, size, &ignored);
  return out;
}

#ifdef __linux__
static napi_value create_ring(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_ref *constructor_ref = NULL;
  CHECK(napi_get_instance_data(env, (void **)&constructor_ref));
  napi_value constructor;
  CHECK(napi_get_reference_value(env, *constructor_ref, &constructor));
  napi_value instance;
  CHECK(napi_new_instance(env, constructor, argc, argv, &instance));
  return instance;
}

static void free_instance_data(napi_env env, void *data, void *hint) {
  (void)hint;
  napi_ref *ref = data;
  napi_delete_reference(env, *ref);
  free(ref);
}

#else
static napi_value create_ring(napi_env env, napi_callback_info info) {
  (void)info;
  napi_throw_error(env, NULL, "io_uring is Linux-only");
  return NULL;
}
#endif /* __linux__ */

static napi_value init(napi_env env, napi_value exports) {
#ifdef __linux__
  napi_property_descriptor ring_props[] = {
      {"prepWrite", NULL, prep_write, NULL, NULL, NULL, napi_default, NULL},
      {"prepWritev", NULL, prep_writev, NULL, NULL, NULL, napi_default, NULL},
      {"prepRead", NULL, prep_read, NULL, NULL, NULL, napi_default, NULL},
      {"prepFsync", NULL, prep_fsync, NULL, NULL, NULL, napi_default, NULL},
      {"prepFallocate", NULL, prep_fallocate, NULL, NULL, NULL, napi_default, NULL},
      {"prepWriteback", NULL, prep_writeback, NULL, NULL, NULL, napi_default, NULL},
      {"submit", NULL, ring_submit, NULL, NULL, NULL, napi_default, NULL},
      {"reap", NULL, ring_reap, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, ring_close, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, ring_info, NULL, NULL, NULL, napi_default, NULL},
      {"sqSpace", NULL, NULL, get_sq_space, NULL, NULL, napi_default, NULL},
      {"sqEntries", NULL, NULL, get_sq_entries, NULL, NULL, napi_default, NULL},
      {"inFlight", NULL, NULL, get_in_flight, NULL, NULL, napi_default, NULL},
  };
  napi_value ring_class;
  CHECK(napi_define_class(env, "Ring", NAPI_AUTO_LENGTH, ring_construct, NULL,
                          sizeof(ring_props) / sizeof(ring_props[0]), ring_props, &ring_class));
  napi_ref *constructor_ref = malloc(sizeof(napi_ref));
  CHECK(napi_create_reference(env, ring_class, 1, constructor_ref));
  CHECK(napi_set_instance_data(env, constructor_ref, free_instance_data, NULL));
#endif

  napi_value constants;
  CHECK(napi_create_object(env, &constants));
#ifdef O_DIRECT
  /* Absent where the system has no O_DIRECT: direct I/O is then refused, never faked. */
  set_named(env, constants, "O_DIRECT", make_int(env, O_DIRECT));
#endif
  set_named(env, constants, "O_DSYNC", make_int(env, O_DSYNC));
  set_named(env, constants, "LOCK_EX", make_int(env, LOCK_EX));
  set_named(env, constants, "LOCK_NB", make_int(env, LOCK_NB));
  set_named(env, constants, "LOCK_UN", make_int(env, LOCK_UN));

  napi_property_descriptor props[] = {
      {"createRing", NULL, create_ring, NULL, NULL, NULL, napi_default, NULL},
      {"probe", NULL, probe, NULL, NULL, NULL, napi_default, NULL},
      {"flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL},
      {"holdFd", NULL, js_hold_fd, NULL, NULL, NULL, napi_default, NULL},
      {"releaseHeldFd", NULL, js_release_held_fd, NULL, NULL, NULL, napi_default, NULL},
      {"fallocate", NULL, js_fallocate, NULL, NULL, NULL, napi_default, NULL},
      {"syncFileRangeWrite", NULL, js_sync_file_range_write, NULL, NULL, NULL, napi_default,
       NULL},
      {"allocAligned", NULL, js_alloc_aligned, NULL, NULL, NULL, napi_default, NULL},
      {"constants", NULL, NULL, NULL, NULL, constants, napi_default, NULL},
#ifdef __linux__
      {"Ring", NULL, NULL, NULL, NULL, ring_class, napi_default, NULL},
#endif
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
