// Grouped GEMM on tensor cores (mma.sync m16n8k16, bf16 in, f32 out), the
// expert GEMM of mixture-of-experts dispatch:
//
//   for each expert e, for rows r in [offsets[e], offsets[e+1]):
//     C[r, n] = sum_k A[r, k] * B[e, n, k]
//
// A [rows, K] holds the tokens' rows sorted by expert, each expert's rows
// padded to a multiple of 64 (the block's M tile); B [experts, N, K] holds
// the expert weights as nn.Linear stores them ([out, in], so A * B^T); both
// bf16, passed as i32 views (two bf16 per word, the lower half first, which
// is how mma.sync packs its operands). With one expert it is a plain GEMM.
// Requires N % 32 == 0 and K % 16 == 0.
//
// Grid (N / 32, max rows per expert / 64, experts), 128 threads: warp w of
// block (bn, bm, e) computes the 16 x 32 tile at row offsets[e] + 64 bm +
// 16 w, column 32 bn, as 4 mma tiles of 16 x 8 that share the A fragment.
// Fragment layouts (PTX ISA, mma.m16n8k16, lane = 4 g + t):
//   A regs: (row g, k 2t), (row g+8, k 2t), (row g, k 2t+8), (row g+8, k 2t+8)
//   B regs: (n g, k 2t), (n g, k 2t+8)
//   C:      (row g, n 2t, 2t+1), (row g+8, n 2t, 2t+1)
// Operands are read straight from global memory (L1/L2 serve the reuse):
// version 1, without shared-memory staging or a cp.async pipeline.
module attributes {gpu.container_module} {
gpu.module @dsc_grouped_gemm {
  gpu.func @grouped_gemm_bf16_tn(%A: memref<?xi32>, %B: memref<?xi32>,
                                 %C: memref<?xf32>, %offsets: memref<?xi32>,
                                 %N: index, %K: index) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c4 = arith.constant 4 : index
    %c8 = arith.constant 8 : index
    %c16 = arith.constant 16 : index
    %c32 = arith.constant 32 : index
    %c64 = arith.constant 64 : index
    %zero = arith.constant 0.0 : f32
    %e = gpu.block_id z
    %bm = gpu.block_id y
    %bn = gpu.block_id x
    %tid = gpu.thread_id x
    %lane = arith.remui %tid, %c32 : index
    %warp = arith.divui %tid, %c32 : index
    %g = arith.divui %lane, %c4 : index
    %t = arith.remui %lane, %c4 : index
    %e1 = arith.addi %e, %c1 : index
    %start32 = memref.load %offsets[%e] : memref<?xi32>
    %end32 = memref.load %offsets[%e1] : memref<?xi32>
    %start = arith.index_cast %start32 : i32 to index
    %end = arith.index_cast %end32 : i32 to index
    %mb = arith.muli %bm, %c64 : index
    %mw = arith.muli %warp, %c16 : index
    %m1 = arith.addi %start, %mb : index
    %m0 = arith.addi %m1, %mw : index
    %inside = arith.cmpi ult, %m0, %end : index
    scf.if %inside {
      %nb = arith.muli %bn, %c32 : index
      %halfK = arith.divui %K, %c2 : index
      %rowG = arith.addi %m0, %g : index
      %rowG8 = arith.addi %rowG, %c8 : index
      %a0base = arith.muli %rowG, %halfK : index
      %a1base = arith.muli %rowG8, %halfK : index
      %eN = arith.muli %e, %N : index
      %n0off = arith.constant 0 : index
      %n0a = arith.addi %nb, %n0off : index
      %n0 = arith.addi %n0a, %g : index
      %en0 = arith.addi %eN, %n0 : index
      %b0base = arith.muli %en0, %halfK : index
      %n1off = arith.constant 8 : index
      %n1a = arith.addi %nb, %n1off : index
      %n1 = arith.addi %n1a, %g : index
      %en1 = arith.addi %eN, %n1 : index
      %b1base = arith.muli %en1, %halfK : index
      %n2off = arith.constant 16 : index
      %n2a = arith.addi %nb, %n2off : index
      %n2 = arith.addi %n2a, %g : index
      %en2 = arith.addi %eN, %n2 : index
      %b2base = arith.muli %en2, %halfK : index
      %n3off = arith.constant 24 : index
      %n3a = arith.addi %nb, %n3off : index
      %n3 = arith.addi %n3a, %g : index
      %en3 = arith.addi %eN, %n3 : index
      %b3base = arith.muli %en3, %halfK : index
      %acc:16 = scf.for %k0 = %c0 to %halfK step %c8 iter_args(%acc0 = %zero, %acc1 = %zero, %acc2 = %zero, %acc3 = %zero, %acc4 = %zero, %acc5 = %zero, %acc6 = %zero, %acc7 = %zero, %acc8 = %zero, %acc9 = %zero, %acc10 = %zero, %acc11 = %zero, %acc12 = %zero, %acc13 = %zero, %acc14 = %zero, %acc15 = %zero) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
        %col0 = arith.addi %k0, %t : index
        %col1 = arith.addi %col0, %c4 : index
        %ia0 = arith.addi %a0base, %col0 : index
        %ia1 = arith.addi %a1base, %col0 : index
        %ia2 = arith.addi %a0base, %col1 : index
        %ia3 = arith.addi %a1base, %col1 : index
        %a0 = memref.load %A[%ia0] : memref<?xi32>
        %a1 = memref.load %A[%ia1] : memref<?xi32>
        %a2 = memref.load %A[%ia2] : memref<?xi32>
        %a3 = memref.load %A[%ia3] : memref<?xi32>
        %ib00 = arith.addi %b0base, %col0 : index
        %ib01 = arith.addi %b0base, %col1 : index
        %b00 = memref.load %B[%ib00] : memref<?xi32>
        %b01 = memref.load %B[%ib01] : memref<?xi32>
        %d0 = nvvm.mma.sync A[%a0, %a1, %a2, %a3] B[%b00, %b01] C[%acc0, %acc1, %acc2, %acc3]
          {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
           multiplicandAPtxType = #nvvm.mma_type<bf16>,
           multiplicandBPtxType = #nvvm.mma_type<bf16>,
           shape = #nvvm.shape<m = 16, n = 8, k = 16>}
          : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
        %d0_0 = llvm.extractvalue %d0[0] : !llvm.struct<(f32, f32, f32, f32)>
        %d0_1 = llvm.extractvalue %d0[1] : !llvm.struct<(f32, f32, f32, f32)>
        %d0_2 = llvm.extractvalue %d0[2] : !llvm.struct<(f32, f32, f32, f32)>
        %d0_3 = llvm.extractvalue %d0[3] : !llvm.struct<(f32, f32, f32, f32)>
        %ib10 = arith.addi %b1base, %col0 : index
        %ib11 = arith.addi %b1base, %col1 : index
        %b10 = memref.load %B[%ib10] : memref<?xi32>
        %b11 = memref.load %B[%ib11] : memref<?xi32>
        %d1 = nvvm.mma.sync A[%a0, %a1, %a2, %a3] B[%b10, %b11] C[%acc4, %acc5, %acc6, %acc7]
          {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
           multiplicandAPtxType = #nvvm.mma_type<bf16>,
           multiplicandBPtxType = #nvvm.mma_type<bf16>,
           shape = #nvvm.shape<m = 16, n = 8, k = 16>}
          : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
        %d1_0 = llvm.extractvalue %d1[0] : !llvm.struct<(f32, f32, f32, f32)>
        %d1_1 = llvm.extractvalue %d1[1] : !llvm.struct<(f32, f32, f32, f32)>
        %d1_2 = llvm.extractvalue %d1[2] : !llvm.struct<(f32, f32, f32, f32)>
        %d1_3 = llvm.extractvalue %d1[3] : !llvm.struct<(f32, f32, f32, f32)>
        %ib20 = arith.addi %b2base, %col0 : index
        %ib21 = arith.addi %b2base, %col1 : index
        %b20 = memref.load %B[%ib20] : memref<?xi32>
        %b21 = memref.load %B[%ib21] : memref<?xi32>
        %d2 = nvvm.mma.sync A[%a0, %a1, %a2, %a3] B[%b20, %b21] C[%acc8, %acc9, %acc10, %acc11]
          {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
           multiplicandAPtxType = #nvvm.mma_type<bf16>,
           multiplicandBPtxType = #nvvm.mma_type<bf16>,
           shape = #nvvm.shape<m = 16, n = 8, k = 16>}
          : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
        %d2_0 = llvm.extractvalue %d2[0] : !llvm.struct<(f32, f32, f32, f32)>
        %d2_1 = llvm.extractvalue %d2[1] : !llvm.struct<(f32, f32, f32, f32)>
        %d2_2 = llvm.extractvalue %d2[2] : !llvm.struct<(f32, f32, f32, f32)>
        %d2_3 = llvm.extractvalue %d2[3] : !llvm.struct<(f32, f32, f32, f32)>
        %ib30 = arith.addi %b3base, %col0 : index
        %ib31 = arith.addi %b3base, %col1 : index
        %b30 = memref.load %B[%ib30] : memref<?xi32>
        %b31 = memref.load %B[%ib31] : memref<?xi32>
        %d3 = nvvm.mma.sync A[%a0, %a1, %a2, %a3] B[%b30, %b31] C[%acc12, %acc13, %acc14, %acc15]
          {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
           multiplicandAPtxType = #nvvm.mma_type<bf16>,
           multiplicandBPtxType = #nvvm.mma_type<bf16>,
           shape = #nvvm.shape<m = 16, n = 8, k = 16>}
          : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
        %d3_0 = llvm.extractvalue %d3[0] : !llvm.struct<(f32, f32, f32, f32)>
        %d3_1 = llvm.extractvalue %d3[1] : !llvm.struct<(f32, f32, f32, f32)>
        %d3_2 = llvm.extractvalue %d3[2] : !llvm.struct<(f32, f32, f32, f32)>
        %d3_3 = llvm.extractvalue %d3[3] : !llvm.struct<(f32, f32, f32, f32)>
        scf.yield %d0_0, %d0_1, %d0_2, %d0_3, %d1_0, %d1_1, %d1_2, %d1_3, %d2_0, %d2_1, %d2_2, %d2_3, %d3_0, %d3_1, %d3_2, %d3_3 : f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32
      }
      %cG = arith.muli %rowG, %N : index
      %cG8 = arith.muli %rowG8, %N : index
      %t2 = arith.muli %t, %c2 : index
      %oc0 = arith.addi %n0a, %t2 : index
      %oc0p = arith.addi %oc0, %c1 : index
      %o00 = arith.addi %cG, %oc0 : index
      %o01 = arith.addi %cG, %oc0p : index
      %o02 = arith.addi %cG8, %oc0 : index
      %o03 = arith.addi %cG8, %oc0p : index
      memref.store %acc#0, %C[%o00] : memref<?xf32>
      memref.store %acc#1, %C[%o01] : memref<?xf32>
      memref.store %acc#2, %C[%o02] : memref<?xf32>
      memref.store %acc#3, %C[%o03] : memref<?xf32>
      %oc1 = arith.addi %n1a, %t2 : index
      %oc1p = arith.addi %oc1, %c1 : index
      %o10 = arith.addi %cG, %oc1 : index
      %o11 = arith.addi %cG, %oc1p : index
      %o12 = arith.addi %cG8, %oc1 : index
      %o13 = arith.addi %cG8, %oc1p : index
      memref.store %acc#4, %C[%o10] : memref<?xf32>
      memref.store %acc#5, %C[%o11] : memref<?xf32>
      memref.store %acc#6, %C[%o12] : memref<?xf32>
      memref.store %acc#7, %C[%o13] : memref<?xf32>
      %oc2 = arith.addi %n2a, %t2 : index
      %oc2p = arith.addi %oc2, %c1 : index
      %o20 = arith.addi %cG, %oc2 : index
      %o21 = arith.addi %cG, %oc2p : index
      %o22 = arith.addi %cG8, %oc2 : index
      %o23 = arith.addi %cG8, %oc2p : index
      memref.store %acc#8, %C[%o20] : memref<?xf32>
      memref.store %acc#9, %C[%o21] : memref<?xf32>
      memref.store %acc#10, %C[%o22] : memref<?xf32>
      memref.store %acc#11, %C[%o23] : memref<?xf32>
      %oc3 = arith.addi %n3a, %t2 : index
      %oc3p = arith.addi %oc3, %c1 : index
      %o30 = arith.addi %cG, %oc3 : index
      %o31 = arith.addi %cG, %oc3p : index
      %o32 = arith.addi %cG8, %oc3 : index
      %o33 = arith.addi %cG8, %oc3p : index
      memref.store %acc#12, %C[%o30] : memref<?xf32>
      memref.store %acc#13, %C[%o31] : memref<?xf32>
      memref.store %acc#14, %C[%o32] : memref<?xf32>
      memref.store %acc#15, %C[%o33] : memref<?xf32>
    }
    gpu.return
  }
}
}
