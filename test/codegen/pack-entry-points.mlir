// RUN: dsc-opt %s --split-input-file --dsc-pack-entry-points | FileCheck %s

// The packed entry loads descriptor pointer i from argv[i]. When the C
// interface function does more than unpack and call (here: nothing), the
// entry point calls it. Every function the module defines but the entry
// points is internal: only the runtime calls in.
// CHECK-LABEL: llvm.func internal @_mlir_ciface_forward
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
// A value the wrapper reads otherwise than as a descriptor's field is read
// first and passed to the body.
// CHECK-NOT: @g(
// CHECK-NOT: @_mlir_ciface_g
// CHECK-LABEL: llvm.func @dsc_entry_g
// CHECK-SAME: (%[[ARGV:.*]]: !llvm.ptr)
// CHECK: %[[D:.*]] = llvm.load %{{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK: %[[S:.*]] = llvm.load %[[D]] : !llvm.ptr -> i64
// CHECK: llvm.br ^[[BODY:.*]](%[[S]], %[[D]] : i64, !llvm.ptr)
// CHECK: ^[[BODY]](%[[X:.*]]: i64, %[[Y:.*]]: !llvm.ptr):
// CHECK: llvm.store %[[X]], %[[Y]]
module {
  llvm.func @g(%x: i64, %p: !llvm.ptr) {
    llvm.store %x, %p : i64, !llvm.ptr
    llvm.return
  }
  llvm.func @_mlir_ciface_g(%d: !llvm.ptr) {
    %0 = llvm.load %d : !llvm.ptr -> i64
    llvm.call @g(%0, %d) : (i64, !llvm.ptr) -> ()
    llvm.return
  }
}

// -----

// Descriptor fields are loaded where the body uses them, once an op for
// each descriptor, not all up front: the second weight's after the first
// layer call, in the block that uses them. The loads are invariant, so
// that LLVM hoists those inside loops. The body's rebuilt descriptors
// (insertvalue) read back by extractvalue are folded first, so that the
// users are the calls. A value that is not a descriptor's field (%k, between
// the two descriptors' fields) is passed as before. Declarations stay
// external.
// CHECK-LABEL: llvm.func internal @layer
// CHECK-NOT: @h(
// CHECK-NOT: @_mlir_ciface_h
// CHECK-LABEL: llvm.func @ext(i64)
// CHECK-LABEL: llvm.func @dsc_entry_h
// CHECK-SAME: (%[[ARGV:.*]]: !llvm.ptr)
// CHECK: %[[SC:.*]] = llvm.getelementptr %[[ARGV]][2]
// CHECK: %[[DC:.*]] = llvm.load %[[SC]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[K:.*]] = llvm.load %[[DC]] : !llvm.ptr -> i64
// CHECK-NOT: llvm.load
// CHECK: llvm.br ^[[BODY:.*]](%[[K]] : i64)
// CHECK: ^[[BODY]](%[[KB:.*]]: i64):
// CHECK: %[[S0:.*]] = llvm.getelementptr %[[ARGV]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[D0:.*]] = llvm.load %[[S0]] invariant : !llvm.ptr -> !llvm.ptr
// CHECK: %[[F1:.*]] = llvm.getelementptr %[[D0]][0, 1] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(ptr, ptr, i64, array<1 x i64>)>
// CHECK: %[[P:.*]] = llvm.load %[[F1]] invariant : !llvm.ptr -> !llvm.ptr
// CHECK: %[[F30:.*]] = llvm.getelementptr %[[D0]][0, 3, 0]
// CHECK: %[[N:.*]] = llvm.load %[[F30]] invariant : !llvm.ptr -> i64
// CHECK: llvm.call @layer(%[[P]], %[[N]])
// CHECK-NOT: llvm.load
// CHECK: llvm.br ^[[NEXT:.*]]{{$}}
// CHECK: ^[[NEXT]]:
// CHECK: llvm.call @ext(%[[KB]])
// CHECK: %[[S1:.*]] = llvm.getelementptr %[[ARGV]][1]
// CHECK: %[[D1:.*]] = llvm.load %[[S1]] invariant
// CHECK: %[[G1:.*]] = llvm.getelementptr %[[D1]][0, 1]
// CHECK: %[[Q:.*]] = llvm.load %[[G1]] invariant
// CHECK: %[[G30:.*]] = llvm.getelementptr %[[D1]][0, 3, 0]
// CHECK: %[[M:.*]] = llvm.load %[[G30]] invariant
// CHECK: llvm.call @layer(%[[Q]], %[[M]])
!desc = !llvm.struct<(ptr, ptr, i64, array<1 x i64>)>
module {
  llvm.func @layer(%p: !llvm.ptr, %n: i64) {
    llvm.store %n, %p : i64, !llvm.ptr
    llvm.return
  }
  llvm.func @ext(i64)
  llvm.func @h(%a0: !llvm.ptr, %a1: !llvm.ptr, %a2: i64, %a3: i64, %k: i64,
               %b0: !llvm.ptr, %b1: !llvm.ptr, %b2: i64, %b3: i64) {
    %u = llvm.mlir.poison : !desc
    %a4 = llvm.insertvalue %a0, %u[0] : !desc
    %a5 = llvm.insertvalue %a1, %a4[1] : !desc
    %a6 = llvm.insertvalue %a2, %a5[2] : !desc
    %a = llvm.insertvalue %a3, %a6[3, 0] : !desc
    %b4 = llvm.insertvalue %b0, %u[0] : !desc
    %b5 = llvm.insertvalue %b1, %b4[1] : !desc
    %b6 = llvm.insertvalue %b2, %b5[2] : !desc
    %b = llvm.insertvalue %b3, %b6[3, 0] : !desc
    %p = llvm.extractvalue %a[1] : !desc
    %n = llvm.extractvalue %a[3, 0] : !desc
    llvm.call @layer(%p, %n) : (!llvm.ptr, i64) -> ()
    llvm.br ^next
  ^next:
    llvm.call @ext(%k) : (i64) -> ()
    %q = llvm.extractvalue %b[1] : !desc
    %m = llvm.extractvalue %b[3, 0] : !desc
    llvm.call @layer(%q, %m) : (!llvm.ptr, i64) -> ()
    llvm.return
  }
  llvm.func @_mlir_ciface_h(%da: !llvm.ptr, %db: !llvm.ptr, %dc: !llvm.ptr) {
    %0 = llvm.load %da : !llvm.ptr -> !desc
    %1 = llvm.extractvalue %0[0] : !desc
    %2 = llvm.extractvalue %0[1] : !desc
    %3 = llvm.extractvalue %0[2] : !desc
    %4 = llvm.extractvalue %0[3, 0] : !desc
    %5 = llvm.load %db : !llvm.ptr -> !desc
    %6 = llvm.extractvalue %5[0] : !desc
    %7 = llvm.extractvalue %5[1] : !desc
    %8 = llvm.extractvalue %5[2] : !desc
    %9 = llvm.extractvalue %5[3, 0] : !desc
    %k = llvm.load %dc : !llvm.ptr -> i64
    llvm.call @h(%1, %2, %3, %4, %k, %6, %7, %8, %9)
        : (!llvm.ptr, !llvm.ptr, i64, i64, i64, !llvm.ptr, !llvm.ptr, i64, i64) -> ()
    llvm.return
  }
}
