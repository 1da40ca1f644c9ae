// Mixture-of-experts dispatch around the grouped GEMMs
// (grouped_gemm_bf16.mlir), for T tokens routed to top_k of E experts
// (slot s = t * top_k + j is token t's j-th expert):
//
//   moe_align    slots -> expert-sorted rows, each expert's rows padded to
//                the GEMM's M tile: offsets [E + 1], the row of each slot,
//                the slot of each row (-1 for padding rows, set by the
//                caller beforehand). One block of 1024 threads; E <= 1024.
//   moe_tiles    the M tiles of a grouped GEMM over unpadded expert rows:
//                tile t is [expert, first row] (tiles[2t], tiles[2t + 1]),
//                each expert's rows cut into tileRows-row tiles, in expert
//                order; [-1, -1] past the last tile. A GEMM launched over
//                maxTiles tiles runs only real ones (a grid of every
//                expert times the most rows one could hold would launch
//                mostly empty blocks). One block of 1024 threads; E <= 1024.
//   moe_gather   A[row] = x[token of row's slot] (bf16, zero for padding).
//   moe_combine  out[t] = sum_j weight[s] * D[row of s], s = t * top_k + j:
//                the experts' outputs (f32) back per token, scaled by the
//                routing weights, rounded once to bf16.
//
// Within an expert the rows are in the order the slots won their atomic
// increment: any order is correct, and the combine undoes it.
module attributes {gpu.container_module} {
gpu.module @dsc_moe_dispatch {
  gpu.func @moe_align(%ids: memref<?xi32>, %slots: index, %experts: index,
                      %blockRows: index, %offsets: memref<?xi32>,
                      %slotRow: memref<?xi32>, %rowSlot: memref<?xi32>)
      workgroup(%count: memref<1024xi32, #gpu.address_space<workgroup>>,
                %base: memref<1025xi32, #gpu.address_space<workgroup>>)
      kernel attributes {known_block_size = array<i32: 1024, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c1024 = arith.constant 1024 : index
    %zero = arith.constant 0 : i32
    %one = arith.constant 1 : i32
    %tid = gpu.thread_id x
    scf.for %e = %tid to %experts step %c1024 {
      memref.store %zero, %count[%e] : memref<1024xi32, #gpu.address_space<workgroup>>
    }
    gpu.barrier
    // Each slot's rank within its expert.
    scf.for %s = %tid to %slots step %c1024 {
      %e32 = memref.load %ids[%s] : memref<?xi32>
      %e = arith.index_cast %e32 : i32 to index
      %rank = memref.atomic_rmw addi %one, %count[%e] : (i32, memref<1024xi32, #gpu.address_space<workgroup>>) -> i32
      memref.store %rank, %slotRow[%s] : memref<?xi32>
    }
    gpu.barrier
    // Expert e's first row: the padded counts before it (one thread; E is
    // at most 1024).
    %leader = arith.cmpi eq, %tid, %c0 : index
    scf.if %leader {
      %bm = arith.index_cast %blockRows : index to i32
      %bm1 = arith.subi %bm, %one : i32
      %total = scf.for %e = %c0 to %experts step %c1 iter_args(%at = %zero) -> (i32) {
        memref.store %at, %base[%e] : memref<1025xi32, #gpu.address_space<workgroup>>
        memref.store %at, %offsets[%e] : memref<?xi32>
        %n = memref.load %count[%e] : memref<1024xi32, #gpu.address_space<workgroup>>
        %up = arith.addi %n, %bm1 : i32
        %blocks = arith.divui %up, %bm : i32
        %padded = arith.muli %blocks, %bm : i32
        %next = arith.addi %at, %padded : i32
        scf.yield %next : i32
      }
      memref.store %total, %offsets[%experts] : memref<?xi32>
    }
    gpu.barrier
    scf.for %s = %tid to %slots step %c1024 {
      %e32 = memref.load %ids[%s] : memref<?xi32>
      %e = arith.index_cast %e32 : i32 to index
      %first = memref.load %base[%e] : memref<1025xi32, #gpu.address_space<workgroup>>
      %rank = memref.load %slotRow[%s] : memref<?xi32>
      %row32 = arith.addi %first, %rank : i32
      memref.store %row32, %slotRow[%s] : memref<?xi32>
      %row = arith.index_cast %row32 : i32 to index
      %s32 = arith.index_cast %s : index to i32
      memref.store %s32, %rowSlot[%row] : memref<?xi32>
    }
    gpu.return
  }

  // offsets [E + 1] from moe_align; tiles [2 * maxTiles], maxTiles at
  // least the tiles there are (slots / tileRows + E bounds them).
  gpu.func @moe_tiles(%offsets: memref<?xi32>, %experts: index,
                      %tileRows: index, %maxTiles: index,
                      %tiles: memref<?xi32>)
      workgroup(%first: memref<1025xi32, #gpu.address_space<workgroup>>)
      kernel attributes {known_block_size = array<i32: 1024, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c1024 = arith.constant 1024 : index
    %zero = arith.constant 0 : i32
    %one = arith.constant 1 : i32
    %none = arith.constant -1 : i32
    %tid = gpu.thread_id x
    // Expert e's first tile: the tiles of the experts before it (one
    // thread; E is at most 1024).
    %leader = arith.cmpi eq, %tid, %c0 : index
    scf.if %leader {
      %bm = arith.index_cast %tileRows : index to i32
      %bm1 = arith.subi %bm, %one : i32
      %total = scf.for %e = %c0 to %experts step %c1 iter_args(%at = %zero) -> (i32) {
        memref.store %at, %first[%e] : memref<1025xi32, #gpu.address_space<workgroup>>
        %e1 = arith.addi %e, %c1 : index
        %lo = memref.load %offsets[%e] : memref<?xi32>
        %hi = memref.load %offsets[%e1] : memref<?xi32>
        %n = arith.subi %hi, %lo : i32
        %up = arith.addi %n, %bm1 : i32
        %count = arith.divui %up, %bm : i32
        %next = arith.addi %at, %count : i32
        scf.yield %next : i32
      }
      memref.store %total, %first[%experts] : memref<1025xi32, #gpu.address_space<workgroup>>
    }
    gpu.barrier
    // Each expert's tiles, by the thread of the expert.
    %bmIdx = arith.index_cast %tileRows : index to i32
    scf.for %e = %tid to %experts step %c1024 {
      %e1 = arith.addi %e, %c1 : index
      %t0 = memref.load %first[%e] : memref<1025xi32, #gpu.address_space<workgroup>>
      %t1 = memref.load %first[%e1] : memref<1025xi32, #gpu.address_space<workgroup>>
      %lo = memref.load %offsets[%e] : memref<?xi32>
      %e32 = arith.index_cast %e : index to i32
      %from = arith.index_cast %t0 : i32 to index
      %to = arith.index_cast %t1 : i32 to index
      scf.for %t = %from to %to step %c1 {
        %k = arith.subi %t, %from : index
        %k32 = arith.index_cast %k : index to i32
        %skip = arith.muli %k32, %bmIdx : i32
        %row = arith.addi %lo, %skip : i32
        %at = arith.muli %t, %c2 : index
        %at1 = arith.addi %at, %c1 : index
        memref.store %e32, %tiles[%at] : memref<?xi32>
        memref.store %row, %tiles[%at1] : memref<?xi32>
      }
    }
    // The rest: no tile.
    %total32 = memref.load %first[%experts] : memref<1025xi32, #gpu.address_space<workgroup>>
    %total = arith.index_cast %total32 : i32 to index
    %rest = arith.addi %total, %tid : index
    scf.for %t = %rest to %maxTiles step %c1024 {
      %at = arith.muli %t, %c2 : index
      %at1 = arith.addi %at, %c1 : index
      memref.store %none, %tiles[%at] : memref<?xi32>
      memref.store %none, %tiles[%at1] : memref<?xi32>
    }
    gpu.return
  }

  // One block of 256 threads per row, 4 elements per thread and step;
  // hidden % 1024 == 0.
  gpu.func @moe_gather(%x: memref<?xbf16>, %rowSlot: memref<?xi32>,
                       %topK: index, %hidden: index, %A: memref<?xbf16>)
      kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %c1024 = arith.constant 1024 : index
    %zero32 = arith.constant 0 : i32
    %zeros = arith.constant dense<0.0> : vector<4xbf16>
    %row = gpu.block_id x
    %tid = gpu.thread_id x
    %first = arith.muli %tid, %c4 : index
    %dst = arith.muli %row, %hidden : index
    %slot32 = memref.load %rowSlot[%row] : memref<?xi32>
    %real = arith.cmpi sge, %slot32, %zero32 : i32
    scf.if %real {
      %slot = arith.index_cast %slot32 : i32 to index
      %token = arith.divui %slot, %topK : index
      %src = arith.muli %token, %hidden : index
      scf.for %i = %first to %hidden step %c1024 {
        %from = arith.addi %src, %i : index
        %to = arith.addi %dst, %i : index
        %v = vector.load %x[%from] {alignment = 8 : i64} : memref<?xbf16>, vector<4xbf16>
        vector.store %v, %A[%to] {alignment = 8 : i64} : memref<?xbf16>, vector<4xbf16>
      }
    } else {
      scf.for %i = %first to %hidden step %c1024 {
        %to = arith.addi %dst, %i : index
        vector.store %zeros, %A[%to] {alignment = 8 : i64} : memref<?xbf16>, vector<4xbf16>
      }
    }
    gpu.return
  }

  // One block of 256 threads per token; hidden % 1024 == 0.
  gpu.func @moe_combine(%D: memref<?xf32>, %slotRow: memref<?xi32>,
                        %weights: memref<?xf32>, %topK: index,
                        %hidden: index, %out: memref<?xbf16>)
      kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %c1024 = arith.constant 1024 : index
    %zeros = arith.constant dense<0.0> : vector<4xf32>
    %t = gpu.block_id x
    %tid = gpu.thread_id x
    %first = arith.muli %tid, %c4 : index
    %slot0 = arith.muli %t, %topK : index
    %dst = arith.muli %t, %hidden : index
    scf.for %i = %first to %hidden step %c1024 {
      %sum = scf.for %j = %c0 to %topK step %c1 iter_args(%acc = %zeros) -> (vector<4xf32>) {
        %s = arith.addi %slot0, %j : index
        %row32 = memref.load %slotRow[%s] : memref<?xi32>
        %row = arith.index_cast %row32 : i32 to index
        %w = memref.load %weights[%s] : memref<?xf32>
        %wv = vector.broadcast %w : f32 to vector<4xf32>
        %at0 = arith.muli %row, %hidden : index
        %at = arith.addi %at0, %i : index
        %d = vector.load %D[%at] {alignment = 16 : i64} : memref<?xf32>, vector<4xf32>
        %next = vector.fma %wv, %d, %acc : vector<4xf32>
        scf.yield %next : vector<4xf32>
      }
      %b = arith.truncf %sum : vector<4xf32> to vector<4xbf16>
      %to = arith.addi %dst, %i : index
      vector.store %b, %out[%to] {alignment = 8 : i64} : memref<?xbf16>, vector<4xbf16>
    }
    gpu.return
  }
}
}
