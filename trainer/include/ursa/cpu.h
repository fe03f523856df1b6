// What this CPU computes bf16 with, from CPUID, counting a unit only where the OS
// saves its registers (XCR0): AVX-512 BF16 (dot products in the vector registers:
// Cooper Lake, Zen 4 and 5) and AMX-BF16 (tile matrix units: Sapphire Rapids and
// later Xeons). oneDNN picks its kernels from the same bits.
#pragma once

namespace ursa {

struct CpuBf16 {
    bool avx512_bf16 = false, amx_bf16 = false;
};

CpuBf16 cpu_bf16();

// Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX-BF16, enabled by the
// OS), where bf16 autocast is faster than fp32; elsewhere it is emulated and slower.
bool cpu_has_native_bf16();

}  // namespace ursa
