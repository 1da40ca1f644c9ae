// Rotary position embedding with YaRN, in place on bf16 rows: the rope
// slice (64 values, 32 pairs) of every head of a token rotated by the
// token's position,
//
//   (a, b) -> (a cos - b sin, a sin + b cos) * factor,  angle = pos * freqs[i]
//
// as DeepSeek's apply_rotary_emb computes it: the pair in f32, rounded to
// bf16 once. freqs [32] f32 are the YaRN-corrected inverse frequencies the
// compiler computes from the config (DEEPSEEK.md), factor YaRN's attention
// factor on cos and sin (1 for V3). Pairs are adjacent values (2i, 2i + 1)
// when interleaved != 0 (DeepSeek's layout, rope_interleave), else the
// halves (i, i + 32) (transformers' rotate_half).
//
// x [tokens, ...] bf16: head h of token t has its rope slice at
// t * tokenStride + h * headStride + offset (q: heads 128, headStride 192,
// offset 128; k_pe: heads 1, offset 512 in kv_a's output). positions
// [tokens] i32. Grid (tokens), 256 threads: the first 32 compute the
// token's cos and sin once, then every thread rotates pairs.
module attributes {gpu.container_module} {
gpu.module @dsc_rope {
  gpu.func @rope_bf16(%x: memref<?xbf16>, %positions: memref<?xi32>,
                      %freqs: memref<?xf32>, %heads: index,
                      %tokenStride: index, %headStride: index,
                      %offset: index, %interleaved: index, %factor: f32)
      workgroup(%table: memref<2x32xf32, #gpu.address_space<workgroup>>)
      kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c32 = arith.constant 32 : index
    %c256 = arith.constant 256 : index
    %t = gpu.block_id x
    %tid = gpu.thread_id x
    %pos32 = memref.load %positions[%t] : memref<?xi32>
    %pos = arith.sitofp %pos32 : i32 to f32
    %computes = arith.cmpi ult, %tid, %c32 : index
    scf.if %computes {
      %f = memref.load %freqs[%tid] : memref<?xf32>
      %angle = arith.mulf %pos, %f : f32
      %cos = math.cos %angle : f32
      %sin = math.sin %angle : f32
      %cosF = arith.mulf %cos, %factor : f32
      %sinF = arith.mulf %sin, %factor : f32
      memref.store %cosF, %table[%c0, %tid] : memref<2x32xf32, #gpu.address_space<workgroup>>
      memref.store %sinF, %table[%c1, %tid] : memref<2x32xf32, #gpu.address_space<workgroup>>
    }
    gpu.barrier
    %inter = arith.cmpi ne, %interleaved, %c0 : index
    %row = arith.muli %t, %tokenStride : index
    %rowOff = arith.addi %row, %offset : index
    %pairs = arith.muli %heads, %c32 : index
    scf.for %p = %tid to %pairs step %c256 {
      %h = arith.divui %p, %c32 : index
      %i = arith.remui %p, %c32 : index
      %cos = memref.load %table[%c0, %i] : memref<2x32xf32, #gpu.address_space<workgroup>>
      %sin = memref.load %table[%c1, %i] : memref<2x32xf32, #gpu.address_space<workgroup>>
      %hOff = arith.muli %h, %headStride : index
      %base = arith.addi %rowOff, %hOff : index
      %i2 = arith.muli %i, %c2 : index
      %i2p = arith.addi %i2, %c1 : index
      %i32 = arith.addi %i, %c32 : index
      %ia = arith.select %inter, %i2, %i : index
      %ib = arith.select %inter, %i2p, %i32 : index
      %atA = arith.addi %base, %ia : index
      %atB = arith.addi %base, %ib : index
      %aB = memref.load %x[%atA] : memref<?xbf16>
      %bB = memref.load %x[%atB] : memref<?xbf16>
      %a = arith.extf %aB : bf16 to f32
      %b = arith.extf %bB : bf16 to f32
      %ac = arith.mulf %a, %cos : f32
      %bs = arith.mulf %b, %sin : f32
      %as = arith.mulf %a, %sin : f32
      %bc = arith.mulf %b, %cos : f32
      %ra = arith.subf %ac, %bs : f32
      %rb = arith.addf %as, %bc : f32
      %raB = arith.truncf %ra : f32 to bf16
      %rbB = arith.truncf %rb : f32 to bf16
      memref.store %raB, %x[%atA] : memref<?xbf16>
      memref.store %rbB, %x[%atB] : memref<?xbf16>
    }
    gpu.return
  }
}
}
