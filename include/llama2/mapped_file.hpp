// A read-only memory mapping of a whole file (POSIX mmap).
//
// Weights are used in place from the mapping: loading a 70B checkpoint costs
// no copy, and the kernel pages weights in on first touch. The file stays
// open too, so that a range can also be read without mapping it (read()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace llama2 {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps `path` read-only. Throws llama2::Error if it cannot be opened,
  // is not a regular file, or is empty.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Whether [p, p + n) lies inside this mapping.
  bool contains(const void* p, std::size_t n) const;

  // Drops this process's copies of the pages wholly inside [p, p + n) (a
  // range of this mapping; anything outside it is ignored). They are read
  // from the file again if touched: for data copied elsewhere at load.
  void release(const void* p, std::size_t n) const;

  // Copies [p, p + n) (a range of this mapping) into dst by reading the
  // file (pread), not through the mapping: no page of it is mapped into
  // this process, so reading costs no page faults and adds nothing to the
  // RSS. For data copied elsewhere at load (Model::kernel_weights). Throws
  // llama2::Error, naming the file and offset, if the range is outside the
  // mapping or the read fails.
  void read(const void* p, std::size_t n, void* dst) const;

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  int fd_ = -1;  // the file, open for read()
  std::string path_;
};

}  // namespace llama2
