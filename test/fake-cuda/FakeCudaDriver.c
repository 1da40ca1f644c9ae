/*===- FakeCudaDriver.c - A CUDA driver without a GPU, for tests ----------===*
 *
 * Built as libcuda.so.1 in its own directory; tests put that directory on
 * LD_LIBRARY_PATH to run `--device cuda` on machines without a GPU. It
 * implements the driver functions the dsc runtime looks up, with the real
 * driver's checks where a compiler bug would show: modules must be PTX with
 * an entry, kernels must exist in their module, launches must have a
 * non-empty grid within the hardware's limits. Kernels do not run: managed
 * memory is zeroed host memory, so the model's logits come out zero.
 *
 * Device memory (cuMemAlloc) is mapped with no access at all, as the host
 * sees a real GPU's memory: a host read or write of it crashes, so a test
 * that passes on the fake shows the runtime and the compiled host code
 * reach device memory through the driver's copies only.
 *
 * Stream capture records launches into a graph, as the real driver does:
 * while a stream is captured, a synchronization of it or a synchronous copy
 * is an error (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, and the capture is
 * invalidated), and a graph launch replays the recorded launches.
 *
 * At exit it prints one line to stderr:
 *   fake-cuda: M modules (C from cubins), K kernels, L launches[, T tensor
 *   maps][, G graphs of N launches, R graph launches][, D device
 *   allocations]
 * (L counts replayed launches too.)
 *
 *===----------------------------------------------------------------------===*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef int CUresult;
enum {
  OK = 0,
  INVALID_VALUE = 1,
  OUT_OF_MEMORY = 2,
  INVALID_IMAGE = 200,
  NOT_FOUND = 500,
  CAPTURE_UNSUPPORTED = 900,
  CAPTURE_INVALIDATED = 901,
};

static long modules, cubinModules, kernels, launches, tensorMaps;
/* Of those, the unswizzled ones (e4m3 weights a kernel converts first). */
static long unswizzledTensorMaps;
static long graphs, graphLaunchCount, graphLaunches, deviceAllocations;
static int reported;

/* The stream being captured (one at a time here), the launches recorded so
 * far, and whether an illegal call invalidated the capture. */
static void *capturing;
static long recorded;
static int invalidated;

/* A call that may not happen while a stream is captured. */
static CUresult notWhileCapturing(void) {
  if (!capturing)
    return OK;
  invalidated = 1;
  return CAPTURE_UNSUPPORTED;
}

static void report(void) {
  fprintf(stderr,
          "fake-cuda: %ld modules (%ld from cubins), %ld kernels, %ld "
          "launches",
          modules, cubinModules, kernels, launches);
  if (tensorMaps)
    fprintf(stderr, ", %ld tensor maps", tensorMaps);
  if (unswizzledTensorMaps)
    fprintf(stderr, " (%ld unswizzled)", unswizzledTensorMaps);
  if (graphs)
    fprintf(stderr, ", %ld graphs of %ld launches, %ld graph launches", graphs,
            graphLaunchCount, graphLaunches);
  if (deviceAllocations)
    fprintf(stderr, ", %ld device allocations", deviceAllocations);
  fprintf(stderr, "\n");
}

/* A module is a copy of its PTX text (NULL for a cubin, whose entries are
 * taken on trust); a function, its name in the module. */
struct Module {
  char *ptx;
};

static CUresult cuInit(unsigned flags) {
  (void)flags;
  if (!reported) {
    reported = 1;
    atexit(report);
  }
  return OK;
}
static CUresult cuDriverGetVersion(int *v) {
  *v = 13000;
  return OK;
}
static CUresult cuGetErrorName(CUresult r, const char **s) {
  *s = r == INVALID_VALUE         ? "CUDA_ERROR_INVALID_VALUE"
       : r == OUT_OF_MEMORY       ? "CUDA_ERROR_OUT_OF_MEMORY"
       : r == INVALID_IMAGE       ? "CUDA_ERROR_INVALID_IMAGE"
       : r == NOT_FOUND           ? "CUDA_ERROR_NOT_FOUND"
       : r == CAPTURE_UNSUPPORTED ? "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"
       : r == CAPTURE_INVALIDATED ? "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"
                                  : "CUDA_ERROR_UNKNOWN";
  return OK;
}
static CUresult cuGetErrorString(CUresult r, const char **s) {
  (void)r;
  *s = "rejected by the fake CUDA driver";
  return OK;
}
static CUresult cuDeviceGetCount(int *n) {
  *n = 1;
  return OK;
}
static CUresult cuDeviceGet(int *d, int ordinal) {
  *d = ordinal;
  return ordinal == 0 ? OK : INVALID_VALUE;
}
static CUresult cuDeviceGetName(char *name, int size, int d) {
  (void)d;
  snprintf(name, size, "Fake GPU");
  return OK;
}
static CUresult cuDeviceGetAttribute(int *v, int attribute, int d) {
  (void)d;
  const char *cc = getenv("DSC_FAKE_CUDA_CC"); /* "80", default "90" */
  int capability = cc ? atoi(cc) : 90;
  *v = attribute == 75   ? capability / 10
       : attribute == 76 ? capability % 10
       : attribute == 16 ? 132
                         : 0;
  return OK;
}
static CUresult cuDeviceTotalMem(size_t *bytes, int d) {
  (void)d;
  *bytes = (size_t)1 << 34;
  return OK;
}
static CUresult cuDevicePrimaryCtxRetain(void **ctx, int d) {
  (void)d;
  *ctx = (void *)0x1;
  return OK;
}
static CUresult cuDevicePrimaryCtxRelease(int d) {
  (void)d;
  return OK;
}
static CUresult cuCtxSetCurrent(void *ctx) { return ctx ? OK : INVALID_VALUE; }
static CUresult cuStreamCreate(void **s, unsigned flags) {
  (void)flags;
  *s = malloc(1);
  return OK;
}
static CUresult cuStreamDestroy(void *s) {
  free(s);
  return OK;
}
static CUresult cuStreamSynchronize(void *s) {
  /* Relaxed capture: another stream may be waited for. */
  if (s != capturing)
    return OK;
  return notWhileCapturing();
}
static CUresult cuMemAllocManaged(uint64_t *p, size_t bytes, unsigned flags) {
  (void)flags;
  void *block = NULL;
  if (bytes == 0 || posix_memalign(&block, 256, bytes) != 0)
    return bytes == 0 ? INVALID_VALUE : OUT_OF_MEMORY;
  memset(block, 0, bytes);
  *p = (uint64_t)(uintptr_t)block;
  return OK;
}
/* Device memory: whole pages mapped PROT_NONE, opened only while the
 * driver itself copies. */
struct DeviceBlock {
  char *base;
  size_t size;
};
static struct DeviceBlock *deviceBlocks;
static size_t deviceBlockCount;

static struct DeviceBlock *deviceBlockOf(uint64_t p) {
  for (size_t i = 0; i < deviceBlockCount; ++i)
    if ((uint64_t)(uintptr_t)deviceBlocks[i].base <= p &&
        p < (uint64_t)(uintptr_t)deviceBlocks[i].base + deviceBlocks[i].size)
      return &deviceBlocks[i];
  return NULL;
}
static CUresult cuMemAlloc(uint64_t *p, size_t bytes) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t size = (bytes + page - 1) / page * page;
  struct DeviceBlock *grown;
  void *base;
  if (bytes == 0)
    return INVALID_VALUE;
  grown = realloc(deviceBlocks, (deviceBlockCount + 1) * sizeof *grown);
  if (!grown)
    return OUT_OF_MEMORY;
  deviceBlocks = grown;
  base = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED)
    return OUT_OF_MEMORY;
  ++deviceAllocations;
  deviceBlocks[deviceBlockCount].base = base;
  deviceBlocks[deviceBlockCount].size = size;
  ++deviceBlockCount;
  *p = (uint64_t)(uintptr_t)base;
  return OK;
}
static CUresult cuMemFree(uint64_t p) {
  struct DeviceBlock *block = deviceBlockOf(p);
  if (!block) {
    free((void *)(uintptr_t)p);
    return OK;
  }
  if ((uint64_t)(uintptr_t)block->base != p)
    return INVALID_VALUE;
  munmap(block->base, block->size);
  *block = deviceBlocks[--deviceBlockCount];
  return OK;
}
/* Opens (or closes again) the device memory [p, p + n) for the driver's
 * own access; managed memory needs nothing. A range that starts in device
 * memory and runs past its block is invalid. */
static CUresult openRange(uint64_t p, size_t n, int open) {
  struct DeviceBlock *block = deviceBlockOf(p);
  if (!block)
    return OK;
  if (p + n > (uint64_t)(uintptr_t)block->base + block->size)
    return INVALID_VALUE;
  mprotect(block->base, block->size, open ? PROT_READ | PROT_WRITE : PROT_NONE);
  return OK;
}
static CUresult copy(uint64_t d, uint64_t s, size_t n) {
  CUresult r = openRange(d, n, 1);
  if (r == OK && (r = openRange(s, n, 1)) == OK)
    memmove((void *)(uintptr_t)d, (const void *)(uintptr_t)s, n);
  openRange(d, n, 0);
  openRange(s, n, 0);
  return r;
}
static CUresult fill(uint64_t d, unsigned char v, size_t n) {
  CUresult r = openRange(d, n, 1);
  if (r == OK)
    memset((void *)(uintptr_t)d, v, n);
  openRange(d, n, 0);
  return r;
}
static CUresult cuMemcpyHtoD(uint64_t d, const void *s, size_t n) {
  if (capturing)
    return notWhileCapturing();
  return copy(d, (uint64_t)(uintptr_t)s, n);
}
static CUresult cuMemcpyDtoH(void *d, uint64_t s, size_t n) {
  if (capturing)
    return notWhileCapturing();
  return copy((uint64_t)(uintptr_t)d, s, n);
}
static CUresult cuMemcpyDtoD(uint64_t d, uint64_t s, size_t n) {
  return copy(d, s, n);
}
static CUresult cuMemsetD8(uint64_t d, unsigned char v, size_t n) {
  return fill(d, v, n);
}
/* The stream-ordered copies run at once (nothing runs asynchronously
 * here). The fake records kernels only: a copy on a captured stream is
 * refused. */
static CUresult cuMemcpyHtoDAsync(uint64_t d, const void *s, size_t n,
                                  void *stream) {
  if (!stream || stream == capturing)
    return INVALID_VALUE;
  return copy(d, (uint64_t)(uintptr_t)s, n);
}
static CUresult cuMemcpyDtoHAsync(void *d, uint64_t s, size_t n, void *stream) {
  if (!stream || stream == capturing)
    return INVALID_VALUE;
  return copy((uint64_t)(uintptr_t)d, s, n);
}
static CUresult cuMemsetD8Async(uint64_t d, unsigned char v, size_t n,
                                void *stream) {
  if (!stream || stream == capturing)
    return INVALID_VALUE;
  return fill(d, v, n);
}
static CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned n,
                                   int *options, void **values) {
  (void)n, (void)options, (void)values;
  const char *ptx = image;
  struct Module *module;
  if (memcmp(image,
             "\x7f"
             "ELF",
             4) == 0) {
    module = malloc(sizeof *module);
    module->ptx = NULL;
    *m = module;
    ++modules;
    ++cubinModules;
    return OK;
  }
  if (!strstr(ptx, ".version") || !strstr(ptx, ".entry"))
    return INVALID_IMAGE;
  module = malloc(sizeof *module);
  module->ptx = strdup(ptx);
  *m = module;
  ++modules;
  return OK;
}
static CUresult cuModuleLoadData(void **m, const void *image) {
  return cuModuleLoadDataEx(m, image, 0, NULL, NULL);
}
static CUresult cuModuleUnload(void *m) {
  struct Module *module = m;
  free(module->ptx);
  free(module);
  return OK;
}
/* A kernel: its dynamic shared memory limit, 48 KiB unless raised by
   cuFuncSetAttribute, as on the real driver (never freed: a test process
   is short). */
struct Function {
  int maxDynamicShared;
};
static CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
  struct Module *module = m;
  struct Function *function;
  char entry[512];
  snprintf(entry, sizeof entry, ".entry %s(", name);
  if (module->ptx && !strstr(module->ptx, entry))
    return NOT_FOUND;
  function = calloc(1, sizeof *function);
  if (!function)
    return OUT_OF_MEMORY;
  function->maxDynamicShared = 48 * 1024;
  *f = function;
  ++kernels;
  return OK;
}
static CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                               unsigned bx, unsigned by, unsigned bz,
                               unsigned shared, void *stream, void **params,
                               void **extra) {
  (void)extra;
  /* The limits of compute capability 8.0 and 9.0. */
  if (!f || !params || gx == 0 || gy == 0 || gz == 0 || gx > 0x7fffffffu ||
      gy > 65535 || gz > 65535 || bx == 0 || by == 0 || bz == 0 || bz > 64 ||
      (uint64_t)bx * by * bz > 1024 || shared > 227 * 1024) {
    fprintf(stderr,
            "fake-cuda: rejected launch on grid (%u, %u, %u) x block (%u, "
            "%u, %u)\n",
            gx, gy, gz, bx, by, bz);
    return INVALID_VALUE;
  }
  if ((int)shared > ((struct Function *)f)->maxDynamicShared) {
    fprintf(stderr,
            "fake-cuda: rejected launch with %u bytes of dynamic shared "
            "memory, over the kernel's limit of %d\n",
            shared, ((struct Function *)f)->maxDynamicShared);
    return INVALID_VALUE;
  }
  if (stream == capturing) {
    ++recorded;
    return OK;
  }
  if (getenv("DSC_FAKE_CUDA_TRACE"))
    fprintf(stderr, "fake-cuda: launch (%u, %u, %u) x (%u, %u, %u)\n", gx, gy,
            gz, bx, by, bz);
  ++launches;
  return OK;
}

/* A graph, and its instantiation: the number of launches recorded. */
struct Graph {
  long launches;
};
static CUresult cuStreamBeginCapture(void *stream, int mode) {
  if (!stream || capturing || mode < 0 || mode > 2)
    return INVALID_VALUE;
  capturing = stream;
  recorded = 0;
  invalidated = 0;
  return OK;
}
static CUresult cuStreamEndCapture(void *stream, void **graph) {
  struct Graph *g;
  if (!stream || stream != capturing || !graph)
    return INVALID_VALUE;
  capturing = NULL;
  if (invalidated) {
    *graph = NULL;
    return CAPTURE_INVALIDATED;
  }
  g = malloc(sizeof *g);
  g->launches = recorded;
  *graph = g;
  return OK;
}
static CUresult cuGraphInstantiateWithFlags(void **exec, void *graph,
                                            unsigned long long flags) {
  struct Graph *g = graph, *e;
  if (!exec || !g || flags)
    return INVALID_VALUE;
  e = malloc(sizeof *e);
  *e = *g;
  *exec = e;
  ++graphs;
  graphLaunchCount += g->launches;
  return OK;
}
static CUresult cuGraphLaunch(void *exec, void *stream) {
  struct Graph *e = exec;
  if (!e || !stream || stream == capturing)
    return INVALID_VALUE;
  launches += e->launches;
  ++graphLaunches;
  return OK;
}
static CUresult cuGraphExecDestroy(void *exec) {
  free(exec);
  return OK;
}
static CUresult cuGraphDestroy(void *graph) {
  free(graph);
  return OK;
}
static CUresult cuFuncGetAttribute(int *value, int attribute, void *f) {
  /* Only the static shared memory, which the fake's kernels have none of. */
  if (!value || !f || attribute != 1)
    return INVALID_VALUE;
  *value = 0;
  return OK;
}
static CUresult cuFuncSetAttribute(void *f, int attribute, int value) {
  /* Only the dynamic shared memory limit, within sm_90's 227 KiB. */
  if (!f || attribute != 8 || value < 0 || value > 227 * 1024)
    return INVALID_VALUE;
  ((struct Function *)f)->maxDynamicShared = value;
  return OK;
}
static CUresult cuEventCreate(void **e, unsigned f) {
  (void)f;
  *e = malloc(1);
  return OK;
}
static CUresult cuEventDestroy(void *e) {
  free(e);
  return OK;
}
static CUresult cuEventRecord(void *e, void *s) {
  (void)e, (void)s;
  return OK;
}
static CUresult cuEventSynchronize(void *e) {
  (void)e;
  return OK;
}
static CUresult cuEventElapsedTime(float *ms, void *a, void *b) {
  (void)a, (void)b;
  *ms = 0;
  return OK;
}
/* The real driver's checks of a tiled TMA descriptor, for bf16 or 8-bit
   data: the map and the tensor aligned, box sizes within 256 and 16-byte
   rows, the row strides multiples of 16, a swizzled box row within the
   swizzle. */
static CUresult
cuTensorMapEncodeTiled(void *map, int type, unsigned rank, void *address,
                       const uint64_t *dims, const uint64_t *strides,
                       const unsigned *box, const unsigned *elementStrides,
                       int interleave, int swizzle, int l2, int oob) {
  static const unsigned swizzleBytes[] = {0, 32, 64, 128};
  /* CU_TENSOR_MAP_DATA_TYPE_UINT8 (0) or _BFLOAT16 (9). */
  unsigned size = type == 0 ? 1 : 2;
  (void)l2, (void)oob;
  if (!map || (uintptr_t)map % 64 || (type != 0 && type != 9) || rank < 1 ||
      rank > 5 || !address || (uintptr_t)address % 16 || interleave != 0 ||
      swizzle < 0 || swizzle > 3)
    return INVALID_VALUE;
  for (unsigned i = 0; i < rank; ++i) {
    if (dims[i] == 0 || box[i] == 0 || box[i] > 256 || elementStrides[i] != 1)
      return INVALID_VALUE;
    if (i + 1 < rank && (strides[i] % 16 || strides[i] >= ((uint64_t)1 << 40)))
      return INVALID_VALUE;
  }
  if (box[0] * size % 16 || (swizzle && box[0] * size > swizzleBytes[swizzle]))
    return INVALID_VALUE;
  memset(map, 0x5a, 128);
  ++tensorMaps;
  unswizzledTensorMaps += swizzle == 0;
  return OK;
}

struct Entry {
  const char *name;
  void *function;
};
#define ENTRY(name)                                                            \
  { #name, (void *)&name }
static const struct Entry entries[] = {
    ENTRY(cuInit),
    ENTRY(cuDriverGetVersion),
    ENTRY(cuGetErrorName),
    ENTRY(cuGetErrorString),
    ENTRY(cuDeviceGetCount),
    ENTRY(cuDeviceGet),
    ENTRY(cuDeviceGetName),
    ENTRY(cuDeviceGetAttribute),
    ENTRY(cuDeviceTotalMem),
    ENTRY(cuDevicePrimaryCtxRetain),
    ENTRY(cuDevicePrimaryCtxRelease),
    ENTRY(cuCtxSetCurrent),
    ENTRY(cuStreamCreate),
    ENTRY(cuStreamDestroy),
    ENTRY(cuStreamSynchronize),
    ENTRY(cuMemAlloc),
    ENTRY(cuMemAllocManaged),
    ENTRY(cuMemFree),
    ENTRY(cuMemcpyHtoD),
    ENTRY(cuMemcpyDtoH),
    ENTRY(cuMemcpyDtoD),
    ENTRY(cuMemsetD8),
    ENTRY(cuMemcpyHtoDAsync),
    ENTRY(cuMemcpyDtoHAsync),
    ENTRY(cuMemsetD8Async),
    ENTRY(cuModuleLoadData),
    ENTRY(cuModuleLoadDataEx),
    ENTRY(cuModuleUnload),
    ENTRY(cuModuleGetFunction),
    ENTRY(cuLaunchKernel),
    ENTRY(cuFuncGetAttribute),
    ENTRY(cuFuncSetAttribute),
    ENTRY(cuEventCreate),
    ENTRY(cuEventDestroy),
    ENTRY(cuEventRecord),
    ENTRY(cuEventSynchronize),
    ENTRY(cuEventElapsedTime),
    ENTRY(cuStreamBeginCapture),
    ENTRY(cuStreamEndCapture),
    ENTRY(cuGraphInstantiateWithFlags),
    ENTRY(cuGraphLaunch),
    ENTRY(cuGraphExecDestroy),
    ENTRY(cuGraphDestroy),
    ENTRY(cuTensorMapEncodeTiled),
};

__attribute__((visibility("default"))) CUresult
cuGetProcAddress_v2(const char *symbol, void **pfn, int version, uint64_t flags,
                    int *status) {
  (void)version, (void)flags;
  for (size_t i = 0; i < sizeof entries / sizeof *entries; ++i)
    if (strcmp(entries[i].name, symbol) == 0) {
      *pfn = entries[i].function;
      if (status)
        *status = 0;
      return OK;
    }
  *pfn = NULL;
  return NOT_FOUND;
}
