/* SPDX-License-Identifier: Apache-2.0 */
/* Keys and client-token entries (see b2c_state_entry.h). */
#include "b2c_state_entry.h"
#include "b2c_cache_entry.h"

#include <apr_strings.h>
#include <string.h>

/* Non-empty, bytes 0x21..0x7e only (URLs, issuers, tokens). */
static int printable(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

static int time_ok(long long t, long long now)
{
    return t > 0 && t <= now + B2C_STATE_CLOCK_SLACK;
}

apr_status_t b2c_keys_entry_pack(apr_pool_t *p, const b2c_keys_entry_t *e,
                                 char **out, size_t *outlen)
{
    const char *f[4];

    if (e->fetched <= 0 || !printable(e->url) || !printable(e->issuer)
        || !e->jwks || !*e->jwks)
        return APR_EINVAL;
    f[0] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)e->fetched);
    f[1] = e->url;
    f[2] = e->issuer;
    f[3] = e->jwks;
    return b2c_cache_entry_pack(p, "keys", f, 4, out, outlen);
}

apr_status_t b2c_keys_entry_unpack(apr_pool_t *p, const char *buf, size_t len,
                                   long long now, const char *expect_url,
                                   b2c_keys_entry_t *e, const char **why)
{
    const char *f[4];

    if (b2c_cache_entry_unpack(p, buf, len, "keys", f, 4) != APR_SUCCESS)
        *why = "not a keys entry";
    else if (!b2c_cache_parse_int(f[0], &e->fetched)
             || !time_ok(e->fetched, now))
        *why = "bad fetch time";
    else if (!printable(f[1]) || (expect_url && strcmp(f[1], expect_url)))
        *why = "another metadata URL";
    else if (!printable(f[2]))
        *why = "bad issuer";
    else if (!*f[3])
        *why = "empty JWKS";
    else {
        e->url = f[1];
        e->issuer = f[2];
        e->jwks = f[3];
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

apr_status_t b2c_ctoken_entry_pack(apr_pool_t *p, const b2c_ctoken_entry_t *e,
                                   char **out, size_t *outlen)
{
    const char *f[3];

    if (e->obtained <= 0 || e->lifetime < 1
        || e->lifetime > B2C_STATE_MAX_LIFETIME || !printable(e->token))
        return APR_EINVAL;
    f[0] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)e->obtained);
    f[1] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)e->lifetime);
    f[2] = e->token;
    return b2c_cache_entry_pack(p, "ctoken", f, 3, out, outlen);
}

apr_status_t b2c_ctoken_entry_unpack(apr_pool_t *p, const char *buf, size_t len,
                                     long long now, b2c_ctoken_entry_t *e,
                                     const char **why)
{
    const char *f[3];

    if (b2c_cache_entry_unpack(p, buf, len, "ctoken", f, 3) != APR_SUCCESS)
        *why = "not a client token entry";
    else if (!b2c_cache_parse_int(f[0], &e->obtained)
             || !time_ok(e->obtained, now))
        *why = "bad time obtained";
    else if (!b2c_cache_parse_int(f[1], &e->lifetime) || e->lifetime < 1
             || e->lifetime > B2C_STATE_MAX_LIFETIME)
        *why = "bad lifetime";
    else if (e->obtained + e->lifetime <= now)
        *why = "expired";
    else if (!printable(f[2]))
        *why = "bad token";
    else {
        e->token = f[2];
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}
