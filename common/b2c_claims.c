/* SPDX-License-Identifier: Apache-2.0 */
/* Reading claims for authorization (Require role/scope/claim) and for
 * export to the application (REMOTE_USER, environment, headers). Matching
 * is exact and case-sensitive; exported text can never split a header. */
#include "b2c_claims.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int b2c_claims_has_role(const json_t *claims, const char *role)
{
    json_t *roles, *el;
    size_t i;

    if (claims == NULL || role == NULL)
        return 0;
    roles = json_object_get(claims, "roles");
    if (!json_is_array(roles))
        return 0;
    json_array_foreach(roles, i, el)
    {
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
    json_array_foreach(v, i, el)
    {
        if (scalar_equals(el, value))
            return 1;
    }
    return 0;
}

/* Replace control characters (CR, LF, TAB, DEL, ...) by spaces in place,
 * and the Unicode line breaks some parsers and log viewers honour: NEL
 * (U+0085, C2 85), LINE and PARAGRAPH SEPARATOR (U+2028/9, E2 80 A8/A9),
 * each byte of them a space. */
static char *defang(char *s)
{
    unsigned char *c;

    if (s == NULL)
        return NULL;
    for (c = (unsigned char *)s; *c; c++) {
        if (*c < 0x20 || *c == 0x7f)
            *c = ' ';
        else if (c[0] == 0xc2 && c[1] == 0x85)
            c[0] = c[1] = ' ';
        else if (c[0] == 0xe2 && c[1] == 0x80 && (c[2] == 0xa8 || c[2] == 0xa9))
            c[0] = c[1] = c[2] = ' ';
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

const char *b2c_claim_text(apr_pool_t *p, const json_t *claims,
                           const char *name)
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
    json_array_foreach(v, i, el)
    {
        if (!json_is_string(el) && !json_is_number(el) && !json_is_boolean(el))
            return defang(json_text(p, v));
    }
    {
        apr_array_header_t *parts = apr_array_make(
            p, (int)json_array_size(v) + 1, sizeof(const char *));
        json_array_foreach(v, i, el)
        {
            text = scalar_text(el, &to_free);
            APR_ARRAY_PUSH(parts, const char *) =
                apr_pstrdup(p, text ? text : "");
            free(to_free);
        }
        /* One allocation, linear: arrays in a 16 KB token can be long. */
        return defang(
            apr_array_pstrcat(p, parts, B2C_CLAIM_ARRAY_SEPARATOR[0]));
    }
}

const char *b2c_claim_env_name(apr_pool_t *p, const char *name)
{
    char *out, *c;

    if (name == NULL)
        return NULL;
    out = apr_pstrdup(p, name);
    for (c = out; *c; c++) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z')
              || (*c >= '0' && *c <= '9')))
            *c = '_';
    }
    return out;
}

/* Does name keep its own spelling as a variable, in lower case ("roles",
 * "a_b")? Such a name is what Require and REMOTE_USER look up (they match
 * names exactly, and every claim they use is lower case). */
static int plain_lower_name(const char *name)
{
    for (; *name; name++)
        if (!((*name >= 'a' && *name <= 'z') || (*name >= '0' && *name <= '9')
              || *name == '_'))
            return 0;
    return 1;
}

int b2c_claims_render_exports(apr_pool_t *p, const json_t *claims,
                              const char *env_prefix, b2c_claim_export_t **out)
{
    const char *name;
    json_t *value;
    b2c_claim_export_t *x;
    char *plain;
    int n = 0;

    *out = x = apr_palloc(p, sizeof(*x) * (json_object_size(claims) + 1));
    plain = apr_pcalloc(p, json_object_size(claims) + 1);
    json_object_foreach((json_t *)claims, name, value)
    {
        const char *text = b2c_claim_text(p, claims, name), *env;
        int i, mine;
        if (!text)
            continue;
        env = apr_pstrcat(p, env_prefix, b2c_claim_env_name(p, name), NULL);
        mine = plain_lower_name(name);
        /* Names that map to one variable or header regardless of case
         * ("a-b", "a_b"; "roles", "ROLES": httpd's tables ignore case):
         * one entry, decided once here, so every request can append. The
         * plain lower-case name, which the Require providers read, wins;
         * between others the later claim. */
        for (i = 0; i < n && strcasecmp(x[i].env, env); i++)
            ;
        if (i < n && plain[i] && !mine)
            continue;
        x[i].env = env;
        x[i].text = text;
        plain[i] = (char)mine;
        if (i == n)
            n++;
    }
    return n;
}
