#ifndef WALNUT_WALK_THREAD_H
#define WALNUT_WALK_THREAD_H

#include <stddef.h>
#include <stdint.h>

/* A thread of its own that runs walnut_walk_frames for one reader, so that the next run of
 * frames is verified while the reader hands out the run before (decision 0408). One walk at
 * a time: start, then finish, which waits for it. The memory a walk reads and writes must
 * stay valid until finish (or free) returns. */
typedef struct WalkThread WalkThread;

/* NULL when out of memory. The thread itself starts with the first walk. */
WalkThread *walk_thread_new(void);

/* Queues a walk with walnut_walk_frames's arguments. Returns 0 when no thread could be
 * started (the caller walks itself); then nothing is queued. */
int walk_thread_start(WalkThread *w, const uint8_t *base, size_t start, size_t end,
                      uint32_t max_body, uint32_t *table, size_t table_pairs);

/* Waits for the walk queued last and returns its results, as walnut_walk_frames would. */
size_t walk_thread_finish(WalkThread *w, int *stop, size_t *stop_offset);

/* Waits for a walk still queued, ends the thread and frees `w`. */
void walk_thread_free(WalkThread *w);

#endif
