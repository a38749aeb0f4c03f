// The C API (include/llama2/llama2.h) over Session, Model and Tokenizer: the
// top layer of the library. Every function catches every exception and turns
// it into a status and a thread-local message; nothing throws across.
#include "llama2/llama2.h"

#include <exception>
#include <filesystem>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "llama2/error.hpp"
#include "llama2/model.hpp"
#include "llama2/session.hpp"
#include "llama2/tokenizer.hpp"

static_assert(LLAMA2_STOP_CANCELLED == int(llama2::StopReason::CANCELLED) &&
                  LLAMA2_STOP_STOP_STRING == int(llama2::StopReason::STOP_STRING) &&
                  LLAMA2_STOP_EOS == int(llama2::StopReason::EOS),
              "llama2_stop_reason mirrors llama2::StopReason");

struct llama2_model {
  std::shared_ptr<const llama2::Model> model;
  std::shared_ptr<const llama2::Tokenizer> tokenizer;
};

struct llama2_session {
  std::unique_ptr<llama2::Session> session;
};

namespace {

thread_local std::string g_last_error;

llama2_status fail(llama2_status status, std::string message) {
  g_last_error = std::move(message);
  return status;
}

// Runs f(); returns LLAMA2_OK, or the status and message of what it threw.
template <typename F>
llama2_status guarded(F&& f) {
  try {
    return f();
  } catch (const llama2::Error& e) {
    return fail(LLAMA2_ERROR, e.what());
  } catch (const std::bad_alloc&) {
    return fail(LLAMA2_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(LLAMA2_ERROR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(LLAMA2_ERROR_INTERNAL, "internal error: unknown exception");
  }
}

llama2_status null_argument(const char* function, const char* argument) {
  return fail(LLAMA2_ERROR_INVALID_ARGUMENT, std::string(function) + ": " + argument + " is NULL");
}

#define LLAMA2_REQUIRE(ptr) \
  if (!(ptr)) return null_argument(__func__, #ptr)

// Copies `values` out, or says how many are needed.
template <typename T, typename U>
llama2_status copy_out(const std::vector<T>& values, U* out, std::size_t capacity, std::size_t* n, const char* what) {
  *n = values.size();
  if (values.size() > capacity) {
    return fail(LLAMA2_ERROR_BUFFER_TOO_SMALL, std::string(what) + ": " + std::to_string(values.size()) +
                                                   " needed, capacity " + std::to_string(capacity));
  }
  for (std::size_t i = 0; i < values.size(); i++) out[i] = U(values[i]);
  return LLAMA2_OK;
}

}  // namespace

extern "C" {

// --- errors and version ---------------------------------------------------------------

const char* llama2_last_error(void) { return g_last_error.c_str(); }
const char* llama2_version(void) { return LLAMA2_VERSION_STRING; }

const char* llama2_stop_reason_name(llama2_stop_reason reason) {
  if (reason < LLAMA2_STOP_EOS || reason > LLAMA2_STOP_CANCELLED) return "?";
  return llama2::stop_reason_name(static_cast<llama2::StopReason>(reason)).data();  // names are literals
}

// --- model ------------------------------------------------------------------------------

llama2_status llama2_model_load(const char* model_path, const char* tokenizer_path, llama2_model** out) {
  LLAMA2_REQUIRE(model_path);
  LLAMA2_REQUIRE(out);
  *out = nullptr;
  return guarded([&] {
    auto m = std::make_unique<llama2_model>();
    m->model = std::make_shared<const llama2::Model>(llama2::Model::load(model_path));
    std::string tok = tokenizer_path ? tokenizer_path : "";
    if (tok.empty()) {
      tok = m->model->format() == llama2::ModelFormat::GGUF
                ? std::string(model_path)
                : (std::filesystem::path(model_path).parent_path() / "tokenizer.bin").string();
    }
    m->tokenizer = std::make_shared<const llama2::Tokenizer>(llama2::Tokenizer::load(tok));
    if (m->tokenizer->vocab_size() != m->model->config().vocab_size) {
      throw llama2::Error("the tokenizer " + tok + " has " + std::to_string(m->tokenizer->vocab_size()) +
                          " pieces but the model " + model_path + " has vocab_size " +
                          std::to_string(m->model->config().vocab_size));
    }
    *out = m.release();
    return LLAMA2_OK;
  });
}

void llama2_model_free(llama2_model* model) { delete model; }

llama2_status llama2_model_get_info(const llama2_model* model, llama2_model_info* out) {
  LLAMA2_REQUIRE(model);
  LLAMA2_REQUIRE(out);
  const llama2::Config& c = model->model->config();
  *out = {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len,
          model->tokenizer->bos_id(), model->tokenizer->eos_id()};
  return LLAMA2_OK;
}

llama2_status llama2_tokenize(const llama2_model* model, const char* text, size_t text_len, int bos, int32_t* tokens,
                              size_t capacity, size_t* n_tokens) {
  LLAMA2_REQUIRE(model);
  LLAMA2_REQUIRE(n_tokens);
  if (text_len > 0) LLAMA2_REQUIRE(text);
  if (capacity > 0) LLAMA2_REQUIRE(tokens);
  return guarded([&] {
    const std::vector<int> ids = model->tokenizer->encode(std::string_view(text ? text : "", text_len), bos != 0, false);
    return copy_out(ids, tokens, capacity, n_tokens, "llama2_tokenize");
  });
}

llama2_status llama2_detokenize(const llama2_model* model, const int32_t* tokens, size_t n_tokens, char* text,
                                size_t capacity, size_t* text_len) {
  LLAMA2_REQUIRE(model);
  LLAMA2_REQUIRE(text_len);
  if (n_tokens > 0) LLAMA2_REQUIRE(tokens);
  if (capacity > 0) LLAMA2_REQUIRE(text);
  return guarded([&] {
    const int vocab = model->tokenizer->vocab_size();
    std::vector<int> ids(tokens, tokens + n_tokens);
    for (std::size_t i = 0; i < ids.size(); i++) {
      if (ids[i] < 0 || ids[i] >= vocab) {
        throw llama2::Error("llama2_detokenize: token " + std::to_string(i) + " has id " + std::to_string(ids[i]) +
                            ", outside [0, " + std::to_string(vocab) + ")");
      }
    }
    const std::string s = model->tokenizer->decode_all(ids);
    const std::vector<char> bytes(s.begin(), s.end());
    const llama2_status status = copy_out(bytes, text, capacity, text_len, "llama2_detokenize");
    if (status == LLAMA2_OK && s.size() < capacity) text[s.size()] = '\0';
    return status;
  });
}

// --- session -----------------------------------------------------------------------------

void llama2_session_params_init(llama2_session_params* params) {
  if (!params) return;
  const llama2::SamplerParams d;
  *params = {0, 0, 0, d.temperature, d.top_p, d.top_k, d.min_p, d.repeat_penalty, d.repeat_last_n, d.seed};
}

llama2_status llama2_session_new(const llama2_model* model, const llama2_session_params* params,
                                 llama2_session** out) {
  LLAMA2_REQUIRE(model);
  LLAMA2_REQUIRE(out);
  *out = nullptr;
  llama2_session_params p;
  llama2_session_params_init(&p);
  if (params) p = *params;
  return guarded([&] {
    llama2::SessionParams sp;
    sp.n_threads = p.n_threads;
    sp.context = p.context;
    sp.kv_type = p.kv_f16 ? llama2::KvType::F16 : llama2::KvType::F32;
    sp.sampling = {p.temperature, p.top_p, p.top_k, p.min_p, p.repeat_penalty, p.repeat_last_n, p.seed};
    auto s = std::make_unique<llama2_session>();
    s->session = std::make_unique<llama2::Session>(model->model, model->tokenizer, sp);
    *out = s.release();
    return LLAMA2_OK;
  });
}

void llama2_session_free(llama2_session* session) { delete session; }

llama2_status llama2_session_append_tokens(llama2_session* session, const int32_t* tokens, size_t n) {
  LLAMA2_REQUIRE(session);
  if (n > 0) LLAMA2_REQUIRE(tokens);
  return guarded([&] {
    const std::vector<int> ids(tokens, tokens + n);
    if (!session->session->append_tokens(ids)) return fail(LLAMA2_CANCELLED, "cancelled");
    return LLAMA2_OK;
  });
}

llama2_status llama2_session_append_text(llama2_session* session, const char* text, int bos) {
  LLAMA2_REQUIRE(session);
  LLAMA2_REQUIRE(text);
  return guarded([&] {
    if (!session->session->append_text(text, bos != 0)) return fail(LLAMA2_CANCELLED, "cancelled");
    return LLAMA2_OK;
  });
}

llama2_status llama2_session_set_tokens(llama2_session* session, const int32_t* tokens, size_t n) {
  LLAMA2_REQUIRE(session);
  if (n > 0) LLAMA2_REQUIRE(tokens);
  return guarded([&] {
    const std::vector<int> ids(tokens, tokens + n);
    if (!session->session->set_tokens(ids)) return fail(LLAMA2_CANCELLED, "cancelled");
    return LLAMA2_OK;
  });
}

llama2_status llama2_session_get_tokens(const llama2_session* session, int32_t* tokens, size_t capacity,
                                        size_t* n_tokens) {
  LLAMA2_REQUIRE(session);
  LLAMA2_REQUIRE(n_tokens);
  if (capacity > 0) LLAMA2_REQUIRE(tokens);
  return guarded([&] { return copy_out(session->session->tokens(), tokens, capacity, n_tokens, "llama2_session_get_tokens"); });
}

llama2_status llama2_session_get_logits(llama2_session* session, const float** logits, size_t* n) {
  LLAMA2_REQUIRE(session);
  LLAMA2_REQUIRE(logits);
  LLAMA2_REQUIRE(n);
  return guarded([&] {
    const std::span<const float> l = session->session->logits();
    *logits = l.data();
    *n = l.size();
    return LLAMA2_OK;
  });
}

llama2_status llama2_session_sample(llama2_session* session, int32_t* token) {
  LLAMA2_REQUIRE(session);
  LLAMA2_REQUIRE(token);
  return guarded([&] {
    *token = session->session->sample();
    return LLAMA2_OK;
  });
}

llama2_status llama2_session_accept(llama2_session* session, int32_t token) {
  LLAMA2_REQUIRE(session);
  return guarded([&] {
    session->session->accept(token);
    return LLAMA2_OK;
  });
}

llama2_status llama2_session_set_logit_bias(llama2_session* session, int32_t token, float bias) {
  LLAMA2_REQUIRE(session);
  return guarded([&] {
    session->session->sampler().set_logit_bias(token, bias);
    return LLAMA2_OK;
  });
}

llama2_status llama2_session_generate(llama2_session* session, int32_t max_tokens, const char* const* stop_strings,
                                      size_t n_stop_strings, llama2_token_callback on_token, void* user_data,
                                      llama2_stop_reason* reason) {
  LLAMA2_REQUIRE(session);
  if (n_stop_strings > 0) LLAMA2_REQUIRE(stop_strings);
  return guarded([&] {
    llama2::GenerateOptions options;
    options.max_tokens = max_tokens < 0 ? -1 : max_tokens;
    for (std::size_t i = 0; i < n_stop_strings; i++) {
      if (!stop_strings[i]) return null_argument("llama2_session_generate", "a stop string");
      options.stop.emplace_back(stop_strings[i]);
    }
    const llama2::StopReason why =
        session->session->generate(options, [&](int token, std::string_view text) {
          if (!on_token) return true;
          return on_token(user_data, token, text.data(), text.size()) != 0;
        });
    if (reason) *reason = static_cast<llama2_stop_reason>(why);
    return LLAMA2_OK;
  });
}

llama2_status llama2_session_cancel(llama2_session* session) {
  LLAMA2_REQUIRE(session);
  session->session->cancel();
  return LLAMA2_OK;
}

llama2_status llama2_session_save(const llama2_session* session, const char* path) {
  LLAMA2_REQUIRE(session);
  LLAMA2_REQUIRE(path);
  return guarded([&] {
    session->session->save(path);
    return LLAMA2_OK;
  });
}

llama2_status llama2_session_load(llama2_session* session, const char* path) {
  LLAMA2_REQUIRE(session);
  LLAMA2_REQUIRE(path);
  return guarded([&] {
    session->session->load(path);
    return LLAMA2_OK;
  });
}

}  // extern "C"
