// dsc-library-gemms (GPU pipelines): a GEMM dsc-lower-to-linalg marked
// dsc.library_gemm (a linear layer with a bf16 weight: C[..., n] =
// sum_k A[..., k] * B[n, k], A and B bf16, C f32) becomes a launch of the
// kernel library's batched_gemm_bf16_tn_m64 (with large-tiles, for many
// rows, its 128-row batched_gemm_bf16_tn) as one batch, its rows' count an
// argument: no offsets to write. The library's module joins, with the
// kernels launched alone.
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms -canonicalize -verify-diagnostics | FileCheck %s
// With large-tiles (sm_90a's pipeline: the 128-row tile's 128 KiB of
// shared memory), a GEMM whose rows make two waves of 128-row blocks on 132
// SMs (here 2 N tiles: 132 M tiles, 16896 rows) takes that tile, 256
// threads; the host picks by the rows.
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms=large-tiles -canonicalize 2>/dev/null | FileCheck %s --check-prefix=LARGE
// LARGE-LABEL: func.func @linear
// LARGE: %[[M:.*]] = arith.muli
// LARGE: %[[MANY:.*]] = arith.cmpi uge, %[[M]], %c16896
// LARGE: scf.if %[[MANY]] {
// LARGE: %[[M127:.*]] = arith.addi %[[M]], %c127
// LARGE: %[[T128:.*]] = arith.divui %[[M127]], %c128
// LARGE: %[[GY128:.*]] = arith.maxui %[[T128]], %c1
// LARGE: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn blocks in (%c2, %[[GY128]], %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c131072_i32 args({{.*}}, %[[M]] : index, %c136 : index, %c64 : index,
// LARGE: } else {
// LARGE: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64 blocks in (%c2, %{{.*}}, %c1) threads in (%c128, %c1, %c1)
// LARGE: }
// LARGE: gpu.module @dsc_grouped_gemm
// LARGE-DAG: gpu.func @batched_gemm_bf16_tn_m64(
// LARGE-DAG: gpu.func @batched_gemm_bf16_tn(
// With wgmma as well (sm_90a's pipeline), that tile is gemm_wgmma_bf16_tn,
// fed by TMA: the host code gets A's and B's descriptors from the runtime
// (dsc_gpu_tensor_map_bf16, declared metadata-only: it reads the memrefs'
// address and sizes) over [M, K] and [N, K] in boxes of 128 x 64, the
// kernel's dsc.tma_box. large-tile-blocks sets the blocks to make (here 1:
// one tile, 128 rows).
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms="large-tiles wgmma large-tile-blocks=1" -canonicalize 2>/dev/null | FileCheck %s --check-prefix=WGMMA
// WGMMA: func.func private @dsc_gpu_tensor_map_bf16(memref<?x?xbf16, strided<[?, ?], offset: ?>>, index, index) -> !llvm.ptr attributes {dsc.metadata_only}
// WGMMA-LABEL: func.func @linear
// WGMMA: %[[M:.*]] = arith.muli
// WGMMA: %[[MANY:.*]] = arith.cmpi uge, %[[M]], %c128
// WGMMA: scf.if %[[MANY]] {
// WGMMA: %[[A2:.*]] = memref.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : memref<?x?x64xbf16> into memref<?x64xbf16>
// WGMMA: %[[A2D:.*]] = memref.cast %[[A2]] : memref<?x64xbf16> to memref<?x?xbf16, strided<[?, ?], offset: ?>>
// WGMMA: %[[MAPA:.*]] = func.call @dsc_gpu_tensor_map_bf16(%[[A2D]], %c128, %c64)
// WGMMA: %[[B2:.*]] = memref.cast %{{.*}} : memref<136x64xbf16> to memref<?x?xbf16, strided<[?, ?], offset: ?>>
// WGMMA: %[[MAPB:.*]] = func.call @dsc_gpu_tensor_map_bf16(%[[B2]], %c128, %c64)
// WGMMA: gpu.launch_func @dsc_grouped_gemm_wgmma_tn::@gemm_wgmma_bf16_tn blocks in (%c2, %{{.*}}, %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c132096_i32 args(%[[MAPA]] : !llvm.ptr, %[[MAPB]] : !llvm.ptr, %{{.*}} : memref<?xf32>, %[[M]] : index, %c136 : index, %c64 : index)
// WGMMA: } else {
// WGMMA: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64
// WGMMA: }
// WGMMA: gpu.module @dsc_grouped_gemm_wgmma_tn attributes {dsc.chips = ["sm_90a"], dsc.ptx = 83 : i32}
// WGMMA-NOT: gpu.func @grouped_gemm
// WGMMA: gpu.func @gemm_wgmma_bf16_tn(
// RUN: not dsc-opt %s --split-input-file --dsc-library-gemms="large-tile-blocks=0" 2>&1 | FileCheck %s --check-prefix=BLOCKS
// BLOCKS: error: dsc-library-gemms: large-tile-blocks must be positive, not 0
// RUN: not dsc-opt %s --split-input-file --dsc-library-gemms="split-k-blocks=-1" 2>&1 | FileCheck %s --check-prefix=SPLIT-NEG
// SPLIT-NEG: error: dsc-library-gemms: split-k-blocks must not be negative, not -1
// Split K (Inputs/split-k.mlir, 40 outputs, K 256: parts of 2 or 4), as
// GPU pipelines set it (132 blocks): the host picks the parts from the
// grid (the fewest making 132 blocks, else the most, 4; 1 when the grid
// has 132); with more than one, the 64-row kernel runs them as batches
// (A's and B's columns from e K / parts, each part's sums rows x N apart
// in a buffer of their own), a fill and a sum of the parts write C, and
// the buffer is freed; else the kernel runs whole.
// RUN: dsc-opt %S/Inputs/split-k.mlir --dsc-library-gemms=split-k-blocks=132 -canonicalize | FileCheck %s --check-prefix=SPLIT
// SPLIT-LABEL: func.func @split_bf16
// SPLIT-SAME: (%[[X:.*]]: memref<?x256xbf16>, %[[W:.*]]: memref<40x256xbf16>, %[[Y:.*]]: memref<?x40xf32>)
// SPLIT: %[[ROWS:.*]] = memref.dim %[[X]], %c0
// SPLIT: %[[MT:.*]] = arith.maxui
// SPLIT: %[[B2:.*]] = arith.muli %[[MT]], %c2
// SPLIT: %[[E2:.*]] = arith.cmpi uge, %[[B2]], %c132
// SPLIT: %[[P:.*]] = arith.select %[[E2]], %c2, %c4
// SPLIT: %[[FEW:.*]] = arith.cmpi ult, %[[MT]], %c132
// SPLIT: %[[PARTS:.*]] = arith.select %[[FEW]], %[[P]], %c1
// SPLIT: %[[SPLIT:.*]] = arith.cmpi ugt, %[[PARTS]], %c1
// SPLIT: scf.if %[[SPLIT]] {
// SPLIT: %[[KP:.*]] = arith.divui %c256, %[[PARTS]]
// The parts' buffer is as long as C.
// SPLIT: %[[OUT:.*]] = memref.collapse_shape %[[Y]]
// SPLIT: %[[LEN:.*]] = memref.dim %[[OUT]], %c0
// SPLIT: %[[BUF:.*]] = memref.alloc(%[[PARTS]], %[[LEN]]) : memref<?x?xf32>
// SPLIT: %[[FLAT:.*]] = memref.collapse_shape %[[BUF]]
// SPLIT: %[[CB:.*]] = arith.muli %[[ROWS]], %c40
// Args: M, N, K (a part), lda, aBatch, bBase, bBatch, ldb, ldc, cBatch.
// SPLIT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64 blocks in (%c1, %{{.*}}, %[[PARTS]]) {{.*}} args(%{{.*}} : memref<?xbf16>, %{{.*}} : memref<?xbf16>, %[[FLAT]] : memref<?xf32>, %[[ROWS]] : index, %c40 : index, %[[KP]] : index, %c256 : index, %[[KP]] : index, %c0 : index, %[[KP]] : index, %c256 : index, %c40 : index, %[[CB]] : index)
// SPLIT: linalg.fill ins(%{{.*}} : f32) outs(%[[OUT]] : memref<?xf32>)
// SPLIT: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[BUF]] : memref<?x?xf32>) outs(%[[OUT]] : memref<?xf32>)
// SPLIT: arith.addf
// SPLIT: memref.dealloc %[[BUF]]
// SPLIT: } else {
// SPLIT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64 blocks in (%c1, %{{.*}}, %c1) {{.*}} %c256 : index, %c256 : index, %c0 : index
// SPLIT: }
// The e4m3 weight's few rows: the per-head e4m3 kernel's batches over the
// parts' columns (bColBatch, last), the weight's rows from 0 (bRow0 and
// bRowBatch 0), its scales and their block.
// SPLIT-LABEL: func.func @split_fp8w
// SPLIT: scf.if
// SPLIT: scf.if
// SPLIT: %[[FKP:.*]] = arith.divui %c256, %{{.*}}
// SPLIT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_fp8w_bf16_tn_m64 {{.*}} args(%{{.*}} : memref<?xbf16>, %{{.*}} : memref<?xf8E4M3FN>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : index, %c40 : index, %[[FKP]] : index, %c256 : index, %[[FKP]] : index, %c0 : index, %c0 : index, %c256 : index, %c40 : index, %{{.*}} : index, %c16 : index, %c128 : index, %[[FKP]] : index)
// SPLIT: linalg.generic {{.*}}["parallel", "reduction"]
// SPLIT: } else {
// SPLIT: gpu.launch_func @dsc_grouped_gemm::@gemm_fp8w_bf16_tn_m64
// A dense MLP (gate and up, then their SwiGLU, which the fused kernel
// would run) splits when the fused kernel's grid is small, into the parts
// gate would take as a linear layer: both their
// parts on the 64-row GEMM into buffers of their own, one generated
// reduction of both, then the SwiGLU as the graph wrote it (its body
// cloned, the captured constant 1 too) into the result; else the fused
// kernel runs whole.
// SPLIT-LABEL: func.func @split_mlp_bf16
// SPLIT-SAME: (%{{.*}}: memref<?x256xbf16>, %[[WG:[a-z0-9]+]]: memref<40x256xbf16>, %[[WU:[a-z0-9]+]]: memref<40x256xbf16>
// SPLIT: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// SPLIT: %[[ACTBUF:.*]] = memref.alloc(%{{.*}}) : memref<?x40xbf16>
// SPLIT: %[[MP:.*]] = arith.select %{{.*}}, %{{.*}}, %c1
// SPLIT: scf.if
// SPLIT: %[[ACT:.*]] = memref.collapse_shape %[[ACTBUF]]
// SPLIT: %[[ML:.*]] = memref.dim %[[ACT]], %c0
// SPLIT: %[[GP:.*]] = memref.alloc(%[[MP]], %[[ML]]) : memref<?x?xf32>
// SPLIT: %[[UP:.*]] = memref.alloc(%[[MP]], %[[ML]]) : memref<?x?xf32>
// SPLIT: %[[GPF:.*]] = memref.collapse_shape %[[GP]]
// SPLIT: %[[UPF:.*]] = memref.collapse_shape %[[UP]]
// SPLIT: %[[GW:.*]] = memref.collapse_shape %[[WG]]
// SPLIT: %[[GWC:.*]] = memref.cast %[[GW]]
// SPLIT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64 blocks in (%c1, %{{.*}}, %[[MP]]) {{.*}} args(%{{.*}} : memref<?xbf16>, %[[GWC]] : memref<?xbf16>, %[[GPF]] : memref<?xf32>, %{{.*}} : index, %c40 : index, %[[KP:.*]] : index, %c256 : index, %[[KP]] : index, %c0 : index, %[[KP]] : index, %c256 : index, %c40 : index, %{{.*}} : index)
// SPLIT: %[[UW:.*]] = memref.collapse_shape %[[WU]]
// SPLIT: %[[UWC:.*]] = memref.cast %[[UW]]
// SPLIT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64 blocks in (%c1, %{{.*}}, %[[MP]]) {{.*}} args(%{{.*}} : memref<?xbf16>, %[[UWC]] : memref<?xbf16>, %[[UPF]] : memref<?xf32>, %{{.*}} : index, %c40 : index, %[[KP]] : index, %c256 : index, %[[KP]] : index, %c0 : index, %[[KP]] : index, %c256 : index, %c40 : index, %{{.*}} : index)
// SPLIT: %[[G:.*]] = memref.alloc(%[[ML]]) : memref<?xf32>
// SPLIT: %[[U:.*]] = memref.alloc(%[[ML]]) : memref<?xf32>
// SPLIT: linalg.generic {{.*}}["parallel", "reduction"]} ins(%[[GP]], %[[UP]] : memref<?x?xf32>, memref<?x?xf32>) outs(%[[G]], %[[U]] : memref<?xf32>, memref<?xf32>)
// SPLIT: linalg.generic {{.*}}["parallel"]} ins(%[[G]], %[[U]] : memref<?xf32>, memref<?xf32>) outs(%[[ACT]] : memref<?xbf16>)
// SPLIT: math.exp
// SPLIT: arith.addf %{{.*}}, %[[ONE]] : f32
// SPLIT: arith.truncf
// SPLIT: memref.dealloc %[[GP]]
// SPLIT: memref.dealloc %[[UP]]
// SPLIT: memref.dealloc %[[G]]
// SPLIT: memref.dealloc %[[U]]
// SPLIT: } else {
// SPLIT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_swiglu_bf16_tn_m64 blocks in (%c1, %{{.*}}, %c1)
// SPLIT: }
// SPLIT: memref.copy %[[ACTBUF]]
// e4m3 weights' few rows: their parts on the per-head e4m3 kernel, each
// with its own scales.
// SPLIT-LABEL: func.func @split_mlp_fp8w
// SPLIT-SAME: %[[SG:[a-z0-9]+]]: memref<3x2xf32>, %{{.*}}: memref<40x256xf8E4M3FN>, %[[SU:[a-z0-9]+]]: memref<3x2xf32>
// SPLIT: scf.if
// SPLIT: scf.if
// SPLIT: %[[SGF:.*]] = memref.collapse_shape %[[SG]]
// SPLIT: %[[SGC:.*]] = memref.cast %[[SGF]]
// SPLIT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_fp8w_bf16_tn_m64 {{.*}}, %[[SGC]] : memref<?xf32>
// SPLIT: %[[SUF:.*]] = memref.collapse_shape %[[SU]]
// SPLIT: %[[SUC:.*]] = memref.cast %[[SUF]]
// SPLIT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_fp8w_bf16_tn_m64 {{.*}}, %[[SUC]] : memref<?xf32>
// SPLIT: linalg.generic {{.*}}["parallel", "reduction"]}
// SPLIT: math.exp
// SPLIT: } else {
// SPLIT: gpu.launch_func @dsc_grouped_gemm::@gemm_swiglu_fp8w_bf16_tn_m64
// A wider MLP (100 outputs): whether to split is the fused kernel's grid
// (2 N tiles a row tile, the compare's operand), the parts' count gate's
// as a linear layer (1 N tile: M tiles times the parts).
// SPLIT-LABEL: func.func @split_mlp_wide
// SPLIT: %[[WMT:.*]] = arith.maxui
// SPLIT: %[[WFUSED:.*]] = arith.muli %{{.*}}, %c2
// SPLIT: %[[W2:.*]] = arith.muli %[[WMT]], %c2
// SPLIT: %[[WE:.*]] = arith.cmpi uge, %[[W2]], %c132
// SPLIT: %[[WP:.*]] = arith.select %[[WE]], %c2, %c4
// SPLIT: %[[WFEW:.*]] = arith.cmpi ult, %[[WFUSED]], %c132
// SPLIT: arith.select %[[WFEW]], %[[WP]], %c1
// As sm_90a's pipeline sets it (large tiles on wgmma, split K): a fused
// MLP's many rows take the wgmma SwiGLU kernel, its few the split parts
// or the 64-row fused kernel; e4m3 weights' few rows (at most 128) the
// e4m3 parts or fused kernel, more the e4m3 wgmma form.
// RUN: dsc-opt %S/Inputs/split-k.mlir --dsc-library-gemms="large-tiles wgmma split-k-blocks=132" -canonicalize 2>/dev/null | FileCheck %s --check-prefix=SM90
// SM90-LABEL: func.func @split_mlp_bf16
// SM90: scf.if
// SM90: gpu.launch_func @dsc_grouped_gemm_wgmma_tn::@gemm_wgmma_swiglu_bf16_tn
// SM90: } else {
// SM90: scf.if
// SM90: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64
// SM90: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64
// SM90: } else {
// SM90: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_swiglu_bf16_tn_m64
// SM90-LABEL: func.func @split_mlp_fp8w
// SM90: scf.if
// SM90: scf.if
// SM90: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_fp8w_bf16_tn_m64
// SM90: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_fp8w_bf16_tn_m64
// SM90: } else {
// SM90: gpu.launch_func @dsc_grouped_gemm::@gemm_swiglu_fp8w_bf16_tn_m64
// SM90: } else {
// SM90: gpu.launch_func @dsc_grouped_gemm_wgmma_tn::@gemm_wgmma_swiglu_fp8w_bf16_tn
// The fill of C and the sum of the parts have bounds computed alike (the
// buffer is C's size): dsc-fuse-parallel-loops makes them one loop, one
// generated kernel.
// RUN: dsc-opt %S/Inputs/split-k.mlir --dsc-library-gemms=split-k-blocks=132 -canonicalize --convert-linalg-to-parallel-loops --dsc-promote-accumulators --dsc-fuse-parallel-loops | FileCheck %s --check-prefix=FUSED
// FUSED-LABEL: func.func @split_bf16
// FUSED: scf.parallel
// FUSED-NOT: scf.parallel
// FUSED: } else {
// FUSED-LABEL: func.func @split_fp8w
// A split MLP's fills, sums of gate's and up's parts and SwiGLU: one loop.
// FUSED-LABEL: func.func @split_mlp_bf16
// FUSED: scf.if
// FUSED: scf.parallel
// FUSED-NOT: scf.parallel
// FUSED: scf.for
// FUSED-NOT: scf.parallel
// FUSED: math.exp
// FUSED-NOT: scf.parallel
// FUSED: } else {
// FUSED-LABEL: func.func @split_mlp_fp8w
// A K of no two whole 64-wide steps to split (@linear's K of 64 below)
// runs whole.
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms=split-k-blocks=132 2>/dev/null | FileCheck %s --check-prefix=WHOLE
// WHOLE-LABEL: func.func @linear
// WHOLE-NOT: scf.if
// WHOLE: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64
// WHOLE: return
// The zero fill of C the GEMM accumulated onto is dead (the kernel writes
// all of C): gone, unless something else touches C in between.
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms 2>/dev/null | FileCheck %s --check-prefix=FILL
// FILL-LABEL: func.func @linear
// FILL-NOT: linalg.fill
// FILL: gpu.launch_func
// FILL-LABEL: func.func @left
// FILL: linalg.fill
// FILL-LABEL: func.func @kept_fill
// FILL: linalg.fill
// FILL-LABEL: func.func @fill_read_through_select
// FILL: linalg.fill
// FILL: gpu.launch_func
// FILL-LABEL: func.func @fill_read_through_pointer
// FILL: linalg.fill
// FILL: gpu.launch_func
// FILL: gpu.launch_func

#a = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#b = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#c = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK: module attributes {gpu.container_module}
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[A:.*]]: memref<?x?x64xbf16>, %[[B:.*]]: memref<136x64xbf16>, %[[C:.*]]: memref<?x?x136xf32>)
// CHECK-DAG: %[[SMEM:.*]] = arith.constant 98304 : i32
// CHECK-DAG: %[[D0:.*]] = memref.dim %[[A]], %c0
// CHECK-DAG: %[[D1:.*]] = memref.dim %[[A]], %c1
// CHECK: %[[M:.*]] = arith.muli %[[D0]], %[[D1]]
// CHECK-NOT: memref.alloc
// CHECK-NOT: scf.if
// CHECK: %[[FB0:.*]] = memref.collapse_shape %[[B]] {{\[\[}}0, 1]]
// CHECK: %[[FB:.*]] = memref.cast %[[FB0]] : memref<8704xbf16> to memref<?xbf16>
// CHECK: %[[M63:.*]] = arith.addi %[[M]], %c63
// CHECK: %[[TILES:.*]] = arith.divui %[[M63]], %c64
// CHECK: %[[GY:.*]] = arith.maxui %[[TILES]], %c1
// CHECK: %[[FA:.*]] = memref.collapse_shape %[[A]] {{\[\[}}0, 1, 2]]
// CHECK: %[[FC:.*]] = memref.collapse_shape %[[C]] {{\[\[}}0, 1, 2]]
// Args: M, N, K, lda = K, aBatch = K, B at 0, bBatch = N K, ldb = K,
// ldc = N, cBatch = N (one batch: the batch strides unused).
// CHECK: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64 blocks in (%c2, %[[GY]], %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %[[SMEM]] args(%[[FA]] : memref<?xbf16>, %[[FB]] : memref<?xbf16>, %[[FC]] : memref<?xf32>, %[[M]] : index, %c136 : index, %c64 : index, %c64 : index, %c64 : index, %c0 : index, %c8704 : index, %c64 : index, %c136 : index, %c136 : index)
// CHECK-NOT: linalg.generic
// CHECK: return
// The library's module, with the one kernel launched.
// CHECK: gpu.module @dsc_grouped_gemm
// CHECK-NOT: gpu.func @grouped_gemm
// CHECK: gpu.func @batched_gemm_bf16_tn_m64(
// CHECK-NOT: gpu.func
func.func @linear(%a: memref<?x?x64xbf16>, %b: memref<136x64xbf16>, %c: memref<?x?x136xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<?x?x136xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %b : memref<?x?x64xbf16>, memref<136x64xbf16>) outs(%c : memref<?x?x136xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%x: bf16, %w: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %wf = arith.extf %w : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// What the kernel cannot take stays generated code, with a remark why:
// K % 8 != 0 (its rows would not start 16-byte aligned), a strided
// operand, a body other than the mark's (the kernel computes only that).
// An unmarked GEMM is not touched.
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-NOT: gpu.container_module
// CHECK-LABEL: func.func @left
// CHECK: linalg.fill
// CHECK-NOT: gpu.launch_func
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT: dsc.library_gemm
// CHECK-NOT: gpu.module
func.func @left(%a: memref<?x12xbf16>, %b: memref<16x12xbf16>, %c: memref<?x16xf32>, %s: memref<?x16xbf16, strided<[32, 1]>>, %w: memref<16x16xbf16>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16xf32>)
  // expected-remark @+1 {{GEMM left as generated code: K = 12 is not a multiple of 8 (rows must start 16-byte aligned)}}
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<?x12xbf16>, memref<16x12xbf16>) outs(%c : memref<?x16xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %p = arith.mulf %xf, %yf : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  }
  // expected-remark @+1 {{GEMM left as generated code: an operand is not a contiguous row-major buffer}}
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%s, %w : memref<?x16xbf16, strided<[32, 1]>>, memref<16x16xbf16>) outs(%c : memref<?x16xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %p = arith.mulf %xf, %yf : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  }
  // expected-remark @+1 {{GEMM left as generated code: its body is not acc + extf(a) * extf(b)}}
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%w, %w : memref<16x16xbf16>, memref<16x16xbf16>) outs(%c : memref<?x16xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %p = arith.mulf %xf, %yf : f32
    %r = arith.subf %p, %acc : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%s, %w : memref<?x16xbf16, strided<[32, 1]>>, memref<16x16xbf16>) outs(%c : memref<?x16xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %p = arith.mulf %xf, %yf : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A fill with a write to C between it and the GEMM stays: C's contents
// then are not the fill's alone (the kernel still overwrites them, as the
// mark's contract allows).
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @kept_fill
// CHECK: linalg.fill
// CHECK: memref.store
// CHECK: gpu.launch_func
func.func @kept_fill(%a: memref<?x16xbf16>, %b: memref<16x16xbf16>, %c: memref<?x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16xf32>)
  memref.store %zero, %c[%c0, %c0] : memref<?x16xf32>
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<?x16xbf16>, memref<16x16xbf16>) outs(%c : memref<?x16xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %p = arith.mulf %xf, %yf : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  }
  return
}
// The fill's buffer read through a select in between: it is not dead (the
// select makes another value of the buffer).
func.func @fill_read_through_select(%a: memref<?x16xbf16>, %b: memref<16x16xbf16>, %other: memref<?x16xf32>, %p: i1, %n: index, %out: memref<f32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c = memref.alloc(%n) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16xf32>)
  %s = arith.select %p, %c, %other : memref<?x16xf32>
  %v = memref.load %s[%c0, %c0] : memref<?x16xf32>
  memref.store %v, %out[] : memref<f32>
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<?x16xbf16>, memref<16x16xbf16>) outs(%c : memref<?x16xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %pr = arith.mulf %xf, %yf : f32
    %r = arith.addf %pr, %acc : f32
    linalg.yield %r : f32
  }
  return
}
// Or through its address (any use that makes another handle of the buffer
// counts as a possible read).
func.func @fill_read_through_pointer(%a: memref<?x16xbf16>, %b: memref<16x16xbf16>, %n: index, %out: memref<index>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc(%n) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16xf32>)
  %p = memref.extract_aligned_pointer_as_index %c : memref<?x16xf32> -> index
  memref.store %p, %out[] : memref<index>
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : memref<?x16xbf16>, memref<16x16xbf16>) outs(%c : memref<?x16xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %pr = arith.mulf %xf, %yf : f32
    %r = arith.addf %pr, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A routed experts' GEMM per slot (dsc.library_grouped_gemm) becomes the
// library's dispatch around its GEMM: the experts clamped to i32,
// moe_align (blockRows 1: unpadded), moe_tiles (each expert's 64-row
// tiles; at most ceil(slots / 64) + experts), the rows gathered in expert
// order, the tiled GEMM over the listed tiles, each slot's row put back. The copy of zeros
// bufferization made into C is dead like a fill. (kernels-emulated.test
// runs Inputs/routed-experts.mlir, the same form, on the emulator.)
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @routed
// CHECK-SAME: (%[[A:.*]]: memref<?x2x64xbf16>, %[[IDX:.*]]: memref<?x2xi64>, %[[W:.*]]: memref<4x32x64xbf16>, %[[C:.*]]: memref<?x2x32xf32>, %[[Z:.*]]: memref<?x2x32xf32>)
// CHECK-NOT: linalg.copy
// CHECK: %[[T:.*]] = memref.dim %[[IDX]], %c0
// CHECK: %[[S:.*]] = arith.muli %[[T]], %c2
// CHECK: %[[IDS:.*]] = memref.alloc(%[[T]]) : memref<?x2xi32>
// CHECK: linalg.generic {{.*}} ins(%[[IDX]] : memref<?x2xi64>) outs(%[[IDS]] : memref<?x2xi32>)
// CHECK: arith.maxsi %{{.*}}, %c0
// CHECK: arith.minsi %{{.*}}, %c3
// CHECK: %[[OFF:.*]] = memref.alloc() : memref<5xi32>
// CHECK: %[[SLOTROW:.*]] = memref.alloc(%[[T]]) : memref<?x2xi32>
// CHECK: %[[ROWSLOT:.*]] = memref.alloc(%[[S]]) : memref<?xi32>
// CHECK: gpu.launch_func @dsc_moe_dispatch::@moe_align blocks in (%c1, %c1, %c1) threads in (%c1024, %c1, %c1) args(%{{.*}} : memref<?xi32>, %[[S]] : index, %c4 : index, %c1 : index, %{{.*}} : memref<?xi32>, %{{.*}} : memref<?xi32>, %[[ROWSLOT]] : memref<?xi32>)
// CHECK: %[[S63:.*]] = arith.addi %[[S]], %c63
// CHECK: %[[STILES:.*]] = arith.divui %[[S63]], %c64
// CHECK: %[[MT:.*]] = arith.addi %[[STILES]], %c4
// CHECK: %[[MT2:.*]] = arith.muli %[[MT]], %c2
// CHECK: %[[TILES:.*]] = memref.alloc(%[[MT2]]) : memref<?xi32>
// CHECK: gpu.launch_func @dsc_moe_dispatch::@moe_tiles blocks in (%c1, %c1, %c1) threads in (%c1024, %c1, %c1) args(%{{.*}} : memref<?xi32>, %c4 : index, %c64 : index, %[[MT]] : index, %[[TILES]] : memref<?xi32>)
// CHECK: %[[SA:.*]] = memref.alloc(%[[S]]) : memref<?x64xbf16>
// CHECK: linalg.generic {{.*}} ins(%[[ROWSLOT]] : memref<?xi32>) outs(%[[SA]] : memref<?x64xbf16>)
// CHECK: %[[SLOT:.*]] = arith.index_cast
// CHECK: %[[TOK:.*]] = arith.divui %[[SLOT]], %c2
// CHECK: %[[J:.*]] = arith.remui %[[SLOT]], %c2
// CHECK: memref.load %[[A]][%[[TOK]], %[[J]], %{{.*}}]
// CHECK: %[[SC:.*]] = memref.alloc(%[[S]]) : memref<?x32xf32>
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_bf16_tn_m64_tiled blocks in (%c1, %[[MT]], %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %{{.*}} args({{.*}} : memref<?xi32>, %[[TILES]] : memref<?xi32>, %c32 : index, %c64 : index)
// CHECK: linalg.generic {{.*}} ins(%[[SLOTROW]] : memref<?x2xi32>) outs(%[[C]] : memref<?x2x32xf32>)
// CHECK: memref.load %[[SC]]
// CHECK: memref.dealloc %[[SC]]
// CHECK: memref.dealloc %[[IDS]]
// CHECK: memref.dealloc %[[OFF]]
// CHECK: memref.dealloc %[[SLOTROW]]
// CHECK: memref.dealloc %[[ROWSLOT]]
// CHECK: memref.dealloc %[[TILES]]
// CHECK: memref.dealloc %[[SA]]
// CHECK-NOT: dsc.library_grouped_gemm
// CHECK: gpu.module @dsc_grouped_gemm
// CHECK-NOT: gpu.func
// CHECK: gpu.func @grouped_gemm_bf16_tn_m64_tiled(
// CHECK-NOT: gpu.func
// CHECK: gpu.module @dsc_moe_dispatch
// CHECK-NOT: gpu.func @moe_gather
// CHECK-DAG: gpu.func @moe_align(
// CHECK-DAG: gpu.func @moe_tiles(
// CHECK-NOT: gpu.func @moe_gather
// On sm_90a (wgmma): 128-row tiles, and the tiled wgmma GEMM reading the
// gathered rows and the stack [4 x 32, 64] through the runtime's
// descriptors in boxes of 64 x 64 (its dsc.tma_box).
// WGMMA-LABEL: func.func @routed(
// WGMMA: gpu.launch_func @dsc_moe_dispatch::@moe_tiles {{.*}} args(%{{.*}} : memref<?xi32>, %c4 : index, %c128 : index, %[[MT:.*]] : index, %[[TILES:.*]] : memref<?xi32>)
// WGMMA: %[[SA:.*]] = memref.alloc(%[[S:.*]]) : memref<?x64xbf16>
// A step without slots launches nothing (a descriptor of no rows is
// invalid).
// WGMMA: %[[ANY:.*]] = arith.cmpi ne, %[[S]], %c0
// WGMMA: scf.if %[[ANY]] {
// WGMMA: %[[SA2:.*]] = memref.cast %[[SA]] : memref<?x64xbf16> to memref<?x?xbf16, strided<[?, ?], offset: ?>>
// WGMMA: %[[MAPA:.*]] = func.call @dsc_gpu_tensor_map_bf16(%[[SA2]], %c64, %c64)
// WGMMA: %[[W2:.*]] = memref.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : memref<4x32x64xbf16> into memref<128x64xbf16>
// WGMMA: %[[W2D:.*]] = memref.cast %[[W2]]
// WGMMA: %[[MAPB:.*]] = func.call @dsc_gpu_tensor_map_bf16(%[[W2D]], %c64, %c64)
// WGMMA: gpu.launch_func @dsc_grouped_gemm_wgmma_tn::@grouped_gemm_wgmma_bf16_tn_tiled blocks in (%c1, %[[MT]], %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c132096_i32 args(%[[MAPA]] : !llvm.ptr, %[[MAPB]] : !llvm.ptr, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xi32>, %[[TILES]] : memref<?xi32>, %c32 : index, %c64 : index)
// WGMMA: gpu.func @grouped_gemm_wgmma_bf16_tn_tiled(
func.func @routed(%a: memref<?x2x64xbf16>, %idx: memref<?x2xi64>, %w: memref<4x32x64xbf16>, %c: memref<?x2x32xf32>, %zeros: memref<?x2x32xf32>) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  linalg.copy ins(%zeros : memref<?x2x32xf32>) outs(%c : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %idx : memref<?x2x64xbf16>, memref<?x2xi64>) outs(%c : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%x: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %w[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %xf = arith.extf %x : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// What the dispatch cannot take stays generated code, with a remark: more
// experts than moe_align counts, an expert not clamped to the stack (the
// library would read past it), a body that is not the product.
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @routed_left
// CHECK-NOT: gpu.launch_func
// CHECK-NOT: dsc.library_grouped_gemm
func.func @routed_left(%a: memref<?x64xbf16>, %idx: memref<?x2xi64>, %big: memref<1025x32x64xbf16>, %w: memref<4x32x64xbf16>, %c: memref<?x2x32xf32>) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %c1024 = arith.constant 1024 : index
  // expected-remark @+1 {{GEMM left as generated code: 1025 experts, the dispatch takes at most 1024}}
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%c : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%x: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c1024 : index
    %wv = memref.load %big[%e, %n, %k] : memref<1025x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %xf = arith.extf %x : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  // expected-remark @+1 {{GEMM left as generated code: the expert is not indices[t, j] clamped to the stack}}
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%c : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%x: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c1024 : index
    %wv = memref.load %w[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %xf = arith.extf %x : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  // expected-remark @+1 {{GEMM left as generated code: its body is not acc + extf(a) * extf(W[e, n, k])}}
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%c : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%x: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %w[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %xf = arith.extf %x : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %s = arith.subf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A MoE layer's GEMMs share the slots' sorting (one moe_align: the same
// indices, which nothing between them writes: the SwiGLU writes a buffer
// of its own), and gate and up the rows gathered from their one input;
// down gathers its own. The zero fill of
// up's C, kept alive only by the copy into gate's C, is dead too. A write
// to the indices between two GEMMs makes the second sort again.
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @layer
// CHECK-NOT: linalg.fill
// CHECK-NOT: linalg.copy
// CHECK-COUNT-1: gpu.launch_func @dsc_moe_dispatch::@moe_align
// CHECK-NOT: moe_align
// CHECK: ins(%{{.*}} : memref<?xi32>) outs(%{{.*}} : memref<?x64xbf16>)
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_bf16_tn_m64
// CHECK-NOT: outs(%{{.*}} : memref<?x64xbf16>)
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_bf16_tn_m64
// CHECK: ins(%{{.*}} : memref<?xi32>) outs(%{{.*}} : memref<?x32xbf16>)
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_bf16_tn_m64
// CHECK-COUNT-8: memref.dealloc
// CHECK-NOT: gpu.launch_func
// CHECK: return
// CHECK-LABEL: func.func @rewritten
// CHECK-COUNT-2: gpu.launch_func @dsc_moe_dispatch::@moe_align
// Stacks of another expert count sort again too (the sorting clamps to
// the stack), and a write to the input between two GEMMs gathers again.
// CHECK-LABEL: func.func @other_experts
// CHECK-COUNT-2: gpu.launch_func @dsc_moe_dispatch::@moe_align
// CHECK-LABEL: func.func @input_written
// CHECK-COUNT-1: gpu.launch_func @dsc_moe_dispatch::@moe_align
// CHECK-NOT: moe_align
// CHECK-COUNT-2: outs(%{{.*}} : memref<?x64xbf16>)
func.func @layer(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %t: index) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  %up = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%up : memref<?x2x32xf32>)
  %gate = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.copy ins(%up : memref<?x2x32xf32>) outs(%gate : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%gate : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%up : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %act = memref.alloc(%t) : memref<?x2x32xbf16>
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gate, %up : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%act : memref<?x2x32xbf16>) {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %m = arith.mulf %g, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  %down = memref.alloc(%t) : memref<?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%down : memref<?x2x64xf32>)
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x2x32xbf16>, memref<?x2xi64>) outs(%down : memref<?x2x64xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<4x64x32xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}
func.func @rewritten(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %c1: memref<?x2x32xf32>, %c2: memref<?x2x32xf32>) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %one = arith.constant 1 : i64
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%c1 : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.store %one, %idx[%c0, %c0] : memref<?x2xi64>
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%c2 : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}
func.func @other_experts(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %w8: memref<8x32x64xbf16>, %t: index) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %c7 = arith.constant 7 : index
  %c1 = memref.alloc(%t) : memref<?x2x32xf32>
  %c2 = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%c1 : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%c2 : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c7 : index
    %wv = memref.load %w8[%e, %n, %k] : memref<8x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}
func.func @input_written(%idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %t: index, %v: bf16) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %x = memref.alloc(%t) : memref<?x64xbf16>
  %c1 = memref.alloc(%t) : memref<?x2x32xf32>
  %c2 = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%c1 : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.store %v, %x[%c0, %c0] : memref<?x64xbf16>
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%c2 : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}
