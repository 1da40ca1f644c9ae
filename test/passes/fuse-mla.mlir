// The importer's naive latent attention (three layers of tiny-v3) becomes
// dsc.mla on the latent; the form follows the cost rule (prefill: naive when
// dn + dv < 2 C, here 32 < 64) unless forced.
// RUN: dsc-opt %S/Inputs/tiny-v3-import.mlir --dsc-fuse-mla --canonicalize | FileCheck %s
// CHECK-LABEL: func.func private @layer_0
// CHECK: %[[KV:.*]] = dsc.linear %{{.*}}, %{{.*}} : (tensor<?x?x64xf32>, tensor<40x64xf32>) -> tensor<?x?x40xf32>
// CHECK: %[[LATENT:.*]] = dsc.rms_norm
// CHECK: %[[KPE:.*]] = dsc.rope
// CHECK: %[[O:.*]] = dsc.mla %{{.*}}, %{{.*}}, %[[LATENT]], %[[KPE]], %{{.*}} {form = #dsc<mla_form naive>, scale = 0.26464226841926575 : f64} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
// CHECK-NOT: math.exp
// CHECK-LABEL: func.func private @layer_1
// CHECK: dsc.mla
// CHECK-LABEL: func.func private @layer_2
// CHECK: dsc.mla

// RUN: dsc-opt %S/Inputs/tiny-v3-import.mlir --dsc-fuse-mla=form=absorbed | FileCheck %s --check-prefix=ABSORBED
// ABSORBED: dsc.mla {{.*}}form = #dsc<mla_form absorbed>

// Near misses stay unfused, and the report says why: attention that is not
// causal (the mask compares the other way) ...
// RUN: sed -e 's/arith.cmpi ugt/arith.cmpi ult/' %S/Inputs/tiny-v3-import.mlir | dsc-opt --dsc-fuse-mla=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=NEGATIVE-MASK
// NEGATIVE-MASK: remark: fusion report: layer_0: mla: not fused: scores are not scaled and causally masked

// ... and a function without attention.
// RUN: dsc-opt %S/../dialect/ops.mlir --split-input-file --dsc-fuse-mla=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=NONE
// NONE: remark: fusion report: weights: mla: no attention

// Latent attention as torch.onnx.export writes it (the exported tiny-v3,
// after dsc-fuse-elementwise made its latent norm a dsc.rms_norm):
// [batch, heads, seq] layout, queries and keys concatenated from their
// no-rope and rope parts (the keys through a transposed buffer), the
// scores scaled plus a [batch, 1, seq, seq] mask computed in the graph,
// kv_b stored transposed. Each layer becomes dsc.mla with that mask, and
// the softmax scale the graph computed (with YaRN's mscale) is the one the
// HF importer derives from config.json for the same model.
// RUN: dsc-compile %fixtures/onnx/tiny-v3/model.onnx --emit import -o %t.exported.mlir --quiet
// RUN: dsc-opt %t.exported.mlir --dsc-fuse-elementwise=chains=true -o %t.exported-norms.mlir
// RUN: dsc-opt %t.exported-norms.mlir --dsc-fuse-mla=report=true --canonicalize -o %t.exported-fused.mlir 2>&1 | FileCheck %s --check-prefix=EXPORTED
// EXPORTED-COUNT-3: remark: fusion report: forward: mla: fused
// RUN: FileCheck %s --check-prefix=EXPORTED-IR < %t.exported-fused.mlir
// EXPORTED-IR-COUNT-3: dsc.mla {{.*}} mask %{{.*}} {form = #dsc<mla_form naive>, scale = 0.264642268{{[0-9]*}} : f64} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>, tensor<?x1x?x?xf32>) -> tensor<?x?x4x16xf32>
// negative_transposed_mask: the mask read as [b, 0, j, i].
// RUN: sed -e 's/-> (d0, 0, d2, d3)>/-> (d0, 0, d3, d2)>/' %t.exported-norms.mlir | dsc-opt --dsc-fuse-mla=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=EXPORTED-MASK
// EXPORTED-MASK-COUNT-3: remark: fusion report: forward: mla: not fused: scores are not scaled and masked by a [batch, 1, seq, seq] mask
// negative_not_softmax: exp2 in place of exp.
// RUN: sed -e 's/math.exp %/math.exp2 %/' %t.exported-norms.mlir | dsc-opt --dsc-fuse-mla=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=EXPORTED-SOFTMAX
// EXPORTED-SOFTMAX-COUNT-3: remark: fusion report: forward: mla: not fused: probabilities are not a softmax
// The absorbed formulation as torch.onnx.export writes it (tiny-v3 with
// every attention module's forward in the absorbed form,
// export_tiny_v3.py --attention absorbed): W_UK into the queries (an
// Einsum with a weight the exporter sliced out of kv_b), the scores the
// sum of a latent part and a rope part, scaled, plus the graph's mask, the
// latent-space output times W_UV. Each layer becomes dsc.mla with kv_b
// joined back from the two halves.
// RUN: dsc-compile %fixtures/onnx/tiny-v3-absorbed/model.onnx --emit import -o %t.exported-absorbed.mlir --quiet
// RUN: dsc-opt %t.exported-absorbed.mlir --dsc-fuse-elementwise=chains=true -o %t.exported-absorbed-norms.mlir
// RUN: dsc-opt %t.exported-absorbed-norms.mlir --dsc-fuse-mla=report=true --canonicalize -o %t.exported-absorbed-fused.mlir 2>&1 | FileCheck %s --check-prefix=EXPORTED-ABSORBED
// EXPORTED-ABSORBED-COUNT-3: remark: fusion report: forward: mla: fused
// RUN: FileCheck %s --check-prefix=EXPORTED-ABSORBED-IR < %t.exported-absorbed-fused.mlir
// EXPORTED-ABSORBED-IR-COUNT-3: dsc.mla {{.*}} mask %{{.*}} {form = #dsc<mla_form naive>, scale = 0.264642268{{[0-9]*}} : f64} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>, tensor<?x1x?x?xf32>) -> tensor<?x?x4x16xf32>
// EXPORTED-ABSORBED-IR-NOT: arith.maximumf
// negative_absorbed_transposed_mask, negative_absorbed_not_softmax and
// negative_absorbed_negative_scale: near misses say why.
// RUN: sed -e 's/-> (d0, 0, d2, d3)>/-> (d0, 0, d3, d2)>/' %t.exported-absorbed-norms.mlir | dsc-opt --dsc-fuse-mla=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=EXPORTED-ABSORBED-MASK
// EXPORTED-ABSORBED-MASK-COUNT-3: remark: fusion report: forward: mla: not fused: scores are not a latent part and a rope part, scaled and masked by a [batch, 1, seq, seq] mask
// RUN: sed -e 's/math.exp %/math.exp2 %/' %t.exported-absorbed-norms.mlir | dsc-opt --dsc-fuse-mla=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=EXPORTED-ABSORBED-SOFTMAX
// EXPORTED-ABSORBED-SOFTMAX-COUNT-3: remark: fusion report: forward: mla: not fused: probabilities are not a softmax
// RUN: sed -e 's/dense<0.264642268> : tensor<f32>/dense<-0.264642268> : tensor<f32>/' %t.exported-absorbed.mlir | dsc-opt --dsc-fuse-elementwise=chains=true --dsc-fuse-mla=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=EXPORTED-ABSORBED-SCALE
// EXPORTED-ABSORBED-SCALE-COUNT-3: remark: fusion report: forward: mla: not fused: scores are not a latent part and a rope part, scaled and masked by a [batch, 1, seq, seq] mask
// Plain multi-head attention (tiny-lm: values not decompressed from a
// latent) is no candidate.
// RUN: dsc-compile %S/../e2e/Inputs/onnx/tiny-lm-opset18.onnx --emit import -o - --quiet | dsc-opt --dsc-fuse-elementwise=chains=true --dsc-fuse-mla=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=EXPORTED-MHA
// EXPORTED-MHA: remark: fusion report: forward: mla: no attention

// A bad form is an error.
// RUN: not dsc-opt %S/Inputs/tiny-v3-import.mlir --dsc-fuse-mla=form=fast -o /dev/null 2>&1 | FileCheck %s --check-prefix=FORM
// FORM: error: dsc-fuse-mla: form must be auto, naive or absorbed, not 'fast'

// The already-absorbed formulation (queries times W_UK, scores and values on
// the latent, outputs times W_UV) fuses too: the importer's absorbed graph,
// and dsc.mla's own absorbed decomposition, which fuses back into the op
// (with the form the cost rule picks).
// RUN: dsc-compile %fixtures/tiny-v3 --import-attention absorbed --emit import -o %t.absorbed.mlir --quiet
// RUN: dsc-opt %t.absorbed.mlir --dsc-fuse-mla=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=ABSORBED-REPORT
// ABSORBED-REPORT: remark: fusion report: layer_0: mla: fused
// ABSORBED-REPORT: remark: fusion report: layer_1: mla: fused
// ABSORBED-REPORT: remark: fusion report: layer_2: mla: fused
// RUN: dsc-opt %t.absorbed.mlir --dsc-fuse-mla --canonicalize | FileCheck %s --check-prefix=ABSORBED-INPUT
// ABSORBED-INPUT-LABEL: func.func private @layer_0
// ABSORBED-INPUT: dsc.mla {{.*}} {form = #dsc<mla_form naive>, scale = 0.26464226841926575 : f64} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
// ABSORBED-INPUT-NOT: math.exp
// ABSORBED-INPUT-LABEL: func.func private @layer_1
// RUN: dsc-opt %S/Inputs/mla-absorbed.mlir --dsc-lower-to-linalg=plain-attention | dsc-opt --dsc-fuse-mla --canonicalize | FileCheck %s --check-prefix=ROUNDTRIP
// ROUNDTRIP: dsc.mla %arg0, %arg1, %arg2, %arg3, %arg4 {form = #dsc<mla_form naive>, scale = 2.500000e-01 : f64}
// ROUNDTRIP-NOT: linalg.generic

// negative_absorbed_not_causal: the same graph with the mask reversed.
// RUN: dsc-opt %S/Inputs/mla-absorbed.mlir --dsc-lower-to-linalg=plain-attention | sed -e 's/arith.cmpi ugt/arith.cmpi ult/' | dsc-opt --dsc-fuse-mla=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=NEGATIVE-ABSORBED-MASK
// NEGATIVE-ABSORBED-MASK: remark: fusion report: mla_absorbed: mla: not fused: scores are not scaled and causally masked

// negative_absorbed_wrong_half: the queries multiplied by the W_UV half of
// kv_b instead of W_UK.
// RUN: dsc-opt %S/Inputs/mla-absorbed.mlir --dsc-lower-to-linalg=plain-attention | sed -e 's/tensor.extract_slice %expanded\[0, 0, 0\]/tensor.extract_slice %expanded[0, 16, 0]/' | dsc-opt --dsc-fuse-mla=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=NEGATIVE-ABSORBED-HALF
// NEGATIVE-ABSORBED-HALF: remark: fusion report: mla_absorbed: mla: not fused: queries are not multiplied by the W_UK half of the same kv_b
