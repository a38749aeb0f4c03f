#include "llama2/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "llama2/error.hpp"

namespace llama2 {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw Error(path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    throw Error(path + ": file is empty (0 bytes)");
  }
  size_ = static_cast<std::size_t>(st.st_size);
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    ::close(fd);
    throw Error(path + ": cannot mmap " + std::to_string(size_) + " bytes: " + std::strerror(err));
  }
  data_ = static_cast<const std::uint8_t*>(p);
  fd_ = fd;  // kept for read()
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

bool MappedFile::contains(const void* p, std::size_t n) const {
  const auto at = std::uintptr_t(p), begin = std::uintptr_t(data_);
  return data_ && at >= begin && at - begin <= size_ && n <= size_ - (at - begin);
}

void MappedFile::read(const void* p, std::size_t n, void* dst) const {
  if (!contains(p, n)) {
    throw Error(path_ + ": read of " + std::to_string(n) + " bytes outside the file's " + std::to_string(size_));
  }
  const auto at = std::uintptr_t(p), begin = std::uintptr_t(data_);
  auto* out = static_cast<std::uint8_t*>(dst);
  std::size_t done = 0;
  while (done < n) {
    const auto offset = static_cast<off_t>(at - begin + done);
    const ssize_t got = ::pread(fd_, out + done, n - done, offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const std::string why = got < 0 ? std::strerror(errno) : "unexpected end of file";
      throw Error(path_ + ": cannot read " + std::to_string(n - done) + " bytes at offset " +
                  std::to_string(offset) + ": " + why);
    }
    done += static_cast<std::size_t>(got);
  }
}

void MappedFile::release(const void* p, std::size_t n) const {
  const auto page = std::uintptr_t(::sysconf(_SC_PAGESIZE));
  const auto begin = std::max(std::uintptr_t(p), std::uintptr_t(data_));
  const auto end = std::min(std::uintptr_t(p) + n, std::uintptr_t(data_) + size_);
  const std::uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (data_ && first < last) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

}  // namespace llama2
