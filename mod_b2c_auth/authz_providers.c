/* SPDX-License-Identifier: Apache-2.0 */
/* Require providers: `role`, `scope` and `b2c-claim`. Each is an
 * authz_provider, so <RequireAll>/<RequireAny> and AuthzSendForbiddenOnFailure
 * work as with httpd's own providers. The claims come parsed from
 * authentication through the request state; nothing is re-parsed here. */
#include "mod_b2c_auth.h"
#include "auth_request.h"

#include <apr_strings.h>
#include <http_request.h>
#include <mod_auth.h>

#include "b2c_claims.h"

typedef int (*claim_test_fn)(const json_t *claims, const char *name,
                             const char *value);

typedef struct {
    const char *claim; /* b2c-claim: the claim name; else NULL */
    apr_array_header_t *values;
} require_args_t;

static int test_role(const json_t *c, const char *n, const char *v)
{
    return b2c_claims_has_role(c, v);
}

static int test_scope(const json_t *c, const char *n, const char *v)
{
    return b2c_claims_has_scope(c, v);
}

static int test_claim(const json_t *c, const char *n, const char *v)
{
    return b2c_claims_match(c, n, v);
}

static authz_status check(request_rec *r, const void *parsed,
                          claim_test_fn test, const char *what)
{
    const require_args_t *args = parsed;
    b2c_auth_request_t *st;
    int i;

    if (!r->user)
        return AUTHZ_DENIED_NO_USER;
    st = b2c_auth_request_get(r, 0);
    if (!st || st->outcome != B2C_REQ_VALID || !st->claims) {
        ap_log_rerror(
            APLOG_MARK, APLOG_DEBUG, 0, r,
            B2CLOGNO(01201) "Require %s: the user was not authenticated by a "
                            "bearer token",
            what);
        return AUTHZ_DENIED;
    }
    for (i = 0; i < args->values->nelts; i++) {
        const char *v = APR_ARRAY_IDX(args->values, i, const char *);
        if (test(st->claims, args->claim, v))
            return AUTHZ_GRANTED;
    }
    ap_log_rerror(
        APLOG_MARK, APLOG_INFO, 0, r,
        B2CLOGNO(
            01202) "Require %s: token of %s has none of the required values",
        what, ap_escape_logitem(r->pool, r->user));
    return AUTHZ_DENIED;
}

static authz_status check_role(request_rec *r, const char *line,
                               const void *parsed)
{
    return check(r, parsed, test_role, "role");
}

static authz_status check_scope(request_rec *r, const char *line,
                                const void *parsed)
{
    return check(r, parsed, test_scope, "scope");
}

static authz_status check_claim(request_rec *r, const char *line,
                                const void *parsed)
{
    return check(r, parsed, test_claim, "b2c-claim");
}

/* Words of a Require line, taken literally (quotes group words). */
static apr_array_header_t *words(apr_pool_t *p, const char *line)
{
    apr_array_header_t *arr = apr_array_make(p, 4, sizeof(const char *));
    const char *w;

    while (*line && *(w = ap_getword_conf(p, &line)))
        APR_ARRAY_PUSH(arr, const char *) = w;
    return arr;
}

static const char *parse_values(cmd_parms *cmd, const char *line,
                                const void **parsed, const char *what)
{
    require_args_t *args = apr_pcalloc(cmd->pool, sizeof(*args));

    args->values = words(cmd->pool, line);
    if (args->values->nelts == 0)
        return apr_psprintf(cmd->pool, "Require %s needs at least one %s", what,
                            what);
    *parsed = args;
    return NULL;
}

static const char *parse_role(cmd_parms *cmd, const char *line,
                              const void **parsed)
{
    return parse_values(cmd, line, parsed, "role");
}

static const char *parse_scope(cmd_parms *cmd, const char *line,
                               const void **parsed)
{
    return parse_values(cmd, line, parsed, "scope");
}

static const char *parse_claim(cmd_parms *cmd, const char *line,
                               const void **parsed)
{
    require_args_t *args = apr_pcalloc(cmd->pool, sizeof(*args));
    apr_array_header_t *w = words(cmd->pool, line);
    int i;

    if (w->nelts < 2)
        return "Require b2c-claim needs a claim name and at least one value";
    args->claim = APR_ARRAY_IDX(w, 0, const char *);
    args->values =
        apr_array_make(cmd->pool, w->nelts - 1, sizeof(const char *));
    for (i = 1; i < w->nelts; i++)
        APR_ARRAY_PUSH(args->values, const char *) =
            APR_ARRAY_IDX(w, i, const char *);
    *parsed = args;
    return NULL;
}

static const authz_provider role_provider = { check_role, parse_role };
static const authz_provider scope_provider = { check_scope, parse_scope };
static const authz_provider claim_provider = { check_claim, parse_claim };

void b2c_auth_register_authz_providers(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "role",
                              AUTHZ_PROVIDER_VERSION, &role_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "scope",
                              AUTHZ_PROVIDER_VERSION, &scope_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "b2c-claim",
                              AUTHZ_PROVIDER_VERSION, &claim_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
}
