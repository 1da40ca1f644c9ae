// The canonical graph of test/fixtures/tiny-v3 as dsc-compile --emit import
// writes it (regenerate: dsc-compile test/fixtures/tiny-v3 --emit import -o FILE).
#map = affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d1, d4)>
#map1 = affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>
#map2 = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
#map3 = affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d4)>
#map4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#map5 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#map6 = affine_map<(d0, d1, d2, d3, d4) -> (d0, d4, d2, d3)>
#map7 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map8 = affine_map<(d0, d1, d2) -> (d0, d2)>
#map9 = affine_map<(d0, d1, d2) -> (d0, d1)>
#map10 = affine_map<(d0, d1, d2, d3) -> (d1, d3)>
#map11 = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
#map12 = affine_map<(d0, d1, d2, d3) -> (d0, d2)>
#map13 = affine_map<(d0, d1, d2, d3) -> (d2, d0, d3)>
#map14 = affine_map<(d0, d1, d2, d3) -> (d2, d1, d3)>
#map15 = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#map16 = affine_map<(d0, d1) -> (d0, d1)>
module attributes {dsc.max_positions = 128 : i64, dsc.model = "DeepseekV3ForCausalLM"} {
  func.func private @layer_0(%arg0: tensor<?x?x64xf32>, %arg1: tensor<?x?xi64>, %arg2: tensor<64xf32>, %arg3: tensor<32x64xf32>, %arg4: tensor<32xf32>, %arg5: tensor<96x32xf32>, %arg6: tensor<40x64xf32>, %arg7: tensor<32xf32>, %arg8: tensor<128x32xf32>, %arg9: tensor<64x64xf32>, %arg10: tensor<64xf32>, %arg11: tensor<128x64xf32>, %arg12: tensor<128x64xf32>, %arg13: tensor<64x128xf32>) -> tensor<?x?x64xf32> {
    %0 = dsc.rms_norm %arg0, %arg2 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    %1 = dsc.linear %0, %arg3 : (tensor<?x?x64xf32>, tensor<32x64xf32>) -> tensor<?x?x32xf32>
    %2 = dsc.rms_norm %1, %arg4 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
    %3 = dsc.linear %2, %arg5 : (tensor<?x?x32xf32>, tensor<96x32xf32>) -> tensor<?x?x96xf32>
    %c0 = arith.constant 0 : index
    %dim = tensor.dim %3, %c0 : tensor<?x?x96xf32>
    %c1 = arith.constant 1 : index
    %dim_0 = tensor.dim %3, %c1 : tensor<?x?x96xf32>
    %c1_1 = arith.constant 1 : index
    %c1_2 = arith.constant 1 : index
    %expanded = tensor.expand_shape %3 [[0], [1], [2, 3]] output_shape [%dim, %dim_0, 4, 24] : tensor<?x?x96xf32> into tensor<?x?x4x24xf32>
    %c0_3 = arith.constant 0 : index
    %dim_4 = tensor.dim %expanded, %c0_3 : tensor<?x?x4x24xf32>
    %c1_5 = arith.constant 1 : index
    %dim_6 = tensor.dim %expanded, %c1_5 : tensor<?x?x4x24xf32>
    %extracted_slice = tensor.extract_slice %expanded[0, 0, 0, 0] [%dim_4, %dim_6, 4, 16] [1, 1, 1, 1] : tensor<?x?x4x24xf32> to tensor<?x?x4x16xf32>
    %c0_7 = arith.constant 0 : index
    %dim_8 = tensor.dim %expanded, %c0_7 : tensor<?x?x4x24xf32>
    %c1_9 = arith.constant 1 : index
    %dim_10 = tensor.dim %expanded, %c1_9 : tensor<?x?x4x24xf32>
    %extracted_slice_11 = tensor.extract_slice %expanded[0, 0, 0, 16] [%dim_8, %dim_10, 4, 8] [1, 1, 1, 1] : tensor<?x?x4x24xf32> to tensor<?x?x4x8xf32>
    %4 = dsc.rope %extracted_slice_11, %arg1 {interleaved, theta = 1.000000e+04 : f64, yarn = #dsc.yarn<factor = 4.0, original_max_position = 32, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} : (tensor<?x?x4x8xf32>, tensor<?x?xi64>) -> tensor<?x?x4x8xf32>
    %5 = dsc.linear %0, %arg6 : (tensor<?x?x64xf32>, tensor<40x64xf32>) -> tensor<?x?x40xf32>
    %c0_12 = arith.constant 0 : index
    %dim_13 = tensor.dim %5, %c0_12 : tensor<?x?x40xf32>
    %c1_14 = arith.constant 1 : index
    %dim_15 = tensor.dim %5, %c1_14 : tensor<?x?x40xf32>
    %extracted_slice_16 = tensor.extract_slice %5[0, 0, 0] [%dim_13, %dim_15, 32] [1, 1, 1] : tensor<?x?x40xf32> to tensor<?x?x32xf32>
    %6 = dsc.rms_norm %extracted_slice_16, %arg7 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
    %c0_17 = arith.constant 0 : index
    %dim_18 = tensor.dim %5, %c0_17 : tensor<?x?x40xf32>
    %c1_19 = arith.constant 1 : index
    %dim_20 = tensor.dim %5, %c1_19 : tensor<?x?x40xf32>
    %extracted_slice_21 = tensor.extract_slice %5[0, 0, 32] [%dim_18, %dim_20, 8] [1, 1, 1] : tensor<?x?x40xf32> to tensor<?x?x8xf32>
    %7 = dsc.rope %extracted_slice_21, %arg1 {interleaved, theta = 1.000000e+04 : f64, yarn = #dsc.yarn<factor = 4.0, original_max_position = 32, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
    %8 = dsc.linear %6, %arg8 : (tensor<?x?x32xf32>, tensor<128x32xf32>) -> tensor<?x?x128xf32>
    %c0_22 = arith.constant 0 : index
    %dim_23 = tensor.dim %8, %c0_22 : tensor<?x?x128xf32>
    %c1_24 = arith.constant 1 : index
    %dim_25 = tensor.dim %8, %c1_24 : tensor<?x?x128xf32>
    %c1_26 = arith.constant 1 : index
    %c1_27 = arith.constant 1 : index
    %expanded_28 = tensor.expand_shape %8 [[0], [1], [2, 3]] output_shape [%dim_23, %dim_25, 4, 32] : tensor<?x?x128xf32> into tensor<?x?x4x32xf32>
    %c0_29 = arith.constant 0 : index
    %dim_30 = tensor.dim %expanded_28, %c0_29 : tensor<?x?x4x32xf32>
    %c1_31 = arith.constant 1 : index
    %dim_32 = tensor.dim %expanded_28, %c1_31 : tensor<?x?x4x32xf32>
    %extracted_slice_33 = tensor.extract_slice %expanded_28[0, 0, 0, 0] [%dim_30, %dim_32, 4, 16] [1, 1, 1, 1] : tensor<?x?x4x32xf32> to tensor<?x?x4x16xf32>
    %c0_34 = arith.constant 0 : index
    %dim_35 = tensor.dim %expanded_28, %c0_34 : tensor<?x?x4x32xf32>
    %c1_36 = arith.constant 1 : index
    %dim_37 = tensor.dim %expanded_28, %c1_36 : tensor<?x?x4x32xf32>
    %extracted_slice_38 = tensor.extract_slice %expanded_28[0, 0, 0, 16] [%dim_35, %dim_37, 4, 16] [1, 1, 1, 1] : tensor<?x?x4x32xf32> to tensor<?x?x4x16xf32>
    %c0_39 = arith.constant 0 : index
    %c1_40 = arith.constant 1 : index
    %cst = arith.constant 0.000000e+00 : f32
    %9 = tensor.empty(%dim_4, %dim_6, %dim_6) : tensor<?x4x?x?xf32>
    %10 = linalg.fill ins(%cst : f32) outs(%9 : tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
    %11 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%extracted_slice, %extracted_slice_33 : tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>) outs(%10 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %in_88: f32, %out: f32):
      %40 = arith.mulf %in, %in_88 : f32
      %41 = arith.addf %40, %out : f32
      linalg.yield %41 : f32
    } -> tensor<?x4x?x?xf32>
    %12 = linalg.generic {indexing_maps = [#map, #map3, #map2], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%4, %7 : tensor<?x?x4x8xf32>, tensor<?x?x8xf32>) outs(%11 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %in_88: f32, %out: f32):
      %40 = arith.mulf %in, %in_88 : f32
      %41 = arith.addf %40, %out : f32
      linalg.yield %41 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_41 = arith.constant 0 : index
    %dim_42 = tensor.dim %12, %c0_41 : tensor<?x4x?x?xf32>
    %c2 = arith.constant 2 : index
    %dim_43 = tensor.dim %12, %c2 : tensor<?x4x?x?xf32>
    %c3 = arith.constant 3 : index
    %dim_44 = tensor.dim %12, %c3 : tensor<?x4x?x?xf32>
    %13 = tensor.empty(%dim_42, %dim_43, %dim_44) : tensor<?x4x?x?xf32>
    %14 = linalg.generic {indexing_maps = [#map4, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%12 : tensor<?x4x?x?xf32>) outs(%13 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %40 = linalg.index 2 : index
      %41 = linalg.index 3 : index
      %42 = arith.cmpi ugt, %41, %40 : index
      %cst_88 = arith.constant 0.264642268 : f32
      %43 = arith.mulf %in, %cst_88 : f32
      %cst_89 = arith.constant 0xFF800000 : f32
      %44 = arith.select %42, %cst_89, %43 : f32
      linalg.yield %44 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_45 = arith.constant 0 : index
    %dim_46 = tensor.dim %14, %c0_45 : tensor<?x4x?x?xf32>
    %c2_47 = arith.constant 2 : index
    %dim_48 = tensor.dim %14, %c2_47 : tensor<?x4x?x?xf32>
    %c3_49 = arith.constant 3 : index
    %dim_50 = tensor.dim %14, %c3_49 : tensor<?x4x?x?xf32>
    %cst_51 = arith.constant 0xFF800000 : f32
    %15 = tensor.empty(%dim_46, %dim_48) : tensor<?x4x?xf32>
    %16 = linalg.fill ins(%cst_51 : f32) outs(%15 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
    %17 = linalg.generic {indexing_maps = [#map4, #map5], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%14 : tensor<?x4x?x?xf32>) outs(%16 : tensor<?x4x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %40 = arith.maximumf %in, %out : f32
      linalg.yield %40 : f32
    } -> tensor<?x4x?xf32>
    %c0_52 = arith.constant 0 : index
    %dim_53 = tensor.dim %14, %c0_52 : tensor<?x4x?x?xf32>
    %c2_54 = arith.constant 2 : index
    %dim_55 = tensor.dim %14, %c2_54 : tensor<?x4x?x?xf32>
    %c3_56 = arith.constant 3 : index
    %dim_57 = tensor.dim %14, %c3_56 : tensor<?x4x?x?xf32>
    %18 = tensor.empty(%dim_53, %dim_55, %dim_57) : tensor<?x4x?x?xf32>
    %19 = linalg.generic {indexing_maps = [#map4, #map5, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%14, %17 : tensor<?x4x?x?xf32>, tensor<?x4x?xf32>) outs(%18 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %in_88: f32, %out: f32):
      %40 = arith.subf %in, %in_88 : f32
      linalg.yield %40 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_58 = arith.constant 0 : index
    %dim_59 = tensor.dim %19, %c0_58 : tensor<?x4x?x?xf32>
    %c2_60 = arith.constant 2 : index
    %dim_61 = tensor.dim %19, %c2_60 : tensor<?x4x?x?xf32>
    %c3_62 = arith.constant 3 : index
    %dim_63 = tensor.dim %19, %c3_62 : tensor<?x4x?x?xf32>
    %20 = tensor.empty(%dim_59, %dim_61, %dim_63) : tensor<?x4x?x?xf32>
    %21 = linalg.generic {indexing_maps = [#map4, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%19 : tensor<?x4x?x?xf32>) outs(%20 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %40 = math.exp %in : f32
      linalg.yield %40 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_64 = arith.constant 0 : index
    %dim_65 = tensor.dim %21, %c0_64 : tensor<?x4x?x?xf32>
    %c2_66 = arith.constant 2 : index
    %dim_67 = tensor.dim %21, %c2_66 : tensor<?x4x?x?xf32>
    %c3_68 = arith.constant 3 : index
    %dim_69 = tensor.dim %21, %c3_68 : tensor<?x4x?x?xf32>
    %cst_70 = arith.constant 0.000000e+00 : f32
    %22 = tensor.empty(%dim_65, %dim_67) : tensor<?x4x?xf32>
    %23 = linalg.fill ins(%cst_70 : f32) outs(%22 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
    %24 = linalg.generic {indexing_maps = [#map4, #map5], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%21 : tensor<?x4x?x?xf32>) outs(%23 : tensor<?x4x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %40 = arith.addf %in, %out : f32
      linalg.yield %40 : f32
    } -> tensor<?x4x?xf32>
    %c0_71 = arith.constant 0 : index
    %dim_72 = tensor.dim %21, %c0_71 : tensor<?x4x?x?xf32>
    %c2_73 = arith.constant 2 : index
    %dim_74 = tensor.dim %21, %c2_73 : tensor<?x4x?x?xf32>
    %c3_75 = arith.constant 3 : index
    %dim_76 = tensor.dim %21, %c3_75 : tensor<?x4x?x?xf32>
    %25 = tensor.empty(%dim_72, %dim_74, %dim_76) : tensor<?x4x?x?xf32>
    %26 = linalg.generic {indexing_maps = [#map4, #map5, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%21, %24 : tensor<?x4x?x?xf32>, tensor<?x4x?xf32>) outs(%25 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %in_88: f32, %out: f32):
      %40 = arith.divf %in, %in_88 : f32
      linalg.yield %40 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_77 = arith.constant 0 : index
    %c1_78 = arith.constant 1 : index
    %cst_79 = arith.constant 0.000000e+00 : f32
    %27 = tensor.empty(%dim_4, %dim_6) : tensor<?x?x4x16xf32>
    %28 = linalg.fill ins(%cst_79 : f32) outs(%27 : tensor<?x?x4x16xf32>) -> tensor<?x?x4x16xf32>
    %29 = linalg.generic {indexing_maps = [#map, #map6, #map2], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%26, %extracted_slice_38 : tensor<?x4x?x?xf32>, tensor<?x?x4x16xf32>) outs(%28 : tensor<?x?x4x16xf32>) {
    ^bb0(%in: f32, %in_88: f32, %out: f32):
      %40 = arith.mulf %in, %in_88 : f32
      %41 = arith.addf %40, %out : f32
      linalg.yield %41 : f32
    } -> tensor<?x?x4x16xf32>
    %collapsed = tensor.collapse_shape %29 [[0], [1], [2, 3]] : tensor<?x?x4x16xf32> into tensor<?x?x64xf32>
    %30 = dsc.linear %collapsed, %arg9 : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
    %c0_80 = arith.constant 0 : index
    %dim_81 = tensor.dim %arg0, %c0_80 : tensor<?x?x64xf32>
    %c1_82 = arith.constant 1 : index
    %dim_83 = tensor.dim %arg0, %c1_82 : tensor<?x?x64xf32>
    %31 = tensor.empty(%dim_81, %dim_83) : tensor<?x?x64xf32>
    %32 = linalg.generic {indexing_maps = [#map7, #map7, #map7], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg0, %30 : tensor<?x?x64xf32>, tensor<?x?x64xf32>) outs(%31 : tensor<?x?x64xf32>) {
    ^bb0(%in: f32, %in_88: f32, %out: f32):
      %40 = arith.addf %in, %in_88 : f32
      linalg.yield %40 : f32
    } -> tensor<?x?x64xf32>
    %33 = dsc.rms_norm %32, %arg10 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    %34 = dsc.linear %33, %arg11 : (tensor<?x?x64xf32>, tensor<128x64xf32>) -> tensor<?x?x128xf32>
    %35 = dsc.linear %33, %arg12 : (tensor<?x?x64xf32>, tensor<128x64xf32>) -> tensor<?x?x128xf32>
    %36 = dsc.swiglu %34, %35 : tensor<?x?x128xf32>
    %37 = dsc.linear %36, %arg13 : (tensor<?x?x128xf32>, tensor<64x128xf32>) -> tensor<?x?x64xf32>
    %c0_84 = arith.constant 0 : index
    %dim_85 = tensor.dim %32, %c0_84 : tensor<?x?x64xf32>
    %c1_86 = arith.constant 1 : index
    %dim_87 = tensor.dim %32, %c1_86 : tensor<?x?x64xf32>
    %38 = tensor.empty(%dim_85, %dim_87) : tensor<?x?x64xf32>
    %39 = linalg.generic {indexing_maps = [#map7, #map7, #map7], iterator_types = ["parallel", "parallel", "parallel"]} ins(%32, %37 : tensor<?x?x64xf32>, tensor<?x?x64xf32>) outs(%38 : tensor<?x?x64xf32>) {
    ^bb0(%in: f32, %in_88: f32, %out: f32):
      %40 = arith.addf %in, %in_88 : f32
      linalg.yield %40 : f32
    } -> tensor<?x?x64xf32>
    return %39 : tensor<?x?x64xf32>
  }
  func.func private @layer_1(%arg0: tensor<?x?x64xf32>, %arg1: tensor<?x?xi64>, %arg2: tensor<64xf32>, %arg3: tensor<32x64xf32>, %arg4: tensor<32xf32>, %arg5: tensor<96x32xf32>, %arg6: tensor<40x64xf32>, %arg7: tensor<32xf32>, %arg8: tensor<128x32xf32>, %arg9: tensor<64x64xf32>, %arg10: tensor<64xf32>, %arg11: tensor<16x64xf32>, %arg12: tensor<16xf32>, %arg13: tensor<16x32x64xf32>, %arg14: tensor<16x32x64xf32>, %arg15: tensor<16x64x32xf32>, %arg16: tensor<32x64xf32>, %arg17: tensor<32x64xf32>, %arg18: tensor<64x32xf32>) -> tensor<?x?x64xf32> {
    %0 = dsc.rms_norm %arg0, %arg2 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    %1 = dsc.linear %0, %arg3 : (tensor<?x?x64xf32>, tensor<32x64xf32>) -> tensor<?x?x32xf32>
    %2 = dsc.rms_norm %1, %arg4 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
    %3 = dsc.linear %2, %arg5 : (tensor<?x?x32xf32>, tensor<96x32xf32>) -> tensor<?x?x96xf32>
    %c0 = arith.constant 0 : index
    %dim = tensor.dim %3, %c0 : tensor<?x?x96xf32>
    %c1 = arith.constant 1 : index
    %dim_0 = tensor.dim %3, %c1 : tensor<?x?x96xf32>
    %c1_1 = arith.constant 1 : index
    %c1_2 = arith.constant 1 : index
    %expanded = tensor.expand_shape %3 [[0], [1], [2, 3]] output_shape [%dim, %dim_0, 4, 24] : tensor<?x?x96xf32> into tensor<?x?x4x24xf32>
    %c0_3 = arith.constant 0 : index
    %dim_4 = tensor.dim %expanded, %c0_3 : tensor<?x?x4x24xf32>
    %c1_5 = arith.constant 1 : index
    %dim_6 = tensor.dim %expanded, %c1_5 : tensor<?x?x4x24xf32>
    %extracted_slice = tensor.extract_slice %expanded[0, 0, 0, 0] [%dim_4, %dim_6, 4, 16] [1, 1, 1, 1] : tensor<?x?x4x24xf32> to tensor<?x?x4x16xf32>
    %c0_7 = arith.constant 0 : index
    %dim_8 = tensor.dim %expanded, %c0_7 : tensor<?x?x4x24xf32>
    %c1_9 = arith.constant 1 : index
    %dim_10 = tensor.dim %expanded, %c1_9 : tensor<?x?x4x24xf32>
    %extracted_slice_11 = tensor.extract_slice %expanded[0, 0, 0, 16] [%dim_8, %dim_10, 4, 8] [1, 1, 1, 1] : tensor<?x?x4x24xf32> to tensor<?x?x4x8xf32>
    %4 = dsc.rope %extracted_slice_11, %arg1 {interleaved, theta = 1.000000e+04 : f64, yarn = #dsc.yarn<factor = 4.0, original_max_position = 32, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} : (tensor<?x?x4x8xf32>, tensor<?x?xi64>) -> tensor<?x?x4x8xf32>
    %5 = dsc.linear %0, %arg6 : (tensor<?x?x64xf32>, tensor<40x64xf32>) -> tensor<?x?x40xf32>
    %c0_12 = arith.constant 0 : index
    %dim_13 = tensor.dim %5, %c0_12 : tensor<?x?x40xf32>
    %c1_14 = arith.constant 1 : index
    %dim_15 = tensor.dim %5, %c1_14 : tensor<?x?x40xf32>
    %extracted_slice_16 = tensor.extract_slice %5[0, 0, 0] [%dim_13, %dim_15, 32] [1, 1, 1] : tensor<?x?x40xf32> to tensor<?x?x32xf32>
    %6 = dsc.rms_norm %extracted_slice_16, %arg7 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
    %c0_17 = arith.constant 0 : index
    %dim_18 = tensor.dim %5, %c0_17 : tensor<?x?x40xf32>
    %c1_19 = arith.constant 1 : index
    %dim_20 = tensor.dim %5, %c1_19 : tensor<?x?x40xf32>
    %extracted_slice_21 = tensor.extract_slice %5[0, 0, 32] [%dim_18, %dim_20, 8] [1, 1, 1] : tensor<?x?x40xf32> to tensor<?x?x8xf32>
    %7 = dsc.rope %extracted_slice_21, %arg1 {interleaved, theta = 1.000000e+04 : f64, yarn = #dsc.yarn<factor = 4.0, original_max_position = 32, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
    %8 = dsc.linear %6, %arg8 : (tensor<?x?x32xf32>, tensor<128x32xf32>) -> tensor<?x?x128xf32>
    %c0_22 = arith.constant 0 : index
    %dim_23 = tensor.dim %8, %c0_22 : tensor<?x?x128xf32>
    %c1_24 = arith.constant 1 : index
    %dim_25 = tensor.dim %8, %c1_24 : tensor<?x?x128xf32>
    %c1_26 = arith.constant 1 : index
    %c1_27 = arith.constant 1 : index
    %expanded_28 = tensor.expand_shape %8 [[0], [1], [2, 3]] output_shape [%dim_23, %dim_25, 4, 32] : tensor<?x?x128xf32> into tensor<?x?x4x32xf32>
    %c0_29 = arith.constant 0 : index
    %dim_30 = tensor.dim %expanded_28, %c0_29 : tensor<?x?x4x32xf32>
    %c1_31 = arith.constant 1 : index
    %dim_32 = tensor.dim %expanded_28, %c1_31 : tensor<?x?x4x32xf32>
    %extracted_slice_33 = tensor.extract_slice %expanded_28[0, 0, 0, 0] [%dim_30, %dim_32, 4, 16] [1, 1, 1, 1] : tensor<?x?x4x32xf32> to tensor<?x?x4x16xf32>
    %c0_34 = arith.constant 0 : index
    %dim_35 = tensor.dim %expanded_28, %c0_34 : tensor<?x?x4x32xf32>
    %c1_36 = arith.constant 1 : index
    %dim_37 = tensor.dim %expanded_28, %c1_36 : tensor<?x?x4x32xf32>
    %extracted_slice_38 = tensor.extract_slice %expanded_28[0, 0, 0, 16] [%dim_35, %dim_37, 4, 16] [1, 1, 1, 1] : tensor<?x?x4x32xf32> to tensor<?x?x4x16xf32>
    %c0_39 = arith.constant 0 : index
    %c1_40 = arith.constant 1 : index
    %cst = arith.constant 0.000000e+00 : f32
    %9 = tensor.empty(%dim_4, %dim_6, %dim_6) : tensor<?x4x?x?xf32>
    %10 = linalg.fill ins(%cst : f32) outs(%9 : tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
    %11 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%extracted_slice, %extracted_slice_33 : tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>) outs(%10 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.mulf %in, %in_101 : f32
      %58 = arith.addf %57, %out : f32
      linalg.yield %58 : f32
    } -> tensor<?x4x?x?xf32>
    %12 = linalg.generic {indexing_maps = [#map, #map3, #map2], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%4, %7 : tensor<?x?x4x8xf32>, tensor<?x?x8xf32>) outs(%11 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.mulf %in, %in_101 : f32
      %58 = arith.addf %57, %out : f32
      linalg.yield %58 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_41 = arith.constant 0 : index
    %dim_42 = tensor.dim %12, %c0_41 : tensor<?x4x?x?xf32>
    %c2 = arith.constant 2 : index
    %dim_43 = tensor.dim %12, %c2 : tensor<?x4x?x?xf32>
    %c3 = arith.constant 3 : index
    %dim_44 = tensor.dim %12, %c3 : tensor<?x4x?x?xf32>
    %13 = tensor.empty(%dim_42, %dim_43, %dim_44) : tensor<?x4x?x?xf32>
    %14 = linalg.generic {indexing_maps = [#map4, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%12 : tensor<?x4x?x?xf32>) outs(%13 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %57 = linalg.index 2 : index
      %58 = linalg.index 3 : index
      %59 = arith.cmpi ugt, %58, %57 : index
      %cst_101 = arith.constant 0.264642268 : f32
      %60 = arith.mulf %in, %cst_101 : f32
      %cst_102 = arith.constant 0xFF800000 : f32
      %61 = arith.select %59, %cst_102, %60 : f32
      linalg.yield %61 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_45 = arith.constant 0 : index
    %dim_46 = tensor.dim %14, %c0_45 : tensor<?x4x?x?xf32>
    %c2_47 = arith.constant 2 : index
    %dim_48 = tensor.dim %14, %c2_47 : tensor<?x4x?x?xf32>
    %c3_49 = arith.constant 3 : index
    %dim_50 = tensor.dim %14, %c3_49 : tensor<?x4x?x?xf32>
    %cst_51 = arith.constant 0xFF800000 : f32
    %15 = tensor.empty(%dim_46, %dim_48) : tensor<?x4x?xf32>
    %16 = linalg.fill ins(%cst_51 : f32) outs(%15 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
    %17 = linalg.generic {indexing_maps = [#map4, #map5], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%14 : tensor<?x4x?x?xf32>) outs(%16 : tensor<?x4x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %57 = arith.maximumf %in, %out : f32
      linalg.yield %57 : f32
    } -> tensor<?x4x?xf32>
    %c0_52 = arith.constant 0 : index
    %dim_53 = tensor.dim %14, %c0_52 : tensor<?x4x?x?xf32>
    %c2_54 = arith.constant 2 : index
    %dim_55 = tensor.dim %14, %c2_54 : tensor<?x4x?x?xf32>
    %c3_56 = arith.constant 3 : index
    %dim_57 = tensor.dim %14, %c3_56 : tensor<?x4x?x?xf32>
    %18 = tensor.empty(%dim_53, %dim_55, %dim_57) : tensor<?x4x?x?xf32>
    %19 = linalg.generic {indexing_maps = [#map4, #map5, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%14, %17 : tensor<?x4x?x?xf32>, tensor<?x4x?xf32>) outs(%18 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.subf %in, %in_101 : f32
      linalg.yield %57 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_58 = arith.constant 0 : index
    %dim_59 = tensor.dim %19, %c0_58 : tensor<?x4x?x?xf32>
    %c2_60 = arith.constant 2 : index
    %dim_61 = tensor.dim %19, %c2_60 : tensor<?x4x?x?xf32>
    %c3_62 = arith.constant 3 : index
    %dim_63 = tensor.dim %19, %c3_62 : tensor<?x4x?x?xf32>
    %20 = tensor.empty(%dim_59, %dim_61, %dim_63) : tensor<?x4x?x?xf32>
    %21 = linalg.generic {indexing_maps = [#map4, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%19 : tensor<?x4x?x?xf32>) outs(%20 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %57 = math.exp %in : f32
      linalg.yield %57 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_64 = arith.constant 0 : index
    %dim_65 = tensor.dim %21, %c0_64 : tensor<?x4x?x?xf32>
    %c2_66 = arith.constant 2 : index
    %dim_67 = tensor.dim %21, %c2_66 : tensor<?x4x?x?xf32>
    %c3_68 = arith.constant 3 : index
    %dim_69 = tensor.dim %21, %c3_68 : tensor<?x4x?x?xf32>
    %cst_70 = arith.constant 0.000000e+00 : f32
    %22 = tensor.empty(%dim_65, %dim_67) : tensor<?x4x?xf32>
    %23 = linalg.fill ins(%cst_70 : f32) outs(%22 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
    %24 = linalg.generic {indexing_maps = [#map4, #map5], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%21 : tensor<?x4x?x?xf32>) outs(%23 : tensor<?x4x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %57 = arith.addf %in, %out : f32
      linalg.yield %57 : f32
    } -> tensor<?x4x?xf32>
    %c0_71 = arith.constant 0 : index
    %dim_72 = tensor.dim %21, %c0_71 : tensor<?x4x?x?xf32>
    %c2_73 = arith.constant 2 : index
    %dim_74 = tensor.dim %21, %c2_73 : tensor<?x4x?x?xf32>
    %c3_75 = arith.constant 3 : index
    %dim_76 = tensor.dim %21, %c3_75 : tensor<?x4x?x?xf32>
    %25 = tensor.empty(%dim_72, %dim_74, %dim_76) : tensor<?x4x?x?xf32>
    %26 = linalg.generic {indexing_maps = [#map4, #map5, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%21, %24 : tensor<?x4x?x?xf32>, tensor<?x4x?xf32>) outs(%25 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.divf %in, %in_101 : f32
      linalg.yield %57 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_77 = arith.constant 0 : index
    %c1_78 = arith.constant 1 : index
    %cst_79 = arith.constant 0.000000e+00 : f32
    %27 = tensor.empty(%dim_4, %dim_6) : tensor<?x?x4x16xf32>
    %28 = linalg.fill ins(%cst_79 : f32) outs(%27 : tensor<?x?x4x16xf32>) -> tensor<?x?x4x16xf32>
    %29 = linalg.generic {indexing_maps = [#map, #map6, #map2], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%26, %extracted_slice_38 : tensor<?x4x?x?xf32>, tensor<?x?x4x16xf32>) outs(%28 : tensor<?x?x4x16xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.mulf %in, %in_101 : f32
      %58 = arith.addf %57, %out : f32
      linalg.yield %58 : f32
    } -> tensor<?x?x4x16xf32>
    %collapsed = tensor.collapse_shape %29 [[0], [1], [2, 3]] : tensor<?x?x4x16xf32> into tensor<?x?x64xf32>
    %30 = dsc.linear %collapsed, %arg9 : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
    %c0_80 = arith.constant 0 : index
    %dim_81 = tensor.dim %arg0, %c0_80 : tensor<?x?x64xf32>
    %c1_82 = arith.constant 1 : index
    %dim_83 = tensor.dim %arg0, %c1_82 : tensor<?x?x64xf32>
    %31 = tensor.empty(%dim_81, %dim_83) : tensor<?x?x64xf32>
    %32 = linalg.generic {indexing_maps = [#map7, #map7, #map7], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg0, %30 : tensor<?x?x64xf32>, tensor<?x?x64xf32>) outs(%31 : tensor<?x?x64xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.addf %in, %in_101 : f32
      linalg.yield %57 : f32
    } -> tensor<?x?x64xf32>
    %33 = dsc.rms_norm %32, %arg10 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    %c0_84 = arith.constant 0 : index
    %dim_85 = tensor.dim %33, %c0_84 : tensor<?x?x64xf32>
    %c1_86 = arith.constant 1 : index
    %dim_87 = tensor.dim %33, %c1_86 : tensor<?x?x64xf32>
    %collapsed_88 = tensor.collapse_shape %33 [[0, 1], [2]] : tensor<?x?x64xf32> into tensor<?x64xf32>
    %weights, %indices = dsc.gate %collapsed_88, %arg11 bias %arg12 {n_group = 4 : i64, norm_topk_prob = true, routed_scaling_factor = 2.500000e+00 : f64, scoring = #dsc<scoring sigmoid>, top_k = 4 : i64, topk_group = 2 : i64, topk_method = #dsc<topk_method noaux_tc>} : (tensor<?x64xf32>, tensor<16x64xf32>, tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>)
    %c0_89 = arith.constant 0 : index
    %dim_90 = tensor.dim %collapsed_88, %c0_89 : tensor<?x64xf32>
    %cst_91 = arith.constant 0.000000e+00 : f32
    %34 = tensor.empty(%dim_90) : tensor<?x16xf32>
    %35 = linalg.fill ins(%cst_91 : f32) outs(%34 : tensor<?x16xf32>) -> tensor<?x16xf32>
    %36 = linalg.generic {indexing_maps = [#map8, #map8, #map9], iterator_types = ["parallel", "parallel", "reduction"]} ins(%indices, %weights : tensor<?x4xi64>, tensor<?x4xf32>) outs(%35 : tensor<?x16xf32>) {
    ^bb0(%in: i64, %in_101: f32, %out: f32):
      %57 = linalg.index 1 : index
      %58 = arith.index_cast %57 : index to i64
      %59 = arith.cmpi eq, %in, %58 : i64
      %cst_102 = arith.constant 0.000000e+00 : f32
      %60 = arith.select %59, %in_101, %cst_102 : f32
      %61 = arith.addf %out, %60 : f32
      linalg.yield %61 : f32
    } -> tensor<?x16xf32>
    %cst_92 = arith.constant 0.000000e+00 : f32
    %37 = tensor.empty(%dim_90) : tensor<16x?x32xf32>
    %38 = linalg.fill ins(%cst_92 : f32) outs(%37 : tensor<16x?x32xf32>) -> tensor<16x?x32xf32>
    %39 = linalg.generic {indexing_maps = [#map10, #map11, #map5], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%collapsed_88, %arg13 : tensor<?x64xf32>, tensor<16x32x64xf32>) outs(%38 : tensor<16x?x32xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.mulf %in, %in_101 : f32
      %58 = arith.addf %57, %out : f32
      linalg.yield %58 : f32
    } -> tensor<16x?x32xf32>
    %cst_93 = arith.constant 0.000000e+00 : f32
    %40 = tensor.empty(%dim_90) : tensor<16x?x32xf32>
    %41 = linalg.fill ins(%cst_93 : f32) outs(%40 : tensor<16x?x32xf32>) -> tensor<16x?x32xf32>
    %42 = linalg.generic {indexing_maps = [#map10, #map11, #map5], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%collapsed_88, %arg14 : tensor<?x64xf32>, tensor<16x32x64xf32>) outs(%41 : tensor<16x?x32xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.mulf %in, %in_101 : f32
      %58 = arith.addf %57, %out : f32
      linalg.yield %58 : f32
    } -> tensor<16x?x32xf32>
    %43 = dsc.swiglu %39, %42 : tensor<16x?x32xf32>
    %cst_94 = arith.constant 0.000000e+00 : f32
    %44 = tensor.empty(%dim_90) : tensor<?x64xf32>
    %45 = linalg.fill ins(%cst_94 : f32) outs(%44 : tensor<?x64xf32>) -> tensor<?x64xf32>
    %46 = linalg.generic {indexing_maps = [#map12, #map13, #map14, #map15], iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%36, %43, %arg15 : tensor<?x16xf32>, tensor<16x?x32xf32>, tensor<16x64x32xf32>) outs(%45 : tensor<?x64xf32>) {
    ^bb0(%in: f32, %in_101: f32, %in_102: f32, %out: f32):
      %57 = arith.mulf %in_101, %in_102 : f32
      %58 = arith.mulf %in, %57 : f32
      %59 = arith.addf %58, %out : f32
      linalg.yield %59 : f32
    } -> tensor<?x64xf32>
    %47 = dsc.linear %collapsed_88, %arg16 : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
    %48 = dsc.linear %collapsed_88, %arg17 : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
    %49 = dsc.swiglu %47, %48 : tensor<?x32xf32>
    %50 = dsc.linear %49, %arg18 : (tensor<?x32xf32>, tensor<64x32xf32>) -> tensor<?x64xf32>
    %c0_95 = arith.constant 0 : index
    %dim_96 = tensor.dim %46, %c0_95 : tensor<?x64xf32>
    %51 = tensor.empty(%dim_96) : tensor<?x64xf32>
    %52 = linalg.generic {indexing_maps = [#map16, #map16, #map16], iterator_types = ["parallel", "parallel"]} ins(%46, %50 : tensor<?x64xf32>, tensor<?x64xf32>) outs(%51 : tensor<?x64xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.addf %in, %in_101 : f32
      linalg.yield %57 : f32
    } -> tensor<?x64xf32>
    %53 = tensor.empty(%dim_85, %dim_87) : tensor<?x?x64xf32>
    %54 = linalg.generic {indexing_maps = [#map7], iterator_types = ["parallel", "parallel", "parallel"]} outs(%53 : tensor<?x?x64xf32>) {
    ^bb0(%out: f32):
      %57 = linalg.index 0 : index
      %58 = linalg.index 1 : index
      %59 = linalg.index 2 : index
      %60 = arith.muli %57, %dim_87 : index
      %61 = arith.addi %60, %58 : index
      %extracted = tensor.extract %52[%61, %59] : tensor<?x64xf32>
      linalg.yield %extracted : f32
    } -> tensor<?x?x64xf32>
    %c0_97 = arith.constant 0 : index
    %dim_98 = tensor.dim %32, %c0_97 : tensor<?x?x64xf32>
    %c1_99 = arith.constant 1 : index
    %dim_100 = tensor.dim %32, %c1_99 : tensor<?x?x64xf32>
    %55 = tensor.empty(%dim_98, %dim_100) : tensor<?x?x64xf32>
    %56 = linalg.generic {indexing_maps = [#map7, #map7, #map7], iterator_types = ["parallel", "parallel", "parallel"]} ins(%32, %54 : tensor<?x?x64xf32>, tensor<?x?x64xf32>) outs(%55 : tensor<?x?x64xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.addf %in, %in_101 : f32
      linalg.yield %57 : f32
    } -> tensor<?x?x64xf32>
    return %56 : tensor<?x?x64xf32>
  }
  func.func private @layer_2(%arg0: tensor<?x?x64xf32>, %arg1: tensor<?x?xi64>, %arg2: tensor<64xf32>, %arg3: tensor<32x64xf32>, %arg4: tensor<32xf32>, %arg5: tensor<96x32xf32>, %arg6: tensor<40x64xf32>, %arg7: tensor<32xf32>, %arg8: tensor<128x32xf32>, %arg9: tensor<64x64xf32>, %arg10: tensor<64xf32>, %arg11: tensor<16x64xf32>, %arg12: tensor<16xf32>, %arg13: tensor<16x32x64xf32>, %arg14: tensor<16x32x64xf32>, %arg15: tensor<16x64x32xf32>, %arg16: tensor<32x64xf32>, %arg17: tensor<32x64xf32>, %arg18: tensor<64x32xf32>) -> tensor<?x?x64xf32> {
    %0 = dsc.rms_norm %arg0, %arg2 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    %1 = dsc.linear %0, %arg3 : (tensor<?x?x64xf32>, tensor<32x64xf32>) -> tensor<?x?x32xf32>
    %2 = dsc.rms_norm %1, %arg4 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
    %3 = dsc.linear %2, %arg5 : (tensor<?x?x32xf32>, tensor<96x32xf32>) -> tensor<?x?x96xf32>
    %c0 = arith.constant 0 : index
    %dim = tensor.dim %3, %c0 : tensor<?x?x96xf32>
    %c1 = arith.constant 1 : index
    %dim_0 = tensor.dim %3, %c1 : tensor<?x?x96xf32>
    %c1_1 = arith.constant 1 : index
    %c1_2 = arith.constant 1 : index
    %expanded = tensor.expand_shape %3 [[0], [1], [2, 3]] output_shape [%dim, %dim_0, 4, 24] : tensor<?x?x96xf32> into tensor<?x?x4x24xf32>
    %c0_3 = arith.constant 0 : index
    %dim_4 = tensor.dim %expanded, %c0_3 : tensor<?x?x4x24xf32>
    %c1_5 = arith.constant 1 : index
    %dim_6 = tensor.dim %expanded, %c1_5 : tensor<?x?x4x24xf32>
    %extracted_slice = tensor.extract_slice %expanded[0, 0, 0, 0] [%dim_4, %dim_6, 4, 16] [1, 1, 1, 1] : tensor<?x?x4x24xf32> to tensor<?x?x4x16xf32>
    %c0_7 = arith.constant 0 : index
    %dim_8 = tensor.dim %expanded, %c0_7 : tensor<?x?x4x24xf32>
    %c1_9 = arith.constant 1 : index
    %dim_10 = tensor.dim %expanded, %c1_9 : tensor<?x?x4x24xf32>
    %extracted_slice_11 = tensor.extract_slice %expanded[0, 0, 0, 16] [%dim_8, %dim_10, 4, 8] [1, 1, 1, 1] : tensor<?x?x4x24xf32> to tensor<?x?x4x8xf32>
    %4 = dsc.rope %extracted_slice_11, %arg1 {interleaved, theta = 1.000000e+04 : f64, yarn = #dsc.yarn<factor = 4.0, original_max_position = 32, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} : (tensor<?x?x4x8xf32>, tensor<?x?xi64>) -> tensor<?x?x4x8xf32>
    %5 = dsc.linear %0, %arg6 : (tensor<?x?x64xf32>, tensor<40x64xf32>) -> tensor<?x?x40xf32>
    %c0_12 = arith.constant 0 : index
    %dim_13 = tensor.dim %5, %c0_12 : tensor<?x?x40xf32>
    %c1_14 = arith.constant 1 : index
    %dim_15 = tensor.dim %5, %c1_14 : tensor<?x?x40xf32>
    %extracted_slice_16 = tensor.extract_slice %5[0, 0, 0] [%dim_13, %dim_15, 32] [1, 1, 1] : tensor<?x?x40xf32> to tensor<?x?x32xf32>
    %6 = dsc.rms_norm %extracted_slice_16, %arg7 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
    %c0_17 = arith.constant 0 : index
    %dim_18 = tensor.dim %5, %c0_17 : tensor<?x?x40xf32>
    %c1_19 = arith.constant 1 : index
    %dim_20 = tensor.dim %5, %c1_19 : tensor<?x?x40xf32>
    %extracted_slice_21 = tensor.extract_slice %5[0, 0, 32] [%dim_18, %dim_20, 8] [1, 1, 1] : tensor<?x?x40xf32> to tensor<?x?x8xf32>
    %7 = dsc.rope %extracted_slice_21, %arg1 {interleaved, theta = 1.000000e+04 : f64, yarn = #dsc.yarn<factor = 4.0, original_max_position = 32, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
    %8 = dsc.linear %6, %arg8 : (tensor<?x?x32xf32>, tensor<128x32xf32>) -> tensor<?x?x128xf32>
    %c0_22 = arith.constant 0 : index
    %dim_23 = tensor.dim %8, %c0_22 : tensor<?x?x128xf32>
    %c1_24 = arith.constant 1 : index
    %dim_25 = tensor.dim %8, %c1_24 : tensor<?x?x128xf32>
    %c1_26 = arith.constant 1 : index
    %c1_27 = arith.constant 1 : index
    %expanded_28 = tensor.expand_shape %8 [[0], [1], [2, 3]] output_shape [%dim_23, %dim_25, 4, 32] : tensor<?x?x128xf32> into tensor<?x?x4x32xf32>
    %c0_29 = arith.constant 0 : index
    %dim_30 = tensor.dim %expanded_28, %c0_29 : tensor<?x?x4x32xf32>
    %c1_31 = arith.constant 1 : index
    %dim_32 = tensor.dim %expanded_28, %c1_31 : tensor<?x?x4x32xf32>
    %extracted_slice_33 = tensor.extract_slice %expanded_28[0, 0, 0, 0] [%dim_30, %dim_32, 4, 16] [1, 1, 1, 1] : tensor<?x?x4x32xf32> to tensor<?x?x4x16xf32>
    %c0_34 = arith.constant 0 : index
    %dim_35 = tensor.dim %expanded_28, %c0_34 : tensor<?x?x4x32xf32>
    %c1_36 = arith.constant 1 : index
    %dim_37 = tensor.dim %expanded_28, %c1_36 : tensor<?x?x4x32xf32>
    %extracted_slice_38 = tensor.extract_slice %expanded_28[0, 0, 0, 16] [%dim_35, %dim_37, 4, 16] [1, 1, 1, 1] : tensor<?x?x4x32xf32> to tensor<?x?x4x16xf32>
    %c0_39 = arith.constant 0 : index
    %c1_40 = arith.constant 1 : index
    %cst = arith.constant 0.000000e+00 : f32
    %9 = tensor.empty(%dim_4, %dim_6, %dim_6) : tensor<?x4x?x?xf32>
    %10 = linalg.fill ins(%cst : f32) outs(%9 : tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
    %11 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%extracted_slice, %extracted_slice_33 : tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>) outs(%10 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.mulf %in, %in_101 : f32
      %58 = arith.addf %57, %out : f32
      linalg.yield %58 : f32
    } -> tensor<?x4x?x?xf32>
    %12 = linalg.generic {indexing_maps = [#map, #map3, #map2], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%4, %7 : tensor<?x?x4x8xf32>, tensor<?x?x8xf32>) outs(%11 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.mulf %in, %in_101 : f32
      %58 = arith.addf %57, %out : f32
      linalg.yield %58 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_41 = arith.constant 0 : index
    %dim_42 = tensor.dim %12, %c0_41 : tensor<?x4x?x?xf32>
    %c2 = arith.constant 2 : index
    %dim_43 = tensor.dim %12, %c2 : tensor<?x4x?x?xf32>
    %c3 = arith.constant 3 : index
    %dim_44 = tensor.dim %12, %c3 : tensor<?x4x?x?xf32>
    %13 = tensor.empty(%dim_42, %dim_43, %dim_44) : tensor<?x4x?x?xf32>
    %14 = linalg.generic {indexing_maps = [#map4, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%12 : tensor<?x4x?x?xf32>) outs(%13 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %57 = linalg.index 2 : index
      %58 = linalg.index 3 : index
      %59 = arith.cmpi ugt, %58, %57 : index
      %cst_101 = arith.constant 0.264642268 : f32
      %60 = arith.mulf %in, %cst_101 : f32
      %cst_102 = arith.constant 0xFF800000 : f32
      %61 = arith.select %59, %cst_102, %60 : f32
      linalg.yield %61 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_45 = arith.constant 0 : index
    %dim_46 = tensor.dim %14, %c0_45 : tensor<?x4x?x?xf32>
    %c2_47 = arith.constant 2 : index
    %dim_48 = tensor.dim %14, %c2_47 : tensor<?x4x?x?xf32>
    %c3_49 = arith.constant 3 : index
    %dim_50 = tensor.dim %14, %c3_49 : tensor<?x4x?x?xf32>
    %cst_51 = arith.constant 0xFF800000 : f32
    %15 = tensor.empty(%dim_46, %dim_48) : tensor<?x4x?xf32>
    %16 = linalg.fill ins(%cst_51 : f32) outs(%15 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
    %17 = linalg.generic {indexing_maps = [#map4, #map5], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%14 : tensor<?x4x?x?xf32>) outs(%16 : tensor<?x4x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %57 = arith.maximumf %in, %out : f32
      linalg.yield %57 : f32
    } -> tensor<?x4x?xf32>
    %c0_52 = arith.constant 0 : index
    %dim_53 = tensor.dim %14, %c0_52 : tensor<?x4x?x?xf32>
    %c2_54 = arith.constant 2 : index
    %dim_55 = tensor.dim %14, %c2_54 : tensor<?x4x?x?xf32>
    %c3_56 = arith.constant 3 : index
    %dim_57 = tensor.dim %14, %c3_56 : tensor<?x4x?x?xf32>
    %18 = tensor.empty(%dim_53, %dim_55, %dim_57) : tensor<?x4x?x?xf32>
    %19 = linalg.generic {indexing_maps = [#map4, #map5, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%14, %17 : tensor<?x4x?x?xf32>, tensor<?x4x?xf32>) outs(%18 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.subf %in, %in_101 : f32
      linalg.yield %57 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_58 = arith.constant 0 : index
    %dim_59 = tensor.dim %19, %c0_58 : tensor<?x4x?x?xf32>
    %c2_60 = arith.constant 2 : index
    %dim_61 = tensor.dim %19, %c2_60 : tensor<?x4x?x?xf32>
    %c3_62 = arith.constant 3 : index
    %dim_63 = tensor.dim %19, %c3_62 : tensor<?x4x?x?xf32>
    %20 = tensor.empty(%dim_59, %dim_61, %dim_63) : tensor<?x4x?x?xf32>
    %21 = linalg.generic {indexing_maps = [#map4, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%19 : tensor<?x4x?x?xf32>) outs(%20 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %57 = math.exp %in : f32
      linalg.yield %57 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_64 = arith.constant 0 : index
    %dim_65 = tensor.dim %21, %c0_64 : tensor<?x4x?x?xf32>
    %c2_66 = arith.constant 2 : index
    %dim_67 = tensor.dim %21, %c2_66 : tensor<?x4x?x?xf32>
    %c3_68 = arith.constant 3 : index
    %dim_69 = tensor.dim %21, %c3_68 : tensor<?x4x?x?xf32>
    %cst_70 = arith.constant 0.000000e+00 : f32
    %22 = tensor.empty(%dim_65, %dim_67) : tensor<?x4x?xf32>
    %23 = linalg.fill ins(%cst_70 : f32) outs(%22 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
    %24 = linalg.generic {indexing_maps = [#map4, #map5], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%21 : tensor<?x4x?x?xf32>) outs(%23 : tensor<?x4x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %57 = arith.addf %in, %out : f32
      linalg.yield %57 : f32
    } -> tensor<?x4x?xf32>
    %c0_71 = arith.constant 0 : index
    %dim_72 = tensor.dim %21, %c0_71 : tensor<?x4x?x?xf32>
    %c2_73 = arith.constant 2 : index
    %dim_74 = tensor.dim %21, %c2_73 : tensor<?x4x?x?xf32>
    %c3_75 = arith.constant 3 : index
    %dim_76 = tensor.dim %21, %c3_75 : tensor<?x4x?x?xf32>
    %25 = tensor.empty(%dim_72, %dim_74, %dim_76) : tensor<?x4x?x?xf32>
    %26 = linalg.generic {indexing_maps = [#map4, #map5, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%21, %24 : tensor<?x4x?x?xf32>, tensor<?x4x?xf32>) outs(%25 : tensor<?x4x?x?xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.divf %in, %in_101 : f32
      linalg.yield %57 : f32
    } -> tensor<?x4x?x?xf32>
    %c0_77 = arith.constant 0 : index
    %c1_78 = arith.constant 1 : index
    %cst_79 = arith.constant 0.000000e+00 : f32
    %27 = tensor.empty(%dim_4, %dim_6) : tensor<?x?x4x16xf32>
    %28 = linalg.fill ins(%cst_79 : f32) outs(%27 : tensor<?x?x4x16xf32>) -> tensor<?x?x4x16xf32>
    %29 = linalg.generic {indexing_maps = [#map, #map6, #map2], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%26, %extracted_slice_38 : tensor<?x4x?x?xf32>, tensor<?x?x4x16xf32>) outs(%28 : tensor<?x?x4x16xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.mulf %in, %in_101 : f32
      %58 = arith.addf %57, %out : f32
      linalg.yield %58 : f32
    } -> tensor<?x?x4x16xf32>
    %collapsed = tensor.collapse_shape %29 [[0], [1], [2, 3]] : tensor<?x?x4x16xf32> into tensor<?x?x64xf32>
    %30 = dsc.linear %collapsed, %arg9 : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
    %c0_80 = arith.constant 0 : index
    %dim_81 = tensor.dim %arg0, %c0_80 : tensor<?x?x64xf32>
    %c1_82 = arith.constant 1 : index
    %dim_83 = tensor.dim %arg0, %c1_82 : tensor<?x?x64xf32>
    %31 = tensor.empty(%dim_81, %dim_83) : tensor<?x?x64xf32>
    %32 = linalg.generic {indexing_maps = [#map7, #map7, #map7], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg0, %30 : tensor<?x?x64xf32>, tensor<?x?x64xf32>) outs(%31 : tensor<?x?x64xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.addf %in, %in_101 : f32
      linalg.yield %57 : f32
    } -> tensor<?x?x64xf32>
    %33 = dsc.rms_norm %32, %arg10 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    %c0_84 = arith.constant 0 : index
    %dim_85 = tensor.dim %33, %c0_84 : tensor<?x?x64xf32>
    %c1_86 = arith.constant 1 : index
    %dim_87 = tensor.dim %33, %c1_86 : tensor<?x?x64xf32>
    %collapsed_88 = tensor.collapse_shape %33 [[0, 1], [2]] : tensor<?x?x64xf32> into tensor<?x64xf32>
    %weights, %indices = dsc.gate %collapsed_88, %arg11 bias %arg12 {n_group = 4 : i64, norm_topk_prob = true, routed_scaling_factor = 2.500000e+00 : f64, scoring = #dsc<scoring sigmoid>, top_k = 4 : i64, topk_group = 2 : i64, topk_method = #dsc<topk_method noaux_tc>} : (tensor<?x64xf32>, tensor<16x64xf32>, tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>)
    %c0_89 = arith.constant 0 : index
    %dim_90 = tensor.dim %collapsed_88, %c0_89 : tensor<?x64xf32>
    %cst_91 = arith.constant 0.000000e+00 : f32
    %34 = tensor.empty(%dim_90) : tensor<?x16xf32>
    %35 = linalg.fill ins(%cst_91 : f32) outs(%34 : tensor<?x16xf32>) -> tensor<?x16xf32>
    %36 = linalg.generic {indexing_maps = [#map8, #map8, #map9], iterator_types = ["parallel", "parallel", "reduction"]} ins(%indices, %weights : tensor<?x4xi64>, tensor<?x4xf32>) outs(%35 : tensor<?x16xf32>) {
    ^bb0(%in: i64, %in_101: f32, %out: f32):
      %57 = linalg.index 1 : index
      %58 = arith.index_cast %57 : index to i64
      %59 = arith.cmpi eq, %in, %58 : i64
      %cst_102 = arith.constant 0.000000e+00 : f32
      %60 = arith.select %59, %in_101, %cst_102 : f32
      %61 = arith.addf %out, %60 : f32
      linalg.yield %61 : f32
    } -> tensor<?x16xf32>
    %cst_92 = arith.constant 0.000000e+00 : f32
    %37 = tensor.empty(%dim_90) : tensor<16x?x32xf32>
    %38 = linalg.fill ins(%cst_92 : f32) outs(%37 : tensor<16x?x32xf32>) -> tensor<16x?x32xf32>
    %39 = linalg.generic {indexing_maps = [#map10, #map11, #map5], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%collapsed_88, %arg13 : tensor<?x64xf32>, tensor<16x32x64xf32>) outs(%38 : tensor<16x?x32xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.mulf %in, %in_101 : f32
      %58 = arith.addf %57, %out : f32
      linalg.yield %58 : f32
    } -> tensor<16x?x32xf32>
    %cst_93 = arith.constant 0.000000e+00 : f32
    %40 = tensor.empty(%dim_90) : tensor<16x?x32xf32>
    %41 = linalg.fill ins(%cst_93 : f32) outs(%40 : tensor<16x?x32xf32>) -> tensor<16x?x32xf32>
    %42 = linalg.generic {indexing_maps = [#map10, #map11, #map5], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%collapsed_88, %arg14 : tensor<?x64xf32>, tensor<16x32x64xf32>) outs(%41 : tensor<16x?x32xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.mulf %in, %in_101 : f32
      %58 = arith.addf %57, %out : f32
      linalg.yield %58 : f32
    } -> tensor<16x?x32xf32>
    %43 = dsc.swiglu %39, %42 : tensor<16x?x32xf32>
    %cst_94 = arith.constant 0.000000e+00 : f32
    %44 = tensor.empty(%dim_90) : tensor<?x64xf32>
    %45 = linalg.fill ins(%cst_94 : f32) outs(%44 : tensor<?x64xf32>) -> tensor<?x64xf32>
    %46 = linalg.generic {indexing_maps = [#map12, #map13, #map14, #map15], iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%36, %43, %arg15 : tensor<?x16xf32>, tensor<16x?x32xf32>, tensor<16x64x32xf32>) outs(%45 : tensor<?x64xf32>) {
    ^bb0(%in: f32, %in_101: f32, %in_102: f32, %out: f32):
      %57 = arith.mulf %in_101, %in_102 : f32
      %58 = arith.mulf %in, %57 : f32
      %59 = arith.addf %58, %out : f32
      linalg.yield %59 : f32
    } -> tensor<?x64xf32>
    %47 = dsc.linear %collapsed_88, %arg16 : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
    %48 = dsc.linear %collapsed_88, %arg17 : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
    %49 = dsc.swiglu %47, %48 : tensor<?x32xf32>
    %50 = dsc.linear %49, %arg18 : (tensor<?x32xf32>, tensor<64x32xf32>) -> tensor<?x64xf32>
    %c0_95 = arith.constant 0 : index
    %dim_96 = tensor.dim %46, %c0_95 : tensor<?x64xf32>
    %51 = tensor.empty(%dim_96) : tensor<?x64xf32>
    %52 = linalg.generic {indexing_maps = [#map16, #map16, #map16], iterator_types = ["parallel", "parallel"]} ins(%46, %50 : tensor<?x64xf32>, tensor<?x64xf32>) outs(%51 : tensor<?x64xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.addf %in, %in_101 : f32
      linalg.yield %57 : f32
    } -> tensor<?x64xf32>
    %53 = tensor.empty(%dim_85, %dim_87) : tensor<?x?x64xf32>
    %54 = linalg.generic {indexing_maps = [#map7], iterator_types = ["parallel", "parallel", "parallel"]} outs(%53 : tensor<?x?x64xf32>) {
    ^bb0(%out: f32):
      %57 = linalg.index 0 : index
      %58 = linalg.index 1 : index
      %59 = linalg.index 2 : index
      %60 = arith.muli %57, %dim_87 : index
      %61 = arith.addi %60, %58 : index
      %extracted = tensor.extract %52[%61, %59] : tensor<?x64xf32>
      linalg.yield %extracted : f32
    } -> tensor<?x?x64xf32>
    %c0_97 = arith.constant 0 : index
    %dim_98 = tensor.dim %32, %c0_97 : tensor<?x?x64xf32>
    %c1_99 = arith.constant 1 : index
    %dim_100 = tensor.dim %32, %c1_99 : tensor<?x?x64xf32>
    %55 = tensor.empty(%dim_98, %dim_100) : tensor<?x?x64xf32>
    %56 = linalg.generic {indexing_maps = [#map7, #map7, #map7], iterator_types = ["parallel", "parallel", "parallel"]} ins(%32, %54 : tensor<?x?x64xf32>, tensor<?x?x64xf32>) outs(%55 : tensor<?x?x64xf32>) {
    ^bb0(%in: f32, %in_101: f32, %out: f32):
      %57 = arith.addf %in, %in_101 : f32
      linalg.yield %57 : f32
    } -> tensor<?x?x64xf32>
    return %56 : tensor<?x?x64xf32>
  }
  func.func @forward(%arg0: tensor<?x?xi64>) -> tensor<?x?x256xf32> {
    %c0 = arith.constant 0 : index
    %dim = tensor.dim %arg0, %c0 : tensor<?x?xi64>
    %c1 = arith.constant 1 : index
    %dim_0 = tensor.dim %arg0, %c1 : tensor<?x?xi64>
    %0 = tensor.empty(%dim, %dim_0) : tensor<?x?xi64>
    %1 = linalg.generic {indexing_maps = [#map16], iterator_types = ["parallel", "parallel"]} outs(%0 : tensor<?x?xi64>) {
    ^bb0(%out: i64):
      %57 = linalg.index 1 : index
      %58 = arith.index_cast %57 : index to i64
      linalg.yield %58 : i64
    } -> tensor<?x?xi64>
    %2 = dsc.weight "model.embed_tokens.weight" : tensor<256x64xf32>
    %3 = dsc.embed %2, %arg0 : (tensor<256x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
    %4 = dsc.weight "model.layers.0.input_layernorm.weight" : tensor<64xf32>
    %5 = dsc.weight "model.layers.0.self_attn.q_a_proj.weight" : tensor<32x64xf32>
    %6 = dsc.weight "model.layers.0.self_attn.q_a_layernorm.weight" : tensor<32xf32>
    %7 = dsc.weight "model.layers.0.self_attn.q_b_proj.weight" : tensor<96x32xf32>
    %8 = dsc.weight "model.layers.0.self_attn.kv_a_proj_with_mqa.weight" : tensor<40x64xf32>
    %9 = dsc.weight "model.layers.0.self_attn.kv_a_layernorm.weight" : tensor<32xf32>
    %10 = dsc.weight "model.layers.0.self_attn.kv_b_proj.weight" : tensor<128x32xf32>
    %11 = dsc.weight "model.layers.0.self_attn.o_proj.weight" : tensor<64x64xf32>
    %12 = dsc.weight "model.layers.0.post_attention_layernorm.weight" : tensor<64xf32>
    %13 = dsc.weight "model.layers.0.mlp.gate_proj.weight" : tensor<128x64xf32>
    %14 = dsc.weight "model.layers.0.mlp.up_proj.weight" : tensor<128x64xf32>
    %15 = dsc.weight "model.layers.0.mlp.down_proj.weight" : tensor<64x128xf32>
    %16 = call @layer_0(%3, %1, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15) : (tensor<?x?x64xf32>, tensor<?x?xi64>, tensor<64xf32>, tensor<32x64xf32>, tensor<32xf32>, tensor<96x32xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<128x64xf32>, tensor<128x64xf32>, tensor<64x128xf32>) -> tensor<?x?x64xf32>
    %17 = dsc.weight "model.layers.1.input_layernorm.weight" : tensor<64xf32>
    %18 = dsc.weight "model.layers.1.self_attn.q_a_proj.weight" : tensor<32x64xf32>
    %19 = dsc.weight "model.layers.1.self_attn.q_a_layernorm.weight" : tensor<32xf32>
    %20 = dsc.weight "model.layers.1.self_attn.q_b_proj.weight" : tensor<96x32xf32>
    %21 = dsc.weight "model.layers.1.self_attn.kv_a_proj_with_mqa.weight" : tensor<40x64xf32>
    %22 = dsc.weight "model.layers.1.self_attn.kv_a_layernorm.weight" : tensor<32xf32>
    %23 = dsc.weight "model.layers.1.self_attn.kv_b_proj.weight" : tensor<128x32xf32>
    %24 = dsc.weight "model.layers.1.self_attn.o_proj.weight" : tensor<64x64xf32>
    %25 = dsc.weight "model.layers.1.post_attention_layernorm.weight" : tensor<64xf32>
    %26 = dsc.weight "model.layers.1.mlp.gate.weight" : tensor<16x64xf32>
    %27 = dsc.weight "model.layers.1.mlp.gate.e_score_correction_bias" : tensor<16xf32>
    %28 = dsc.weight "model.layers.1.mlp.experts.{}.gate_proj.weight" {stack = 16 : i64} : tensor<16x32x64xf32>
    %29 = dsc.weight "model.layers.1.mlp.experts.{}.up_proj.weight" {stack = 16 : i64} : tensor<16x32x64xf32>
    %30 = dsc.weight "model.layers.1.mlp.experts.{}.down_proj.weight" {stack = 16 : i64} : tensor<16x64x32xf32>
    %31 = dsc.weight "model.layers.1.mlp.shared_experts.gate_proj.weight" : tensor<32x64xf32>
    %32 = dsc.weight "model.layers.1.mlp.shared_experts.up_proj.weight" : tensor<32x64xf32>
    %33 = dsc.weight "model.layers.1.mlp.shared_experts.down_proj.weight" : tensor<64x32xf32>
    %34 = call @layer_1(%16, %1, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33) : (tensor<?x?x64xf32>, tensor<?x?xi64>, tensor<64xf32>, tensor<32x64xf32>, tensor<32xf32>, tensor<96x32xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<16x32x64xf32>, tensor<16x32x64xf32>, tensor<16x64x32xf32>, tensor<32x64xf32>, tensor<32x64xf32>, tensor<64x32xf32>) -> tensor<?x?x64xf32>
    %35 = dsc.weight "model.layers.2.input_layernorm.weight" : tensor<64xf32>
    %36 = dsc.weight "model.layers.2.self_attn.q_a_proj.weight" : tensor<32x64xf32>
    %37 = dsc.weight "model.layers.2.self_attn.q_a_layernorm.weight" : tensor<32xf32>
    %38 = dsc.weight "model.layers.2.self_attn.q_b_proj.weight" : tensor<96x32xf32>
    %39 = dsc.weight "model.layers.2.self_attn.kv_a_proj_with_mqa.weight" : tensor<40x64xf32>
    %40 = dsc.weight "model.layers.2.self_attn.kv_a_layernorm.weight" : tensor<32xf32>
    %41 = dsc.weight "model.layers.2.self_attn.kv_b_proj.weight" : tensor<128x32xf32>
    %42 = dsc.weight "model.layers.2.self_attn.o_proj.weight" : tensor<64x64xf32>
    %43 = dsc.weight "model.layers.2.post_attention_layernorm.weight" : tensor<64xf32>
    %44 = dsc.weight "model.layers.2.mlp.gate.weight" : tensor<16x64xf32>
    %45 = dsc.weight "model.layers.2.mlp.gate.e_score_correction_bias" : tensor<16xf32>
    %46 = dsc.weight "model.layers.2.mlp.experts.{}.gate_proj.weight" {stack = 16 : i64} : tensor<16x32x64xf32>
    %47 = dsc.weight "model.layers.2.mlp.experts.{}.up_proj.weight" {stack = 16 : i64} : tensor<16x32x64xf32>
    %48 = dsc.weight "model.layers.2.mlp.experts.{}.down_proj.weight" {stack = 16 : i64} : tensor<16x64x32xf32>
    %49 = dsc.weight "model.layers.2.mlp.shared_experts.gate_proj.weight" : tensor<32x64xf32>
    %50 = dsc.weight "model.layers.2.mlp.shared_experts.up_proj.weight" : tensor<32x64xf32>
    %51 = dsc.weight "model.layers.2.mlp.shared_experts.down_proj.weight" : tensor<64x32xf32>
    %52 = call @layer_2(%34, %1, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51) : (tensor<?x?x64xf32>, tensor<?x?xi64>, tensor<64xf32>, tensor<32x64xf32>, tensor<32xf32>, tensor<96x32xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<16x32x64xf32>, tensor<16x32x64xf32>, tensor<16x64x32xf32>, tensor<32x64xf32>, tensor<32x64xf32>, tensor<64x32xf32>) -> tensor<?x?x64xf32>
    %53 = dsc.weight "model.norm.weight" : tensor<64xf32>
    %54 = dsc.rms_norm %52, %53 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    %55 = dsc.weight "lm_head.weight" : tensor<256x64xf32>
    %56 = dsc.linear %54, %55 : (tensor<?x?x64xf32>, tensor<256x64xf32>) -> tensor<?x?x256xf32>
    return %56 : tensor<?x?x256xf32>
  }
}
