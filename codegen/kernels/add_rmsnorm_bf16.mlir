// Fused residual add + RMSNorm, the step before each attention and MLP
// block of a DeepSeek layer (and the model's final norm):
//
//   h[r] = x[r] + res[r]                        (the residual stream, stored)
//   y[r] = w * bf16(h[r] * rsqrt(mean(h[r]^2) + eps))
//
// as transformers' DeepseekV3RMSNorm computes it: statistics in f32 over the
// bf16 residual, the normalized row rounded to bf16 before the weight. All
// tensors bf16: x, res, h, y [rows, hidden], w [hidden]. One block of 256
// threads per row, 4 contiguous elements per thread and step (8-byte
// loads, 1024 values a step; the last step partial); hidden % 4 == 0 (V3's
// 7168, and q_a's 1536 and kv_a's 512 for the norms with no residual: pass
// zeros). The second pass re-reads h, which this thread
// wrote and L2 still holds.
module attributes {gpu.container_module} {
gpu.module @dsc_add_rmsnorm {
  gpu.func @add_rmsnorm_bf16(%x: memref<?xbf16>, %res: memref<?xbf16>,
                             %w: memref<?xbf16>, %h: memref<?xbf16>,
                             %y: memref<?xbf16>, %hidden: index, %eps: f32)
      workgroup(%partial: memref<8xf32, #gpu.address_space<workgroup>>)
      kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %c8 = arith.constant 8 : index
    %c32 = arith.constant 32 : index
    %c1024 = arith.constant 1024 : index
    %zero = arith.constant 0.0 : f32
    %width = arith.constant 32 : i32
    %row = gpu.block_id x
    %tid = gpu.thread_id x
    %base = arith.muli %row, %hidden : index
    %first = arith.muli %tid, %c4 : index
    // Pass 1: h = x + res, and the sum of squares of this thread's part.
    %sumsq = scf.for %i = %first to %hidden step %c1024 iter_args(%acc = %zero) -> (f32) {
      %at = arith.addi %base, %i : index
      %xv = vector.load %x[%at] {alignment = 8 : i64} : memref<?xbf16>, vector<4xbf16>
      %rv = vector.load %res[%at] {alignment = 8 : i64} : memref<?xbf16>, vector<4xbf16>
      %xf = arith.extf %xv : vector<4xbf16> to vector<4xf32>
      %rf = arith.extf %rv : vector<4xbf16> to vector<4xf32>
      %sum = arith.addf %xf, %rf : vector<4xf32>
      %hb = arith.truncf %sum : vector<4xf32> to vector<4xbf16>
      vector.store %hb, %h[%at] {alignment = 8 : i64} : memref<?xbf16>, vector<4xbf16>
      %hf = arith.extf %hb : vector<4xbf16> to vector<4xf32>
      %sq = arith.mulf %hf, %hf : vector<4xf32>
      %part = vector.reduction <add>, %sq : vector<4xf32> into f32
      %next = arith.addf %acc, %part : f32
      scf.yield %next : f32
    }
    // The row's sum: butterfly within each warp, then across the 8 warps.
    %o16 = arith.constant 16 : i32
    %o8 = arith.constant 8 : i32
    %o4 = arith.constant 4 : i32
    %o2 = arith.constant 2 : i32
    %o1 = arith.constant 1 : i32
    %s16, %v16 = gpu.shuffle xor %sumsq, %o16, %width : f32
    %a16 = arith.addf %sumsq, %s16 : f32
    %s8, %v8 = gpu.shuffle xor %a16, %o8, %width : f32
    %a8 = arith.addf %a16, %s8 : f32
    %s4, %v4 = gpu.shuffle xor %a8, %o4, %width : f32
    %a4 = arith.addf %a8, %s4 : f32
    %s2, %v2 = gpu.shuffle xor %a4, %o2, %width : f32
    %a2 = arith.addf %a4, %s2 : f32
    %s1, %v1 = gpu.shuffle xor %a2, %o1, %width : f32
    %warpSum = arith.addf %a2, %s1 : f32
    %lane = arith.remui %tid, %c32 : index
    %warp = arith.divui %tid, %c32 : index
    %isFirst = arith.cmpi eq, %lane, %c0 : index
    scf.if %isFirst {
      memref.store %warpSum, %partial[%warp] : memref<8xf32, #gpu.address_space<workgroup>>
    }
    gpu.barrier
    %total = scf.for %j = %c0 to %c8 step %c1 iter_args(%t = %zero) -> (f32) {
      %p = memref.load %partial[%j] : memref<8xf32, #gpu.address_space<workgroup>>
      %u = arith.addf %t, %p : f32
      scf.yield %u : f32
    }
    %hiddenI = arith.index_cast %hidden : index to i64
    %hiddenF = arith.sitofp %hiddenI : i64 to f32
    %mean = arith.divf %total, %hiddenF : f32
    %var = arith.addf %mean, %eps : f32
    %inv = math.rsqrt %var : f32
    %invV = vector.broadcast %inv : f32 to vector<4xf32>
    // Pass 2: y = w * bf16(h * inv).
    scf.for %i = %first to %hidden step %c1024 {
      %at = arith.addi %base, %i : index
      %hv = vector.load %h[%at] {alignment = 8 : i64} : memref<?xbf16>, vector<4xbf16>
      %wv = vector.load %w[%i] {alignment = 8 : i64} : memref<?xbf16>, vector<4xbf16>
      %hf = arith.extf %hv : vector<4xbf16> to vector<4xf32>
      %n = arith.mulf %hf, %invV : vector<4xf32>
      %nb = arith.truncf %n : vector<4xf32> to vector<4xbf16>
      %nf = arith.extf %nb : vector<4xbf16> to vector<4xf32>
      %wf = arith.extf %wv : vector<4xbf16> to vector<4xf32>
      %yf = arith.mulf %nf, %wf : vector<4xf32>
      %yb = arith.truncf %yf : vector<4xf32> to vector<4xbf16>
      vector.store %yb, %y[%at] {alignment = 8 : i64} : memref<?xbf16>, vector<4xbf16>
    }
    gpu.return
  }
}
}
