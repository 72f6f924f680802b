/*
 * A minimal io_uring driver written against the kernel ABI (<linux/io_uring.h> and the
 * raw io_uring_setup/io_uring_enter/io_uring_register system calls): no liburing.
 * Single-threaded: every function is called from the Node.js thread that owns the ring.
 */
#ifndef WALNUT_RING_H
#define WALNUT_RING_H

#include <linux/io_uring.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct wal_ring {
  int fd;
  unsigned setup_flags;
  unsigned features;
  /* SQ ring. */
  unsigned *sq_head;
  unsigned *sq_tail;
  unsigned *sq_flags;
  unsigned sq_mask;
  unsigned sq_entries;
  struct io_uring_sqe *sqes;
  /* SQEs filled in but not yet published to the kernel live in [published, local_tail). */
  unsigned sq_local_tail;
  unsigned sq_published;
  /* CQ ring. */
  unsigned *cq_head;
  unsigned *cq_tail;
  unsigned cq_mask;
  unsigned cq_entries;
  struct io_uring_cqe *cqes;
  /* Mappings. */
  void *sq_map;
  size_t sq_map_len;
  void *cq_map;
  size_t cq_map_len;
  size_t sqes_map_len;
} wal_ring;

/* Creates a ring; returns 0 or -errno. `sq_idle_ms` is used only with `sqpoll`. */
int wal_ring_init(wal_ring *ring, unsigned entries, unsigned cq_entries, int sqpoll,
                  unsigned sq_idle_ms);
void wal_ring_destroy(wal_ring *ring);

/* A zeroed SQE slot not yet visible to the kernel, or NULL when the SQ is full. */
struct io_uring_sqe *wal_ring_get_sqe(wal_ring *ring);
unsigned wal_ring_sq_space(const wal_ring *ring);

/* Publishes every prepared SQE and enters the kernel until the kernel took them all;
 * returns how many were taken or -errno (-EBUSY/-EAGAIN: reap completions, then retry). */
int wal_ring_submit(wal_ring *ring);

/* With SQPOLL, blocks until the kernel thread freed SQ slots (IORING_ENTER_SQ_WAIT). */
int wal_ring_wait_sq_space(wal_ring *ring);

/* Blocks until at least `min_complete` CQEs are available (also flushes CQ overflow). */
int wal_ring_wait(wal_ring *ring, unsigned min_complete);

/* True when the kernel holds completions that did not fit in the CQ ring. */
int wal_ring_cq_overflowed(const wal_ring *ring);

/* Registers an eventfd the kernel signals whenever it posts a CQE; returns 0 or -errno. */
int wal_ring_register_eventfd(wal_ring *ring, int eventfd);

/* Asks the kernel whether these opcodes are supported; returns 0, -errno, or the first
 * unsupported opcode + 1 (positive). */
int wal_ring_probe_ops(wal_ring *ring, const int *ops, int count);

#endif
