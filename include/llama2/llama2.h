/* llama2.h: the C API of llama2.cpp, for C and for every language that can
 * call C (Python ctypes, Rust, Go, ...). Plain C11.
 *
 * Handles are opaque. No exception crosses this API: every call returns a
 * llama2_status, and when it is not LLAMA2_OK, llama2_last_error() gives a
 * message saying what was wrong (per thread; valid until the thread's next
 * call into this API).
 *
 * Threading: a model is immutable once loaded; any number of sessions may
 * share it, each used by one thread at a time. llama2_session_cancel() may be
 * called from any thread. Free every session before its model.
 *
 *   llama2_model* model;
 *   llama2_session* session;
 *   llama2_session_params params;
 *   if (llama2_model_load("model.bin", "tokenizer.bin", &model) != LLAMA2_OK) {
 *     fprintf(stderr, "%s\n", llama2_last_error());
 *     return 1;
 *   }
 *   llama2_session_params_init(&params);
 *   llama2_session_new(model, &params, &session);
 *   llama2_session_append_text(session, "Once upon a time", 1);
 *   llama2_session_generate(session, 100, stops, n_stops, on_token, NULL, &reason);
 */
#ifndef LLAMA2_H
#define LLAMA2_H

#include <stddef.h>
#include <stdint.h>

#include "llama2/version.h"

#if defined(__GNUC__) || defined(__clang__)
#define LLAMA2_API __attribute__((visibility("default")))
#else
#define LLAMA2_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum llama2_status {
  LLAMA2_OK = 0,
  LLAMA2_ERROR = 1,                   /* bad input: a file, a token, a size (see llama2_last_error) */
  LLAMA2_ERROR_INVALID_ARGUMENT = 2,  /* a NULL handle or pointer, a negative size */
  LLAMA2_ERROR_BUFFER_TOO_SMALL = 3,  /* the output did not fit; the size needed was returned */
  LLAMA2_ERROR_OUT_OF_MEMORY = 4,
  LLAMA2_CANCELLED = 5,               /* llama2_session_cancel() stopped an append */
  LLAMA2_ERROR_INTERNAL = 6           /* a bug: please report the message */
} llama2_status;

typedef enum llama2_stop_reason {
  LLAMA2_STOP_EOS = 0,
  LLAMA2_STOP_BOS = 1,
  LLAMA2_STOP_STEPS = 2, /* the token budget */
  LLAMA2_STOP_CONTEXT = 3,
  LLAMA2_STOP_END_OF_INPUT = 4,
  LLAMA2_STOP_STOP_STRING = 5,
  LLAMA2_STOP_CALLBACK = 6,
  LLAMA2_STOP_CANCELLED = 7
} llama2_stop_reason;

typedef struct llama2_model llama2_model;
typedef struct llama2_session llama2_session;

typedef struct llama2_model_info {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
  int32_t bos_id, eos_id;
} llama2_model_info;

typedef struct llama2_session_params {
  int32_t n_threads;     /* <= 0: one per core */
  int32_t context;       /* 0: the model's seq_len; else a smaller cap */
  int32_t kv_f16;        /* 1: an fp16 KV cache (half the memory) */
  float temperature;     /* 0 = greedy */
  float top_p;           /* 1 = off */
  int32_t top_k;         /* 0 = off */
  float min_p;           /* 0 = off */
  float repeat_penalty;  /* 1 = off */
  int32_t repeat_last_n;
  uint64_t seed;
} llama2_session_params;

/* Called for each generated token with the text it releases (UTF-8, not
 * NUL-terminated, possibly empty while text is held back); a last call with
 * token -1 brings text still held at the end. Return 0 to stop generating. */
typedef int (*llama2_token_callback)(void* user_data, int32_t token, const char* text, size_t text_len);

/* --- errors and version ----------------------------------------------------------- */
LLAMA2_API const char* llama2_last_error(void);
LLAMA2_API const char* llama2_version(void); /* LLAMA2_VERSION_STRING of the library */
LLAMA2_API const char* llama2_stop_reason_name(llama2_stop_reason reason);

/* --- model ---------------------------------------------------------------------------- */
/* Loads a model (any supported format) and its tokenizer: tokenizer_path, or
 * if NULL the model's own vocabulary (GGUF) or tokenizer.bin beside it. */
LLAMA2_API llama2_status llama2_model_load(const char* model_path, const char* tokenizer_path, llama2_model** out);
LLAMA2_API void llama2_model_free(llama2_model* model);
LLAMA2_API llama2_status llama2_model_get_info(const llama2_model* model, llama2_model_info* out);

/* Text to tokens (with BOS first if bos != 0). *n_tokens receives the count;
 * if it is larger than capacity, nothing is written and the status is
 * LLAMA2_ERROR_BUFFER_TOO_SMALL (call again with a larger buffer). */
LLAMA2_API llama2_status llama2_tokenize(const llama2_model* model, const char* text, size_t text_len, int bos,
                                         int32_t* tokens, size_t capacity, size_t* n_tokens);
/* Tokens to text (as SentencePiece decodes; no NUL counted in *text_len).
 * Writes a NUL after the text when there is room. */
LLAMA2_API llama2_status llama2_detokenize(const llama2_model* model, const int32_t* tokens, size_t n_tokens,
                                           char* text, size_t capacity, size_t* text_len);

/* --- session -------------------------------------------------------------------------- */
LLAMA2_API void llama2_session_params_init(llama2_session_params* params); /* the defaults */
LLAMA2_API llama2_status llama2_session_new(const llama2_model* model, const llama2_session_params* params,
                                            llama2_session** out);
LLAMA2_API void llama2_session_free(llama2_session* session);

/* Appends known tokens (or text) and runs them as batches. */
LLAMA2_API llama2_status llama2_session_append_tokens(llama2_session* session, const int32_t* tokens, size_t n);
LLAMA2_API llama2_status llama2_session_append_text(llama2_session* session, const char* text, int bos);
/* Makes the sequence `tokens`, running only what follows the prefix it
 * shares with the current one (prefix reuse). */
LLAMA2_API llama2_status llama2_session_set_tokens(llama2_session* session, const int32_t* tokens, size_t n);
/* The sequence so far (cached and pending tokens), as llama2_tokenize returns tokens. */
LLAMA2_API llama2_status llama2_session_get_tokens(const llama2_session* session, int32_t* tokens, size_t capacity,
                                                   size_t* n_tokens);

/* The logits after the last token (vocab_size floats, valid until the next
 * call on this session). */
LLAMA2_API llama2_status llama2_session_get_logits(llama2_session* session, const float** logits, size_t* n);
/* Samples the next token (logit bias applied), without appending it. */
LLAMA2_API llama2_status llama2_session_sample(llama2_session* session, int32_t* token);
/* Appends a sampled token without running it yet. */
LLAMA2_API llama2_status llama2_session_accept(llama2_session* session, int32_t token);
/* bias is added to the token's logit before sampling; -INFINITY bans it. */
LLAMA2_API llama2_status llama2_session_set_logit_bias(llama2_session* session, int32_t token, float bias);

/* Samples, appends and streams up to max_tokens tokens (< 0: no budget)
 * until EOS, BOS, a stop string (not streamed), the context's end, the
 * callback's 0 or a cancel. *reason (may be NULL) says which. */
LLAMA2_API llama2_status llama2_session_generate(llama2_session* session, int32_t max_tokens,
                                                 const char* const* stop_strings, size_t n_stop_strings,
                                                 llama2_token_callback on_token, void* user_data,
                                                 llama2_stop_reason* reason);
/* From any thread: stops the running (or next) generate/append at the next
 * token or prompt chunk. */
LLAMA2_API llama2_status llama2_session_cancel(llama2_session* session);

/* Saves / restores tokens, KV cache and RNG state; loading refuses a file of
 * another model, a damaged one, or one of another KV type or larger context. */
LLAMA2_API llama2_status llama2_session_save(const llama2_session* session, const char* path);
LLAMA2_API llama2_status llama2_session_load(llama2_session* session, const char* path);

#ifdef __cplusplus
}
#endif

#endif /* LLAMA2_H */
