/* The C example of README.md, verbatim: the test suite builds it as C and runs it. */
#include <skein/skein_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  skein_model* model = skein_model_load("models/default");
  if (!model) {
    fprintf(stderr, "%s\n", skein_last_error());  /* one line: file, field, value */
    return 2;
  }
  skein_session_options options = skein_session_options_default();
  options.threads = 2;  /* 0 = all cores */
  skein_session* session = skein_session_create(model, &options);
  const char* text = "A long document ...";
  int64_t n = skein_model_max_seq_len(model);  /* pad to it, as skein classify does */
  int32_t* ids = calloc((size_t)n, sizeof *ids);
  int64_t length = skein_model_tokenize(model, (const uint8_t*)text, strlen(text), ids, n);
  if (length > n) length = n;
  skein_result* result = skein_session_run(session, ids, 1, n, &length);  /* 1 row */
  if (!result) {
    fprintf(stderr, "%s\n", skein_last_error());
    return 2;
  }
  int64_t rows, classes;
  const float* logits = skein_result_logits(result, &rows, &classes);
  printf("label %s\n", skein_model_label(model, logits[1] > logits[0]));
  skein_result_free(result);
  free(ids);
  skein_session_free(session);
  skein_model_free(model);
  return 0;
}
