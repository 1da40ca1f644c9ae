// RUN: dsc-opt %s --split-input-file --dsc-lower-parallel-calls --verify-diagnostics | FileCheck %s

// A marked function's call of its columns over [0, extent) becomes a call
// through the exported hook: the arguments go into a frame, and a task
// loads them back for the range it is given. The hook starts out serial.
// The columns' mark goes too.
// CHECK-LABEL: llvm.func @columns
// CHECK-NOT: dsc.parallel_columns
// CHECK-LABEL: llvm.func @parallel_0
// CHECK-SAME: (%[[A:.*]]: !llvm.ptr, %[[N:.*]]: i64)
// CHECK-NOT: attributes
// CHECK: %[[FRAME:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(ptr, i64)>
// CHECK: %[[F0:.*]] = llvm.getelementptr %[[FRAME]][0, 0]
// CHECK: llvm.store %[[A]], %[[F0]]
// CHECK: %[[F1:.*]] = llvm.getelementptr %[[FRAME]][0, 1]
// CHECK: llvm.store %[[N]], %[[F1]]
// CHECK: %[[HOOKADDR:.*]] = llvm.mlir.addressof @dsc_parallel_for_hook
// CHECK: %[[HOOK:.*]] = llvm.load %[[HOOKADDR]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[CTXADDR:.*]] = llvm.mlir.addressof @dsc_parallel_for_context
// CHECK: %[[CTX:.*]] = llvm.load %[[CTXADDR]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[TASK:.*]] = llvm.mlir.addressof @parallel_0_task
// CHECK: %[[GRAIN:.*]] = llvm.mlir.constant(16 : i64) : i64
// CHECK: llvm.call %[[HOOK]](%[[CTX]], %[[TASK]], %[[FRAME]], %[[N]], %[[GRAIN]])
// CHECK-NOT: llvm.call @columns
// CHECK: llvm.return
// CHECK-LABEL: llvm.func internal @dsc_parallel_for_serial
// CHECK-SAME: (%[[SCTX:.*]]: !llvm.ptr, %[[STASK:.*]]: !llvm.ptr, %[[SFRAME:.*]]: !llvm.ptr, %[[SEXTENT:.*]]: i64, %{{.*}}: i64)
// CHECK: %[[ZERO:.*]] = llvm.mlir.constant(0 : i64)
// CHECK: llvm.call %[[STASK]](%[[SFRAME]], %[[ZERO]], %[[SEXTENT]])
// CHECK: llvm.mlir.global external @dsc_parallel_for_hook() {{.*}} : !llvm.ptr
// CHECK: llvm.mlir.addressof @dsc_parallel_for_serial
// CHECK: llvm.mlir.global external @dsc_parallel_for_context() {{.*}} : !llvm.ptr
// CHECK: llvm.mlir.zero
// CHECK-LABEL: llvm.func internal @parallel_0_task
// CHECK-SAME: (%[[TFRAME:.*]]: !llvm.ptr, %[[BEGIN:.*]]: i64, %[[END:.*]]: i64)
// CHECK: %[[T0:.*]] = llvm.getelementptr %[[TFRAME]][0, 0]
// CHECK: %[[TA:.*]] = llvm.load %[[T0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[T1:.*]] = llvm.getelementptr %[[TFRAME]][0, 1]
// CHECK: %[[TN:.*]] = llvm.load %[[T1]] : !llvm.ptr -> i64
// CHECK: llvm.call @columns(%[[TA]], %[[TN]], %[[BEGIN]], %[[END]])
llvm.func @columns(%a: !llvm.ptr, %n: i64, %begin: i64, %end: i64) attributes {dsc.parallel_columns} {
  llvm.return
}
llvm.func @parallel_0(%a: !llvm.ptr, %n: i64) attributes {dsc.parallel_for = 16 : i64} {
  %c0 = llvm.mlir.constant(0 : index) : i64
  llvm.call @columns(%a, %n, %c0, %n) : (!llvm.ptr, i64, i64, i64) -> ()
  llvm.return
}

// -----

// A task's name already taken: the task gets another.
// CHECK-LABEL: llvm.func @parallel_0
// CHECK: %[[TASK:.*]] = llvm.mlir.addressof @[[NAME:parallel_0_task_[0-9]+]]
// CHECK: llvm.func internal @[[NAME]](
llvm.func @parallel_0_task() {
  llvm.return
}
llvm.func @columns(%n: i64, %begin: i64, %end: i64)
llvm.func @parallel_0(%n: i64) attributes {dsc.parallel_for = 16 : i64} {
  %c0 = llvm.mlir.constant(0 : i64) : i64
  llvm.call @columns(%n, %c0, %n) : (i64, i64, i64) -> ()
  llvm.return
}

// -----

// Without marked functions the module is unchanged: no hook.
// CHECK-LABEL: llvm.func @plain
// CHECK-NOT: dsc_parallel_for_hook
llvm.func @plain() {
  llvm.return
}

// -----

llvm.func @columns(%n: i64, %begin: i64, %end: i64)
// expected-error @below {{'dsc.parallel_for' function must make one direct call whose last two arguments are 0 and the extent (i64)}}
llvm.func @two_calls(%n: i64) attributes {dsc.parallel_for = 16 : i64} {
  %c0 = llvm.mlir.constant(0 : i64) : i64
  llvm.call @columns(%n, %c0, %n) : (i64, i64, i64) -> ()
  llvm.call @columns(%n, %c0, %n) : (i64, i64, i64) -> ()
  llvm.return
}

// -----

llvm.func @columns(%n: i64, %begin: i64, %end: i64)
// expected-error @below {{'dsc.parallel_for' function must make one direct call whose last two arguments are 0 and the extent (i64)}}
llvm.func @begins_at_one(%n: i64) attributes {dsc.parallel_for = 16 : i64} {
  %c1 = llvm.mlir.constant(1 : i64) : i64
  llvm.call @columns(%n, %c1, %n) : (i64, i64, i64) -> ()
  llvm.return
}

// -----

llvm.func @columns(%n: i64, %begin: i64, %end: i64)
// expected-error @below {{'dsc.parallel_for' must be a positive integer}}
llvm.func @no_grain(%n: i64) attributes {dsc.parallel_for = 0 : i64} {
  %c0 = llvm.mlir.constant(0 : i64) : i64
  llvm.call @columns(%n, %c0, %n) : (i64, i64, i64) -> ()
  llvm.return
}

// -----

// expected-error @below {{dsc-lower-parallel-calls: the module already defines 'dsc_parallel_for_hook'}}
module {
  llvm.mlir.global external @dsc_parallel_for_hook() : !llvm.ptr
  llvm.func @columns(%n: i64, %begin: i64, %end: i64)
  llvm.func @parallel(%n: i64) attributes {dsc.parallel_for = 16 : i64} {
    %c0 = llvm.mlir.constant(0 : i64) : i64
    llvm.call @columns(%n, %c0, %n) : (i64, i64, i64) -> ()
    llvm.return
  }
}
