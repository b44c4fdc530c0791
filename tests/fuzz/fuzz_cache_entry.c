/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: shared-cache entries (b2c_cache_entry_unpack / _pack,
 * b2c_cache_parse_int). A redis or memcache server shared by a fleet is
 * one more source of hostile bytes: whatever it returns must unpack to
 * "not found" or to fields that pack back to exactly the same bytes. */
#include "fuzz_common.h"
#include "b2c_cache_entry.h"
#include "b2c_util.h"

#include <stdlib.h>
#include <string.h>

static const char *const kinds[] = { "jwks", "meta", "token", "k" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    const char *buf = (const char *)data, *fields[5];
    char *packed;
    size_t plen, k;
    long long v;
    int n, i;

    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        for (n = 1; n <= 5; n++) {
            memset(fields, 0, sizeof(fields));
            if (b2c_cache_entry_unpack(p, buf, size, kinds[k], fields, n)
                != APR_SUCCESS)
                continue;
            FZ_CHECK(memchr(data, 0, size) == NULL);
            for (i = 0; i < n; i++)
                FZ_CHECK(fields[i] != NULL
                         && (i == n - 1 || !strchr(fields[i], '\n')));
            FZ_CHECK(
                b2c_cache_entry_pack(p, kinds[k], fields, n, &packed, &plen)
                == APR_SUCCESS);
            FZ_CHECK(plen == size && memcmp(packed, data, size) == 0);
            FZ_CHECK(packed[plen] == '\0');
        }
    }

    {
        const char *s = fz_cstr(p, data, size);
        if (b2c_cache_parse_int(s, &v)) {
            size_t digits = strspn(s + (*s == '-'), "0123456789");
            FZ_CHECK(digits > 0 && s[(*s == '-') + digits] == '\0');
            FZ_CHECK(v <= B2C_TIME_MAX && v >= -B2C_TIME_MAX
                     && v == strtoll(s, NULL, 10));
        }
    }
    apr_pool_destroy(p);
    return 0;
}
