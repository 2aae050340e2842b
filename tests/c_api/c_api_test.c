/* The C API, compiled as C11 and linked to libskein.so: results, padding,
 * and that every failure returns NULL/-1 with a message instead of aborting. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <skein/skein_c.h>

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* The last error mentions `needle`. */
static int error_mentions(const char* needle) {
  const char* e = skein_last_error();
  if (strstr(e, needle)) return 1;
  fprintf(stderr, "last error '%s' does not mention '%s'\n", e, needle);
  return 0;
}

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "models/untrained";
  CHECK(strlen(skein_version()) >= 5);

  CHECK(skein_model_load("/nonexistent/skein-model") == NULL);
  CHECK(error_mentions("/nonexistent/skein-model"));
  CHECK(skein_model_load(NULL) == NULL);
  CHECK(error_mentions("NULL"));

  skein_model* model = skein_model_load(dir);
  if (!model) {
    fprintf(stderr, "cannot load %s: %s\n", dir, skein_last_error());
    return 1;
  }
  CHECK(strcmp(skein_last_error(), "") == 0);
  const int64_t classes = skein_model_num_classes(model);
  const int64_t max_len = skein_model_max_seq_len(model);
  CHECK(classes >= 1 && max_len >= 8);
  CHECK(skein_model_label(model, 0) != NULL);
  CHECK(skein_model_label(model, classes) == NULL);
  CHECK(error_mentions("outside"));

  const char* text = "The C API runs the same engine.";
  const int64_t count = skein_model_tokenize(model, (const uint8_t*)text, strlen(text), NULL, 0);
  CHECK(count >= 1 && count < max_len);
  /* Row 0: the text's ids then padding with junk; row 1: the ids at full length n = count. */
  const int64_t n = count + 3;
  int32_t* ids = calloc((size_t)(2 * n), sizeof(int32_t));
  CHECK(skein_model_tokenize(model, (const uint8_t*)text, strlen(text), ids, n) == count);
  for (int64_t t = count; t < n; ++t) ids[t] = 7;
  memcpy(ids + n, ids, (size_t)count * sizeof(int32_t));
  for (int64_t t = count; t < n; ++t) ids[n + t] = ids[t - count];
  const int64_t lengths[2] = {count, n};

  skein_session_options options = skein_session_options_default();
  options.threads = 1;
  skein_session* session = skein_session_create(model, &options);
  CHECK(session != NULL);
  skein_result* result = skein_session_run(session, ids, 2, n, lengths);
  CHECK(result != NULL);
  if (result) {
    int64_t rows = 0, cols = 0, prow = 0, pcols = 0;
    const float* logits = skein_result_logits(result, &rows, &cols);
    const float* pooled = skein_result_pooled(result, &prow, &pcols);
    CHECK(rows == 2 && cols == classes && prow == 2 && pcols >= 1);
    for (int64_t i = 0; i < rows * cols; ++i) CHECK(isfinite(logits[i]));

    /* Padding is ignored: row 0's tokens padded with zeros instead of junk
       give the same outputs (same batch shape, so bit for bit). */
    int32_t* zero_padded = calloc((size_t)(2 * n), sizeof(int32_t));
    memcpy(zero_padded, ids, (size_t)count * sizeof(int32_t));
    memcpy(zero_padded + n, ids + n, (size_t)n * sizeof(int32_t));
    skein_result* alone = skein_session_run(session, zero_padded, 2, n, lengths);
    free(zero_padded);
    CHECK(alone != NULL);
    if (alone) {
      const float* a = skein_result_logits(alone, NULL, NULL);
      CHECK(memcmp(a, logits, (size_t)(2 * cols) * sizeof(float)) == 0);
      CHECK(memcmp(skein_result_pooled(alone, NULL, NULL), pooled,
                   (size_t)(2 * pcols) * sizeof(float)) == 0);
    }
    skein_result_free(alone);
    /* Row 1 has different real tokens, so different outputs. */
    CHECK(memcmp(pooled, pooled + pcols, (size_t)pcols * sizeof(float)) != 0);
  }
  skein_result_free(result);

  /* Bad inputs fail with a message and leave the session usable. */
  int64_t bad_lengths[1] = {0};
  CHECK(skein_session_run(session, ids, 1, n, bad_lengths) == NULL);
  CHECK(error_mentions("length 0 of row 0"));
  int32_t* long_ids = calloc((size_t)(max_len + 1), sizeof(int32_t));
  CHECK(skein_session_run(session, long_ids, 1, max_len + 1, NULL) == NULL);
  CHECK(error_mentions("padded length"));
  free(long_ids);
  CHECK(skein_session_run(NULL, ids, 1, n, NULL) == NULL);
  CHECK(error_mentions("session is NULL"));
  CHECK(skein_result_logits(NULL, NULL, NULL) == NULL);
  result = skein_session_run(session, ids, 1, n, lengths);
  CHECK(result != NULL);
  skein_result_free(result);

  options.attention = "no-such-method";
  CHECK(skein_session_create(model, &options) == NULL);
  CHECK(error_mentions("no-such-method"));

  skein_session_free(session);
  skein_model_free(model);
  free(ids);
  skein_model_free(NULL);
  skein_session_free(NULL);
  skein_result_free(NULL);
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  return failures ? 1 : 0;
}
