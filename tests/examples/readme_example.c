/* The C example of README.md, verbatim: the test suite builds it as C and runs it. */
#include <skein/skein_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  skein_model* model = skein_model_load("models/code-lang");
  if (!model) {
    fprintf(stderr, "%s\n", skein_last_error()); /* one line: file, field, value */
    return 2;
  }
  skein_session_options options = skein_session_options_default();
  options.threads = 2; /* 0 = all cores */
  skein_session* session = skein_session_create(model, &options);
  const char* text = "#include <stdio.h>\n\nint main(void) {\n  puts(\"hello, world\");\n}\n";
  int64_t n = skein_model_max_seq_len(model); /* pad to it, as skein classify does */
  int32_t* ids = calloc((size_t)n, sizeof *ids);
  int64_t length = skein_model_tokenize(model, (const uint8_t*)text, strlen(text), ids, n);
  if (length > n) length = n;
  skein_result* result = skein_session_run(session, ids, 1, n, &length); /* 1 row */
  if (!result) {
    fprintf(stderr, "%s\n", skein_last_error());
    return 2;
  }
  int64_t rows, classes;
  const float* logits = skein_result_logits(result, &rows, &classes);
  int64_t best = 0; /* argmax over the classes */
  for (int64_t c = 1; c < classes; ++c)
    if (logits[c] > logits[best]) best = c;
  printf("label %s\n", skein_model_label(model, best)); /* label C */
  skein_result_free(result);
  free(ids);
  skein_session_free(session);
  skein_model_free(model);
  return 0;
}
