/* SPDX-License-Identifier: Apache-2.0 */
/* Hostile-input JSON parsing on top of jansson: one object per document,
 * no duplicate members (which a signer and a verifier might read
 * differently), no NULs, bounded size; references tied to a pool. */
#include "b2c_json.h"

#include <apr_strings.h>
#include <math.h>
#include <string.h>

/* Bound for NumericDate values: 2^53 keeps every value exact in a double
 * and lets callers add a clock skew without overflowing a long long. */
#define B2C_NUMERIC_DATE_MAX 9007199254740992LL

static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

apr_status_t b2c_json_parse_object(apr_pool_t *p, const char *buf, size_t len,
                                   json_t **out, const char **err)
{
    json_error_t jerr;
    json_t *root;

    *out = NULL;
    if (buf == NULL || len == 0) {
        *err = "empty JSON document";
        return APR_EINVAL;
    }
    if (len > B2C_JSON_MAX_BYTES) {
        *err = "JSON document too large";
        return APR_EINVAL;
    }
    /* jansson rejects \u0000 escapes without JSON_ALLOW_NUL; refuse raw NUL
     * bytes too so no C string view of the document can be cut short. */
    if (memchr(buf, '\0', len) != NULL) {
        *err = "JSON document contains a NUL byte";
        return APR_EINVAL;
    }
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* jansson's own text may quote input bytes: give position only. */
        if (json_error_code(&jerr) == json_error_duplicate_key)
            *err = apr_psprintf(p, "duplicate JSON member (line %d, column %d)",
                                jerr.line, jerr.column);
        else if (json_error_code(&jerr) == json_error_end_of_input_expected)
            *err =
                apr_psprintf(p, "trailing data after JSON (line %d, column %d)",
                             jerr.line, jerr.column);
        else
            *err = apr_psprintf(p, "invalid JSON (line %d, column %d)",
                                jerr.line, jerr.column);
        return APR_EINVAL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *err = "JSON document is not an object";
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(p, root, json_cleanup, apr_pool_cleanup_null);
    *out = root;
    return APR_SUCCESS;
}

const char *b2c_json_string(const json_t *obj, const char *name)
{
    json_t *v;

    if (obj == NULL || name == NULL || !json_is_object(obj))
        return NULL;
    v = json_object_get(obj, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int b2c_json_numeric_date(const json_t *obj, const char *name, long long *out)
{
    json_t *v;
    long long value;

    if (obj == NULL || name == NULL || !json_is_object(obj))
        return 0;
    v = json_object_get(obj, name);
    if (v == NULL)
        return 0;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i > B2C_NUMERIC_DATE_MAX || i < -B2C_NUMERIC_DATE_MAX)
            return -1;
        value = (long long)i;
    }
    else if (json_is_real(v)) {
        double d = json_real_value(v);
        /* "1700000000.0" is a valid NumericDate; fractions are not worth
         * supporting and would only blur comparisons. */
        if (!isfinite(d) || d != floor(d) || d > (double)B2C_NUMERIC_DATE_MAX
            || d < -(double)B2C_NUMERIC_DATE_MAX)
            return -1;
        value = (long long)d;
    }
    else {
        return -1;
    }
    if (out)
        *out = value;
    return 1;
}
