//===- SplitKRule.h - How many parts a GEMM's K splits into -----*- C++ -*-===//
//
// dsc-library-gemms splits the K of a GEMM on the 64-row tile whose grid
// would leave SMs idle (a decode's few rows times a narrow layer). The rule
// lives here, free of MLIR, because two programs apply it: the pass, which
// builds host code that evaluates it on each step's rows, and
// dsc-kernel-bench, which times the split form where the model would take
// it. One definition keeps the benchmark's figures the model's. (In the
// compiler's namespace, though it needs nothing of MLIR.)
//
//===----------------------------------------------------------------------===//

#ifndef DSC_CODEGEN_SPLITKRULE_H
#define DSC_CODEGEN_SPLITKRULE_H

#include <algorithm>
#include <cstdint>
#include <vector>

namespace mlir::dsc {

/// The most rows for which a 64-row GEMM reads its e4m3 weight itself
/// (more are dequantized first, or on sm_90a run its wgmma form): the
/// split of an e4m3-weight GEMM applies to at most these rows. Each of its
/// 64-row blocks converts the B tiles it reads (about a dozen ALU
/// operations an element, some 0.4 ps an element on an H200's 132 SMs);
/// dequantizing the weight to memory first costs about 4 bytes an element
/// more traffic (some 0.8 ps at 4.8 TB/s) once for all rows. An estimate
/// from those rates, not measured yet: two M tiles.
constexpr int64_t kFp8wMaxRows = 128;

/// The counts of parts a K may be split into, ascending: the divisors of
/// its 64-wide K steps from 2 to 32 (each part whole K steps of the
/// kernels, and whole 16-byte copies of e4m3 bytes). None when K is not a
/// multiple of 64.
inline std::vector<int64_t> splitKPartCounts(int64_t k) {
  std::vector<int64_t> counts;
  if (k % 64 != 0)
    return counts;
  for (int64_t count = 2; count <= std::min<int64_t>(32, k / 64); ++count)
    if ((k / 64) % count == 0)
      counts.push_back(count);
  return counts;
}

/// The parts a GEMM's K splits into for `target` blocks (the chip's SMs; 0
/// for no split): 1 when the grid it runs without a split has
/// `wholeBlocks`, at least `target`, or K has no parts; else the fewest of
/// splitKPartCounts(k) that make `target` blocks of a part's grid of
/// `blocks`, or the most there are. (A linear layer's two grids are one; a
/// fused SwiGLU's whole grid covers gate's and up's columns.)
inline int64_t splitKParts(int64_t blocks, int64_t wholeBlocks, int64_t k,
                           int64_t target) {
  std::vector<int64_t> counts = splitKPartCounts(k);
  if (target <= 0 || wholeBlocks >= target || counts.empty())
    return 1;
  for (int64_t count : counts)
    if (blocks * count >= target)
      return count;
  return counts.back();
}

} // namespace mlir::dsc

#endif // DSC_CODEGEN_SPLITKRULE_H
