/* The C API of skein: opaque handles for models, sessions and results, for C
 * programs and every FFI (Python ctypes, Rust, Go, Java).
 *
 * Errors: functions that can fail return NULL (handles, pointers) or -1
 * (counts, status) and record a one-line message, the same text the C++
 * API's skein::Error carries, readable with skein_last_error() on the same
 * thread until its next failing call. No C++ exception crosses this interface.
 *
 * Threads: a skein_model may be shared by any number of threads; a
 * skein_session is used by one thread at a time. Every *_free accepts NULL.
 *
 *   skein_model* model = skein_model_load("models/code-lang");
 *   if (!model) { fprintf(stderr, "%s\n", skein_last_error()); return 2; }
 *   skein_session* session = skein_session_create(model, NULL);
 *   skein_result* result = skein_session_run(session, ids, 1, n, NULL);
 *   const float* logits = skein_result_logits(result, &rows, &cols);
 *   skein_result_free(result); skein_session_free(session); skein_model_free(model);
 */
#ifndef SKEIN_SKEIN_C_H
#define SKEIN_SKEIN_C_H

#include <stddef.h>
#include <stdint.h>

#include "skein/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct skein_model skein_model;     /* a loaded, validated model directory */
typedef struct skein_session skein_session; /* runs inputs through a model */
typedef struct skein_result skein_result;   /* logits and pooled outputs of one run */

/* Options of skein_session_create(); start from skein_session_options_default(). */
typedef struct skein_session_options {
  int threads;              /* OpenMP threads; 0 = all cores */
  uint64_t seed;            /* seed of randomized attention methods */
  const char* attention;    /* attention method replacing the model's; NULL or "" = the model's */
  int64_t features;         /* feature count of sampling methods; 0 = the method's */
  int64_t max_memory_bytes; /* largest activation arena a run may plan; 0 = 80% of RAM */
} skein_session_options;

/* The library version, "major.minor.patch". */
SKEIN_API const char* skein_version(void);

/* The message of this thread's last failed call; "" when none has failed. */
SKEIN_API const char* skein_last_error(void);

/* Loads and validates dir/model.json and dir/model.safetensors. NULL on error. */
SKEIN_API skein_model* skein_model_load(const char* dir);
SKEIN_API void skein_model_free(skein_model* model);

/* config.num_classes and config.max_seq_len of model.json; -1 for a NULL model. */
SKEIN_API int64_t skein_model_num_classes(const skein_model* model);
SKEIN_API int64_t skein_model_max_seq_len(const skein_model* model);

/* The class name of `index` (the index as text when the model has no labels),
 * valid as long as the model. NULL when index is out of range. */
SKEIN_API const char* skein_model_label(const skein_model* model, int64_t index);

/* Token ids of `size` raw bytes per the model's tokenizer (no truncation).
 * Writes at most `capacity` ids to `ids` (which may be NULL when capacity is
 * 0) and returns how many the bytes make; -1 on error. */
SKEIN_API int64_t skein_model_tokenize(const skein_model* model, const uint8_t* bytes, size_t size,
                                       int32_t* ids, int64_t capacity);

SKEIN_API skein_session_options skein_session_options_default(void);

/* A session of `model` (which must outlive it); `options` may be NULL for the
 * defaults. NULL on error (e.g. an unknown attention method). */
SKEIN_API skein_session* skein_session_create(const skein_model* model,
                                              const skein_session_options* options);
SKEIN_API void skein_session_free(skein_session* session);

/* Runs `rows` sequences given as a row-major [rows, n] int32 array of token
 * ids; row r holds lengths[r] real tokens followed by padding (lengths NULL =
 * every row n real tokens). n is the padded length, as in `skein run`, and
 * must not exceed max_seq_len. A dual-tower model takes 2 x batch rows: every
 * item's first tower, then every item's second. NULL on error. */
SKEIN_API skein_result* skein_session_run(skein_session* session, const int32_t* ids, int64_t rows,
                                          int64_t n, const int64_t* lengths);

/* Row-major logits [batch, num_classes] and pooled outputs [batch, width] of
 * a result, valid as long as it; rows and cols (either may be NULL) receive
 * the shape. */
SKEIN_API const float* skein_result_logits(const skein_result* result, int64_t* rows,
                                           int64_t* cols);
SKEIN_API const float* skein_result_pooled(const skein_result* result, int64_t* rows,
                                           int64_t* cols);
SKEIN_API void skein_result_free(skein_result* result);

#ifdef __cplusplus
}
#endif

#endif /* SKEIN_SKEIN_C_H */
