#define _GNU_SOURCE
#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int sys_setup(unsigned entries, struct io_uring_params *params) {
  long fd = syscall(__NR_io_uring_setup, entries, params);
  return fd < 0 ? -errno : (int)fd;
}

static int sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags) {
  long n = syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
  return n < 0 ? -errno : (int)n;
}

static int sys_register(int fd, unsigned opcode, const void *arg, unsigned nr_args) {
  long n = syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);
  return n < 0 ? -errno : (int)n;
}

static unsigned load_acquire(const unsigned *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store_release(unsigned *p, unsigned v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static int setup_with_fallback(unsigned entries, struct io_uring_params *params) {
  /* SUBMIT_ALL (5.18) keeps submitting after an SQE fails to prepare; older kernels
   * reject the flag with EINVAL, so retry without it. */
  struct io_uring_params first = *params;
  first.flags |= IORING_SETUP_SUBMIT_ALL;
  int fd = sys_setup(entries, &first);
  if (fd >= 0) {
    *params = first;
    return fd;
  }
  if (fd != -EINVAL) return fd;
  return sys_setup(entries, params);
}

int wal_ring_init(wal_ring *ring, unsigned entries, unsigned cq_entries, int sqpoll,
                  unsigned sq_idle_ms) {
  memset(ring, 0, sizeof(*ring));
  ring->fd = -1;
  struct io_uring_params params;
  memset(&params, 0, sizeof(params));
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  params.cq_entries = cq_entries;
  if (sqpoll) {
    params.flags |= IORING_SETUP_SQPOLL;
    params.sq_thread_idle = sq_idle_ms;
  }
  int fd = setup_with_fallback(entries, &params);
  if (fd < 0) return fd;
  ring->fd = fd;
  ring->setup_flags = params.flags;
  ring->features = params.features;

  ring->sq_map_len = params.sq_off.array + params.sq_entries * sizeof(unsigned);
  ring->cq_map_len = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
  int single = (params.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single) {
    if (ring->cq_map_len > ring->sq_map_len) ring->sq_map_len = ring->cq_map_len;
    ring->cq_map_len = ring->sq_map_len;
  }
  ring->sq_map = mmap(NULL, ring->sq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                      fd, IORING_OFF_SQ_RING);
  if (ring->sq_map == MAP_FAILED) {
    int err = -errno;
    ring->sq_map = NULL;
    wal_ring_destroy(ring);
    return err;
  }
  if (single) {
    ring->cq_map = ring->sq_map;
  } else {
    ring->cq_map = mmap(NULL, ring->cq_map_len, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (ring->cq_map == MAP_FAILED) {
      int err = -errno;
      ring->cq_map = NULL;
      wal_ring_destroy(ring);
      return err;
    }
  }
  ring->sqes_map_len = params.sq_entries * sizeof(struct io_uring_sqe);
  ring->sqes = mmap(NULL, ring->sqes_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                    fd, IORING_OFF_SQES);
  if (ring->sqes == MAP_FAILED) {
    int err = -errno;
    ring->sqes = NULL;
    wal_ring_destroy(ring);
    return err;
  }

  char *sq = ring->sq_map;
  ring->sq_head = (unsigned *)(sq + params.sq_off.head);
  ring->sq_tail = (unsigned *)(sq + params.sq_off.tail);
  ring->sq_flags = (unsigned *)(sq + params.sq_off.flags);
  ring->sq_mask = *(unsigned *)(sq + params.sq_off.ring_mask);
  ring->sq_entries = *(unsigned *)(sq + params.sq_off.ring_entries);
  /* The SQ index array maps ring slot i to SQE i, once and for all. */
  unsigned *array = (unsigned *)(sq + params.sq_off.array);
  for (unsigned i = 0; i < ring->sq_entries; i++) array[i] = i;
  ring->sq_local_tail = ring->sq_published = *ring->sq_tail;

  char *cq = ring->cq_map;
  ring->cq_head = (unsigned *)(cq + params.cq_off.head);
  ring->cq_tail = (unsigned *)(cq + params.cq_off.tail);
  ring->cq_mask = *(unsigned *)(cq + params.cq_off.ring_mask);
  ring->cq_entries = *(unsigned *)(cq + params.cq_off.ring_entries);
  ring->cqes = (struct io_uring_cqe *)(cq + params.cq_off.cqes);
  return 0;
}

void wal_ring_destroy(wal_ring *ring) {
  if (ring->sqes != NULL) munmap(ring->sqes, ring->sqes_map_len);
  if (ring->cq_map != NULL && ring->cq_map != ring->sq_map) munmap(ring->cq_map, ring->cq_map_len);
  if (ring->sq_map != NULL) munmap(ring->sq_map, ring->sq_map_len);
  if (ring->fd >= 0) close(ring->fd);
  memset(ring, 0, sizeof(*ring));
  ring->fd = -1;
}

unsigned wal_ring_sq_space(const wal_ring *ring) {
  unsigned head = load_acquire(ring->sq_head);
  return ring->sq_entries - (ring->sq_local_tail - head);
}

struct io_uring_sqe *wal_ring_get_sqe(wal_ring *ring) {
  if (wal_ring_sq_space(ring) == 0) return NULL;
  struct io_uring_sqe *sqe = &ring->sqes[ring->sq_local_tail & ring->sq_mask];
  memset(sqe, 0, sizeof(*sqe));
  ring->sq_local_tail++;
  return sqe;
}

int wal_ring_cq_overflowed(const wal_ring *ring) {
  return (load_acquire(ring->sq_flags) & IORING_SQ_CQ_OVERFLOW) != 0;
}

int wal_ring_submit(wal_ring *ring) {
  if (ring->sq_local_tail != ring->sq_published) {
    store_release(ring->sq_tail, ring->sq_local_tail);
    ring->sq_published = ring->sq_local_tail;
  }
  if (ring->setup_flags & IORING_SETUP_SQPOLL) {
    /* The kernel thread picks SQEs up by itself; it only needs a wake-up when asleep. */
    if (load_acquire(ring->sq_flags) & IORING_SQ_NEED_WAKEUP) {
      int woke = sys_enter(ring->fd, 0, 0, IORING_ENTER_SQ_WAKEUP);
      if (woke < 0) return woke;
    }
    return 0;
  }
  /* Without SQPOLL the kernel consumes SQEs inside io_uring_enter, so whatever lies
   * between its head and our published tail still has to be entered (also after an
   * earlier call failed half-way). */
  int taken = 0;
  for (;;) {
    unsigned remaining = ring->sq_published - load_acquire(ring->sq_head);
    if (remaining == 0) return taken;
    int n = sys_enter(ring->fd, remaining, 0, 0);
    if (n == -EINTR) continue;
    if (n < 0) return taken > 0 ? taken : n;
    if (n == 0) return taken;
    taken += n;
  }
}

int wal_ring_wait_sq_space(wal_ring *ring) {
  if (!(ring->setup_flags & IORING_SETUP_SQPOLL)) return 0;
  for (;;) {
    int n = sys_enter(ring->fd, 0, 0, IORING_ENTER_SQ_WAIT);
    if (n == -EINTR) continue;
    return n < 0 ? n : 0;
  }
}

int wal_ring_wait(wal_ring *ring, unsigned min_complete) {
  for (;;) {
    int n = sys_enter(ring->fd, 0, min_complete, IORING_ENTER_GETEVENTS);
    if (n == -EINTR) continue;
    return n < 0 ? n : 0;
  }
}

int wal_ring_register_eventfd(wal_ring *ring, int eventfd) {
  int n = sys_register(ring->fd, IORING_REGISTER_EVENTFD, &eventfd, 1);
  return n < 0 ? n : 0;
}

int wal_ring_probe_ops(wal_ring *ring, const int *ops, int count) {
  size_t size = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
  struct io_uring_probe *probe = calloc(1, size);
  if (probe == NULL) return -ENOMEM;
  int n = sys_register(ring->fd, IORING_REGISTER_PROBE, probe, 256);
  if (n < 0) {
    free(probe);
    return n;
  }
  int result = 0;
  for (int i = 0; i < count; i++) {
    int op = ops[i];
    if (op > probe->last_op || !(probe->ops[op].flags & IO_URING_OP_SUPPORTED)) {
      result = op + 1;
      break;
    }
  }
  free(probe);
  return result;
}
