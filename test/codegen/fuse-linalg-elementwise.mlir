// RUN: dsc-opt %s --split-input-file --dsc-fuse-linalg-elementwise | FileCheck %s

// A chain of elementwise generics (an add, then its rounding to bf16)
// becomes one; the rounding's reader, a library GEMM, keeps its form.
#id = affine_map<(d0, d1) -> (d0, d1)>
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @chain
// CHECK: %[[F:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<?x64xf32>) outs(%{{.*}} : tensor<?x64xbf16>)
// CHECK: arith.addf
// CHECK: arith.truncf
// CHECK: linalg.generic {{.*}} ins(%[[F]], %{{.*}} : tensor<?x64xbf16>, tensor<32x64xbf16>) {{.*}} attrs = {dsc.library_gemm}
// CHECK-NOT: linalg.generic
func.func @chain(%a: tensor<?x64xf32>, %b: tensor<?x64xf32>, %w: tensor<32x64xbf16>, %n: index) -> tensor<?x32xf32> {
  %e = tensor.empty(%n) : tensor<?x64xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%a, %b : tensor<?x64xf32>, tensor<?x64xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%x0: f32, %x1: f32, %o: f32):
    %s = arith.addf %x0, %x1 : f32
    linalg.yield %s : f32
  } -> tensor<?x64xf32>
  %eb = tensor.empty(%n) : tensor<?x64xbf16>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%sum : tensor<?x64xf32>) outs(%eb : tensor<?x64xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x64xbf16>
  %zero = arith.constant 0.0 : f32
  %ec = tensor.empty(%n) : tensor<?x32xf32>
  %c = linalg.fill ins(%zero : f32) outs(%ec : tensor<?x32xf32>) -> tensor<?x32xf32>
  %g = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%r, %w : tensor<?x64xbf16>, tensor<32x64xbf16>) outs(%c : tensor<?x32xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%x0: bf16, %w0: bf16, %acc: f32):
    %xf = arith.extf %x0 : bf16 to f32
    %wf = arith.extf %w0 : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  } -> tensor<?x32xf32>
  return %g : tensor<?x32xf32>
}

// -----

// A producer with two elementwise readers fuses into both and goes away.
#id = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @two_readers
// CHECK-COUNT-2: math.exp
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @two_readers(%a: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %x = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = math.exp %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = arith.addf %x0, %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %z = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = arith.mulf %x0, %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  return %y, %z : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Not fused: a reader that broadcasts a transcendental producer (it would
// compute each element again for every element it is broadcast to); a
// producer that a reduction also reads; a marked producer (the SwiGLU
// dsc-library-gemms fuses with its GEMMs).
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#r = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-7: linalg.generic
// CHECK-NOT: linalg.generic
func.func @kept(%a: tensor<4xf32>, %b: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4xf32>, tensor<4x8xf32>, tensor<4x8xbf16>) {
  %e1 = tensor.empty() : tensor<4xf32>
  %e2 = tensor.empty() : tensor<4x8xf32>
  %x = linalg.generic {indexing_maps = [#r, #r], iterator_types = ["parallel"]} ins(%a : tensor<4xf32>) outs(%e1 : tensor<4xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = math.exp %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4xf32>
  %bc = linalg.generic {indexing_maps = [#row, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4xf32>) outs(%e2 : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = arith.addf %x0, %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = math.exp %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%y : tensor<4x8xf32>) outs(%e1 : tensor<4xf32>) {
  ^bb0(%x0: f32, %acc: f32):
    %v = arith.addf %x0, %acc : f32
    linalg.yield %v : f32
  } -> tensor<4xf32>
  %z = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%y : tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = arith.mulf %x0, %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %eb = tensor.empty() : tensor<4x8xbf16>
  %act = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<4x8xf32>) outs(%eb : tensor<4x8xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%x0: f32, %o: bf16):
    %v = arith.truncf %x0 : f32 to bf16
    linalg.yield %v : bf16
  } -> tensor<4x8xbf16>
  %act2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%act : tensor<4x8xbf16>) outs(%eb : tensor<4x8xbf16>) {
  ^bb0(%x0: bf16, %o: bf16):
    %v = arith.addf %x0, %x0 : bf16
    linalg.yield %v : bf16
  } -> tensor<4x8xbf16>
  return %bc, %sum, %z, %act2 : tensor<4x8xf32>, tensor<4xf32>, tensor<4x8xf32>, tensor<4x8xbf16>
}

// -----

// A cheap producer that a reader broadcasts fuses into it: an add
// recomputed for every element it is broadcast to costs less than a
// kernel of its own.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#r = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @cheap_broadcast
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.*}}, %{{.*}} : tensor<4xi64>, tensor<4x8xf32>)
// CHECK: arith.addi
// CHECK: arith.sitofp
// CHECK-NOT: linalg.generic
func.func @cheap_broadcast(%p: tensor<4xi64>, %f: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e1 = tensor.empty() : tensor<4xi64>
  %e2 = tensor.empty() : tensor<4x8xf32>
  %q = linalg.generic {indexing_maps = [#r, #r], iterator_types = ["parallel"]} ins(%p : tensor<4xi64>) outs(%e1 : tensor<4xi64>) {
  ^bb0(%x0: i64, %o: i64):
    %v = arith.addi %x0, %x0 : i64
    linalg.yield %v : i64
  } -> tensor<4xi64>
  %y = linalg.generic {indexing_maps = [#row, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%q, %f : tensor<4xi64>, tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) {
  ^bb0(%x0: i64, %x1: f32, %o: f32):
    %v = arith.sitofp %x0 : i64 to f32
    %w = arith.mulf %v, %x1 : f32
    linalg.yield %w : f32
  } -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// Gathers: readers that tensor.extract a cheap elementwise producer's
// elements compute them in place. The element's indices are the
// producer's loop indices through its output map (here a transpose), its
// inputs are extracted at their maps' indices (a projection for %b), and
// its linalg.index is the matching loop index. Each of the producer's two
// results is read by its own reader; the producer goes away.
#id = affine_map<(d0, d1) -> (d0, d1)>
#t = affine_map<(d0, d1) -> (d1, d0)>
#col = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @gather
// CHECK-SAME: (%[[A:.*]]: tensor<4x8xf32>, %[[B:.*]]: tensor<8xf32>, %[[C:.*]]: tensor<4x8xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[C]] : tensor<4x8xf32>)
// CHECK: %[[I:.*]] = linalg.index 0
// CHECK: %[[J:.*]] = linalg.index 1
// CHECK: %[[R:.*]] = arith.subi %{{.*}}, %[[J]]
// CHECK: %[[AE:.*]] = tensor.extract %[[A]][%[[I]], %[[R]]]
// CHECK: %[[BE:.*]] = tensor.extract %[[B]][%[[R]]]
// CHECK: %[[II:.*]] = arith.index_cast %[[I]] : index to i32
// CHECK: %[[IF:.*]] = arith.sitofp %[[II]]
// CHECK: %[[P:.*]] = arith.mulf %[[AE]], %[[BE]]
// CHECK: %[[D:.*]] = arith.subf %[[P]], %[[IF]]
// CHECK: arith.addf %{{.*}}, %[[D]]
// CHECK: linalg.generic {{.*}} ins(%[[C]] : tensor<4x8xf32>)
// CHECK: %[[I2:.*]] = linalg.index 0
// CHECK: %[[J2:.*]] = linalg.index 1
// CHECK: %[[AE2:.*]] = tensor.extract %[[A]][%[[I2]], %[[J2]]]
// CHECK: %[[BE2:.*]] = tensor.extract %[[B]][%[[J2]]]
// CHECK: %[[P2:.*]] = arith.mulf %[[AE2]], %[[BE2]]
// CHECK: arith.addf %[[P2]], %{{.*}}
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @gather(%a: tensor<4x8xf32>, %b: tensor<8xf32>, %c: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %c7 = arith.constant 7 : index
  %e = tensor.empty() : tensor<8x4xf32>
  %p:2 = linalg.generic {indexing_maps = [#id, #col, #t, #t], iterator_types = ["parallel", "parallel"]} ins(%a, %b : tensor<4x8xf32>, tensor<8xf32>) outs(%e, %e : tensor<8x4xf32>, tensor<8x4xf32>) {
  ^bb0(%x0: f32, %x1: f32, %o0: f32, %o1: f32):
    %i = linalg.index 0 : index
    %ii = arith.index_cast %i : index to i32
    %if = arith.sitofp %ii : i32 to f32
    %v = arith.mulf %x0, %x1 : f32
    %s = arith.addf %v, %if : f32
    %d = arith.subf %v, %if : f32
    linalg.yield %s, %d : f32, f32
  } -> (tensor<8x4xf32>, tensor<8x4xf32>)
  %e2 = tensor.empty() : tensor<4x8xf32>
  // Reads the second result reversed along its rows.
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%c : tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %r = arith.subi %c7, %j : index
    %v = tensor.extract %p#1[%r, %i] : tensor<8x4xf32>
    %w = arith.addf %x0, %v : f32
    linalg.yield %w : f32
  } -> tensor<4x8xf32>
  %z = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%c : tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %v = tensor.extract %p#0[%j, %i] : tensor<8x4xf32>
    %w = arith.addf %v, %x0 : f32
    linalg.yield %w : f32
  } -> tensor<4x8xf32>
  return %y, %z : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Gathers kept: a producer with a transcendental (RoPE's cos/sin table,
// which its readers would compute again for every head); a producer that
// a reduction gathers from (it would run once per reduced element); a
// producer that an op other than a generic also reads.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @gather_kept
// CHECK-COUNT-6: linalg.generic
// CHECK-NOT: linalg.generic
func.func @gather_kept(%a: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %e1 = tensor.empty() : tensor<4xf32>
  %x = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = math.cos %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%e : tensor<4x8xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %v = tensor.extract %x[%i, %j] : tensor<4x8xf32>
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %s = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%e : tensor<4x8xf32>) {
  ^bb0(%o: f32):
    %v = arith.constant 1.0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%a : tensor<4x8xf32>) outs(%e1 : tensor<4xf32>) {
  ^bb0(%x0: f32, %acc: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %v = tensor.extract %s[%i, %j] : tensor<4x8xf32>
    %w = arith.addf %v, %acc : f32
    linalg.yield %w : f32
  } -> tensor<4xf32>
  %u = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = arith.negf %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %w = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%e : tensor<4x8xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %v = tensor.extract %u[%i, %j] : tensor<4x8xf32>
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  return %y, %sum, %w, %u : tensor<4x8xf32>, tensor<4xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// A collapse_shape between two elementwise generics (W_UV's product copied
// to [batch, tokens, heads, dv], then rounded to bf16 as [batch, tokens,
// heads * dv] for o_proj): the reader takes the producer's shape, the two
// fuse, and the collapse moves to the fused result.
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @through_collapse
// CHECK: %[[F:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x?x4x16xbf16>)
// CHECK: tensor.extract
// CHECK: arith.truncf
// CHECK: %[[C:.*]] = tensor.collapse_shape %[[F]] {{\[}}[0], [1], [2, 3]]
// CHECK-NOT: linalg.generic
// CHECK: return %[[C]]
func.func @through_collapse(%r: tensor<?x4x16xf32>, %b: index, %s: index) -> tensor<?x?x64xbf16> {
  %e = tensor.empty(%b, %s) : tensor<?x?x4x16xf32>
  %copy = linalg.generic {indexing_maps = [#id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} outs(%e : tensor<?x?x4x16xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %h = linalg.index 2 : index
    %d = linalg.index 3 : index
    %row0 = arith.muli %i, %s : index
    %row = arith.addi %row0, %j : index
    %v = tensor.extract %r[%row, %h, %d] : tensor<?x4x16xf32>
    linalg.yield %v : f32
  } -> tensor<?x?x4x16xf32>
  %flat = tensor.collapse_shape %copy [[0], [1], [2, 3]] : tensor<?x?x4x16xf32> into tensor<?x?x64xf32>
  %eb = tensor.empty(%b, %s) : tensor<?x?x64xbf16>
  %round = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%flat : tensor<?x?x64xf32>) outs(%eb : tensor<?x?x64xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x?x64xbf16>
  return %round : tensor<?x?x64xbf16>
}

// -----

// A collapse kept: the producer has another reader.
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @collapse_kept
// CHECK: linalg.generic
// CHECK: } -> tensor<2x3x4x16xf32>
// CHECK: tensor.collapse_shape
// CHECK: linalg.generic
// CHECK: } -> tensor<2x3x64xbf16>
func.func @collapse_kept(%a: tensor<2x3x4x16xf32>) -> (tensor<2x3x64xbf16>, tensor<2x3x4x16xf32>) {
  %e = tensor.empty() : tensor<2x3x4x16xf32>
  %n = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%a : tensor<2x3x4x16xf32>) outs(%e : tensor<2x3x4x16xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = arith.negf %x0 : f32
    linalg.yield %v : f32
  } -> tensor<2x3x4x16xf32>
  %flat = tensor.collapse_shape %n [[0], [1], [2, 3]] : tensor<2x3x4x16xf32> into tensor<2x3x64xf32>
  %eb = tensor.empty() : tensor<2x3x64xbf16>
  %round = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%flat : tensor<2x3x64xf32>) outs(%eb : tensor<2x3x64xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<2x3x64xbf16>
  return %round, %n : tensor<2x3x64xbf16>, tensor<2x3x4x16xf32>
}

// -----

// A fill with one reader moves to just before it (a reduction and the
// fill of its init become adjacent loops, which dsc-fuse-parallel-loops
// fuses).
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @sink_fill
// CHECK: math.exp
// CHECK: linalg.fill
// CHECK-NEXT: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
func.func @sink_fill(%a: tensor<4x8xf32>) -> (tensor<4xf32>, tensor<4x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4xf32>) -> tensor<4xf32>
  %e = tensor.empty() : tensor<4x8xf32>
  %x = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = math.exp %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%a : tensor<4x8xf32>) outs(%f : tensor<4xf32>) {
  ^bb0(%x0: f32, %acc: f32):
    %v = arith.addf %x0, %acc : f32
    linalg.yield %v : f32
  } -> tensor<4xf32>
  return %sum, %x : tensor<4xf32>, tensor<4x8xf32>
}

// -----

// Two fills of one reader (an argmax's value and index) stay together
// before it: neither moves past the other, and the pass settles.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @two_fills
// CHECK: linalg.fill
// CHECK-NEXT: linalg.fill
// CHECK-NEXT: linalg.generic
func.func @two_fills(%a: tensor<4x8xf32>) -> (tensor<4xf32>, tensor<4xi32>) {
  %lowest = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0 : i32
  %e1 = tensor.empty() : tensor<4xf32>
  %e2 = tensor.empty() : tensor<4xi32>
  %f1 = linalg.fill ins(%lowest : f32) outs(%e1 : tensor<4xf32>) -> tensor<4xf32>
  %f2 = linalg.fill ins(%zero : i32) outs(%e2 : tensor<4xi32>) -> tensor<4xi32>
  %r:2 = linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]} ins(%a : tensor<4x8xf32>) outs(%f1, %f2 : tensor<4xf32>, tensor<4xi32>) {
  ^bb0(%x0: f32, %m: f32, %k: i32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i32
    %gt = arith.cmpf ogt, %x0, %m : f32
    %nm = arith.select %gt, %x0, %m : f32
    %nk = arith.select %gt, %ji, %k : i32
    linalg.yield %nm, %nk : f32, i32
  } -> (tensor<4xf32>, tensor<4xi32>)
  return %r#0, %r#1 : tensor<4xf32>, tensor<4xi32>
}

// -----

// The rounding to bf16 of a library RMSNorm's normed rows, their only
// reader, folds into the norm: it stores them as bf16. The add's sum keeps
// its readers.
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @norm_rounding
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x64xf32>, %[[R:.*]]: tensor<?x?x64xf32>, %[[W:.*]]: tensor<64xf32>,
// CHECK: %[[E:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x64xbf16>
// CHECK: %[[Y:.*]] = dsc.rms_norm_rows %[[X]], %[[W]] outs(%[[E]]) {{.*}} -> tensor<?x?x64xbf16>
// CHECK: %[[E2:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x64xbf16>
// CHECK: %[[HY:.*]]:2 = dsc.add_rms_norm_rows %[[X]], %[[R]], %[[W]] outs(%{{.*}}, %[[E2]]) {{.*}} -> tensor<?x?x64xf32>, tensor<?x?x64xbf16>
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]], %[[HY]]#0, %[[HY]]#1
func.func @norm_rounding(%x: tensor<?x?x64xf32>, %r: tensor<?x?x64xf32>, %w: tensor<64xf32>, %b: index, %s: index) -> (tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xbf16>) {
  %e = tensor.empty(%b, %s) : tensor<?x?x64xf32>
  %y = dsc.rms_norm_rows %x, %w outs(%e) {epsilon = 1.0e-06 : f64} : tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %eb = tensor.empty(%b, %s) : tensor<?x?x64xbf16>
  %yb = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%y : tensor<?x?x64xf32>) outs(%eb : tensor<?x?x64xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x?x64xbf16>
  %h, %n = dsc.add_rms_norm_rows %x, %r, %w outs(%e, %e) {epsilon = 1.0e-06 : f64} : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %nb = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%n : tensor<?x?x64xf32>) outs(%eb : tensor<?x?x64xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x?x64xbf16>
  return %yb, %h, %nb : tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xbf16>
}

// -----

// Kept: normed rows that another op also reads (the router's f32 logits),
// and the add's sum (not its normed rows) rounded.
#id2 = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @norm_kept
// CHECK: dsc.rms_norm_rows {{.*}} -> tensor<?x64xf32>
// CHECK: arith.truncf
// CHECK: dsc.add_rms_norm_rows {{.*}} -> tensor<?x64xf32>, tensor<?x64xf32>
// CHECK: arith.truncf
func.func @norm_kept(%x: tensor<?x64xf32>, %w: tensor<64xf32>, %n: index) -> (tensor<?x64xbf16>, tensor<?x64xf32>, tensor<?x64xbf16>, tensor<?x64xf32>) {
  %e = tensor.empty(%n) : tensor<?x64xf32>
  %y = dsc.rms_norm_rows %x, %w outs(%e) {epsilon = 1.0e-06 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32> -> tensor<?x64xf32>
  %eb = tensor.empty(%n) : tensor<?x64xbf16>
  %yb = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%y : tensor<?x64xf32>) outs(%eb : tensor<?x64xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x64xbf16>
  %h, %m = dsc.add_rms_norm_rows %x, %x, %w outs(%e, %e) {epsilon = 1.0e-06 : f64} : tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32>, tensor<?x64xf32> -> tensor<?x64xf32>, tensor<?x64xf32>
  %hb = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%h : tensor<?x64xf32>) outs(%eb : tensor<?x64xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x64xbf16>
  return %yb, %y, %hb, %m : tensor<?x64xbf16>, tensor<?x64xf32>, tensor<?x64xbf16>, tensor<?x64xf32>
}
