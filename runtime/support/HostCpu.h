//===- HostCpu.h - x86-64 levels of the host code ---------------*- C++ -*-===//
//
// The host code of an artifact is compiled for one x86-64 microarchitecture
// level (the psABI's x86-64, -v2: SSE4.2, -v3: AVX2 and FMA, -v4:
// AVX-512; and dsc's own x86-64-v4-bf16: -v4 with AVX512_BF16's bf16 dot
// products, on Zen 4 and later, Cooper Lake, Sapphire Rapids and later).
// dsc-compile records the level in the manifest; the runtime refuses host
// code the CPU it runs on cannot execute, instead of dying of an illegal
// instruction.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_SUPPORT_HOSTCPU_H
#define DSC_RUNTIME_SUPPORT_HOSTCPU_H

#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace dsc {

/// The levels, lowest first.
inline constexpr std::string_view kHostCpuLevels[] = {
    "x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4", "x86-64-v4-bf16"};

/// The level host code gets when the user does not choose one.
inline constexpr std::string_view kDefaultHostCpu = "x86-64-v3";

inline bool isHostCpuLevel(std::string_view level) {
  for (std::string_view known : kHostCpuLevels)
    if (level == known)
      return true;
  return false;
}

/// The levels for messages, then `extra` if given: "x86-64, x86-64-v2,
/// x86-64-v3, x86-64-v4 or x86-64-v4-bf16".
inline std::string hostCpuLevelList(std::string_view extra = {}) {
  std::vector<std::string_view> names(std::begin(kHostCpuLevels),
                                      std::end(kHostCpuLevels));
  if (!extra.empty())
    names.push_back(extra);
  std::string list;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0)
      list += i + 1 == names.size() ? " or " : ", ";
    list += names[i];
  }
  return list;
}

/// Whether the CPU this process runs on executes code of `level`.
inline bool hostCpuSupports(std::string_view level) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (level == "x86-64")
    return true;
  if (level == "x86-64-v2")
    return __builtin_cpu_supports("x86-64-v2");
  if (level == "x86-64-v3")
    return __builtin_cpu_supports("x86-64-v3");
  if (level == "x86-64-v4")
    return __builtin_cpu_supports("x86-64-v4");
  if (level == "x86-64-v4-bf16")
    return __builtin_cpu_supports("x86-64-v4") &&
           __builtin_cpu_supports("avx512bf16");
#endif
  return false;
}

/// The highest level the CPU this process runs on executes.
inline std::string_view bestHostCpu() {
  std::string_view best = kHostCpuLevels[0];
  for (std::string_view level : kHostCpuLevels)
    if (hostCpuSupports(level))
      best = level;
  return best;
}

/// What a level adds, for messages.
inline std::string_view hostCpuFeatures(std::string_view level) {
  if (level == "x86-64-v2")
    return "SSE4.2, POPCNT";
  if (level == "x86-64-v3")
    return "AVX2, FMA";
  if (level == "x86-64-v4")
    return "AVX-512";
  if (level == "x86-64-v4-bf16")
    return "AVX-512, AVX512_BF16";
  return "SSE2";
}

/// LLVM's name of the CPU to compile `level`'s host code for, and the
/// features it adds (LLVM knows the psABI levels, not dsc's own).
inline std::string_view hostCpuLlvmName(std::string_view level) {
  return level == "x86-64-v4-bf16" ? "x86-64-v4" : level;
}
inline std::string_view hostCpuLlvmFeatures(std::string_view level) {
  return level == "x86-64-v4-bf16" ? "+avx512bf16" : "";
}

} // namespace dsc

#endif // DSC_RUNTIME_SUPPORT_HOSTCPU_H
