/* The C API (include/llama2/llama2.h) driven from C, as a C program would:
 * compiled as C11 with -Wall -Wextra -pedantic -Werror and linked to
 * libllama2.so. Exit 0: pass; 77: the shared model files are missing (a
 * skip, except under CI=true); else the number of failed checks.
 *   c_api_test [MODELS_DIR]   (LLAMA2_TEST_MODELS overrides MODELS_DIR) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama2/llama2.h"

static int failures = 0;

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, \
              __LINE__, #cond, llama2_last_error());                        \
      failures++;                                                           \
    }                                                                       \
  } while (0)

#define CHECK_OK(call) CHECK((call) == LLAMA2_OK)

/* Collects streamed text; stops after stop_after tokens (0: never). */
typedef struct Collected {
  char text[4096];
  size_t len;
  int tokens;
  int stop_after;
  llama2_session* cancel_me; /* cancels this session at stop_after instead */
} Collected;

static int collect(void* user_data, int32_t token, const char* text, size_t text_len) {
  Collected* c = (Collected*)user_data;
  if (c->len + text_len < sizeof c->text) {
    memcpy(c->text + c->len, text, text_len);
    c->len += text_len;
    c->text[c->len] = '\0';
  }
  if (token < 0) return 1;
  c->tokens++;
  if (c->stop_after > 0 && c->tokens == c->stop_after) {
    if (c->cancel_me) {
      llama2_session_cancel(c->cancel_me);
      return 1;
    }
    return 0;
  }
  return 1;
}

static llama2_session* greedy_session(const llama2_model* model, uint64_t seed, float temperature) {
  llama2_session_params params;
  llama2_session* session = NULL;
  llama2_session_params_init(&params);
  params.n_threads = 1;
  params.temperature = temperature;
  params.seed = seed;
  CHECK_OK(llama2_session_new(model, &params, &session));
  return session;
}

int main(int argc, char** argv) {
  const char* dir = getenv("LLAMA2_TEST_MODELS");
  char model_path[1024], tok_path[1024], state_path[1024];
  llama2_model* model = NULL;
  llama2_model_info info;
  int32_t tokens[256];
  size_t n = 0, len = 0;
  char text[512];
  llama2_session *a, *b, *c;
  const float* logits = NULL;
  size_t n_logits = 0, i;
  int32_t token = -1, best = 0;
  llama2_stop_reason reason;
  Collected whole, first, rest, stopped;
  const char* stops[] = {"zzzz", NULL};
  FILE* f;

  if (!dir || !*dir) dir = argc > 1 ? argv[1] : ".";
  snprintf(model_path, sizeof model_path, "%s/aidreams260K.bin", dir);
  snprintf(tok_path, sizeof tok_path, "%s/aidreams_tok512.bin", dir);
  snprintf(state_path, sizeof state_path, "c_api_test_%d.session", (int)sizeof(void*));
  f = fopen(model_path, "rb");
  if (!f) {
    const char* ci = getenv("CI");
    fprintf(stderr, "missing %s: run models/download.sh test and set LLAMA2_TEST_MODELS\n", model_path);
    return ci && strcmp(ci, "true") == 0 ? 1 : 77;
  }
  fclose(f);

  /* --- version, errors ---------------------------------------------------- */
  CHECK(strcmp(llama2_version(), LLAMA2_VERSION_STRING) == 0);
  CHECK(llama2_model_load("/nonexistent/model.bin", NULL, &model) == LLAMA2_ERROR);
  CHECK(model == NULL);
  CHECK(strstr(llama2_last_error(), "/nonexistent/model.bin") != NULL);
  CHECK(llama2_model_load(NULL, NULL, &model) == LLAMA2_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(llama2_last_error(), "model_path is NULL") != NULL);
  CHECK(strcmp(llama2_stop_reason_name(LLAMA2_STOP_STOP_STRING), "stop string") == 0);

  /* --- model, info, tokenizer ----------------------------------------------- */
  CHECK_OK(llama2_model_load(model_path, tok_path, &model));
  if (!model) return 1;
  CHECK_OK(llama2_model_get_info(model, &info));
  CHECK(info.vocab_size == 512 && info.seq_len == 128 && info.n_layers == 4 && info.dim == 64);
  CHECK(llama2_tokenize(model, "I dream of", 10, 1, tokens, 2, &n) == LLAMA2_ERROR_BUFFER_TOO_SMALL);
  CHECK(n > 2);
  CHECK_OK(llama2_tokenize(model, "I dream of", 10, 1, tokens, 256, &n));
  CHECK(tokens[0] == info.bos_id);
  CHECK_OK(llama2_detokenize(model, tokens, n, text, sizeof text, &len));
  CHECK(len == 10 && strcmp(text, "I dream of") == 0);
  tokens[1] = 9999;
  CHECK(llama2_detokenize(model, tokens, n, text, sizeof text, &len) == LLAMA2_ERROR);
  CHECK(strstr(llama2_last_error(), "9999") != NULL);

  /* --- logits and sampling: greedy is the argmax ----------------------------- */
  a = greedy_session(model, 1, 0.0f);
  CHECK(llama2_session_get_logits(a, &logits, &n_logits) == LLAMA2_ERROR); /* no tokens yet */
  CHECK_OK(llama2_session_append_text(a, "I dream", 1));
  CHECK_OK(llama2_session_get_logits(a, &logits, &n_logits));
  CHECK(n_logits == 512);
  for (i = 1; i < n_logits; i++) {
    CHECK(isfinite(logits[i]));
    if (logits[i] > logits[best]) best = (int32_t)i;
  }
  CHECK_OK(llama2_session_sample(a, &token));
  CHECK(token == best);
  /* banned, it is never sampled */
  CHECK_OK(llama2_session_set_logit_bias(a, best, -INFINITY));
  CHECK_OK(llama2_session_sample(a, &token));
  CHECK(token != best);
  CHECK(llama2_session_set_logit_bias(a, 512, 1.0f) == LLAMA2_ERROR);
  CHECK(llama2_session_accept(a, -1) == LLAMA2_ERROR);
  llama2_session_free(a);

  /* --- generate: budget, callback stop, cancel, stop strings ------------------- */
  memset(&whole, 0, sizeof whole);
  a = greedy_session(model, 7, 1.0f);
  CHECK_OK(llama2_session_append_text(a, "I dream", 1));
  CHECK_OK(llama2_session_generate(a, 60, stops, 1, collect, &whole, &reason));
  CHECK(reason == LLAMA2_STOP_STEPS && whole.tokens == 60 && whole.len > 30);

  memset(&stopped, 0, sizeof stopped);
  stopped.stop_after = 5;
  b = greedy_session(model, 7, 1.0f);
  CHECK_OK(llama2_session_append_text(b, "I dream", 1));
  CHECK_OK(llama2_session_generate(b, 60, NULL, 0, collect, &stopped, &reason));
  CHECK(reason == LLAMA2_STOP_CALLBACK && stopped.tokens == 5);
  memset(&stopped, 0, sizeof stopped);
  stopped.stop_after = 3;
  stopped.cancel_me = b;
  CHECK_OK(llama2_session_generate(b, 60, NULL, 0, collect, &stopped, &reason));
  CHECK(reason == LLAMA2_STOP_CANCELLED && stopped.tokens == 3);
  llama2_session_free(b);

  /* a stop string taken from the text: generation ends just before it */
  {
    char stop[8];
    const char* stop_list[1];
    memcpy(stop, whole.text + 20, 5);
    stop[5] = '\0';
    stop_list[0] = stop;
    memset(&stopped, 0, sizeof stopped);
    b = greedy_session(model, 7, 1.0f);
    CHECK_OK(llama2_session_append_text(b, "I dream", 1));
    CHECK_OK(llama2_session_generate(b, 60, stop_list, 1, collect, &stopped, &reason));
    CHECK(reason == LLAMA2_STOP_STOP_STRING);
    CHECK(stopped.len == (size_t)(strstr(whole.text, stop) - whole.text));
    CHECK(strncmp(stopped.text, whole.text, stopped.len) == 0);
    llama2_session_free(b);
  }

  /* --- save, load, continue == uninterrupted ------------------------------------ */
  memset(&first, 0, sizeof first);
  memset(&rest, 0, sizeof rest);
  b = greedy_session(model, 7, 1.0f);
  CHECK_OK(llama2_session_append_text(b, "I dream", 1));
  CHECK_OK(llama2_session_generate(b, 25, NULL, 0, collect, &first, &reason));
  CHECK_OK(llama2_session_save(b, state_path));
  c = greedy_session(model, 12345, 1.0f);
  CHECK_OK(llama2_session_load(c, state_path));
  CHECK_OK(llama2_session_get_tokens(c, tokens, 256, &n));
  CHECK(n > 25);
  CHECK_OK(llama2_session_generate(c, 35, NULL, 0, collect, &rest, &reason));
  CHECK(first.len + rest.len == whole.len);
  CHECK(strncmp(first.text, whole.text, first.len) == 0);
  CHECK(strcmp(rest.text, whole.text + first.len) == 0);

  /* prefix reuse: set_tokens to a's sequence with a new ending */
  CHECK_OK(llama2_session_get_tokens(c, tokens, 256, &n));
  tokens[n - 1] = tokens[n - 2];
  CHECK_OK(llama2_session_set_tokens(c, tokens, n));
  CHECK_OK(llama2_session_get_tokens(c, tokens + 128, 128, &len));
  CHECK(len == n && memcmp(tokens, tokens + 128, n * sizeof(int32_t)) == 0);
  llama2_session_free(c);
  llama2_session_free(b);
  llama2_session_free(a);

  /* a damaged file is refused, with the file's name in the message */
  f = fopen(state_path, "wb");
  if (f) {
    fputs("LL2SESS", f);
    fclose(f);
  }
  a = greedy_session(model, 7, 1.0f);
  CHECK(llama2_session_load(a, state_path) == LLAMA2_ERROR);
  CHECK(strstr(llama2_last_error(), "truncated") != NULL || strstr(llama2_last_error(), "not a llama2.cpp") != NULL);
  CHECK(llama2_session_load(a, NULL) == LLAMA2_ERROR_INVALID_ARGUMENT);
  llama2_session_free(a);
  remove(state_path);

  llama2_model_free(model);
  if (failures == 0) printf("c_api_test: all checks passed\n");
  return failures;
}
