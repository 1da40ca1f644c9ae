// A kernel module asking for a PTX ISA LLVM cannot write.
module attributes {gpu.container_module} {
gpu.module @too_new attributes {dsc.ptx = 120 : i32} {
}
}
