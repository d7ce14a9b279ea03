// MLENS_SIMD_CLONES: compile a hot loop for three x86-64 levels (baseline SSE2, AVX2+FMA, AVX-512)
// and let the loader pick the best one the CPU has (GCC/Clang function multiversioning, an ifunc).
//
// Debian builds for plain x86-64, so without this the loops that LibTorch does not provide (the
// pooling with indices, the sparse maps at the winners) would use a quarter of AVX-512's width.
// Elsewhere (other architectures; GCC before 11, which does not know the levels; Clang, which spells
// them differently) the attribute is empty and the loop is portable.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && __GNUC__ >= 11 && !defined(__clang__) && defined(__ELF__) && \
    !defined(__CUDACC__)
#define MLENS_SIMD_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define MLENS_SIMD_CLONES
#endif
