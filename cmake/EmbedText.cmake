# Writes OUTPUT, a C++ header holding the text of INPUT as the string
# constant NAME (a raw string literal): sources the compiler carries, such
# as the kernel library's MLIR. Run as `cmake -DINPUT=... -DOUTPUT=...
# -DNAME=... -P EmbedText.cmake`.
file(READ "${INPUT}" text)
string(FIND "${text}" ")dsc_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string's delimiter")
endif()
file(WRITE "${OUTPUT}"
  "// GENERATED from ${INPUT} by cmake/EmbedText.cmake.\n"
  "#pragma once\n"
  "inline constexpr char ${NAME}[] = R\"dsc_embed(${text})dsc_embed\";\n")
