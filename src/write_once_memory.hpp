// WriteOnceMemory: bytes written once at load (by offset, from any thread),
// then sealed and read-only for the rest of the run. It holds the weights
// Model::kernel_weights repacks into faster layouts.
//
// Why not plain anonymous memory: every first write to a fresh 4 KiB page
// of it is a page fault, and in a VM a page fault can be expensive. On the
// 2-core EPYC VM, filling 3.5 GiB that way took 10-11 s; writing the same
// bytes into a Linux memfd (write(2) allocates its pages inside the kernel,
// no fault per page) and mapping it afterwards with MAP_POPULATE took
// 2.4-3.2 s (bench/RESULTS.md, twelfth run). Where there is no memfd, or
// it cannot be made, anonymous memory is used, with the same interface.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llama2 {

class WriteOnceMemory {
 public:
  enum class Backing {
    kBest,       // a memfd where there is one, else anonymous pages
    kAnonymous,  // anonymous pages, written through the mapping
  };
  // Room for `bytes` bytes (more than 0). ok() says whether it could be made.
  explicit WriteOnceMemory(std::size_t bytes, Backing backing = Backing::kBest);
  ~WriteOnceMemory();
  WriteOnceMemory(const WriteOnceMemory&) = delete;
  WriteOnceMemory& operator=(const WriteOnceMemory&) = delete;

  bool ok() const { return ok_; }
  bool from_memfd() const { return from_memfd_; }
  std::size_t size() const { return size_; }

  // Copies [src, src + n) to bytes [offset, offset + n). Before seal() only;
  // threads may write at once if their ranges do not overlap. Returns false
  // if the bytes could not be stored (out of memory) or the range is not
  // inside size(): the memory is then unusable.
  bool write(std::size_t offset, const void* src, std::size_t n);

  // Ends the writing: the bytes become read-only and are mapped in (all
  // pages at once where the system can). Returns them, or nullptr if that
  // failed. Calling it again returns the same bytes.
  const std::uint8_t* seal();

 private:
  std::size_t size_ = 0;
  bool ok_ = false;
  bool sealed_ = false;
  bool from_memfd_ = false;
  int fd_ = -1;                   // the memfd until seal(), or -1
  std::uint8_t* data_ = nullptr;  // (size_) the mapping: anonymous from the start, a memfd's from seal()
};

}  // namespace llama2
