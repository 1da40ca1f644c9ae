// dsc-bf16-linear-weights (GPU pipelines; the CPU's with
// --bf16-linear-inputs): an entry point's f32 weight that reaches only
// linear layers' weight operands (dsc.linear's, dsc.moe's shared and routed
// expert matrices without scales) or MLA's kv_b, through the private layer functions that
// take it, becomes bf16 everywhere along the way, and the module lists it in
// dsc.bf16_params (the runtime packs it as bf16).
// RUN: dsc-opt %s --split-input-file --dsc-bf16-linear-weights | FileCheck %s
// A second run keeps the list (its arguments are bf16 already).
// RUN: dsc-opt %s --split-input-file --dsc-bf16-linear-weights --dsc-bf16-linear-weights | FileCheck %s
// stored-only (the CPU's default): see the last case.
// RUN: dsc-opt %s --split-input-file --dsc-bf16-linear-weights=stored-only | FileCheck %s --check-prefix=STORED

// Through a layer function; the norm weight and an unused weight stay.
// CHECK: module attributes {dsc.bf16_params = ["layers.0.q.weight", "head.weight"]}
// CHECK-LABEL: func.func private @layer_0
// CHECK-SAME: %arg1: tensor<16x8xbf16>, %arg2: tensor<8xf32>
// CHECK: dsc.linear %{{.*}}, %arg1 : (tensor<?x8xf32>, tensor<16x8xbf16>)
func.func private @layer_0(%x: tensor<?x8xf32>, %w: tensor<16x8xf32>, %n: tensor<8xf32>) -> tensor<?x16xf32> {
  %0 = dsc.rms_norm %x, %n {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %1 = dsc.linear %0, %w : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  return %1 : tensor<?x16xf32>
}
// CHECK-LABEL: func.func @forward
// CHECK-SAME: %arg1: tensor<16x8xbf16> {dsc.weight = "layers.0.q.weight"}
// CHECK-SAME: %arg2: tensor<8xf32> {dsc.weight = "layers.0.norm.weight"}
// CHECK-SAME: %arg3: tensor<4x16xbf16> {dsc.weight = "head.weight"}
// CHECK-SAME: %arg4: tensor<2x4x16xf32> {dsc.stack = 2 : i64, dsc.weight = "experts.{}.w"}
func.func @forward(%x: tensor<?x8xf32>, %w: tensor<16x8xf32> {dsc.weight = "layers.0.q.weight"}, %n: tensor<8xf32> {dsc.weight = "layers.0.norm.weight"}, %h: tensor<4x16xf32> {dsc.weight = "head.weight"}, %e: tensor<2x4x16xf32> {dsc.stack = 2 : i64, dsc.weight = "experts.{}.w"}) -> tensor<?x4xf32> {
  %0 = func.call @layer_0(%x, %w, %n) : (tensor<?x8xf32>, tensor<16x8xf32>, tensor<8xf32>) -> tensor<?x16xf32>
  %1 = dsc.linear %0, %h : (tensor<?x16xf32>, tensor<4x16xf32>) -> tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}

// -----

// A weight that is also read otherwise (here a linear's input), or passed
// to a layer that another caller gives a computed tensor, stays f32: the
// GEMM would need both types.
// CHECK: module attributes {dsc.bf16_params = []}
// CHECK-LABEL: func.func private @shared
// CHECK-SAME: %arg1: tensor<8x8xf32>
// CHECK-LABEL: func.func @forward
// CHECK-SAME: %arg1: tensor<8x8xf32> {dsc.weight = "a"}, %arg2: tensor<8x8xf32> {dsc.weight = "b"}
func.func private @shared(%x: tensor<?x8xf32>, %w: tensor<8x8xf32>) -> tensor<?x8xf32> {
  %0 = dsc.linear %x, %w : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
func.func @forward(%x: tensor<?x8xf32>, %a: tensor<8x8xf32> {dsc.weight = "a"}, %b: tensor<8x8xf32> {dsc.weight = "b"}) -> tensor<?x8xf32> {
  %0 = dsc.linear %a, %a : (tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<8x8xf32>
  %1 = func.call @shared(%x, %b) : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %2 = func.call @shared(%x, %0) : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return %2 : tensor<?x8xf32>
}

// -----

// The runtime binds a param once by name for every entry point: a weight
// that one entry point reads otherwise stays f32 in all of them.
// CHECK: module attributes {dsc.bf16_params = ["w"]}
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: %arg1: tensor<8x8xbf16> {dsc.weight = "w"}, %arg2: tensor<8x8xf32> {dsc.weight = "v"}
// CHECK-LABEL: func.func @decode
// CHECK-SAME: %arg1: tensor<8x8xbf16> {dsc.weight = "w"}, %arg2: tensor<8x8xf32> {dsc.weight = "v"}
func.func @prefill(%x: tensor<?x8xf32>, %w: tensor<8x8xf32> {dsc.weight = "w"}, %v: tensor<8x8xf32> {dsc.weight = "v"}) -> tensor<?x8xf32> {
  %0 = dsc.linear %x, %w : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %1 = dsc.linear %0, %v : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}
func.func @decode(%x: tensor<?x8xf32>, %w: tensor<8x8xf32> {dsc.weight = "w"}, %v: tensor<8x8xf32> {dsc.weight = "v"}) -> tensor<8x8xf32> {
  %0 = dsc.linear %x, %w : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %1 = dsc.linear %v, %v : (tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<8x8xf32>
  return %1 : tensor<8x8xf32>
}

// -----

// A dsc.moe's shared experts are linear layers once lowered, and its
// routed experts grouped GEMMs: their matrices and stacks become bf16.
// CHECK: module attributes {dsc.bf16_params = ["g.{}", "u.{}", "d.{}", "sg", "su", "sd"]}
// CHECK-LABEL: func.func @forward
// CHECK-SAME: %arg3: tensor<4x6x8xbf16> {dsc.stack = 4 : i64, dsc.weight = "g.{}"}, %arg4: tensor<4x6x8xbf16> {dsc.stack = 4 : i64, dsc.weight = "u.{}"}, %arg5: tensor<4x8x6xbf16> {dsc.stack = 4 : i64, dsc.weight = "d.{}"}
// CHECK-SAME: %arg6: tensor<6x8xbf16> {dsc.weight = "sg"}, %arg7: tensor<6x8xbf16> {dsc.weight = "su"}, %arg8: tensor<8x6xbf16> {dsc.weight = "sd"}
// CHECK: dsc.moe {{.*}} shared(%arg6, %arg7, %arg8) : ({{.*}}, tensor<6x8xbf16>, tensor<6x8xbf16>, tensor<8x6xbf16>)
func.func @forward(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32> {dsc.stack = 4 : i64, dsc.weight = "g.{}"}, %u: tensor<4x6x8xf32> {dsc.stack = 4 : i64, dsc.weight = "u.{}"}, %d: tensor<4x8x6xf32> {dsc.stack = 4 : i64, dsc.weight = "d.{}"}, %sg: tensor<6x8xf32> {dsc.weight = "sg"}, %su: tensor<6x8xf32> {dsc.weight = "su"}, %sd: tensor<8x6xf32> {dsc.weight = "sd"}) -> tensor<?x8xf32> {
  %0 = dsc.moe %x, %w, %i experts(%g, %u, %d) shared(%sg, %su, %sd) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<6x8xf32>, tensor<6x8xf32>, tensor<8x6xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// kv_b, read by dsc.mla (prefill) and dsc.mla_decode (decode): the
// decode's per-head products run on the library's batched GEMM. With
// block scales (FP8) it stays as it is.
// CHECK: module attributes {dsc.bf16_params = ["kv_b"]}
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: %arg4: tensor<128x32xbf16> {dsc.weight = "kv_b"}
// CHECK-LABEL: func.func @decode
// CHECK-SAME: %arg4: tensor<128x32xbf16> {dsc.weight = "kv_b"}
// CHECK-LABEL: func.func @fp8
// CHECK-SAME: %arg4: tensor<128x32xf8E4M3FN>
func.func @prefill(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32> {dsc.weight = "kv_b"}) -> tensor<?x?x4x16xf32> {
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {form = #dsc<mla_form absorbed>, scale = 0.25 : f64} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}
func.func @decode(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32> {dsc.weight = "kv_b"}, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi64>, %past: tensor<?xi64>) -> tensor<?x?x4x16xf32> {
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>, tensor<?x64x40xbf16>, tensor<?x?xi64>, tensor<?xi64>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}
func.func @fp8(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf8E4M3FN> {dsc.weight = "kv_b_fp8"}, %s: tensor<1x1xf32> {dsc.weight = "kv_b_fp8_scale_inv"}) -> tensor<?x?x4x16xf32> {
  %0 = dsc.mla %qn, %qp, %c, %kp, %w scales %s {block_size = array<i64: 128, 128>, form = #dsc<mla_form absorbed>, scale = 0.25 : f64} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf8E4M3FN>, tensor<1x1xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// stored-only: only the weights the module's dsc.bf16_stored names (those
// the checkpoint stores as BF16) qualify, through the private layer
// function that takes them; a listed norm weight still does not, and a
// module without the list converts nothing (the cases above).
// STORED-NOT: dsc.bf16_params = [{{.+}}]
// STORED: module attributes {dsc.bf16_params = ["q"], dsc.bf16_stored = ["q", "n"]}
// STORED-LABEL: func.func private @cpu_layer
// STORED-SAME: %arg1: tensor<16x8xbf16>, %arg2: tensor<16x16xf32>
// STORED-LABEL: func.func @cpu_forward
// STORED-SAME: %arg1: tensor<16x8xbf16> {dsc.weight = "q"}
// STORED-SAME: %arg2: tensor<16x16xf32> {dsc.weight = "k"}
// STORED-SAME: %arg3: tensor<16xf32> {dsc.weight = "n"}
module attributes {dsc.bf16_stored = ["q", "n"]} {
func.func private @cpu_layer(%x: tensor<?x8xf32>, %q: tensor<16x8xf32>, %k: tensor<16x16xf32>) -> tensor<?x16xf32> {
  %0 = dsc.linear %x, %q : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  %1 = dsc.linear %0, %k : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  return %1 : tensor<?x16xf32>
}
func.func @cpu_forward(%x: tensor<?x8xf32>, %q: tensor<16x8xf32> {dsc.weight = "q"}, %k: tensor<16x16xf32> {dsc.weight = "k"}, %n: tensor<16xf32> {dsc.weight = "n"}) -> tensor<?x16xf32> {
  %0 = func.call @cpu_layer(%x, %q, %k) : (tensor<?x8xf32>, tensor<16x8xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  %1 = dsc.rms_norm %0, %n {epsilon = 1.0e-06 : f64} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  return %1 : tensor<?x16xf32>
}
}

// -----

// embedding-tables (the CPU's, with stored-only): a dsc.embed's table
// qualifies too, and also when the output head shares it (tied
// embeddings); the gather widens what it reads. Without the option (the
// GPUs') the table stays f32, and so does a head tied to it.
// RUN: dsc-opt %s --split-input-file --dsc-bf16-linear-weights="stored-only embedding-tables" | FileCheck %s --check-prefix=EMBED
// EMBED: module attributes {dsc.bf16_params = ["embed", "embed2"], dsc.bf16_stored = ["embed", "embed2", "embed3"]}
// EMBED-LABEL: func.func @tied
// EMBED-SAME: %arg1: tensor<32x8xbf16> {dsc.weight = "embed"}
// EMBED: dsc.embed %arg1, %arg0 : (tensor<32x8xbf16>, tensor<?xi64>) -> tensor<?x8xf32>
// EMBED: dsc.linear %{{.*}}, %arg1 : (tensor<?x8xf32>, tensor<32x8xbf16>)
// EMBED-LABEL: func.func @untied
// EMBED-SAME: %arg1: tensor<32x8xbf16> {dsc.weight = "embed2"}
// A table also read otherwise (a linear's input) stays f32, and so does
// one the checkpoint does not store as BF16.
// EMBED-LABEL: func.func @read_otherwise
// EMBED-SAME: %arg1: tensor<32x8xf32> {dsc.weight = "embed3"}
// EMBED-LABEL: func.func @not_stored
// EMBED-SAME: %arg1: tensor<32x8xf32> {dsc.weight = "embed4"}
// STORED-LABEL: func.func @tied
// STORED-SAME: %arg1: tensor<32x8xf32> {dsc.weight = "embed"}
// CHECK-LABEL: func.func @tied
// CHECK-SAME: %arg1: tensor<32x8xf32> {dsc.weight = "embed"}
module attributes {dsc.bf16_stored = ["embed", "embed2", "embed3"]} {
func.func @tied(%ids: tensor<?xi64>, %t: tensor<32x8xf32> {dsc.weight = "embed"}) -> tensor<?x32xf32> {
  %0 = dsc.embed %t, %ids : (tensor<32x8xf32>, tensor<?xi64>) -> tensor<?x8xf32>
  %1 = dsc.linear %0, %t : (tensor<?x8xf32>, tensor<32x8xf32>) -> tensor<?x32xf32>
  return %1 : tensor<?x32xf32>
}
func.func @untied(%ids: tensor<?xi64>, %t: tensor<32x8xf32> {dsc.weight = "embed2"}) -> tensor<?x8xf32> {
  %0 = dsc.embed %t, %ids : (tensor<32x8xf32>, tensor<?xi64>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
func.func @read_otherwise(%ids: tensor<?xi64>, %t: tensor<32x8xf32> {dsc.weight = "embed3"}, %w: tensor<4x8xf32>) -> tensor<32x4xf32> {
  %0 = dsc.embed %t, %ids : (tensor<32x8xf32>, tensor<?xi64>) -> tensor<?x8xf32>
  %1 = dsc.linear %t, %w : (tensor<32x8xf32>, tensor<4x8xf32>) -> tensor<32x4xf32>
  return %1 : tensor<32x4xf32>
}
func.func @not_stored(%ids: tensor<?xi64>, %t: tensor<32x8xf32> {dsc.weight = "embed4"}) -> tensor<?x8xf32> {
  %0 = dsc.embed %t, %ids : (tensor<32x8xf32>, tensor<?xi64>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
}
