// RUN: dsc-opt %s --dsc-pack-entry-points | FileCheck %s

// The packed wrapper loads descriptor pointer i from argv[i].
// CHECK-LABEL: llvm.func @dsc_entry_forward
// CHECK-SAME: (%[[ARGV:.*]]: !llvm.ptr)
// CHECK: %[[P0:.*]] = llvm.getelementptr %[[ARGV]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[A0:.*]] = llvm.load %[[P0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[P1:.*]] = llvm.getelementptr %[[ARGV]][1]
// CHECK: %[[A1:.*]] = llvm.load %[[P1]]
// CHECK: llvm.call @_mlir_ciface_forward(%[[A0]], %[[A1]])
module {
  llvm.func @_mlir_ciface_forward(%a: !llvm.ptr, %b: !llvm.ptr) {
    llvm.return
  }
}
