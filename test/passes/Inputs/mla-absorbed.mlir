// dsc.mla in its absorbed form, whose decomposition is the absorbed
// formulation fuse-mla.mlir checks the fusion of.
func.func @mla_absorbed(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32>) -> tensor<?x?x4x16xf32> {
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form absorbed>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}
