/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: MSAL-style authority URLs (b2c_authority_token_endpoint)
 * and Retry-After values (b2c_retry_after_seconds), both on the input as
 * one string (cut at a NUL). Inputs of 40 bytes or more also drive the
 * retry/expiry arithmetic (b2c_backoff_seconds, b2c_token_refresh_at,
 * b2c_token_usable_until), where UBSan watches for overflow. */
#include "fuzz_common.h"
#include "b2c_authority.h"
#include "b2c_backoff.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

#define FZ_NOW 1700000000LL

static long long ll_at(const uint8_t *d)
{
    unsigned long long v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | d[i];
    return (long long)v; /* two's complement on every platform we build on */
}

static void arithmetic(const uint8_t *d)
{
    long long base = ll_at(d), cap = ll_at(d + 8), ra = ll_at(d + 16);
    long long obtained = ll_at(d + 24);
    int failures = (int)(signed char)d[32] * 1000 + d[33];
    double rnd = (double)d[34] / 255.0 * 1.1 - 0.05; /* a little out of [0,1) */
    long long life =
        (long long)(int)((unsigned)d[35] << 24 | (unsigned)d[36] << 16
                         | (unsigned)d[37] << 8 | d[38]);
    long long b, r, u;

    if (d[39] & 1)
        life = ll_at(d + 16);
    b = b2c_backoff_seconds(failures, base, cap, ra, rnd);
    FZ_CHECK(b >= 0 && b <= 86400);
    if (ra >= 0)
        FZ_CHECK(b >= (ra < 86400 ? ra : 86400));
    r = b2c_token_refresh_at(obtained, life);
    u = b2c_token_usable_until(obtained, life);
    if (life <= 0) {
        FZ_CHECK(r == obtained && u == obtained);
    }
    else {
        FZ_CHECK(r >= obtained && u >= obtained);
        if (obtained <= LLONG_MAX - life)
            FZ_CHECK(r <= obtained + life && u <= obtained + life);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    const char *s = fz_cstr(p, data, size), *err = NULL, *ep;
    long long secs;

    ep = b2c_authority_token_endpoint(p, s, &err);
    if (ep) {
        size_t n = strlen(ep);
        FZ_CHECK(err == NULL);
        FZ_CHECK(strncasecmp(ep, "https://", 8) == 0
                 || strncasecmp(ep, "http://", 7) == 0);
        FZ_CHECK(n > 18 && strcmp(ep + n - 18, "/oauth2/v2.0/token") == 0);
        FZ_CHECK(strpbrk(ep, "?#@% \t\\\"<>") == NULL && !fz_has_ctl(ep, n));
        { /* no empty or dot segments in the path (the host is only
             * checked for its characters: "https://../t" passes) */
            const char *path = strchr(ep + (ep[4] == ':' ? 7 : 8), '/');
            FZ_CHECK(path && strstr(path, "//") == NULL
                     && strstr(path, "/../") == NULL
                     && strstr(path, "/./") == NULL);
        }
        /* the authority as given, maybe less "/v2.0" or "/oauth2/v2.0",
         * then the suffix */
        FZ_CHECK(strncmp(s, ep, n - 18) == 0);
    }
    else if (err == NULL) {
        /* a discovery URL: the caller fetches it */
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '/')
            n--;
        FZ_CHECK(n >= 33
                 && strncmp(s + n - 33, "/.well-known/openid-configuration", 33)
                        == 0);
    }

    secs = b2c_retry_after_seconds(s, FZ_NOW);
    FZ_CHECK(secs == -1 || (secs >= 0 && secs <= 86400));

    if (size >= 40)
        arithmetic(data);
    apr_pool_destroy(p);
    return 0;
}
