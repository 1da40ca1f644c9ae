// Grouped GEMM for sm_90a: wgmma fed by TMA through an mbarrier pipeline,
// bf16 in, f32 out, the expert GEMM of mixture-of-experts dispatch:
//
//   for each expert e, for rows r in [offsets[e], offsets[e+1]):
//     C[r, n] = sum_k A[r, k] * B[e, k, n]
//
// A [rows, K] bf16: the tokens' rows sorted by expert, each expert's rows
// padded to a multiple of 128. B [experts * K, N] bf16: each expert's
// weight as [K, N] (N contiguous: the weight binder stores nn.Linear's
// [out, in] transposed for this kernel; wgmma reads B N-major through
// MLIR's descriptors). C [rows, N] f32. N % 128 == 0, K % 64 == 0.
//
// mapA and mapB are TMA descriptors (cuTensorMapEncodeTiled, 128-byte
// swizzle, in device memory): mapA over A as [rows, K] with box 128 x 64,
// mapB over B as [experts * K, N] with box 64 x 64 (the 128 columns of a
// B tile are two boxes: a 128-byte swizzle row holds 64 bf16).
//
// One warpgroup (128 threads) per 128 x 128 tile of C: grid (N / 128, max
// 128-row blocks of an expert, experts). K steps of 64 in a 3-stage ring
// of dynamic shared memory (32 KiB a stage, two blocks fit an SM), each
// stage with an mbarrier: thread 0 arms it with the stage's bytes and
// issues the TMA loads, every thread waits on its phase. Each step is one
// nvgpu.warpgroup.mma (8 x wgmma m64n128k16) that leaves the step's group
// in flight and waits for the previous one, whose stage is then refilled
// (after a barrier: every warp has seen its wgmma complete). Launch with
// 99328 bytes of dynamic shared memory: 3 stages and 1 KiB to align the
// first to the 1024 bytes the swizzle needs.
!mapA = !nvgpu.tensormap.descriptor<tensor = memref<128x64xbf16, #gpu.address_space<workgroup>>, swizzle = swizzle_128b, l2promo = l2promo_128b, oob = zero, interleave = none>
!mapB = !nvgpu.tensormap.descriptor<tensor = memref<64x64xbf16, #gpu.address_space<workgroup>>, swizzle = swizzle_128b, l2promo = l2promo_128b, oob = zero, interleave = none>
!barriers = !nvgpu.mbarrier.group<memorySpace = #gpu.address_space<workgroup>, num_barriers = 3>
!acc = !nvgpu.warpgroup.accumulator<fragmented = vector<128x128xf32>>
!tileA = memref<128x64xbf16, #gpu.address_space<workgroup>>
!tileB = memref<64x128xbf16, #gpu.address_space<workgroup>>
!halfB = memref<64x64xbf16, #gpu.address_space<workgroup>>
!descA = !nvgpu.warpgroup.descriptor<tensor = memref<128x64xbf16, #gpu.address_space<workgroup>>>
!descB = !nvgpu.warpgroup.descriptor<tensor = memref<64x128xbf16, #gpu.address_space<workgroup>>>
!smem = memref<?xi8, #gpu.address_space<workgroup>>
module attributes {gpu.container_module} {
gpu.module @dsc_grouped_gemm_wgmma attributes {dsc.chips = ["sm_90a"]} {
  // The descriptors arrive as pointers (the GPU lowering has no kernel
  // argument conversion for the descriptor type; the casts fold away).
  gpu.func @grouped_gemm_wgmma_bf16(%mapAPtr: !llvm.ptr, %mapBPtr: !llvm.ptr,
                                    %C: memref<?xf32>, %offsets: memref<?xi32>,
                                    %rows: index, %N: index, %K: index)
      kernel attributes {known_block_size = array<i32: 128, 1, 1>} {
    %mapA = builtin.unrealized_conversion_cast %mapAPtr : !llvm.ptr to !mapA
    %mapB = builtin.unrealized_conversion_cast %mapBPtr : !llvm.ptr to !mapB
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c3 = arith.constant 3 : index
    %c8 = arith.constant 8 : index
    %c64 = arith.constant 64 : index
    %c128 = arith.constant 128 : index
    %c1023 = arith.constant 1023 : index
    %c1024 = arith.constant 1024 : index
    %c8192 = arith.constant 8192 : index
    %c16384 = arith.constant 16384 : index
    %c49152 = arith.constant 49152 : index
    %stageBytes = arith.constant 32768 : index
    %ticks = arith.constant 10000000 : index
    %e = gpu.block_id z
    %bm = gpu.block_id y
    %bn = gpu.block_id x
    %tid = gpu.thread_id x
    %e1 = arith.addi %e, %c1 : index
    %start32 = memref.load %offsets[%e] : memref<?xi32>
    %end32 = memref.load %offsets[%e1] : memref<?xi32>
    %start = arith.index_cast %start32 : i32 to index
    %end = arith.index_cast %end32 : i32 to index
    %mb = arith.muli %bm, %c128 : index
    %m0 = arith.addi %start, %mb : index
    %inside = arith.cmpi ult, %m0, %end : index
    scf.if %inside {
      %n0 = arith.muli %bn, %c128 : index
      %n1 = arith.addi %n0, %c64 : index
      %eK = arith.muli %e, %K : index
      %kTiles = arith.divui %K, %c64 : index
      %leader = arith.cmpi eq, %tid, %c0 : index
      // The stages start at the first 1024-byte boundary of the dynamic
      // shared memory past the barriers: A tiles, then B tiles (two
      // 64-column halves each). Past the barriers: MLIR lowers %dyn to the
      // address of a static symbol, and ptxas places the static barriers
      // after it and the dynamic allocation after them (the launch's 1 KiB
      // of slack covers both).
      %bar = nvgpu.mbarrier.create -> !barriers
      %dyn = gpu.dynamic_shared_memory : !smem
      %base = memref.extract_aligned_pointer_as_index %dyn : !smem -> index
      %lastBar = nvgpu.mbarrier.get %bar[%c2] : !barriers -> i64
      %lastBarAt = arith.index_cast %lastBar : i64 to index
      %barsEnd = arith.addi %lastBarAt, %c8 : index
      %free = arith.maxui %base, %barsEnd : index
      %up = arith.addi %free, %c1023 : index
      %aligned = arith.divui %up, %c1024 : index
      %alignedBase = arith.muli %aligned, %c1024 : index
      %pad = arith.subi %alignedBase, %base : index
      scf.if %leader {
        nvgpu.mbarrier.init %bar[%c0], %c1 : !barriers
        nvgpu.mbarrier.init %bar[%c1], %c1 : !barriers
        nvgpu.mbarrier.init %bar[%c2], %c1 : !barriers
        // The barriers' initialization, made visible to the TMA unit (the
        // async proxy) before any copy completes on them.
        nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
        nvgpu.tma.prefetch.descriptor %mapA : !mapA
        nvgpu.tma.prefetch.descriptor %mapB : !mapB
      }
      gpu.barrier
      // Thread 0 loads K tile %kt into stage %s: A [m0, 64 kt], the two
      // halves of B [e K + 64 kt, n0] and [.., n0 + 64].
      %load = scf.for %s = %c0 to %c3 step %c1 iter_args(%unused = %c0) -> (index) {
        %inK = arith.cmpi ult, %s, %kTiles : index
        %go = arith.andi %leader, %inK : i1
        scf.if %go {
          %aOff0 = arith.muli %s, %c16384 : index
          %aOff = arith.addi %pad, %aOff0 : index
          %bOff0 = arith.addi %aOff, %c49152 : index
          %bOff1 = arith.addi %bOff0, %c8192 : index
          %tA = memref.view %dyn[%aOff][] : !smem to !tileA
          %tB0 = memref.view %dyn[%bOff0][] : !smem to !halfB
          %tB1 = memref.view %dyn[%bOff1][] : !smem to !halfB
          %k0 = arith.muli %s, %c64 : index
          %kB = arith.addi %eK, %k0 : index
          nvgpu.mbarrier.arrive.expect_tx %bar[%s], %stageBytes : !barriers
          nvgpu.tma.async.load %mapA[%k0, %m0], %bar[%s] to %tA : !mapA, !barriers -> !tileA
          nvgpu.tma.async.load %mapB[%n0, %kB], %bar[%s] to %tB0 : !mapB, !barriers -> !halfB
          nvgpu.tma.async.load %mapB[%n1, %kB], %bar[%s] to %tB1 : !mapB, !barriers -> !halfB
        }
        scf.yield %unused : index
      }
      %init = nvgpu.warpgroup.mma.init.accumulator -> !acc
      %result = scf.for %kt = %c0 to %kTiles step %c1 iter_args(%accIn = %init) -> (!acc) {
        %s = arith.remui %kt, %c3 : index
        %round = arith.divui %kt, %c3 : index
        %parityIdx = arith.remui %round, %c2 : index
        %parity = arith.index_cast %parityIdx : index to i1
        nvgpu.mbarrier.try_wait.parity %bar[%s], %parity, %ticks : !barriers
        %aOff0 = arith.muli %s, %c16384 : index
        %aOff = arith.addi %pad, %aOff0 : index
        %bOff = arith.addi %aOff, %c49152 : index
        %tA = memref.view %dyn[%aOff][] : !smem to !tileA
        %tB = memref.view %dyn[%bOff][] : !smem to !tileB
        %dA = nvgpu.warpgroup.generate.descriptor %tA, %mapA : !tileA, !mapA -> !descA
        %dB = nvgpu.warpgroup.generate.descriptor %tB, %mapB : !tileB, !mapB -> !descB
        %accOut = nvgpu.warpgroup.mma %dA, %dB, %accIn {transposeB} : !descA, !descB, !acc -> !acc
        // Step kt - 1 is complete in every warp: refill its stage with
        // K tile kt + 2.
        gpu.barrier
        %refill = arith.addi %kt, %c2 : index
        %past = arith.cmpi uge, %kt, %c1 : index
        %inK = arith.cmpi ult, %refill, %kTiles : index
        %go0 = arith.andi %past, %inK : i1
        %go = arith.andi %go0, %leader : i1
        scf.if %go {
          %ps = arith.remui %refill, %c3 : index
          %pOff0 = arith.muli %ps, %c16384 : index
          %pOff = arith.addi %pad, %pOff0 : index
          %pB0 = arith.addi %pOff, %c49152 : index
          %pB1 = arith.addi %pB0, %c8192 : index
          %rA = memref.view %dyn[%pOff][] : !smem to !tileA
          %rB0 = memref.view %dyn[%pB0][] : !smem to !halfB
          %rB1 = memref.view %dyn[%pB1][] : !smem to !halfB
          %k0 = arith.muli %refill, %c64 : index
          %kB = arith.addi %eK, %k0 : index
          nvgpu.mbarrier.arrive.expect_tx %bar[%ps], %stageBytes : !barriers
          nvgpu.tma.async.load %mapA[%k0, %m0], %bar[%ps] to %rA : !mapA, !barriers -> !tileA
          nvgpu.tma.async.load %mapB[%n0, %kB], %bar[%ps] to %rB0 : !mapB, !barriers -> !halfB
          nvgpu.tma.async.load %mapB[%n1, %kB], %bar[%ps] to %rB1 : !mapB, !barriers -> !halfB
        }
        scf.yield %accOut : !acc
      }
      nvvm.wgmma.wait.group.sync.aligned 0
      // The tile of C: [m0, n0] of C as [rows, N].
      %C2 = memref.reinterpret_cast %C to offset: [0], sizes: [%rows, %N], strides: [%N, 1] : memref<?xf32> to memref<?x?xf32, strided<[?, 1]>>
      %tile = memref.subview %C2[%m0, %n0] [128, 128] [1, 1] : memref<?x?xf32, strided<[?, 1]>> to memref<128x128xf32, strided<[?, 1], offset: ?>>
      nvgpu.warpgroup.mma.store %result, %tile : !acc to memref<128x128xf32, strided<[?, 1], offset: ?>>
    }
    gpu.return
  }
}
}
