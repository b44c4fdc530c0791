/* Reading claims for authorization (Require role/scope/claim) and for
 * export to the application (REMOTE_USER, environment, headers). Matching
 * is exact and case-sensitive; exported text can never split a header. */
#include "b2c_claims.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

int b2c_claims_has_role(const json_t *claims, const char *role)
{
    json_t *roles, *el;
    size_t i;

    if (claims == NULL || role == NULL)
        return 0;
    roles = json_object_get(claims, "roles");
    if (!json_is_array(roles))
        return 0;
    json_array_foreach(roles, i, el) {
        if (json_is_string(el) && strcmp(json_string_value(el), role) == 0)
            return 1;
    }
    return 0;
}

int b2c_claims_has_scope(const json_t *claims, const char *scope)
{
    json_t *scp;
    const char *s;
    size_t want;

    if (claims == NULL || scope == NULL || (want = strlen(scope)) == 0)
        return 0;
    scp = json_object_get(claims, "scp");
    if (!json_is_string(scp))
        return 0;
    s = json_string_value(scp);
    /* Whole words only: "access" must not match "access:test-api". */
    while (*s) {
        size_t n = strcspn(s, " ");
        if (n == want && strncmp(s, scope, n) == 0)
            return 1;
        s += n;
        while (*s == ' ')
            s++;
    }
    return 0;
}

/* Text of a scalar (string, integer, real, boolean) in malloc'd memory or
 * a static string; *to_free says what to release. NULL for other types. */
static const char *scalar_text(const json_t *v, char **to_free)
{
    *to_free = NULL;
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_true(v))
        return "true";
    if (json_is_false(v))
        return "false";
    if (json_is_number(v)) /* jansson's own text: "42", "1.5" */
        return *to_free = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    return NULL;
}

static int scalar_equals(const json_t *v, const char *value)
{
    char *to_free;
    const char *text = scalar_text(v, &to_free);
    int eq = text != NULL && strcmp(text, value) == 0;

    free(to_free);
    return eq;
}

int b2c_claims_match(const json_t *claims, const char *name, const char *value)
{
    json_t *v, *el;
    size_t i;

    if (claims == NULL || name == NULL || value == NULL)
        return 0;
    v = json_object_get(claims, name);
    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return scalar_equals(v, value);
    json_array_foreach(v, i, el) {
        if (scalar_equals(el, value))
            return 1;
    }
    return 0;
}

/* Replace control characters (CR, LF, TAB, DEL, ...) by spaces in place. */
static char *defang(char *s)
{
    char *c;

    if (s == NULL)
        return NULL;
    for (c = s; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    }
    return s;
}

static char *json_text(apr_pool_t *p, const json_t *v)
{
    char *dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    char *out = dump ? apr_pstrdup(p, dump) : NULL;

    free(dump);
    return out;
}

const char *b2c_claim_text(apr_pool_t *p, const json_t *claims, const char *name)
{
    json_t *v, *el;
    char *to_free;
    const char *text;
    size_t i;

    if (claims == NULL || name == NULL)
        return NULL;
    v = json_object_get(claims, name);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (json_is_object(v))
        return defang(json_text(p, v));
    if (!json_is_array(v)) {
        text = scalar_text(v, &to_free);
        text = text ? apr_pstrdup(p, text) : NULL;
        free(to_free);
        return text ? defang((char *)text) : NULL;
    }
    /* Arrays of scalars are joined; anything nested stays JSON. */
    json_array_foreach(v, i, el) {
        if (!json_is_string(el) && !json_is_number(el) && !json_is_boolean(el))
            return defang(json_text(p, v));
    }
    {
        apr_array_header_t *parts = apr_array_make(p, (int)json_array_size(v) + 1,
                                                   sizeof(const char *));
        json_array_foreach(v, i, el) {
            text = scalar_text(el, &to_free);
            APR_ARRAY_PUSH(parts, const char *) = apr_pstrdup(p, text ? text : "");
            free(to_free);
        }
        /* One allocation, linear: arrays in a 16 KB token can be long. */
        return defang(apr_array_pstrcat(p, parts, B2C_CLAIM_ARRAY_SEPARATOR[0]));
    }
}

const char *b2c_claim_env_name(apr_pool_t *p, const char *name)
{
    char *out, *c;

    if (name == NULL)
        return NULL;
    out = apr_pstrdup(p, name);
    for (c = out; *c; c++) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
              (*c >= '0' && *c <= '9')))
            *c = '_';
    }
    return out;
}

int b2c_claims_render_exports(apr_pool_t *p, const json_t *claims,
                              const char *env_prefix,
                              b2c_claim_export_t **out)
{
    const char *name;
    json_t *value;
    b2c_claim_export_t *x;
    int n = 0;

    *out = x = apr_palloc(p, sizeof(*x) * (json_object_size(claims) + 1));
    json_object_foreach((json_t *)claims, name, value) {
        const char *text = b2c_claim_text(p, claims, name), *env;
        int i;
        if (!text)
            continue;
        env = apr_pstrcat(p, env_prefix, b2c_claim_env_name(p, name), NULL);
        /* names that map to one variable ("a-b", "a_b"): the later claim
         * wins, once here, so every request can simply append */
        for (i = 0; i < n && strcmp(x[i].env, env); i++)
            ;
        x[i].env = env;
        x[i].text = text;
        if (i == n)
            n++;
    }
    return n;
}
