/* SPDX-License-Identifier: Apache-2.0 */
/* Shared scaffolding of the libFuzzer targets in tests/fuzz/: APR set up
 * once, one pool per input (destroyed before returning, so LeakSanitizer
 * sees every allocation released), and a check that aborts loudly. */
#ifndef B2C_FUZZ_COMMON_H
#define B2C_FUZZ_COMMON_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

/* Every target defines LLVMFuzzerTestOneInput; LLVMFuzzerInitialize
 * (apr_initialize, then fz_target_init when the target defines one) is in
 * fuzz_common.c. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Optional per-target setup, run once after apr_initialize. A weak symbol:
 * targets that need nothing leave it out. */
void fz_target_init(void) __attribute__((weak));

/* A fresh pool for one input, with its own allocator: destroying it
 * returns every byte to malloc, where ASan and LSan can see it. */
apr_pool_t *fz_pool(void);

/* Copy data into p as a NUL-terminated string, cut at the first NUL (a
 * header or config value can never hold one). */
char *fz_cstr(apr_pool_t *p, const uint8_t *data, size_t size);

/* abort() with a message when cond is false: an invariant of the code under
 * test is broken (libFuzzer saves the input as a crash). */
#define FZ_CHECK(cond)                                                         \
    do {                                                                       \
        if (!(cond))                                                           \
            fz_fail(__FILE__, __LINE__, #cond);                                \
    } while (0)
void fz_fail(const char *file, int line, const char *what)
    __attribute__((noreturn));

/* 1 when s (len bytes) holds a byte < 0x20 or 0x7f. */
int fz_has_ctl(const char *s, size_t len);

#endif
