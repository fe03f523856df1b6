# Bounds that stb_image 2.27 (Debian 12's libstb-dev) lacks, added to the copy that
# the build vendors. Each one was hit by core's fuzzer (tests/fuzz/fuzz_image.cpp,
# inputs kept in tests/fixtures/fuzz/) or guards the same kind of arithmetic next to
# one that was; stb 2.28+ bounds the same places. Each fix names the text it expects
# and how often: a different stb fails the configure step instead of building
# unpatched. A newer stb (which has "bad size list") is used as it is.

# ursa_stb_fix(<text var> <expected count> <old> <new>)
function(ursa_stb_fix var count old new)
  set(text "${${var}}")
  string(LENGTH "${text}" before)
  string(REPLACE "${old}" "" without "${text}")
  string(LENGTH "${without}" after)
  string(LENGTH "${old}" one)
  math(EXPR found "(${before} - ${after}) / ${one}")
  if(NOT found EQUAL count)
    message(FATAL_ERROR "stb_image.h: expected ${count} of\n${old}\nfound ${found}")
  endif()
  string(REPLACE "${old}" "${new}" text "${text}")
  set(${var} "${text}" PARENT_SCOPE)
endfunction()

function(ursa_patch_stb_image var)
  set(t "${${var}}")
  if(t MATCHES "bad size list")
    return()
  endif()
  # JPEG: a Huffman table whose symbol counts add up to more than 256 overflows size[257].
  ursa_stb_fix(t 1
    "      for (j=0; j < count[i]; ++j)\n         h->size[k++] = (stbi_uc) (i+1);\n"
    "      for (j=0; j < count[i]; ++j) {\n         if (k >= 256) return stbi__err(\"bad Huffman table\",\"Corrupt JPEG\");\n         h->size[k++] = (stbi_uc) (i+1);\n      }\n")
  # JPEG: a slow-path code can map past the table's 256 symbols.
  ursa_stb_fix(t 1
    "   c = ((j->code_buffer >> (32 - k)) & stbi__bmask[k]) + h->delta[k];\n"
    "   c = ((j->code_buffer >> (32 - k)) & stbi__bmask[k]) + h->delta[k];\n   if (c < 0 || c >= 256) return -1;\n")
  # JPEG: reading past the end of the entropy data drove code_bits negative, and the
  # next refill shifted by more than 31 bits. Out of bits now reads as zeros.
  ursa_stb_fix(t 2
    "   if (j->code_bits < n) stbi__grow_buffer_unsafe(j);\n"
    "   if (j->code_bits < n) stbi__grow_buffer_unsafe(j);\n   if (j->code_bits < n) return 0;\n")
  ursa_stb_fix(t 1
    "   if (j->code_bits < 1) stbi__grow_buffer_unsafe(j);\n"
    "   if (j->code_bits < 1) stbi__grow_buffer_unsafe(j);\n   if (j->code_bits < 1) return 0;\n")
  ursa_stb_fix(t 1
    "         s = r & 15; // combined length\n         j->code_buffer <<= s;\n"
    "         s = r & 15; // combined length\n         if (s > j->code_bits) return stbi__err(\"bad huffman code\",\"Corrupt JPEG\");\n         j->code_buffer <<= s;\n")
  ursa_stb_fix(t 1
    "            s = r & 15; // combined length\n            j->code_buffer <<= s;\n"
    "            s = r & 15; // combined length\n            if (s > j->code_bits) return stbi__err(\"bad huffman code\",\"Corrupt JPEG\");\n            j->code_buffer <<= s;\n")
  # JPEG: the DC predictor and its product with the quantiser are signed int
  # arithmetic that corrupt data can overflow; a real coefficient fits in 16 bits.
  ursa_stb_fix(t 1
    "   dc = j->img_comp[b].dc_pred + diff;\n   j->img_comp[b].dc_pred = dc;\n   data[0] = (short) (dc * dequant[0]);\n"
    "   if (diff > 0 ? j->img_comp[b].dc_pred > INT_MAX - diff : j->img_comp[b].dc_pred < INT_MIN - diff) return stbi__err(\"bad delta\",\"Corrupt JPEG\");\n   dc = j->img_comp[b].dc_pred + diff;\n   j->img_comp[b].dc_pred = dc;\n   if ((long long) dc * dequant[0] < -32768 || (long long) dc * dequant[0] > 32767) return stbi__err(\"bad delta\",\"Corrupt JPEG\");\n   data[0] = (short) (dc * dequant[0]);\n")
  ursa_stb_fix(t 1
    "      dc = j->img_comp[b].dc_pred + diff;\n      j->img_comp[b].dc_pred = dc;\n      data[0] = (short) (dc * (1 << j->succ_low));\n"
    "      if (diff > 0 ? j->img_comp[b].dc_pred > INT_MAX - diff : j->img_comp[b].dc_pred < INT_MIN - diff) return stbi__err(\"bad delta\",\"Corrupt JPEG\");\n      dc = j->img_comp[b].dc_pred + diff;\n      j->img_comp[b].dc_pred = dc;\n      if ((long long) dc * (1 << j->succ_low) < -32768 || (long long) dc * (1 << j->succ_low) > 32767) return stbi__err(\"bad delta\",\"Corrupt JPEG\");\n      data[0] = (short) (dc * (1 << j->succ_low));\n")
  # JPEG: the decoder state was used without being cleared.
  ursa_stb_fix(t 2
    "   if (!j) return stbi__err(\"outofmem\", \"Out of memory\");\n   j->s = s;\n"
    "   if (!j) return stbi__err(\"outofmem\", \"Out of memory\");\n   memset(j, 0, sizeof(stbi__jpeg));\n   j->s = s;\n")
  ursa_stb_fix(t 1
    "   if (!j) return stbi__errpuc(\"outofmem\", \"Out of memory\");\n   STBI_NOTUSED(ri);\n"
    "   if (!j) return stbi__errpuc(\"outofmem\", \"Out of memory\");\n   memset(j, 0, sizeof(stbi__jpeg));\n   STBI_NOTUSED(ri);\n")
  # PNG (zlib): length and distance codes that DEFLATE forbids, and pointer sums that
  # could wrap; compared as distances instead.
  ursa_stb_fix(t 1
    "         if (z < 0) return stbi__err(\"bad huffman code\",\"Corrupt PNG\"); // error in huffman codes\n"
    "         if (z < 0 || z >= 286) return stbi__err(\"bad huffman code\",\"Corrupt PNG\"); // error in huffman codes\n")
  ursa_stb_fix(t 1
    "         if (z < 0) return stbi__err(\"bad huffman code\",\"Corrupt PNG\");\n"
    "         if (z < 0 || z >= 30) return stbi__err(\"bad huffman code\",\"Corrupt PNG\");\n")
  ursa_stb_fix(t 1 "         if (zout + len > a->zout_end) {\n" "         if (len > a->zout_end - zout) {\n")
  ursa_stb_fix(t 1 "   if (a->zout + len > a->zout_end)\n" "   if (len > a->zout_end - a->zout)\n")
  # PNG: an empty IDAT chunk copied 0 bytes to a null buffer (memcpy's arguments must
  # not be null even then).
  ursa_stb_fix(t 1
    "   if (s->img_buffer+n <= s->img_buffer_end) {\n      memcpy(buffer, s->img_buffer, n);\n"
    "   if (s->img_buffer+n <= s->img_buffer_end) {\n      if (n > 0) memcpy(buffer, s->img_buffer, n);\n")
  # Not a fix: Emscripten translates SSE2 intrinsics to wasm SIMD (-msimd128 -msse2),
  # so stb's SSE2 IDCT and colour conversion serve the wasm build too. Native x86-64
  # runs the same code, which keeps the two builds' pixels bit-identical.
  ursa_stb_fix(t 1
    "#if defined(__x86_64__) || defined(_M_X64)\n#define STBI__X64_TARGET\n"
    "#if defined(__x86_64__) || defined(_M_X64) || (defined(__EMSCRIPTEN__) && defined(__SSE2__))\n#define STBI__X64_TARGET\n")
  set(${var} "${t}" PARENT_SCOPE)
endfunction()
