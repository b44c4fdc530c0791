/* SPDX-License-Identifier: Apache-2.0 */
/* Shared-cache entry format (see b2c_cache_entry.h). */
#include "b2c_cache_entry.h"
#include "b2c_util.h"

#include <apr_strings.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "b2c1 "

apr_status_t b2c_cache_entry_pack(apr_pool_t *p, const char *kind,
                                  const char *const *fields, int nfields,
                                  char **out, size_t *outlen)
{
    size_t len = strlen(MAGIC) + strlen(kind) + 1;
    char *buf, *w;
    int i;

    if (nfields < 1 || strchr(kind, '\n') || strchr(kind, ' '))
        return APR_EINVAL;
    for (i = 0; i < nfields; i++) {
        if (i < nfields - 1 && strchr(fields[i], '\n'))
            return APR_EINVAL;
        len += strlen(fields[i]) + (i < nfields - 1);
    }
    w = buf = apr_palloc(p, len + 1);
    w += sprintf(w, "%s%s\n", MAGIC, kind);
    for (i = 0; i < nfields; i++) {
        size_t n = strlen(fields[i]);
        memcpy(w, fields[i], n);
        w += n;
        if (i < nfields - 1)
            *w++ = '\n';
    }
    *w = '\0';
    *out = buf;
    *outlen = len;
    return APR_SUCCESS;
}

apr_status_t b2c_cache_entry_unpack(apr_pool_t *p, const char *buf, size_t len,
                                    const char *kind, const char **fields,
                                    int nfields)
{
    size_t mlen = strlen(MAGIC), klen = strlen(kind);
    const char *r, *end = buf + len, *nl;
    int i;

    if (!buf || nfields < 1 || len < mlen + klen + 1 || memcmp(buf, MAGIC, mlen)
        || memcmp(buf + mlen, kind, klen) || buf[mlen + klen] != '\n'
        || memchr(buf, '\0', len))
        return APR_EINVAL;
    r = buf + mlen + klen + 1;
    for (i = 0; i < nfields - 1; i++) {
        if (!(nl = memchr(r, '\n', end - r)))
            return APR_EINVAL;
        fields[i] = apr_pstrmemdup(p, r, nl - r);
        r = nl + 1;
    }
    fields[nfields - 1] = apr_pstrmemdup(p, r, end - r);
    return APR_SUCCESS;
}

int b2c_cache_parse_int(const char *s, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
        return 0;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v > B2C_TIME_MAX || v < -B2C_TIME_MAX)
        return 0;
    *out = v;
    return 1;
}
