// info: the model card of a checkpoint - its shape, what its parameters are,
// what one generated token costs in FLOPs and in memory traffic.
//
//   build/info MODEL [--bandwidth GB/s] [--json]
//
// Everything is computed by model_info() (include/llama2/model_info.hpp)
// from the header and the tensor types; no forward pass is run.
// Exit status: 0 ok, 1 bad model file, 2 bad usage.
#include <cstdio>
#include <string>

#include "cli.hpp"
#include "llama2/model.hpp"
#include "llama2/model_info.hpp"
#include "options.hpp"

namespace {

namespace cli = llama2::cli;

struct Options {
  std::string model_path;
  double bandwidth_gbs = 20.0;
  bool json = false;
};

cli::Program command_line(Options& opt) {
  return {
      .name = "info",
      .synopsis = "MODEL [--bandwidth GB/s] [--json]",
      .positionals = {{"MODEL", "a llama2.c checkpoint (v0/v1/v2), a GGUF file or a Hugging Face folder", cli::text(opt.model_path)}},
      .options =
          {
              {"", "--bandwidth", "B", "memory bandwidth in GB/s (10^9 bytes/s) for the tokens/s bound (default 20)",
               cli::number(opt.bandwidth_gbs, "a positive number of GB/s", [](double b) { return b > 0; })},
              {"", "--json", "", "print one JSON object instead of the text card", cli::flag(opt.json)},
          },
      .notes =
          "Parameters: a classifier shared with the embedding table is counted once (under embedding).\n"
          "FLOPs per token at position t = 2 * (matmul weights) + 4 * n_layers * n_heads * head_size * (t+1):\n"
          "  a multiply-add per weight, plus the attention scores q.k and the weighted sum of v.\n"
          "Bytes read per token at position t = matmul weights + one embedding row + norm weights\n"
          "  + KV cache of positions 0..t (fp32, 2 * n_layers * kv_dim * 4 bytes per position).\n"
          "Generation is memory-bound: tokens/s <= bandwidth / bytes read per token.\n",
  };
}

// 1234567 -> "1,234,567"
std::string grouped(unsigned long long v) {
  std::string s = std::to_string(v), out;
  for (std::size_t i = 0; i < s.size(); i++) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024.0 && u < 4) {
    b /= 1024.0;
    u++;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

void print_text(const llama2::Model& model, const llama2::ModelInfo& info, double bandwidth) {
  const llama2::Config& c = info.config;
  const std::uint64_t last = std::uint64_t(c.seq_len) - 1;
  std::printf("model        %s\n", model.path().c_str());
  std::printf("format       %s\n", std::string(llama2::model_format_name(model.format())).c_str());
  std::printf("file size    %s bytes (%s)\n", grouped(model.file_size()).c_str(), human_bytes(double(model.file_size())).c_str());
  std::printf("\narchitecture\n");
  std::printf("  dim          %d\n  n_layers     %d\n  n_heads      %d\n  n_kv_heads   %d%s\n  head_size    %d\n",
              c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.n_kv_heads < c.n_heads ? " (grouped-query attention)" : "",
              c.head_size());
  std::printf("  hidden_dim   %d\n  vocab_size   %d\n  context      %d\n  rope_theta   %g\n  norm_eps     %g\n",
              c.hidden_dim, c.vocab_size, c.seq_len, double(c.rope_theta), double(c.norm_eps));
  std::printf("  classifier   %s\n", info.params.classifier == 0 ? "shared with the embedding table (counted once)" : "separate");
  const double total = double(info.params.total());
  auto part = [&](const char* name, std::uint64_t n) {
    std::printf("  %-12s %15s  %5.1f%%\n", name, grouped(n).c_str(), total > 0 ? 100.0 * double(n) / total : 0.0);
  };
  std::printf("\nparameters\n");
  part("embedding", info.params.embedding);
  part("attention", info.params.attention);
  part("ffn", info.params.ffn);
  part("norms", info.params.norms);
  part("classifier", info.params.classifier);
  std::printf("  %-12s %15s\n", "total N", grouped(info.params.total()).c_str());
  std::printf("\nstorage by tensor type\n");
  for (const auto& [type, tb] : info.by_type) {
    std::printf("  %-26s %15s params %12s bytes  %.4f bytes/param\n", std::string(llama2::weight_type_name(type)).c_str(),
                grouped(tb.params).c_str(), grouped(tb.bytes).c_str(), tb.bytes_per_param());
  }
  std::printf("  %-26s %15s params %12s bytes  (file: %s)\n", "all weights", grouped(info.params.total()).c_str(),
              grouped(info.weight_bytes).c_str(), grouped(model.file_size()).c_str());
  std::printf("\nper generated token\n");
  std::printf("  FLOPs = 2 * %s matmul weights + 4 * %d * %d * (t+1) attention\n", grouped(info.matmul_params).c_str(),
              c.n_layers, c.n_heads * c.head_size());
  std::printf("  FLOPs at t = 0: %.4g   at t = %llu (full context): %.4g\n", info.flops_per_token(0),
              static_cast<unsigned long long>(last), info.flops_per_token(last));
  std::printf("  KV cache (fp32): %s bytes per token, %s at full context (%d tokens)\n",
              grouped(info.kv_bytes_per_token()).c_str(), human_bytes(double(info.kv_bytes_full_context())).c_str(), c.seq_len);
  std::printf("  bytes read: %s at t = 0, %s at full context\n", human_bytes(info.bytes_per_token(0)).c_str(),
              human_bytes(info.bytes_per_token(last)).c_str());
  std::printf("  at %g GB/s memory bandwidth: at most %.1f tokens/s at t = 0, %.1f at full context\n", bandwidth,
              info.max_tokens_per_second(bandwidth * 1e9, 0), info.max_tokens_per_second(bandwidth * 1e9, last));
}

void print_json(const llama2::Model& model, const llama2::ModelInfo& info, double bandwidth) {
  const llama2::Config& c = info.config;
  const std::uint64_t last = std::uint64_t(c.seq_len) - 1;
  std::string types;
  for (const auto& [type, tb] : info.by_type) {
    if (!types.empty()) types += ',';
    types += '"';
    types += llama2::weight_type_name(type);
    types += "\":{\"params\":" + std::to_string(tb.params) + ",\"bytes\":" + std::to_string(tb.bytes) + "}";
  }
  std::printf(
      "{\"model\":\"%s\",\"format\":\"%s\",\"file_size\":%zu,\"dim\":%d,\"n_layers\":%d,\"n_heads\":%d,"
      "\"n_kv_heads\":%d,\"head_size\":%d,\"hidden_dim\":%d,\"vocab_size\":%d,\"context\":%d,\"rope_theta\":%g,"
      "\"norm_eps\":%g,\"shared_classifier\":%s,\"params\":{\"embedding\":%llu,\"attention\":%llu,\"ffn\":%llu,"
      "\"norms\":%llu,\"classifier\":%llu,\"total\":%llu},\"types\":{%s},\"weight_bytes\":%llu,"
      "\"matmul_params\":%llu,\"flops_per_token_t0\":%.17g,\"flops_per_token_full\":%.17g,"
      "\"kv_bytes_per_token\":%llu,\"kv_bytes_full_context\":%llu,\"bytes_per_token_t0\":%.17g,"
      "\"bytes_per_token_full\":%.17g,\"bandwidth_gbs\":%g,\"max_tokens_per_s_t0\":%.6g,\"max_tokens_per_s_full\":%.6g}\n",
      cli::json_escape(model.path()).c_str(), cli::json_escape(std::string(llama2::model_format_name(model.format()))).c_str(),
      model.file_size(), c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_size(), c.hidden_dim, c.vocab_size,
      c.seq_len, double(c.rope_theta), double(c.norm_eps), info.params.classifier == 0 ? "true" : "false",
      static_cast<unsigned long long>(info.params.embedding), static_cast<unsigned long long>(info.params.attention),
      static_cast<unsigned long long>(info.params.ffn), static_cast<unsigned long long>(info.params.norms),
      static_cast<unsigned long long>(info.params.classifier), static_cast<unsigned long long>(info.params.total()),
      types.c_str(), static_cast<unsigned long long>(info.weight_bytes),
      static_cast<unsigned long long>(info.matmul_params), info.flops_per_token(0), info.flops_per_token(last),
      static_cast<unsigned long long>(info.kv_bytes_per_token()),
      static_cast<unsigned long long>(info.kv_bytes_full_context()), info.bytes_per_token(0), info.bytes_per_token(last),
      bandwidth, info.max_tokens_per_second(bandwidth * 1e9, 0), info.max_tokens_per_second(bandwidth * 1e9, last));
}

int info_main(int argc, char** argv) {
  Options opt;
  if (!cli::parse(command_line(opt), argc, argv)) return 0;  // --help
  const llama2::Model model = llama2::Model::load(opt.model_path);
  const llama2::ModelInfo info = llama2::model_info(model);
  if (opt.json) {
    print_json(model, info, opt.bandwidth_gbs);
  } else {
    print_text(model, info, opt.bandwidth_gbs);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return llama2::cli::run_main("info", [&] { return info_main(argc, argv); });
}
