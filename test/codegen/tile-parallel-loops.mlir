// dsc-tile-parallel-loops tiles each outermost parallel loop by the
// threads along its innermost dimension and maps it: the tile's points to
// threads (innermost to thread x), the tiles to blocks. A grid takes
// 2^31 - 1 blocks along x but 65535 along y and z, so x gets the
// dimension likeliest to be long: here the rows, of unknown count (a
// prefill's tokens times experts per token pass 65535), not the 56 column
// tiles.
// RUN: dsc-opt %s --pass-pipeline="builtin.module(func.func(convert-linalg-to-parallel-loops,dsc-tile-parallel-loops))" | FileCheck %s

// CHECK-LABEL: func.func @rows
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%{{.*}}, %c7168)
// CHECK: scf.parallel
// CHECK: } {mapping = [#gpu.loop_dim_map<processor = sequential, {{.*}}>, #gpu.loop_dim_map<processor = thread_x, {{.*}}>]}
// CHECK: } {mapping = [#gpu.loop_dim_map<processor = block_x, {{.*}}>, #gpu.loop_dim_map<processor = block_y, {{.*}}>]}
func.func @rows(%a: memref<?x7168xf32>, %b: memref<?x7168xf32>) {
  linalg.copy ins(%a : memref<?x7168xf32>) outs(%b : memref<?x7168xf32>)
  return
}

// Static extents: the longest on x, the others on y and z innermost
// first, past three sequential.
// CHECK-LABEL: func.func @static
// CHECK: } {mapping = [#gpu.loop_dim_map<processor = sequential, {{.*}}>, #gpu.loop_dim_map<processor = block_z, {{.*}}>, #gpu.loop_dim_map<processor = block_x, {{.*}}>, #gpu.loop_dim_map<processor = block_y, {{.*}}>]}
func.func @static(%a: memref<2x3x1000x256xf32>, %b: memref<2x3x1000x256xf32>) {
  linalg.copy ins(%a : memref<2x3x1000x256xf32>) outs(%b : memref<2x3x1000x256xf32>)
  return
}

// A loop whose innermost extent is 1 stays untiled, one thread per block:
// its rows still take grid x.
// CHECK-LABEL: func.func @one_column
// CHECK: } {mapping = [#gpu.loop_dim_map<processor = block_x, {{.*}}>, #gpu.loop_dim_map<processor = block_y, {{.*}}>]}
func.func @one_column(%a: memref<?x1xf32>, %b: memref<?x1xf32>) {
  linalg.copy ins(%a : memref<?x1xf32>) outs(%b : memref<?x1xf32>)
  return
}

// A parallel loop directly in the tiled body runs sequentially in the
// kernel (gpu-map-parallel-loops does not descend into mapped loops).
// CHECK-LABEL: func.func @nested
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: } {mapping = [#gpu.loop_dim_map<processor = sequential, {{.*}}>]}
// CHECK: } {mapping = [#gpu.loop_dim_map<processor = sequential, {{.*}}>, #gpu.loop_dim_map<processor = thread_x, {{.*}}>]}
// CHECK: } {mapping = [#gpu.loop_dim_map<processor = block_x, {{.*}}>, #gpu.loop_dim_map<processor = block_y, {{.*}}>]}
func.func @nested(%a: memref<64x256x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%c64, %c256) step (%c1, %c1) {
    scf.parallel (%k) = (%c0) to (%c4) step (%c1) {
      memref.store %zero, %a[%i, %j, %k] : memref<64x256x4xf32>
    }
  }
  return
}
