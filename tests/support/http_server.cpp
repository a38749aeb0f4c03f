#include "support/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string_view>

namespace llama2::test {

namespace {

// Writes all of `data`; false if the peer went away.
bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void send_status(int fd, const std::string& status) {
  std::string body = status + "\n";
  send_all(fd, "HTTP/1.0 " + status + "\r\nContent-Type: text/plain\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

}  // namespace

HttpServer::HttpServer(std::filesystem::path root) : root_(std::move(root)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;  // the kernel picks a free port
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string why = std::strerror(errno);
    ::close(listen_fd_);
    throw std::runtime_error("cannot listen on 127.0.0.1: " + why);
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

HttpServer::~HttpServer() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

std::vector<std::string> HttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void HttpServer::serve() {
  // Poll with a timeout so that the destructor's stop_ is seen promptly.
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    handle(client);
    ::shutdown(client, SHUT_WR);  // let the client read to the end before close
    ::close(client);
  }
}

void HttpServer::handle(int client) {
  // A stalled client must not hang the test run.
  timeval timeout{5, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);

  // Read the request head (we ignore headers and any body).
  std::string head;
  char buf[1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 16384) {
    ssize_t n = ::recv(client, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    head.append(buf, static_cast<std::size_t>(n));
  }

  // Request line: METHOD SP PATH SP VERSION
  std::string line = head.substr(0, head.find("\r\n"));
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos) return send_status(client, "400 Bad Request");
  std::string method = line.substr(0, sp1);
  std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(path);
  }
  if (method != "GET") return send_status(client, "405 Method Not Allowed");

  // Only plain names directly in root_: no sub-folders, no "..", no query.
  std::string name = path.size() > 1 && path[0] == '/' ? path.substr(1) : "";
  if (name.empty() || name.find_first_of("/\\?%") != std::string::npos || name == "." || name == "..") {
    return send_status(client, "404 Not Found");
  }
  std::filesystem::path file = root_ / name;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return send_status(client, "404 Not Found");
  std::ifstream in(file, std::ios::binary);
  if (!in) return send_status(client, "404 Not Found");

  auto size = std::filesystem::file_size(file, ec);
  if (ec) return send_status(client, "404 Not Found");
  if (!send_all(client, "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                            std::to_string(size) + "\r\nConnection: close\r\n\r\n")) {
    return;
  }
  std::vector<char> chunk(1 << 16);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    std::streamsize got = in.gcount();
    if (got <= 0) break;
    if (!send_all(client, std::string_view(chunk.data(), static_cast<std::size_t>(got)))) return;
  }
}

}  // namespace llama2::test
