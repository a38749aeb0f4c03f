#include "write_once_memory.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace llama2 {

namespace {

#if defined(__linux__) && defined(MFD_CLOEXEC)
int make_memfd(std::size_t bytes) {
  const int fd = ::memfd_create("llama2-weights", MFD_CLOEXEC);
  if (fd < 0) return -1;
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {  // sets the size; allocates nothing
    ::close(fd);
    return -1;
  }
  return fd;
}
#else
int make_memfd(std::size_t) { return -1; }
#endif

}  // namespace

WriteOnceMemory::WriteOnceMemory(std::size_t bytes, Backing backing) : size_(bytes) {
  if (bytes == 0) return;
  if (backing == Backing::kBest) fd_ = make_memfd(bytes);
  from_memfd_ = fd_ >= 0;
  if (from_memfd_) {
    ok_ = true;
    return;
  }
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  data_ = static_cast<std::uint8_t*>(p);
  ok_ = true;
}

WriteOnceMemory::~WriteOnceMemory() {
  if (data_) ::munmap(data_, size_);
  if (fd_ >= 0) ::close(fd_);
}

bool WriteOnceMemory::write(std::size_t offset, const void* src, std::size_t n) {
  if (!ok_ || sealed_ || offset > size_ || n > size_ - offset) return false;
  if (!from_memfd_) {
    std::memcpy(data_ + offset, src, n);
    return true;
  }
  const auto* in = static_cast<const std::uint8_t*>(src);
  while (n > 0) {
    const ssize_t put = ::pwrite(fd_, in, n, static_cast<off_t>(offset));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;  // ENOSPC / ENOMEM: the memory's limit
    in += put, offset += std::size_t(put), n -= std::size_t(put);
  }
  return true;
}

const std::uint8_t* WriteOnceMemory::seal() {
  if (!ok_) return nullptr;
  if (sealed_) return data_;
  sealed_ = true;
  if (!from_memfd_) {
    (void)::mprotect(data_, size_, PROT_READ);  // a safeguard: if it fails, the bytes are as good
    return data_;
  }
  int flags = MAP_SHARED;
#ifdef MAP_POPULATE
  flags |= MAP_POPULATE;  // every page table entry in one call, not a fault per 16 pages
#endif
  void* p = ::mmap(nullptr, size_, PROT_READ, flags, fd_, 0);
  ::close(fd_);  // the mapping keeps the memory
  fd_ = -1;
  if (p == MAP_FAILED) {
    ok_ = false;
    return nullptr;
  }
  data_ = static_cast<std::uint8_t*>(p);
  return data_;
}

}  // namespace llama2
