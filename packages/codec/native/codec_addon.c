/* N-API surface of @walnut/codec's native CRC32C: one-shot CRC, and whole runs of
 * frames sealed, verified or walked in one call (see docs/decisions/0105-native-crc-batches.md).
 * The only addon crc32c.c and frame_walk.c are compiled into: mmap-reader walks its mappings
 * through this one's walkFrames (decision 0114). */
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "crc32c.h"
#include "frame_walk.h"
#include "walnut_napi.h"

static uint32_t read_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void write_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/* Reads argument `i` as a byte view; false (with a pending exception) otherwise. */
static int bytes_arg(napi_env env, napi_value v, uint8_t **data, size_t *length) {
  napi_typedarray_type type;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    throw_type(env, "expected a Uint8Array");
    return 0;
  }
  *data = ptr;
  return 1;
}

static int range_args(napi_env env, napi_value *argv, size_t length, size_t *start, size_t *end) {
  double s, e;
  if (napi_get_value_double(env, argv[1], &s) != napi_ok ||
      napi_get_value_double(env, argv[2], &e) != napi_ok || !(s >= 0) || !(e >= s) ||
      e > (double)length) {
    throw_type(env, "expected 0 <= start <= end <= length");
    return 0;
  }
  *start = (size_t)s;
  *end = (size_t)e;
  return 1;
}

/* crc32cOf's arguments and result, shared with JavaScript as a Float64Array:
 * [0] byte offset in the view, [1] length, [2] seed, [3] result or -1.
 * Each environment (each worker thread) has its own. The memory is C's, not the
 * ArrayBuffer's: should anything detach that ArrayBuffer (Node makes it untransferable,
 * but another addon could), C must still be writing to memory it owns. It is freed once
 * the environment and the ArrayBuffer have both let go of it. */
typedef struct {
  double args[4];
  atomic_int owners;
} CrcArgs;

static void release_crc_args(CrcArgs *crc) {
  if (atomic_fetch_sub(&crc->owners, 1) == 1) free(crc);
}

enum { CRC_OFFSET = 0, CRC_LENGTH = 1, CRC_SEED = 2, CRC_RESULT = 3 };

/* crc32cOf(view): CRC32C of the range of the typed array `view` that crc_args names (in
 * elements, which for the Uint8Array JavaScript passes are bytes; for a wider element
 * type the check below is only stricter). Short inputs are what this call is for, so it
 * makes two N-API calls and converts no argument: a call with numbers and a returned
 * number costs about twice as much (decision 0106). napi_get_typedarray_info without
 * the element type skips its probing of the eleven types, and JavaScript no longer reads
 * `.buffer` (a call into C++ in V8) to pass the ArrayBuffer (decision 0108).
 * Writes -1 as the result when the argument is not a typed array or the range does not
 * fit it (a detached view has length 0); JavaScript then computes the CRC itself. */
static napi_value js_crc32c_of(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CrcArgs *crc;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&crc);
  double *args = crc->args;
  void *data;
  size_t length;
  double offset = args[CRC_OFFSET], count = args[CRC_LENGTH], seed = args[CRC_SEED];
  args[CRC_RESULT] = -1;
  if (argc < 1 ||
      napi_get_typedarray_info(env, argv[0], NULL, &length, &data, NULL, NULL) != napi_ok)
    return NULL;
  if (!(offset >= 0) || !(count >= 0) || offset + count > (double)length || !(seed >= 0) ||
      !(seed <= 4294967295.0))
    return NULL;
  args[CRC_RESULT] = walnut_crc32c((uint32_t)seed, (uint8_t *)data + (size_t)offset, (size_t)count);
  return NULL;
}

/* sealFrames(buf, start, end): writes the CRC of every frame in [start, end); returns the
 * offset where the walk stopped (end when every frame fitted). */
static napi_value js_seal_frames(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_type(env, "sealFrames(buf, start, end)");
  uint8_t *data;
  size_t length, p, end;
  if (!bytes_arg(env, argv[0], &data, &length) || !range_args(env, argv, length, &p, &end))
    return NULL;
  while (end - p >= 8) {
    uint32_t len = read_u32(data + p + 4);
    if (len == 0 || len > end - p - 8) break;
    write_u32(data + p, walnut_crc32c(0, data + p + 4, (size_t)len + 4));
    p += 8 + (size_t)len;
  }
  return make_number(env, (double)p);
}

/* What the frame walks take: (buf, start, end, maxBody, out: a Float64Array of at least
 * `out_min`), and with `table` non-NULL a sixth, a Uint32Array of (offset, length) pairs.
 * False, with a pending exception naming `usage`, otherwise. */
typedef struct {
  uint8_t *data;
  size_t start, end;
  uint32_t max_body;
  double *out;
  uint32_t *table;
  size_t table_pairs;
} WalkArgs;

static int walk_args(napi_env env, napi_callback_info info, const char *usage, size_t out_min,
                     int with_table, WalkArgs *args) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < (with_table ? 6u : 5u)) {
    throw_type(env, usage);
    return 0;
  }
  size_t length;
  if (!bytes_arg(env, argv[0], &args->data, &length) ||
      !range_args(env, argv, length, &args->start, &args->end))
    return 0;
  if (napi_get_value_uint32(env, argv[3], &args->max_body) != napi_ok) {
    throw_type(env, "maxBody: a u32");
    return 0;
  }
  napi_typedarray_type type;
  size_t out_length;
  void *out_ptr;
  if (napi_get_typedarray_info(env, argv[4], &type, &out_length, &out_ptr, NULL, NULL) != napi_ok ||
      type != napi_float64_array || out_length < out_min) {
    throw_type(env, usage);
    return 0;
  }
  args->out = out_ptr;
  args->table = NULL;
  args->table_pairs = 0;
  if (with_table) {
    size_t table_length;
    void *table_ptr;
    if (napi_get_typedarray_info(env, argv[5], &type, &table_length, &table_ptr, NULL, NULL) !=
            napi_ok ||
        type != napi_uint32_array) {
      throw_type(env, usage);
      return 0;
    }
    args->table = table_ptr;
    args->table_pairs = table_length / 2;
  }
  return 1;
}

/* verifyFrames(buf, start, end, maxBody, out: Float64Array[2]): verifies frames from
 * start; returns how many verified; out[0] = offset of the first unverified byte,
 * out[1] = why it stopped (a walnut_walk_stop, FrameRunStop in JavaScript). */
static napi_value js_verify_frames(napi_env env, napi_callback_info info) {
  WalkArgs a;
  if (!walk_args(env, info, "verifyFrames(buf, start, end, maxBody, out: Float64Array[2])", 2, 0, &a))
    return NULL;
  int stop;
  size_t stop_offset;
  size_t count =
      walnut_walk_frames(a.data, a.start, a.end, a.max_body, NULL, 0, &stop, &stop_offset);
  /* FrameRunStop (src/format/frame-run.ts) is FrameStop without a table or zero-header stop: a
   * zero header has length 0. */
  a.out[0] = (double)stop_offset;
  a.out[1] = stop == WALK_ZERO_HEADER ? WALK_BAD_LENGTH : stop;
  return make_u32(env, (uint32_t)count);
}

/* walkFrames(buf, start, end, maxBody, status: Float64Array[2], table: Uint32Array): the
 * walk with a table (walnut_walk_frames); returns how many frames it accepted, their
 * (offset - start, body length) pairs in `table`; status[0] = why it stopped (a
 * walnut_walk_stop, FrameStop in JavaScript), status[1] = where. */
static napi_value js_walk_frames(napi_env env, napi_callback_info info) {
  WalkArgs a;
  if (!walk_args(env, info,
                 "walkFrames(buf, start, end, maxBody, status: Float64Array[2], table: Uint32Array)",
                 2, 1, &a))
    return NULL;
  int stop;
  size_t stop_offset;
  size_t count = walnut_walk_frames(a.data, a.start, a.end, a.max_body, a.table, a.table_pairs,
                                    &stop, &stop_offset);
  a.out[0] = stop;
  a.out[1] = (double)stop_offset;
  return make_u32(env, (uint32_t)count);
}

/* passLsnRun(buf, start, end, maxBody, state: Float64Array[4]): recovery's walk from start
 * (walnut_pass_lsn_run). state[0], state[1]: the next LSN's low and high 32 bits, in and out;
 * state[2] (out): where it stopped; state[3] (out): where the last frame passed that holds
 * records starts, -1 for none. Returns the records passed. */
static napi_value js_pass_lsn_run(napi_env env, napi_callback_info info) {
  WalkArgs a;
  if (!walk_args(env, info, "passLsnRun(buf, start, end, maxBody, state: Float64Array[4])", 4, 0, &a))
    return NULL;
  double *state = a.out;
  uint64_t next = ((uint64_t)state[1] << 32) | (uint64_t)state[0];
  size_t offset;
  size_t last;
  uint64_t records = walnut_pass_lsn_run(a.data, a.start, a.end, a.max_body, &next, &offset, &last);
  state[0] = (double)(next & 0xffffffffu);
  state[1] = (double)(next >> 32);
  state[2] = (double)offset;
  state[3] = last == SIZE_MAX ? -1.0 : (double)last;
  return make_number(env, (double)records);
}

static napi_value js_implementation(napi_env env, napi_callback_info info) {
  (void)info;
  return make_string(env, walnut_crc32c_name());
}

static void env_releases_crc_args(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release_crc_args(data);
}

static void buffer_releases_crc_args(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  release_crc_args(hint);
}

static napi_value init(napi_env env, napi_value exports) {
  const char *hw = getenv("WALNUT_CODEC_NATIVE_TABLE");
  walnut_crc32c_init(!(hw && strcmp(hw, "1") == 0));
  CrcArgs *crc = calloc(1, sizeof *crc);
  if (crc == NULL) {
    napi_throw_error(env, NULL, "walnut_codec: out of memory");
    return NULL;
  }
  atomic_init(&crc->owners, 1);
  if (napi_set_instance_data(env, crc, env_releases_crc_args, NULL) != napi_ok) {
    free(crc);
    napi_throw_error(env, NULL, "walnut_codec: cannot keep its state");
    return NULL;
  }
  napi_value crc_args;
  atomic_fetch_add(&crc->owners, 1);
  if (napi_create_external_arraybuffer(env, crc->args, sizeof crc->args, buffer_releases_crc_args,
                                       crc, &crc_args) != napi_ok) {
    release_crc_args(crc);
    napi_throw_error(env, NULL, "walnut_codec: cannot share its argument buffer");
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"crc32cOf", NULL, js_crc32c_of, NULL, NULL, NULL, napi_enumerable, crc},
      {"crc32cArgs", NULL, NULL, NULL, NULL, crc_args, napi_enumerable, NULL},
      {"sealFrames", NULL, js_seal_frames, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verifyFrames", NULL, js_verify_frames, NULL, NULL, NULL, napi_enumerable, NULL},
      {"walkFrames", NULL, js_walk_frames, NULL, NULL, NULL, napi_enumerable, NULL},
      {"passLsnRun", NULL, js_pass_lsn_run, NULL, NULL, NULL, napi_enumerable, NULL},
      {"implementation", NULL, js_implementation, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
