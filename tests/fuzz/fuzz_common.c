/* SPDX-License-Identifier: Apache-2.0 */
/* Shared scaffolding of the libFuzzer targets; see fuzz_common.h.
 *
 * APR pools carve small allocations out of 8 KB blocks, which hides
 * overflows from AddressSanitizer. Built with -DFZ_POOL_MALLOC (run.sh does),
 * apr_palloc and apr_pcalloc are interposed here: every call from the code
 * under test gets its own exact-size malloc block, freed by a cleanup when
 * the pool goes, so an off-by-one in a pool buffer is a heap-buffer-overflow
 * and a use after apr_pool_destroy is a heap-use-after-free. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_common.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <dlfcn.h>
#include <sanitizer/lsan_interface.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef FZ_POOL_MALLOC
typedef void *(*palloc_fn)(apr_pool_t *, apr_size_t);
static palloc_fn real_palloc;
static __thread int in_hook;
static int hook_on; /* set once the one-time setup is done */

static apr_status_t free_block(void *data)
{
    free(data);
    return APR_SUCCESS;
}

void *apr_palloc(apr_pool_t *p, apr_size_t size)
{
    void *m;

    if (real_palloc == NULL)
        real_palloc = (palloc_fn)dlsym(RTLD_NEXT, "apr_palloc");
    /* apr_pool_cleanup_register allocates from the pool itself */
    if (in_hook || !hook_on)
        return real_palloc(p, size);
    m = malloc(size ? size : 1);
    if (m == NULL)
        abort();
    in_hook = 1;
    apr_pool_cleanup_register(p, m, free_block, apr_pool_cleanup_null);
    in_hook = 0;
    return m;
}

/* apr_pcalloc is a macro over apr_palloc in APR 1.x; the function stays
 * exported for old binaries, so cover it too. */
#undef apr_pcalloc
void *apr_pcalloc(apr_pool_t *p, apr_size_t size);
void *apr_pcalloc(apr_pool_t *p, apr_size_t size)
{
    void *m = apr_palloc(p, size);

    memset(m, 0, size);
    return m;
}
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* What is set up once lives until exit, partly in APR pool memory
     * that LeakSanitizer does not scan (APR may mmap it): not leaks. */
    __lsan_disable();
    if (apr_initialize() != APR_SUCCESS)
        abort();
    if (fz_target_init)
        fz_target_init();
    __lsan_enable();
#ifdef FZ_POOL_MALLOC
    hook_on = 1; /* from here on, only per-input pools allocate */
#endif
    return 0;
}

apr_pool_t *fz_pool(void)
{
    apr_pool_t *p = NULL;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS
        || p == NULL)
        abort();
    return p;
}

char *fz_cstr(apr_pool_t *p, const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);

    return apr_pstrmemdup(p, (const char *)data,
                          nul ? (size_t)(nul - data) : size);
}

void fz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "\n==FUZZ CHECK FAILED== %s:%d: %s\n", file, line, what);
    abort();
}

int fz_has_ctl(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}
