#include "walk_thread.h"

#include <pthread.h>
#include <stdlib.h>

#include "frame_walk.h"

enum { IDLE, QUEUED, DONE };

struct WalkThread {
  pthread_mutex_t mu;
  pthread_cond_t changed;
  pthread_t thread;
  int running;
  int quit;
  int state;
  /* The queued walk's arguments, then its results. */
  const uint8_t *base;
  size_t start, end;
  uint32_t max_body;
  uint32_t *table;
  size_t table_pairs;
  size_t count;
  int stop;
  size_t stop_offset;
};

static void *walk_loop(void *arg) {
  WalkThread *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (w->state != QUEUED && !w->quit) pthread_cond_wait(&w->changed, &w->mu);
    if (w->state != QUEUED) break;
    pthread_mutex_unlock(&w->mu);
    int stop;
    size_t stop_offset;
    size_t count = walnut_walk_frames(w->base, w->start, w->end, w->max_body, w->table,
                                      w->table_pairs, &stop, &stop_offset);
    pthread_mutex_lock(&w->mu);
    w->count = count;
    w->stop = stop;
    w->stop_offset = stop_offset;
    w->state = DONE;
    pthread_cond_broadcast(&w->changed);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

WalkThread *walk_thread_new(void) {
  WalkThread *w = calloc(1, sizeof *w);
  if (w == NULL) return NULL;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->changed, NULL);
  w->state = IDLE;
  return w;
}

int walk_thread_start(WalkThread *w, const uint8_t *base, size_t start, size_t end,
                      uint32_t max_body, uint32_t *table, size_t table_pairs) {
  if (!w->running) {
    /* The walk's stack holds a few locals; the default size would reserve megabytes. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int failed = pthread_create(&w->thread, &attr, walk_loop, w);
    pthread_attr_destroy(&attr);
    if (failed) return 0;
    w->running = 1;
  }
  pthread_mutex_lock(&w->mu);
  w->base = base;
  w->start = start;
  w->end = end;
  w->max_body = max_body;
  w->table = table;
  w->table_pairs = table_pairs;
  w->state = QUEUED;
  pthread_cond_broadcast(&w->changed);
  pthread_mutex_unlock(&w->mu);
  return 1;
}

size_t walk_thread_finish(WalkThread *w, int *stop, size_t *stop_offset) {
  pthread_mutex_lock(&w->mu);
  while (w->state == QUEUED) pthread_cond_wait(&w->changed, &w->mu);
  size_t count = w->count;
  *stop = w->stop;
  *stop_offset = w->stop_offset;
  w->state = IDLE;
  pthread_mutex_unlock(&w->mu);
  return count;
}

void walk_thread_free(WalkThread *w) {
  if (w->running) {
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->mu);
    /* A queued walk runs to its end first: its memory is still held for it. */
    pthread_join(w->thread, NULL);
  }
  pthread_cond_destroy(&w->changed);
  pthread_mutex_destroy(&w->mu);
  free(w);
}
