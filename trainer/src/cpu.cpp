#include "ursa/cpu.h"

#include <cpuid.h>

#include <cstdint>

namespace ursa {

namespace {

CpuBf16 detect() {
    // ref: Intel SDM, CPUID leaf 7: subleaf 1 EAX bit 5 is AVX512_BF16, subleaf 0 EDX
    // bit 22 AMX-BF16. XCR0 says whether the OS saves the state they need: bits 5-7 the
    // AVX-512 registers, 17-18 the AMX tiles (Linux then grants them per process).
    CpuBf16 found;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0, nullptr) < 7) return found;
    __cpuid_count(1, 0, a, b, c, d);
    if (!(c & (1u << 27))) return found;  // no OSXSAVE: xgetbv is not there
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    const uint64_t xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
    const bool avx512_state = (xcr0 & 0xe6) == 0xe6;
    const bool amx_state = (xcr0 & (3ull << 17)) == (3ull << 17);
    __cpuid_count(7, 0, a, b, c, d);
    found.amx_bf16 = (d & (1u << 22)) && amx_state;
    if (a >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        found.avx512_bf16 = (a & (1u << 5)) && avx512_state;
    }
    return found;
}

}  // namespace

CpuBf16 cpu_bf16() {
    static const CpuBf16 found = detect();
    return found;
}

bool cpu_has_native_bf16() {
    const CpuBf16 c = cpu_bf16();
    return c.avx512_bf16 || c.amx_bf16;
}

}  // namespace ursa
