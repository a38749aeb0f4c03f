/* generate_c: text generation from C through the C API (llama2.h), with a
 * stop string and a token budget.
 *
 *   generate_c model.bin tokenizer.bin "Once upon a time" [MAX_TOKENS] [STOP]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama2/llama2.h"

static int print_token(void* user_data, int32_t token, const char* text, size_t text_len) {
  (void)user_data;
  (void)token;
  fwrite(text, 1, text_len, stdout);
  fflush(stdout);
  return 1; /* 0 would stop the generation */
}

int main(int argc, char** argv) {
  llama2_model* model = NULL;
  llama2_session* session = NULL;
  llama2_session_params params;
  llama2_stop_reason reason;
  const char* stops[1];
  int status = 1;

  if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    printf("usage: generate_c MODEL TOKENIZER [PROMPT] [MAX_TOKENS=100] [STOP]\n");
    return 0;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: generate_c MODEL TOKENIZER [PROMPT] [MAX_TOKENS=100] [STOP]\n");
    return 1;
  }
  stops[0] = argc > 5 ? argv[5] : "";
  if (llama2_model_load(argv[1], argv[2], &model) != LLAMA2_OK) goto fail;
  llama2_session_params_init(&params);
  params.temperature = 0.0f;
  if (llama2_session_new(model, &params, &session) != LLAMA2_OK) goto fail;
  if (llama2_session_append_text(session, argc > 3 ? argv[3] : "", 1) != LLAMA2_OK) goto fail;
  fputs(argc > 3 ? argv[3] : "", stdout);
  if (llama2_session_generate(session, argc > 4 ? atoi(argv[4]) : 100, stops, argc > 5 ? 1 : 0, print_token, NULL,
                              &reason) != LLAMA2_OK) {
    goto fail;
  }
  printf("\n");
  fprintf(stderr, "stopped: %s\n", llama2_stop_reason_name(reason));
  status = 0;
  goto done;
fail:
  fprintf(stderr, "generate_c: %s\n", llama2_last_error());
done:
  llama2_session_free(session);
  llama2_model_free(model);
  return status;
}
