// RUN: dsc-opt %s --split-input-file --dsc-check-graph-capture=report --verify-diagnostics | FileCheck %s

// Host code that only launches kernels, and keeps its own bookkeeping in
// buffers no kernel sees (as buffer deallocation's ownership flags, also
// through a private helper), can be captured.
// CHECK: module attributes {dsc.graph_capturable = ["step"], gpu.container_module}
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scale(%x: memref<?xf32>) kernel {
      gpu.return
    }
  }
  func.func private @helper(%flags: memref<?xi1>) {
    %c0 = arith.constant 0 : index
    %true = arith.constant true
    memref.store %true, %flags[%c0] : memref<?xi1>
    return
  }
  // expected-remark @below {{entry point 'step' can be captured into a CUDA graph}}
  func.func @step(%x: memref<?xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %n = memref.dim %x, %c0 : memref<?xf32>
    gpu.launch_func @kernels::@scale blocks in (%n, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<?xf32>)
    %flags = memref.alloc() : memref<2xi1>
    %cast = memref.cast %flags : memref<2xi1> to memref<?xi1>
    call @helper(%cast) : (memref<?xi1>) -> ()
    %f = memref.load %flags[%c0] : memref<2xi1>
    memref.dealloc %flags : memref<2xi1>
    return
  }
}

// -----

// The host reads an argument (a size from device data, as max(past) was):
// not capturable, and the note says where.
// CHECK: module attributes {dsc.graph_capturable = [], gpu.container_module}
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scale(%x: memref<?xf32>) kernel {
      gpu.return
    }
  }
  // expected-remark @below {{entry point 'step' cannot be captured into a CUDA graph: its host code accesses a buffer the kernels use}}
  func.func @step(%x: memref<?xf32>, %past: memref<?xi64>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    // expected-note @below {{'memref.load' here}}
    %p = memref.load %past[%c0] : memref<?xi64>
    %n = arith.index_cast %p : i64 to index
    gpu.launch_func @kernels::@scale blocks in (%n, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<?xf32>)
    return
  }
}

// -----

// The host writes a buffer a kernel then reads (a replay would not repeat
// the write), through a view and in a private function the entry calls.
// CHECK: module attributes {dsc.graph_capturable = [], gpu.container_module}
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scale(%x: memref<?xf32>) kernel {
      gpu.return
    }
  }
  func.func private @fill(%x: memref<?xf32>) {
    %c0 = arith.constant 0 : index
    %one = arith.constant 1.0 : f32
    // expected-note @below {{'memref.store' here}}
    memref.store %one, %x[%c0] : memref<?xf32>
    return
  }
  // expected-remark @below {{entry point 'step' cannot be captured into a CUDA graph: its host code accesses a buffer the kernels use}}
  func.func @step(%n: index) {
    %c1 = arith.constant 1 : index
    %buffer = memref.alloc(%n) : memref<?xf32>
    %view = memref.subview %buffer[0] [%n] [1] : memref<?xf32> to memref<?xf32, strided<[1]>>
    %cast = memref.cast %view : memref<?xf32, strided<[1]>> to memref<?xf32>
    call @fill(%cast) : (memref<?xf32>) -> ()
    gpu.launch_func @kernels::@scale blocks in (%n, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<?xf32>)
    memref.dealloc %buffer : memref<?xf32>
    return
  }
}

// -----

// Passed on in ways the analysis does not follow, a buffer counts as device
// data: here the buffer the host writes reaches the launch through an
// scf.if.
// CHECK: module attributes {dsc.graph_capturable = [], gpu.container_module}
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scale(%x: memref<?xf32>) kernel {
      gpu.return
    }
  }
  // expected-remark @below {{entry point 'step' cannot be captured into a CUDA graph: its host code accesses a buffer the kernels use}}
  func.func @step(%n: index, %flag: i1, %other: memref<?xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %one = arith.constant 1.0 : f32
    %buffer = memref.alloc(%n) : memref<?xf32>
    // expected-note @below {{'memref.store' here}}
    memref.store %one, %buffer[%c0] : memref<?xf32>
    %chosen = scf.if %flag -> memref<?xf32> {
      scf.yield %buffer : memref<?xf32>
    } else {
      scf.yield %other : memref<?xf32>
    }
    gpu.launch_func @kernels::@scale blocks in (%n, %c1, %c1) threads in (%c1, %c1, %c1) args(%chosen : memref<?xf32>)
    return
  }
}

// -----

// An external function may do anything with the buffers it gets.
// CHECK: module attributes {dsc.graph_capturable = [], gpu.container_module}
module attributes {gpu.container_module} {
  func.func private @memrefCopy(memref<?xf32>, memref<?xf32>)
  // expected-remark @below {{entry point 'step' cannot be captured into a CUDA graph: its host code accesses a buffer the kernels use}}
  func.func @step(%a: memref<?xf32>, %b: memref<?xf32>) {
    // expected-note @below {{'func.call' here}}
    call @memrefCopy(%a, %b) : (memref<?xf32>, memref<?xf32>) -> ()
    return
  }
}

// -----

// One declared dsc.metadata_only reads its buffers' address and sizes only
// (the runtime's TMA descriptors): the step can be captured, the
// descriptor handed to a launch.
// CHECK: module attributes {dsc.graph_capturable = ["step"], gpu.container_module}
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @load(%map: !llvm.ptr) kernel {
      gpu.return
    }
  }
  func.func private @dsc_gpu_tensor_map_bf16(memref<?x?xbf16, strided<[?, ?], offset: ?>>, index, index) -> !llvm.ptr attributes {dsc.metadata_only}
  // expected-remark @below {{entry point 'step' can be captured into a CUDA graph}}
  func.func @step(%a: memref<?x?xbf16, strided<[?, ?], offset: ?>>) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %map = call @dsc_gpu_tensor_map_bf16(%a, %c64, %c64) : (memref<?x?xbf16, strided<[?, ?], offset: ?>>, index, index) -> !llvm.ptr
    gpu.launch_func @kernels::@load blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%map : !llvm.ptr)
    return
  }
}

// -----

// A host allocation the metadata-only call describes may reach a kernel
// through the descriptor: it counts as device data, so the host's store
// into it makes the step not capturable.
// CHECK: module attributes {dsc.graph_capturable = [], gpu.container_module}
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @load(%map: !llvm.ptr) kernel {
      gpu.return
    }
  }
  func.func private @dsc_gpu_tensor_map_bf16(memref<?x?xbf16, strided<[?, ?], offset: ?>>, index, index) -> !llvm.ptr attributes {dsc.metadata_only}
  // expected-remark @below {{entry point 'step' cannot be captured into a CUDA graph: its host code accesses a buffer the kernels use}}
  func.func @step() {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %x = arith.constant 1.0 : bf16
    %a = memref.alloc() : memref<64x64xbf16>
    // expected-note @below {{'memref.store' here}}
    memref.store %x, %a[%c0, %c0] : memref<64x64xbf16>
    %cast = memref.cast %a : memref<64x64xbf16> to memref<?x?xbf16, strided<[?, ?], offset: ?>>
    %map = call @dsc_gpu_tensor_map_bf16(%cast, %c64, %c64) : (memref<?x?xbf16, strided<[?, ?], offset: ?>>, index, index) -> !llvm.ptr
    gpu.launch_func @kernels::@load blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%map : !llvm.ptr)
    memref.dealloc %a : memref<64x64xbf16>
    return
  }
}

// -----

// A raw pointer's memory cannot be told apart: assume the worst.
// CHECK: module attributes {dsc.graph_capturable = [], gpu.container_module}
module attributes {gpu.container_module} {
  // expected-remark @below {{entry point 'step' cannot be captured into a CUDA graph: its host code accesses a buffer the kernels use}}
  func.func @step(%a: memref<?xf32>) {
    %p = memref.extract_aligned_pointer_as_index %a : memref<?xf32> -> index
    %i = arith.index_cast %p : index to i64
    %ptr = llvm.inttoptr %i : i64 to !llvm.ptr
    // expected-note @below {{'llvm.load' here}}
    %v = llvm.load %ptr : !llvm.ptr -> f32
    return
  }
}

// -----

// The base buffer of a written host buffer, recast and launched: still the
// same buffer.
// CHECK: module attributes {dsc.graph_capturable = [], gpu.container_module}
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scale(%x: memref<4xf32>) kernel {
      gpu.return
    }
  }
  // expected-remark @below {{entry point 'step' cannot be captured into a CUDA graph: its host code accesses a buffer the kernels use}}
  func.func @step() {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %one = arith.constant 1.0 : f32
    %buffer = memref.alloc() : memref<4xf32>
    // expected-note @below {{'memref.store' here}}
    memref.store %one, %buffer[%c0] : memref<4xf32>
    %base, %offset, %size, %stride = memref.extract_strided_metadata %buffer : memref<4xf32> -> memref<f32>, index, index, index
    %again = memref.reinterpret_cast %base to offset: [0], sizes: [4], strides: [1] : memref<f32> to memref<4xf32>
    gpu.launch_func @kernels::@scale blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%again : memref<4xf32>)
    return
  }
}

// -----

// Its address handed to a kernel as an integer.
// CHECK: module attributes {dsc.graph_capturable = [], gpu.container_module}
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @at(%address: index) kernel {
      gpu.return
    }
  }
  // expected-remark @below {{entry point 'step' cannot be captured into a CUDA graph: its host code accesses a buffer the kernels use}}
  func.func @step() {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %one = arith.constant 1.0 : f32
    %buffer = memref.alloc() : memref<4xf32>
    // expected-note @below {{'memref.store' here}}
    memref.store %one, %buffer[%c0] : memref<4xf32>
    %p = memref.extract_aligned_pointer_as_index %buffer : memref<4xf32> -> index
    %q = arith.addi %p, %c0 : index
    gpu.launch_func @kernels::@at blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%q : index)
    return
  }
}

// -----

// Functions that call each other: the call back into a function still
// being analysed counts as an access (an answer assumed there is kept for
// every later query), so neither entry point is capturable although the
// external call is reached only through the cycle.
// CHECK: module attributes {dsc.graph_capturable = [], gpu.container_module}
module attributes {gpu.container_module} {
  func.func private @ext()
  // (Both entry points' notes point here.)
  // expected-note @below {{'func.func' here}}
  func.func private @f() {
    func.call @g() : () -> ()
    func.call @ext() : () -> ()
    return
  }
  func.func private @g() {
    func.call @f() : () -> ()
    return
  }
  // expected-remark @below {{entry point 'e1' cannot be captured into a CUDA graph: its host code accesses a buffer the kernels use}}
  func.func @e1() {
    func.call @f() : () -> ()
    return
  }
  // expected-remark @below {{entry point 'e2' cannot be captured into a CUDA graph: its host code accesses a buffer the kernels use}}
  func.func @e2() {
    func.call @g() : () -> ()
    return
  }
}
