// REQUIRES: mlir-runner, x86-64-v4-bf16
// RUN: dsc-opt %s --dsc-vectorize-contractions="lanes=16 tile-n=4 bf16-dot block-k=64" \
// RUN:   --dsc-expand-bf16 \
// RUN: | mlir-opt --expand-strided-metadata --lower-affine --convert-scf-to-cf \
// RUN:   --convert-vector-to-llvm=enable-x86vector \
// RUN:   --finalize-memref-to-llvm --convert-arith-to-llvm --convert-cf-to-llvm \
// RUN:   --convert-func-to-llvm --reconcile-unrealized-casts \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_c_runner_utils | FileCheck %s

// The bf16 dot form run on the CPU (vdpbf16ps) against a scalar loop:
// small integers, so that every product and sum is exact and any order
// gives the same bits; a wrong pairing of k, a lane past the mask or a
// tile's edge shows as a wrong value. 7 rows (a 4-row tile, a pair, a
// single row), 37 columns (the 16-column rows' and the 4-column tiles'
// edges), k = 200 (blocks of 64, the last of 8 masked), C added to. Each
// row of A and W is a view of a wider buffer whose 8 values past k are
// NaN: the masked loads must not read them into a sum.

// CHECK: mismatches
// CHECK-NEXT: 0
// CHECK-NEXT: checksum
// CHECK-NEXT: 20889840
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
func.func @linear(%x: memref<?x200xbf16, strided<[208, 1]>>,
                  %w: memref<37x200xbf16, strided<[208, 1]>>,
                  %y: memref<?x37xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x200xbf16, strided<[208, 1]>>, memref<37x200xbf16, strided<[208, 1]>>)
      outs(%y : memref<?x37xf32>) {
  ^bb0(%a: bf16, %b: bf16, %c: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %c, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// (i * a + k * b) mod 9 - 4 as bf16, for k < 200; NaN past it.
func.func @fill(%buf: memref<?x208xbf16>, %a: index, %b: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c9 = arith.constant 9 : index
  %c200 = arith.constant 200 : index
  %c208 = arith.constant 208 : index
  %four = arith.constant 4.0 : f32
  %nan = arith.constant 0x7FC0 : bf16
  %rows = memref.dim %buf, %c0 : memref<?x208xbf16>
  scf.for %i = %c0 to %rows step %c1 {
    scf.for %k = %c0 to %c208 step %c1 {
      %ia = arith.muli %i, %a : index
      %kb = arith.muli %k, %b : index
      %s = arith.addi %ia, %kb : index
      %r = arith.remui %s, %c9 : index
      %ri = arith.index_cast %r : index to i32
      %rf = arith.sitofp %ri : i32 to f32
      %v = arith.subf %rf, %four : f32
      %vb = arith.truncf %v : f32 to bf16
      %past = arith.cmpi uge, %k, %c200 : index
      %e = arith.select %past, %nan, %vb : bf16
      memref.store %e, %buf[%i, %k] : memref<?x208xbf16>
    }
  }
  return
}

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c5 = arith.constant 5 : index
  %c7 = arith.constant 7 : index
  %c37 = arith.constant 37 : index
  %c200 = arith.constant 200 : index
  %zero = arith.constant 0.0 : f32
  %xs = memref.alloc(%c7) : memref<?x208xbf16>
  %ws = memref.alloc(%c37) : memref<?x208xbf16>
  call @fill(%xs, %c2, %c3) : (memref<?x208xbf16>, index, index) -> ()
  call @fill(%ws, %c5, %c7) : (memref<?x208xbf16>, index, index) -> ()
  %x = memref.subview %xs[0, 0] [%c7, 200] [1, 1]
      : memref<?x208xbf16> to memref<?x200xbf16, strided<[208, 1]>>
  %wv = memref.subview %ws[0, 0] [37, 200] [1, 1]
      : memref<?x208xbf16> to memref<37x200xbf16, strided<[208, 1]>>
  %y = memref.alloc(%c7) : memref<?x37xf32>
  %ref = memref.alloc(%c7) : memref<?x37xf32>
  // C starts at i - j, in both.
  scf.for %i = %c0 to %c7 step %c1 {
    scf.for %j = %c0 to %c37 step %c1 {
      %d = arith.subi %i, %j : index
      %di = arith.index_cast %d : index to i32
      %df = arith.sitofp %di : i32 to f32
      memref.store %df, %y[%i, %j] : memref<?x37xf32>
      memref.store %df, %ref[%i, %j] : memref<?x37xf32>
    }
  }
  call @linear(%x, %wv, %y) : (memref<?x200xbf16, strided<[208, 1]>>, memref<37x200xbf16, strided<[208, 1]>>, memref<?x37xf32>) -> ()
  // The reference: k in order, one scalar product at a time.
  scf.for %i = %c0 to %c7 step %c1 {
    scf.for %j = %c0 to %c37 step %c1 {
      %init = memref.load %ref[%i, %j] : memref<?x37xf32>
      %sum = scf.for %k = %c0 to %c200 step %c1 iter_args(%s = %init) -> f32 {
        %a = memref.load %xs[%i, %k] : memref<?x208xbf16>
        %b = memref.load %ws[%j, %k] : memref<?x208xbf16>
        %af = arith.extf %a : bf16 to f32
        %bf = arith.extf %b : bf16 to f32
        %p = arith.mulf %af, %bf : f32
        %n = arith.addf %s, %p : f32
        scf.yield %n : f32
      }
      memref.store %sum, %ref[%i, %j] : memref<?x37xf32>
    }
  }
  // Mismatches (a NaN counts: cmpf une is true for it), and the sum of
  // the reference's squares, so that a reference of nothing cannot pass.
  %count, %total = scf.for %i = %c0 to %c7 step %c1 iter_args(%n0 = %c0, %t0 = %zero) -> (index, f32) {
    %n2, %t2 = scf.for %j = %c0 to %c37 step %c1 iter_args(%n1 = %n0, %t1 = %t0) -> (index, f32) {
      %got = memref.load %y[%i, %j] : memref<?x37xf32>
      %want = memref.load %ref[%i, %j] : memref<?x37xf32>
      %bad = arith.cmpf une, %got, %want : f32
      %inc = arith.select %bad, %c1, %c0 : index
      %n = arith.addi %n1, %inc : index
      %sq = arith.mulf %want, %want : f32
      %t = arith.addf %t1, %sq : f32
      scf.yield %n, %t : index, f32
    }
    scf.yield %n2, %t2 : index, f32
  }
  vector.print str "mismatches\n"
  vector.print %count : index
  vector.print str "checksum\n"
  %ti = arith.fptosi %total : f32 to i64
  vector.print %ti : i64
  memref.dealloc %xs : memref<?x208xbf16>
  memref.dealloc %ws : memref<?x208xbf16>
  memref.dealloc %y : memref<?x37xf32>
  memref.dealloc %ref : memref<?x37xf32>
  return
}
