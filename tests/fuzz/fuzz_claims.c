/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: claim reading for authorization and export (b2c_claims_*)
 * on a fuzzed claims object, parsed the way tokens are (b2c_json). */
#include "fuzz_common.h"
#include "b2c_claims.h"
#include "b2c_json.h"

#include <apr_strings.h>

#include <string.h>

static void check_member(apr_pool_t *p, const json_t *claims, const char *name,
                         const json_t *v)
{
    const char *text = b2c_claim_text(p, claims, name);
    const char *env = b2c_claim_env_name(p, name);
    size_t i;
    json_t *el;

    FZ_CHECK(env != NULL && strlen(env) == strlen(name));
    FZ_CHECK(strspn(env, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789_")
             == strlen(env));
    FZ_CHECK((text == NULL) == json_is_null(v));
    if (text)
        FZ_CHECK(!fz_has_ctl(text, strlen(text)));
    /* a plain string claim reads back as itself and matches itself */
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        FZ_CHECK(b2c_claims_match(claims, name, s));
        if (!fz_has_ctl(s, strlen(s)))
            FZ_CHECK(strcmp(text, s) == 0);
    }
    if (json_is_array(v))
        json_array_foreach(v, i, el)
        {
            if (json_is_string(el))
                FZ_CHECK(b2c_claims_match(claims, name, json_string_value(el)));
        }
    if (json_is_true(v))
        FZ_CHECK(b2c_claims_match(claims, name, "true")
                 && strcmp(text, "true") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    const char *err = NULL, *name;
    json_t *claims = NULL, *v, *el;
    size_t i;

    if (b2c_json_parse_object(p, (const char *)data, size, &claims, &err)
        == APR_SUCCESS) {
        json_object_foreach(claims, name, v) check_member(p, claims, name, v);

        v = json_object_get(claims, "roles");
        if (json_is_array(v))
            json_array_foreach(v, i, el)
            {
                if (json_is_string(el))
                    FZ_CHECK(
                        b2c_claims_has_role(claims, json_string_value(el)));
            }
        v = json_object_get(claims, "scp");
        if (json_is_string(v)) {
            /* every space-separated word is a granted scope */
            char *words = apr_pstrdup(p, json_string_value(v)), *w, *last;
            for (w = apr_strtok(words, " ", &last); w;
                 w = apr_strtok(NULL, " ", &last))
                FZ_CHECK(b2c_claims_has_scope(claims, w));
        }
        FZ_CHECK(!b2c_claims_has_scope(claims, ""));
        b2c_claims_has_role(claims, "Admin");
        b2c_claims_has_scope(claims, "access_as_user");
        b2c_claims_match(claims, "tid", "72f988bf-86f1-41af-91ab-2d7cd011db47");
        b2c_claims_match(claims, "ver", "2.0");
        FZ_CHECK(b2c_claim_text(p, claims, "\x01 absent") == NULL
                 || json_object_get(claims, "\x01 absent") != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
