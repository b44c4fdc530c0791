/* SPDX-License-Identifier: Apache-2.0 */
/* The byte format of shared-cache entries: versioned, typed, line-based,
 * so a format change or another kind of entry is never misread, and a
 * malformed entry yields "not found", never a crash. (Well-formed entries
 * are believed: the cache itself must be trusted.) Pure: no httpd headers. */
#ifndef B2C_CACHE_ENTRY_H
#define B2C_CACHE_ENTRY_H

#include <apr_pools.h>
#include <stddef.h>

/* "b2c1 KIND\n" then nfields fields, each but the last ending in '\n';
 * the last runs to the end and may hold anything (JSON, a token). Fields
 * other than the last must not contain '\n' (APR_EINVAL). */
apr_status_t b2c_cache_entry_pack(apr_pool_t *p, const char *kind,
                                  const char *const *fields, int nfields,
                                  char **out, size_t *outlen);

/* Splits an entry of the given kind into exactly nfields NUL-terminated
 * fields (copies from p). APR_EINVAL for another version or kind, too few
 * fields, or NUL bytes in it. */
apr_status_t b2c_cache_entry_unpack(apr_pool_t *p, const char *buf, size_t len,
                                    const char *kind, const char **fields,
                                    int nfields);

/* Strict decimal (optional '-'), no blanks: 1 or 0. Every number in our
 * entries is a time or a duration in seconds, so values outside
 * +-B2C_TIME_MAX (year 9999, b2c_util.h) are refused: callers convert and
 * add them without overflow, and an absurd entry is "not found". */
int b2c_cache_parse_int(const char *s, long long *out);

#endif
