//===- HostModule.cpp - Load a shared object from memory ------------------===//

#include "runtime/HostModule.h"

#include "runtime/artifact/Artifact.h"
#include "runtime/support/Errors.h"

#include "absl/strings/str_cat.h"

#include <cerrno>
#include <cstdlib>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace dsc::runtime {

namespace {

/// Writes all of `data` to `fd`, retrying short writes.
bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0 && errno == EINTR)
      continue;
    if (written <= 0)
      return false;
    data.remove_prefix(static_cast<size_t>(written));
  }
  return true;
}

} // namespace

absl::StatusOr<std::unique_ptr<HostModule>>
HostModule::load(std::string_view image, const std::string &origin) {
  std::unique_ptr<HostModule> module(new HostModule(origin));
  std::string path;
  // Profilers cannot read symbols from a memfd: DSC_KEEP_HOST_CODE=DIR
  // writes the shared object to DIR, named by its content, and keeps it.
  // It is written under a temporary name and renamed into place, so that a
  // process that has the same file loaded keeps its copy intact.
  std::string keptPath;
  const char *keepDir = std::getenv("DSC_KEEP_HOST_CODE");
  if (keepDir && *keepDir) {
    keptPath = absl::StrCat(
        keepDir, "/dsc-host-",
        absl::Hex(artifact::fnv1a64(image.data(), image.size())), ".so");
    path = absl::StrCat(keepDir, "/.dsc-host-XXXXXX");
    module->fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (module->fd < 0) {
      int error = errno;
      return errnoError(error, path,
                        "cannot create a file in the DSC_KEEP_HOST_CODE "
                        "directory");
    }
  } else {
    module->fd = ::memfd_create("dsc-host-code", MFD_CLOEXEC);
  }
  if (module->fd >= 0 && path.empty()) {
    path = absl::StrCat("/proc/self/fd/", module->fd);
    // Containers without /proc: fall back to a file.
    if (::access(path.c_str(), R_OK) != 0) {
      ::close(module->fd);
      module->fd = -1;
    }
  }
  if (module->fd < 0) {
    const char *tmpdir = std::getenv("TMPDIR");
    path =
        absl::StrCat(tmpdir && *tmpdir ? tmpdir : "/tmp", "/dsc-host-XXXXXX");
    module->fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (module->fd < 0) {
      int error = errno;
      return errnoError(
          error, path,
          ("cannot create a file for the host code of " + origin).c_str());
    }
    module->tempPath = path;
  }
  if (!writeAll(module->fd, image)) {
    int error = errno ? errno : EIO;
    if (!keptPath.empty())
      ::unlink(path.c_str());
    return errnoError(error, path,
                      ("cannot write the host code of " + origin).c_str());
  }

  if (!keptPath.empty()) {
    if (::rename(path.c_str(), keptPath.c_str()) != 0) {
      int error = errno;
      ::unlink(path.c_str());
      return errnoError(error, keptPath, "cannot write the host code");
    }
    path = keptPath;
  }
  module->handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!module->handle) {
    const char *message = ::dlerror();
    return absl::FailedPreconditionError(absl::StrCat(
        origin,
        ": cannot load the host code: ", message ? message : "dlopen failed"));
  }
  return module;
}

HostModule::~HostModule() {
  if (handle)
    ::dlclose(handle);
  if (fd >= 0)
    ::close(fd);
  if (!tempPath.empty())
    ::unlink(tempPath.c_str());
}

absl::StatusOr<void *> HostModule::symbol(const std::string &name) const {
  ::dlerror(); // Clear any earlier error so the one below is ours.
  void *address = ::dlsym(handle, name.c_str());
  if (!address) {
    const char *message = ::dlerror();
    return absl::FailedPreconditionError(
        absl::StrCat(origin, ": the host code does not export ", quote(name),
                     message ? absl::StrCat(" (", message, ")") : ""));
  }
  return address;
}

} // namespace dsc::runtime
