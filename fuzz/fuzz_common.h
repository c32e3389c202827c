/*
 * fuzz_common.h - shared by the libFuzzer targets of fuzz/ (see docs/fuzzing.md).
 *
 * Every target creates one APR root pool per process (fz_init, from
 * LLVMFuzzerInitialize) and one subpool per input (fz_input_begin), destroyed
 * after the input (fz_input_end), so memory a core function keeps outside its
 * pool shows up as a leak.
 *
 * fuzz_common.c also replaces apr_palloc in the fuzz binaries: every pool
 * allocation is its own malloc'ed block, freed when its pool is cleared or
 * destroyed.  AddressSanitizer then sees the exact size of each pool buffer
 * (an overflow by one byte is reported instead of landing in the pool's
 * block) and every use after a pool is gone.  CA_FUZZ_POOL_BLOCKS=1 in the
 * environment turns this off (APR's own block allocator, faster).
 */
#ifndef CA_FUZZ_COMMON_H
#define CA_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <apr_pools.h>

/* The process's root pool (lives until exit). */
extern apr_pool_t *fz_root;

/* apr_initialize and the root pool; aborts on failure. */
void fz_init(void);

/* A fresh subpool of fz_root for one input, and its end. */
apr_pool_t *fz_input_begin(void);
void fz_input_end(apr_pool_t *p);

/* Copy of data[0..size) plus a NUL in p (an exactly sized block). */
char *fz_cstr(apr_pool_t *p, const uint8_t *data, size_t size);

/* 1 when the known core bug `id` is listed in $CA_FUZZ_KNOWN (comma separated): the target
 * then lets that one bug pass, so a run can stay useful until it is fixed (docs/fuzzing.md
 * lists the ids). */
int fz_known(const char *id);

/* An invariant of the code under test does not hold: print and abort, which
 * libFuzzer reports as a crash with the input saved. */
#define FZ_ASSERT(cond, ...)                                                   \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "\n==fuzz== invariant failed at %s:%d: %s\n",      \
                    __FILE__, __LINE__, #cond);                                \
            fprintf(stderr, "==fuzz== " __VA_ARGS__);                          \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif /* CA_FUZZ_COMMON_H */
