// RUN: dsc-opt %s --split-input-file --dsc-pack-entry-points | FileCheck %s

// The packed entry loads descriptor pointer i from argv[i]. When the C
// interface function does more than unpack and call (here: nothing), the
// entry point calls it.
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

// -----

// The usual case: the unpacking is cloned and the wrapped function's body
// moved into the entry point, so no call passes every descriptor field.
// CHECK-LABEL: llvm.func @dsc_entry_g
// CHECK-SAME: (%[[ARGV:.*]]: !llvm.ptr)
// CHECK: %[[D:.*]] = llvm.load %{{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK: %[[S:.*]] = llvm.load %[[D]] : !llvm.ptr -> i64
// CHECK: llvm.br ^[[BODY:.*]](%[[S]] : i64)
// CHECK: ^[[BODY]](%[[X:.*]]: i64):
// CHECK: llvm.add %[[X]], %[[X]]
// CHECK-NOT: llvm.func @g(
// CHECK-NOT: @_mlir_ciface_g
module {
  llvm.func @g(%x: i64) {
    %0 = llvm.add %x, %x : i64
    llvm.return
  }
  llvm.func @_mlir_ciface_g(%d: !llvm.ptr) {
    %0 = llvm.load %d : !llvm.ptr -> i64
    llvm.call @g(%0) : (i64) -> ()
    llvm.return
  }
}
