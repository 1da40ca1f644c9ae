"""Probes the fake CUDA driver's device memory (test/fake-cuda): the
driver's copies reach it, a host access crashes (as with a real GPU's
memory), so tests on the fake catch host code touching device memory.

    fake_device_memory.py FAKE_CUDA_DIR copy|touch
"""
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1] + "/libcuda.so.1")
proc = ctypes.c_void_p()
get = lib.cuGetProcAddress_v2
get.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_uint64, ctypes.c_void_p]
def fn(name, *args):
    get(name.encode(), ctypes.byref(proc), 12000, 0, None)
    return ctypes.CFUNCTYPE(ctypes.c_int, *args)(proc.value)
alloc = fn("cuMemAlloc", ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t)
htod = fn("cuMemcpyHtoD", ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t)
dtoh = fn("cuMemcpyDtoH", ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t)
p = ctypes.c_uint64()
assert alloc(ctypes.byref(p), 64) == 0
src = ctypes.create_string_buffer(b"device", 8)
dst = ctypes.create_string_buffer(8)
assert htod(p.value, src, 8) == 0 and dtoh(dst, p.value, 8) == 0
print("copies:", dst.value.decode(), flush=True)
if sys.argv[2] == "touch":
    print(ctypes.string_at(p.value, 1))
