// FP8 activation quantization, as DeepSeek's act_quant does it for its FP8
// GEMMs: every 128 consecutive values of a row (K % 128 == 0) share one
// scale, s = amax / 448 (448: e4m3's largest finite value), and each value
// x becomes e4m3(x / s), rounded to nearest even, saturating. The FP8
// grouped GEMM (grouped_gemm_fp8.mlir) reads q as its A and s as its sa.
//
// x [rows, K] bf16, seen as groups of 128 values: group g is x[128 g ..];
// q [rows, K] e4m3, four to a 32-bit word (the first in the lowest byte);
// scales [rows, K / 128] f32, scale g for group g. An all-zero group gets
// the smallest positive scale and zeros (DeepSeek's kernel divides 0 by 0
// there).
//
// One warp per group, 4 values a lane (8-byte loads); the group's amax by
// a shuffle butterfly. The conversion is PTX's cvt.rn.satfinite.e4m3x2.f32
// (inline: arith.truncf to f8E4M3FN has no NVVM lowering; PTX ISA 7.8,
// sm_89 and newer). Grid (ceil(groups / 8)), 256 threads.
module attributes {gpu.container_module} {
gpu.module @dsc_quant_fp8 attributes {dsc.chips = ["sm_90a"], dsc.ptx = 84 : i32} {
  gpu.func @quant_fp8_bf16(%x: memref<?xbf16>, %q: memref<?xi32>,
                           %scales: memref<?xf32>, %groups: index)
      kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %c8 = arith.constant 8 : index
    %c32 = arith.constant 32 : index
    %c128 = arith.constant 128 : index
    %width = arith.constant 32 : i32
    %max = arith.constant 448.0 : f32
    %smallest = arith.constant 1.0e-30 : f32
    %tid = gpu.thread_id x
    %bid = gpu.block_id x
    %lane = arith.remui %tid, %c32 : index
    %warp = arith.divui %tid, %c32 : index
    %g0 = arith.muli %bid, %c8 : index
    %g = arith.addi %g0, %warp : index
    %live = arith.cmpi ult, %g, %groups : index
    scf.if %live {
      %base = arith.muli %g, %c128 : index
      %lane4 = arith.muli %lane, %c4 : index
      %at = arith.addi %base, %lane4 : index
      %v = vector.load %x[%at] {alignment = 8 : i64} : memref<?xbf16>, vector<4xbf16>
      %f = arith.extf %v : vector<4xbf16> to vector<4xf32>
      %abs = math.absf %f : vector<4xf32>
      %m0 = vector.reduction <maximumf>, %abs : vector<4xf32> into f32
      %o16 = arith.constant 16 : i32
      %o8 = arith.constant 8 : i32
      %o4 = arith.constant 4 : i32
      %o2 = arith.constant 2 : i32
      %o1 = arith.constant 1 : i32
      %s16, %v16 = gpu.shuffle xor %m0, %o16, %width : f32
      %m16 = arith.maximumf %m0, %s16 : f32
      %s8, %v8 = gpu.shuffle xor %m16, %o8, %width : f32
      %m8 = arith.maximumf %m16, %s8 : f32
      %s4, %v4 = gpu.shuffle xor %m8, %o4, %width : f32
      %m4 = arith.maximumf %m8, %s4 : f32
      %s2, %v2 = gpu.shuffle xor %m4, %o2, %width : f32
      %m2 = arith.maximumf %m4, %s2 : f32
      %s1, %v1 = gpu.shuffle xor %m2, %o1, %width : f32
      %amax = arith.maximumf %m2, %s1 : f32
      %amaxSafe = arith.maximumf %amax, %smallest : f32
      %scale = arith.divf %amaxSafe, %max : f32
      %first = arith.cmpi eq, %lane, %c0 : index
      scf.if %first {
        memref.store %scale, %scales[%g] : memref<?xf32>
      }
      %y = vector.broadcast %scale : f32 to vector<4xf32>
      %q4 = arith.divf %f, %y : vector<4xf32>
      %y0 = vector.extract %q4[0] : f32 from vector<4xf32>
      %y1 = vector.extract %q4[1] : f32 from vector<4xf32>
      %y2 = vector.extract %q4[2] : f32 from vector<4xf32>
      %y3 = vector.extract %q4[3] : f32 from vector<4xf32>
      // cvt's first source goes to the upper byte.
      %lo = llvm.inline_asm "cvt.rn.satfinite.e4m3x2.f32 $0, $1, $2;", "=h,f,f" %y1, %y0 : (f32, f32) -> i16
      %hi = llvm.inline_asm "cvt.rn.satfinite.e4m3x2.f32 $0, $1, $2;", "=h,f,f" %y3, %y2 : (f32, f32) -> i16
      %lo32 = arith.extui %lo : i16 to i32
      %hi32 = arith.extui %hi : i16 to i32
      %sh = arith.constant 16 : i32
      %hiUp = arith.shli %hi32, %sh : i32
      %word = arith.ori %lo32, %hiUp : i32
      %wordsPerGroup = arith.constant 32 : index
      %w0 = arith.muli %g, %wordsPerGroup : index
      %w = arith.addi %w0, %lane : index
      memref.store %word, %q[%w] : memref<?xi32>
    }
    gpu.return
  }
}
}
