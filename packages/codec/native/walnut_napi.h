#ifndef WALNUT_NAPI_H
#define WALNUT_NAPI_H

/* The N-API scaffolding every Walnut addon uses (codec, storage-io, mmap-reader): one copy.
 * It ships in @walnut/codec's native/, which every package with an addon depends on; their
 * binding.gyp files find it through require.resolve('@walnut/codec/package.json') (decision
 * 0114). Everything here is static inline, so a unit pays only for what it calls. */
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

/* Throws the failure of the N-API call that just returned an error status, unless it left an
 * exception pending already; returns NULL for the callback to return. The code WALNUT_NAPI
 * says it is the binding that failed, not the operation it was asked for. */
static inline napi_value throw_napi(napi_env env) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending)
    napi_throw_error(env, "WALNUT_NAPI", info && info->error_message ? info->error_message
                                                                     : "N-API call failed");
  return NULL;
}

/* Inside a callback with `env` in scope: returns (with the failure thrown) when `call` fails. */
#define CHECK(call)                                \
  do {                                             \
    if ((call) != napi_ok) return throw_napi(env); \
  } while (0)

/* Throws a TypeError; returns NULL for the callback to return. */
static inline napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

/* Fills argv with the first `want` arguments; false (a TypeError thrown) when fewer came. */
static inline bool get_args(napi_env env, napi_callback_info info, size_t want,
                            napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    throw_type(env, "missing arguments");
    return false;
  }
  return true;
}

/* Results. A failed creation leaves NULL (undefined in JavaScript) and an exception, if any,
 * pending: these are for values whose creation cannot fail but for lack of memory. */
static inline napi_value make_u32(napi_env env, uint32_t value) {
  napi_value out = NULL;
  napi_create_uint32(env, value, &out);
  return out;
}

static inline napi_value make_int(napi_env env, int64_t value) {
  napi_value out = NULL;
  napi_create_int64(env, value, &out);
  return out;
}

static inline napi_value make_number(napi_env env, double value) {
  napi_value out = NULL;
  napi_create_double(env, value, &out);
  return out;
}

static inline napi_value make_bool(napi_env env, bool value) {
  napi_value out = NULL;
  napi_get_boolean(env, value, &out);
  return out;
}

static inline napi_value make_string(napi_env env, const char *value) {
  napi_value out = NULL;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &out);
  return out;
}

#endif
