// A router written out (transformers' DeepseekV3TopkRouter as an exporter
// writes it: sigmoid scores, a correction bias for choosing, the best
// groups by the sum of their top 2 (or their maximum), a -inf mask outside
// them, top-k, the chosen unbiased scores normalised and scaled) that feeds
// fused experts becomes one dsc.gate. Inputs: Inputs/router-decomposed.mlir.

// RUN: dsc-opt %S/Inputs/router-decomposed.mlir --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// REPORT: remark: fusion report: router: router: fused
// REPORT: remark: fusion report: router_group_max: router: fused

// RUN: dsc-opt %S/Inputs/router-decomposed.mlir --dsc-fuse-moe --canonicalize | FileCheck %s
// CHECK-LABEL: func.func @router
// CHECK-NEXT: %[[W:.*]], %[[I:.*]] = dsc.gate %arg0, %arg1 bias %arg2 {n_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.500000e+00 : f64, scoring = #dsc<scoring sigmoid>, top_k = 2 : i64, topk_group = 1 : i64, topk_method = #dsc<topk_method noaux_tc>}
// CHECK-NEXT: dsc.moe %arg0, %[[W]], %[[I]] experts
// CHECK-NOT: dsc.topk
// CHECK-LABEL: func.func @router_group_max
// CHECK-NEXT: dsc.gate {{.*}}topk_method = #dsc<topk_method group_limited_greedy>
// CHECK-NOT: dsc.topk

// negative_zero_fill: the dropped groups' experts filled with 0, not -inf
// (older DeepSeek code): a different choice when biased scores are
// negative, so not dsc.gate.
// RUN: sed -e 's/arith.select %0, %%s, %ninf : f32/arith.select %0, %%s, %zero : f32/' %S/Inputs/router-decomposed.mlir | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=ZERO
// ZERO: remark: fusion report: router: router: not fused: experts outside the kept groups are not masked to -inf (nor softmax scores to 0)

// negative_biased_weights: the weights read from the biased scores.
// RUN: sed -e 's/tensor.extract %%scores\[/tensor.extract %%sel[/' %S/Inputs/router-decomposed.mlir | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=BIASED
// BIASED: remark: fusion report: router: router: not fused: experts are chosen by something other than the weights' scores

// negative_top3_groups: group scores from each group's top 3.
// RUN: sed -e 's/{k = 2 : i64} : (tensor<?x2x4xf32>) -> (tensor<?x2x2xf32>, tensor<?x2x2xi64>)/{k = 3 : i64} : (tensor<?x2x4xf32>) -> (tensor<?x2x3xf32>, tensor<?x2x3xi64>)/' -e 's/ins(%best : tensor<?x2x2xf32>)/ins(%best : tensor<?x2x3xf32>)/' %S/Inputs/router-decomposed.mlir | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=TOP3
// TOP3: remark: fusion report: router: router: not fused: group scores are neither the sum of each group's top 2 nor its maximum of the selection scores

// transformers' `sum + 1e-20` divisor is the sum (below f32's resolution of
// any sum of scores): still fused.
// RUN: sed -e 's/%0 = arith.divf %a, %%s : f32/%%eps = arith.constant 1.0e-20 : f32\n    %%den = arith.addf %%s, %%eps : f32\n    %0 = arith.divf %a, %%den : f32/' %S/Inputs/router-decomposed.mlir | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=EPS
// EPS: remark: fusion report: router: router: fused

// negative_divided_by_max: the chosen scores divided by their maximum, not
// their sum.
// RUN: sed -e '/%%sum = linalg.generic/,/} ->/s/arith.addf %a, %acc/arith.maximumf %a, %acc/' %S/Inputs/router-decomposed.mlir | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=DIV
// DIV: remark: fusion report: router: router: not fused: routing weights are divided by something not their sum

// transformers' DeepseekV2TopkRouter as the HF importer writes it with
// --import-decomposed: softmax scores, no bias; greedy (the top-k's own
// values as the weights), and group_limited_greedy (each group's maximum,
// the other groups' experts filled with 0.0: the same choice as -inf for
// positive softmax scores). Both become dsc.gate with the config's
// parameters.
// RUN: dsc-compile %fixtures/tiny-v2-lite --import-decomposed --emit import -o - --quiet | dsc-opt --dsc-fuse-elementwise --dsc-fuse-moe --canonicalize | FileCheck %s --check-prefix=SOFTMAX
// SOFTMAX: dsc.gate {{.*}} {n_group = 1 : i64, norm_topk_prob = false, routed_scaling_factor = 1.000000e+00 : f64, scoring = #dsc<scoring softmax>, top_k = 4 : i64, topk_group = 1 : i64, topk_method = #dsc<topk_method greedy>}
// SOFTMAX-NOT: dsc.topk
// RUN: rm -rf %t.glg && %python %scripts/make_variant.py --variant group-limited-greedy --out %t.glg --seed 7 > /dev/null
// RUN: dsc-compile %t.glg --import-decomposed --emit import -o - --quiet | dsc-opt --dsc-fuse-elementwise --dsc-fuse-moe --canonicalize | FileCheck %s --check-prefix=SOFTMAX-GROUPS
// SOFTMAX-GROUPS: dsc.gate {{.*}} {n_group = 4 : i64, norm_topk_prob = false, routed_scaling_factor = 2.000000e+00 : f64, scoring = #dsc<scoring softmax>, top_k = 4 : i64, topk_group = 2 : i64, topk_method = #dsc<topk_method group_limited_greedy>}
// SOFTMAX-GROUPS-NOT: dsc.topk
// negative_softmax_exp2: exp2 in place of exp in the scores' softmax.
// RUN: dsc-compile %fixtures/tiny-v2-lite --import-decomposed --emit import -o - --quiet | dsc-opt --dsc-fuse-elementwise | sed -e 's/math.exp %/math.exp2 %/' | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOT-SOFTMAX
// NOT-SOFTMAX: remark: fusion report: layer_1: router: not fused: scores are not the sigmoid or the softmax of the hidden states times a router weight
