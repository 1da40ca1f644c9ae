//===- ParsersFuzzer.cpp - libFuzzer over dsc's file parsers --------------===//
//
// Every file dsc reads is untrusted input. One fuzz target covers the
// parsers of the runtime's inputs: the first byte picks the parser, the rest
// is the file: JSON text (config.json, manifests, safetensors headers), a
// safetensors file, a .dscx artifact. Files are handed over as memfds so
// that the real path-based loaders (mmap and all) run. A parser may reject
// its input with a status; it must never crash, leak or read out of bounds
// (AddressSanitizer).
//
//===----------------------------------------------------------------------===//

#include "frontends/onnx/OnnxModel.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/support/Json.h"
#include "runtime/support/Npy.h"
#include "runtime/support/Safetensors.h"

#include <cstddef>
#include <cstdint>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

namespace {

/// `data` as a file the loaders can open by path; -1 on failure.
int asFile(const uint8_t *data, size_t size, std::string &path) {
  int fd = ::memfd_create("dsc-fuzz", 0);
  if (fd < 0)
    return -1;
  if (size && ::write(fd, data, size) != ssize_t(size)) {
    ::close(fd);
    return -1;
  }
  path = "/proc/self/fd/" + std::to_string(fd);
  return fd;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const uint8_t which = data[0] % 5;
  ++data;
  --size;
  std::string_view text(reinterpret_cast<const char *>(data), size);
  if (which == 0) {
    (void)dsc::json::parse(text);
    return 0;
  }
  if (which == 4) {
    (void)dsc::npy::parse(text, "fuzz.npy");
    return 0;
  }
  std::string path;
  int fd = asFile(data, size, path);
  if (fd < 0)
    return 0;
  if (which == 1)
    (void)dsc::st::File::open(path);
  else if (which == 2)
    (void)dsc::artifact::Artifact::open(path);
  else
    (void)dsc::onnx_frontend::OnnxModel::load(path);
  ::close(fd);
  return 0;
}
