# lit configuration of the dsc test suite.
import os
import lit.formats

config.name = "dsc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "fixtures", "unit", "consumer", "scripts", "fake-cuda", "fuzz", "CMakeLists.txt", "__pycache__"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.dsc_obj_root, "test")

config.environment["PATH"] = os.pathsep.join(
    [config.dsc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
config.substitutions.append(("%fixtures", os.path.join(config.dsc_src_root, "test", "fixtures")))
config.substitutions.append(("%python", config.python))
config.substitutions.append(("%dsc_tools", config.dsc_tools_dir))
config.substitutions.append(("%dsc_obj", config.dsc_obj_root))
config.substitutions.append(("%dsc_src", config.dsc_src_root))
config.substitutions.append(("%fake_cuda", config.fake_cuda_dir))
config.substitutions.append(("%scripts", os.path.join(config.dsc_src_root, "test", "scripts")))

if config.ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", config.ptxas))

# A CPU that runs x86-64-v4 host code, for tests of `dsc-compile --cpu
# x86-64-v4` artifacts: the psABI's v4 set (AVX-512) and the v2 and v3 sets
# under it, as the runtime's __builtin_cpu_supports("x86-64-v4") asks.
def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()
_x86_64_v4 = {
    "cx16", "lahf_lm", "popcnt", "pni", "ssse3", "sse4_1", "sse4_2",  # v2
    "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave",  # v3
    "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl",  # v4
}
if _x86_64_v4 <= _cpu_flags():
    config.available_features.add("x86-64-v4")
    # dsc's x86-64-v4-bf16: and AVX512_BF16 (vdpbf16ps).
    if "avx512_bf16" in _cpu_flags():
        config.available_features.add("x86-64-v4-bf16")

# mlir-runner and its C runner utilities (mlir-22-tools): for tests that run
# lowered code to check its numerics.
_runner_utils = os.path.join(config.llvm_tools_dir, "..", "lib", "libmlir_c_runner_utils.so")
if os.path.exists(os.path.join(config.llvm_tools_dir, "mlir-runner")) and os.path.exists(_runner_utils):
    config.available_features.add("mlir-runner")
    config.substitutions.append(("%mlir_c_runner_utils", os.path.normpath(_runner_utils)))
