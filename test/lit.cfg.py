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

# mlir-runner and its C runner utilities (mlir-22-tools): for tests that run
# lowered code to check its numerics.
_runner_utils = os.path.join(config.llvm_tools_dir, "..", "lib", "libmlir_c_runner_utils.so")
if os.path.exists(os.path.join(config.llvm_tools_dir, "mlir-runner")) and os.path.exists(_runner_utils):
    config.available_features.add("mlir-runner")
    config.substitutions.append(("%mlir_c_runner_utils", os.path.normpath(_runner_utils)))
