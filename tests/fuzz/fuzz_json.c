/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: hostile-input JSON (b2c_json_parse_object) and the member
 * readers b2c_json_string / b2c_json_numeric_date on what it accepts. */
#include "fuzz_common.h"
#include "b2c_json.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    const char *err = NULL, *key;
    json_t *obj = NULL, *v;
    long long when;
    int r;

    if (b2c_json_parse_object(p, (const char *)data, size, &obj, &err)
        == APR_SUCCESS) {
        FZ_CHECK(json_is_object(obj));
        FZ_CHECK(memchr(data, 0, size) == NULL && size <= B2C_JSON_MAX_BYTES);
        json_object_foreach(obj, key, v)
        {
            const char *s = b2c_json_string(obj, key);
            FZ_CHECK((s != NULL) == json_is_string(v));
            r = b2c_json_numeric_date(obj, key, &when);
            FZ_CHECK(r == 1 || r == -1);
            if (r == 1)
                FZ_CHECK(when <= 9007199254740992LL
                         && when >= -9007199254740992LL);
            else
                FZ_CHECK(!json_is_integer(v)
                         || json_integer_value(v) > 9007199254740992LL
                         || json_integer_value(v) < -9007199254740992LL);
        }
        FZ_CHECK(b2c_json_numeric_date(obj, "\x01no such member", &when) == 0
                 || json_object_get(obj, "\x01no such member") != NULL);
        b2c_json_string(obj, "iss");
        b2c_json_numeric_date(obj, "exp", NULL);
    }
    else {
        FZ_CHECK(obj == NULL && err != NULL);
        FZ_CHECK(memchr(err, '\n', strlen(err)) == NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
