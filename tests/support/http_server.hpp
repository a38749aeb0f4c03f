// HttpServer: a tiny HTTP/1.0 file server on 127.0.0.1 for tests.
//
// Serves the regular files directly inside one folder (GET /<name>), one
// connection at a time, from a std::thread; listens on an ephemeral port.
// Anything else gets 404 (missing file, sub-paths, "..") or 405 (not GET).
// Enough for curl and wget to download from it; not a general web server.
#pragma once

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace llama2::test {

class HttpServer {
 public:
  // Starts serving `root`. Throws std::runtime_error if it cannot listen.
  explicit HttpServer(std::filesystem::path root);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The request paths answered so far, in order (e.g. "/tokenizer.bin").
  std::vector<std::string> requests() const;

 private:
  void serve();
  void handle(int client);

  std::filesystem::path root_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace llama2::test
