/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: compact JWS parsing (b2c_jwt_parse), then signature
 * verification of what parses against each key of the fixed set. */
#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "b2c_jwt.h"

#include <string.h>

void fz_target_init(void)
{
    fz_keys_init();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    const b2c_jwks_t *set = fz_jwks();
    b2c_jwt_t *jwt = NULL;
    const char *err = NULL;
    int i;

    if (b2c_jwt_parse(p, (const char *)data, size, &jwt, &err) == APR_SUCCESS) {
        FZ_CHECK(jwt != NULL && size <= B2C_JWT_MAX_BYTES);
        FZ_CHECK(json_is_object(jwt->header) && json_is_object(jwt->claims));
        FZ_CHECK(jwt->alg_name != NULL
                 && jwt->alg == b2c_alg_from_name(jwt->alg_name));
        FZ_CHECK(json_object_get(jwt->header, "crit") == NULL);
        FZ_CHECK(jwt->signing_input == (const char *)data);
        FZ_CHECK(jwt->signing_input_len > 2
                 && jwt->signing_input_len + 2 <= size);
        FZ_CHECK(data[jwt->signing_input_len] == '.');
        FZ_CHECK(jwt->sig != NULL && jwt->sig_len > 0);
        FZ_CHECK(memchr(data + jwt->signing_input_len + 1, '.',
                        size - jwt->signing_input_len - 1)
                 == NULL);
        for (i = 0; i < set->nkeys; i++) {
            const char *verr = NULL;
            if (b2c_jwt_verify_signature(p, jwt, &set->keys[i], &verr)
                != APR_SUCCESS)
                FZ_CHECK(verr != NULL);
            else
                FZ_CHECK(jwt->alg != 0);
        }
    }
    else {
        FZ_CHECK(jwt == NULL && err != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
