/*
 * The C bound of issue #63: what one durable append costs on this host when the caller does
 * no more than io_uring needs, so the bench can say how much of a Walnut append is Walnut's.
 *
 *   uring-bound <file> <variant> <records> <record-bytes> <producers>
 *
 * Rounds of framed records ([len u32][crc32c u32][payload], the floor's framing) are written
 * at the end of a preallocated, zero-filled, fsynced file (Walnut writes into such segments,
 * so no round changes the file's size). With `producers` P a round holds P records: P
 * producers that each await their own record in a closed loop fill every round, so each
 * record waits one round. Variants:
 *
 *   pwrite-dsync   pwritev2(RWF_DSYNC) on this thread, no ring: the device and the file system
 *   dsync-punt     ring, buffered write with RWF_DSYNC and IOSQE_ASYNC (Walnut's default
 *                  backend), the completion waited for through an eventfd in epoll (libuv's way)
 *   dsync-inline   the same without IOSQE_ASYNC: the kernel first tries the write inline
 *   direct-dsync   ring, O_DIRECT write with RWF_DSYNC of whole 4 KiB blocks, epoll
 *   write-fsync    ring, buffered write linked to IORING_OP_FSYNC(DATASYNC), epoll
 *   punt-enter     as dsync-punt, waited for in io_uring_enter(GETEVENTS): no eventfd, no epoll
 *   punt-spin      as dsync-punt, the completion queue polled in a busy loop: no sleep, no wake-up
 *
 * Prints one JSON object: records/s, the records' p50/p99 latency, and per-round medians of
 * the pieces (submit: the io_uring_enter that hands the SQEs over; wait: from its return to
 * the wake-up; reap: the eventfd read and the CQE), and how many rounds had completed before
 * the submitting call returned (done inline).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif

#define BLOCK 4096
enum wait_kind { WAIT_NONE, WAIT_EPOLL, WAIT_ENTER, WAIT_SPIN };

struct variant {
  const char *name;
  int ring;
  int direct;
  int punt;
  int fsync_link;
  enum wait_kind wait;
};

static const struct variant VARIANTS[] = {
    {"pwrite-dsync", 0, 0, 0, 0, WAIT_NONE}, {"dsync-punt", 1, 0, 1, 0, WAIT_EPOLL},
    {"dsync-inline", 1, 0, 0, 0, WAIT_EPOLL}, {"direct-dsync", 1, 1, 0, 0, WAIT_EPOLL},
    {"write-fsync", 1, 0, 1, 1, WAIT_EPOLL}, {"punt-enter", 1, 0, 1, 0, WAIT_ENTER},
    {"punt-spin", 1, 0, 1, 0, WAIT_SPIN},
};

static void die(const char *what, int err) {
  fprintf(stderr, "uring-bound: %s: %s\n", what, strerror(err));
  exit(1);
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static uint32_t crc_table[256];
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    crc_table[i] = c;
  }
}
static uint32_t crc32c(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  while (n--) c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static double quantile(double *values, size_t n, double q) {
  if (n == 0) return 0;
  qsort(values, n, sizeof(double), compare_doubles);
  size_t i = (size_t)(q * (double)(n - 1) + 0.5);
  return values[i < n ? i : n - 1];
}

/* The file the rounds go into: its whole length written with zeros and fsynced first. */
static int prepare_file(const char *path, size_t bytes, int direct) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("open", errno);
  void *zeros = calloc(1, 1 << 20);
  for (size_t done = 0; done < bytes;) {
    size_t n = bytes - done < (1u << 20) ? bytes - done : (1u << 20);
    ssize_t w = pwrite(fd, zeros, n, (off_t)done);
    if (w < 0) die("zero fill", errno);
    done += (size_t)w;
  }
  free(zeros);
  if (fsync(fd) != 0) die("fsync", errno);
  if (!direct) return fd;
  close(fd);
  fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
  if (fd < 0) die("open O_DIRECT", errno);
  return fd;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: uring-bound <file> <variant> <records> <record-bytes> <producers>\n");
    return 2;
  }
  const struct variant *v = NULL;
  for (size_t i = 0; i < sizeof(VARIANTS) / sizeof(VARIANTS[0]); i++)
    if (strcmp(argv[2], VARIANTS[i].name) == 0) v = &VARIANTS[i];
  if (v == NULL) {
    fprintf(stderr, "uring-bound: unknown variant %s\n", argv[2]);
    return 2;
  }
  long records = atol(argv[3]), record_bytes = atol(argv[4]), producers = atol(argv[5]);
  if (records <= 0 || record_bytes <= 0 || producers <= 0) {
    fprintf(stderr, "uring-bound: records, record bytes and producers must be positive\n");
    return 2;
  }
  crc_init();
  size_t frame = 8 + (size_t)record_bytes;
  size_t file_bytes = ((size_t)records * frame / BLOCK + 2) * BLOCK + (1u << 20);
  int fd = prepare_file(argv[1], file_bytes, v->direct);

  size_t round_cap = (size_t)producers * frame + 2 * BLOCK;
  uint8_t *buffer;
  if (posix_memalign((void **)&buffer, BLOCK, round_cap) != 0) die("posix_memalign", ENOMEM);
  uint8_t *payload = malloc((size_t)record_bytes);
  uint32_t x = 0x5eed0002u;
  for (long i = 0; i < record_bytes; i++) payload[i] = (uint8_t)((x = x * 1664525u + 1013904223u) >> 24);

  wal_ring ring;
  int efd = -1, ep = -1;
  if (v->ring) {
    int err = wal_ring_init(&ring, 8, 16, 0, 0);
    if (err < 0) die("io_uring_setup", -err);
    if (v->wait == WAIT_EPOLL) {
      efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (efd < 0) die("eventfd", errno);
      if ((err = wal_ring_register_eventfd(&ring, efd)) < 0) die("register eventfd", -err);
      ep = epoll_create1(EPOLL_CLOEXEC);
      struct epoll_event ev = {.events = EPOLLIN, .data.fd = efd};
      if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) != 0) die("epoll", errno);
    }
  }

  long rounds_max = records / producers + 1;
  double *latencies = malloc(sizeof(double) * (size_t)records);
  double *submit = malloc(sizeof(double) * (size_t)rounds_max);
  double *wait = malloc(sizeof(double) * (size_t)rounds_max);
  double *reap = malloc(sizeof(double) * (size_t)rounds_max);
  long rounds = 0, inline_done = 0, written = 0;
  size_t position = 0; /* end of the frames in the file */
  double start = now_us();
  while (written < records) {
    long in_round = records - written < producers ? records - written : producers;
    double begun = now_us();
    /* Direct writes start at the block holding `position` and carry its head again. */
    size_t base = v->direct ? position - position % BLOCK : position;
    size_t used = position - base;
    for (long r = 0; r < in_round; r++) {
      uint32_t len = (uint32_t)record_bytes, crc = crc32c(payload, (size_t)record_bytes);
      memcpy(buffer + used, &len, 4);
      memcpy(buffer + used + 4, &crc, 4);
      memcpy(buffer + used + 8, payload, (size_t)record_bytes);
      used += frame;
    }
    size_t length = v->direct ? (used + BLOCK - 1) / BLOCK * BLOCK : used;
    if (v->direct) memset(buffer + used, 0, length - used);
    struct iovec iov = {.iov_base = buffer, .iov_len = length};
    double submitted, woke, reaped;
    if (!v->ring) {
      for (size_t done = 0; done < length;) {
        struct iovec part = {.iov_base = buffer + done, .iov_len = length - done};
        ssize_t w = pwritev2(fd, &part, 1, (off_t)(base + done), RWF_DSYNC);
        if (w < 0) die("pwritev2", errno);
        done += (size_t)w;
      }
      submitted = woke = reaped = now_us();
      inline_done++;
    } else {
      struct io_uring_sqe *sqe = wal_ring_get_sqe(&ring);
      sqe->opcode = IORING_OP_WRITEV;
      sqe->fd = fd;
      sqe->addr = (uint64_t)(uintptr_t)&iov;
      sqe->len = 1;
      sqe->off = base;
      if (v->punt) sqe->flags |= IOSQE_ASYNC;
      if (v->fsync_link) {
        sqe->flags |= IOSQE_IO_LINK;
        struct io_uring_sqe *sync = wal_ring_get_sqe(&ring);
        sync->opcode = IORING_OP_FSYNC;
        sync->fd = fd;
        sync->fsync_flags = IORING_FSYNC_DATASYNC;
      } else {
        sqe->rw_flags = RWF_DSYNC;
      }
      unsigned expected = v->fsync_link ? 2 : 1;
      int err = wal_ring_submit(&ring);
      if (err < 0) die("io_uring_enter", -err);
      submitted = now_us();
      unsigned head = *ring.cq_head;
      if (__atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE) - head >= expected) inline_done++;
      while (__atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE) - head < expected) {
        if (v->wait == WAIT_EPOLL) {
          struct epoll_event ev;
          int n = epoll_wait(ep, &ev, 1, -1);
          if (n < 0 && errno != EINTR) die("epoll_wait", errno);
          uint64_t value;
          if (n > 0 && read(efd, &value, sizeof(value)) < 0 && errno != EAGAIN) die("read eventfd", errno);
        } else if (v->wait == WAIT_ENTER) {
          if ((err = wal_ring_wait(&ring, expected)) < 0) die("io_uring_enter(GETEVENTS)", -err);
        }
      }
      woke = now_us();
      for (unsigned i = 0; i < expected; i++) {
        struct io_uring_cqe *cqe = &ring.cqes[(head + i) & ring.cq_mask];
        if (cqe->res < 0) die("write or fsync", -cqe->res);
        if (i == 0 && (size_t)cqe->res != length) die("short write", EIO);
      }
      __atomic_store_n(ring.cq_head, head + expected, __ATOMIC_RELEASE);
      reaped = now_us();
    }
    submit[rounds] = submitted - begun;
    wait[rounds] = woke - submitted;
    reap[rounds] = reaped - woke;
    for (long r = 0; r < in_round; r++) latencies[written + r] = reaped - begun;
    rounds++;
    written += in_round;
    position = base + used;
    /* The partial block at the end goes to the buffer's head: the next round writes it again. */
    if (v->direct) memmove(buffer, buffer + used - used % BLOCK, used % BLOCK);
  }
  double seconds = (now_us() - start) / 1e6;
  printf("{\"variant\":\"%s\",\"records\":%ld,\"rounds\":%ld,\"seconds\":%.6f,"
         "\"recordsPerSec\":%.1f,\"p50Us\":%.1f,\"p99Us\":%.1f,\"submitP50Us\":%.1f,"
         "\"waitP50Us\":%.1f,\"reapP50Us\":%.2f,\"doneInline\":%ld}\n",
         v->name, records, rounds, seconds, (double)records / seconds,
         quantile(latencies, (size_t)records, 0.5), quantile(latencies, (size_t)records, 0.99),
         quantile(submit, (size_t)rounds, 0.5), quantile(wait, (size_t)rounds, 0.5),
         quantile(reap, (size_t)rounds, 0.5), inline_done);
  if (v->ring) wal_ring_destroy(&ring);
  close(fd);
  return 0;
}
