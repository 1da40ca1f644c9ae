//===- MappedFile.cpp - A read-only memory-mapped file --------------------===//

#include "runtime/support/MappedFile.h"

#include "runtime/support/Errors.h"

#include "absl/strings/str_cat.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace dsc {

absl::StatusOr<MappedFile> MappedFile::open(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errnoError(errno, path, "cannot open");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int error = errno;
    ::close(fd);
    return errnoError(error, path, "cannot stat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a regular file"));
  }
  MappedFile file;
  file.mappingSize = static_cast<uint64_t>(st.st_size);
  file.device = static_cast<uint64_t>(st.st_dev);
  file.inode = static_cast<uint64_t>(st.st_ino);
  if (file.mappingSize == 0) {
    ::close(fd);
    return file;
  }
  void *mapping =
      ::mmap(nullptr, file.mappingSize, PROT_READ, MAP_PRIVATE, fd, 0);
  int mmapError = errno;
  ::close(fd); // The mapping keeps the file alive.
  if (mapping == MAP_FAILED)
    return errnoError(mmapError, path, "cannot mmap");
  file.mapping = mapping;
  return file;
}

MappedFile::MappedFile(MappedFile &&other) noexcept
    : mapping(std::exchange(other.mapping, nullptr)),
      mappingSize(std::exchange(other.mappingSize, 0)), device(other.device),
      inode(other.inode) {}

MappedFile &MappedFile::operator=(MappedFile &&other) noexcept {
  if (this != &other) {
    if (mapping)
      ::munmap(mapping, mappingSize);
    mapping = std::exchange(other.mapping, nullptr);
    mappingSize = std::exchange(other.mappingSize, 0);
    device = other.device;
    inode = other.inode;
  }
  return *this;
}

void MappedFile::dropResidentPages() const {
  // MAP_PRIVATE and read-only: nothing to lose, the file has every byte.
  if (mapping)
    ::madvise(mapping, mappingSize, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (mapping)
    ::munmap(mapping, mappingSize);
}

} // namespace dsc
