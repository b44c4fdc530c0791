/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: OpenID Connect discovery documents (b2c_discovery_parse). */
#include "fuzz_common.h"
#include "b2c_discovery.h"

#include <string.h>
#include <strings.h>

static int url_ok(const char *u)
{
    return u
           && (strncasecmp(u, "https://", 8) == 0
               || strncasecmp(u, "http://", 7) == 0)
           && !fz_has_ctl(u, strlen(u)) && strchr(u, ' ') == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    b2c_discovery_t *d = NULL;
    const char *err = NULL;

    if (b2c_discovery_parse(p, (const char *)data, size, &d, &err)
        == APR_SUCCESS) {
        FZ_CHECK(d != NULL && d->issuer != NULL && *d->issuer != '\0');
        FZ_CHECK(url_ok(d->jwks_uri));
        FZ_CHECK(d->token_endpoint == NULL || url_ok(d->token_endpoint));
    }
    else {
        FZ_CHECK(d == NULL && err != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
