// RUN: dsc-opt %s --dsc-allocation-hooks | FileCheck %s

// The generic allocation functions get bodies that call through exported
// hooks initialized to libc.
// CHECK: llvm.func @_mlir_memref_to_llvm_alloc
// CHECK: %[[SLOT:.*]] = llvm.mlir.addressof @dsc_alloc_hook
// CHECK: %[[FN:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[P:.*]] = llvm.call %[[FN]](%{{.*}}) : !llvm.ptr, (i64) -> !llvm.ptr
// CHECK: llvm.return %[[P]]
// CHECK: llvm.func @_mlir_memref_to_llvm_free
// CHECK: llvm.mlir.addressof @dsc_free_hook
// CHECK-DAG: llvm.mlir.global external @dsc_alloc_hook() {{.*}} : !llvm.ptr
// CHECK-DAG: llvm.mlir.addressof @malloc
// CHECK-DAG: llvm.mlir.global external @dsc_free_hook() {{.*}} : !llvm.ptr
// CHECK-DAG: llvm.mlir.addressof @free
module {
  llvm.func @_mlir_memref_to_llvm_alloc(i64) -> !llvm.ptr
  llvm.func @_mlir_memref_to_llvm_free(!llvm.ptr)
  llvm.func @use(%n: i64) {
    %p = llvm.call @_mlir_memref_to_llvm_alloc(%n) : (i64) -> !llvm.ptr
    llvm.call @_mlir_memref_to_llvm_free(%p) : (!llvm.ptr) -> ()
    llvm.return
  }
}
