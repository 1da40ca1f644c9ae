//===- HostModule.h - Load a shared object from memory ----------*- C++ -*-===//
//
// The host code of an artifact is a shared object stored in a section. It is
// loaded without unpacking the artifact: written to an anonymous memory file
// (memfd) and dlopen'ed through /proc/self/fd, or, where memfd or /proc is
// unavailable, through a private temporary file.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_HOSTMODULE_H
#define DSC_RUNTIME_HOSTMODULE_H

#include "absl/status/statusor.h"

#include <memory>
#include <string>
#include <string_view>

namespace dsc::runtime {

/// A shared object loaded with RTLD_NOW | RTLD_LOCAL, so that two artifacts
/// loaded at once never resolve each other's symbols.
class HostModule {
public:
  /// Loads the shared object whose bytes are `image`. `origin` names it in
  /// errors, e.g. "model.dscx: section 'cpu/host.so'"; a dlopen failure
  /// carries dlerror()'s text.
  static absl::StatusOr<std::unique_ptr<HostModule>>
  load(std::string_view image, const std::string &origin);

  ~HostModule();
  HostModule(const HostModule &) = delete;
  HostModule &operator=(const HostModule &) = delete;

  /// The address of the exported symbol `name`.
  absl::StatusOr<void *> symbol(const std::string &name) const;

private:
  explicit HostModule(std::string origin) : origin(std::move(origin)) {}

  std::string origin;
  void *handle = nullptr;
  /// The memfd or temporary file. It stays open (and the temporary file
  /// stays on disk) until dlclose: the dynamic loader recognizes libraries
  /// by path, so a recycled "/proc/self/fd/N" must never name a different
  /// library while this one is loaded.
  int fd = -1;
  std::string tempPath;
};

} // namespace dsc::runtime

#endif // DSC_RUNTIME_HOSTMODULE_H
