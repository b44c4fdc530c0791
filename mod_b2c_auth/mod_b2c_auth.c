/* mod_b2c_auth: httpd glue of the bearer-token validator. Authentication
 * (check_authn) finds the Bearer token, validates it with common/ against
 * keys from the key store (or finds it in the validated-token cache), and
 * leaves the claims in the request state for the Require providers, the
 * challenge writer and the fixups that hand claims to the application. */
#define B2C_AUTH_MODULE_FILE
#include "mod_b2c_auth.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_auth.h>

#include "auth_config.h"
#include "auth_response.h"
#include "b2c_bearer.h"
#include "b2c_claims.h"
#include "b2c_http.h"
#include "b2c_validate.h"
#include "key_store.h"
#include "token_cache.h"

/* Process-wide, created in child_init. */
static b2c_key_store_t *key_store;
static b2c_token_cache_t *token_cache;

b2c_auth_request_t *b2c_auth_request_get(request_rec *r, int create)
{
    b2c_auth_request_t *st =
        ap_get_module_config(r->request_config, &b2c_auth_module);
    request_rec *up;

    /* Sub-requests and internal redirects under the same configuration
     * skip authentication and inherit the user: inherit the claims too. */
    for (up = r->main ? r->main : r->prev; !st && !create && up;
         up = up->main ? up->main : up->prev)
        st = ap_get_module_config(up->request_config, &b2c_auth_module);
    if (!st && create) {
        st = apr_pcalloc(r->pool, sizeof(*st));
        ap_set_module_config(r->request_config, &b2c_auth_module, st);
    }
    return st;
}

static int is_bearer_request(request_rec *r)
{
    const char *type = ap_auth_type(r);
    return type && !strcasecmp(type, B2C_AUTH_TYPE);
}

/* Everything a cached verdict depends on, so entries made under one
 * configuration are never used under another. */
static const char *validation_context(request_rec *r,
                                      const b2c_auth_dir_conf_t *c)
{
    const char *ctx = apr_psprintf(r->pool, "%s\n%x\n%d\n",
                                   c->metadata_url, b2c_conf_algs(c),
                                   b2c_conf_skew(c));
    ctx = apr_pstrcat(r->pool, ctx, "aud:",
                      apr_array_pstrcat(r->pool, c->audiences, '\n'), "\niss:",
                      c->issuers ? apr_array_pstrcat(r->pool, c->issuers, '\n')
                                 : "(discovered)",
                      NULL);
    return ctx;
}

/* A validation reason made safe for a quoted error_description. */
static const char *description(apr_pool_t *p, const char *reason)
{
    char *d = apr_pstrndup(p, reason ? reason : "invalid token", 200), *s;
    for (s = d; *s; s++)
        if (*s == '"' || *s == '\\' || *s < 0x20 || *s == 0x7f)
            *s = ' ';
    return d;
}

static void key_store_options(request_rec *r, const b2c_auth_dir_conf_t *c,
                              b2c_key_store_options_t *o)
{
    const b2c_auth_server_conf_t *sc =
        ap_get_module_config(r->server->module_config, &b2c_auth_module);
    o->refresh_interval = apr_time_from_sec(
        b2c_sconf_int(sc->refresh_interval, B2C_DEFAULT_REFRESH));
    o->kid_refresh_interval = apr_time_from_sec(
        b2c_sconf_int(sc->kid_refresh_interval, B2C_DEFAULT_KID_REFRESH));
    o->fetch_timeout_ms =
        1000L * b2c_sconf_int(sc->fetch_timeout, B2C_DEFAULT_FETCH_TIMEOUT);
    o->ca_file = sc->ca_file;
    o->jwks_same_origin = c->metadata_from_htaccess;
}

static int reject(request_rec *r, b2c_auth_request_t *st,
                  b2c_request_outcome_t outcome, const char *why)
{
    st->outcome = outcome;
    st->error_description = description(r->pool, why);
    ap_note_auth_failure(r);
    return outcome == B2C_REQ_INVALID_REQUEST ? HTTP_BAD_REQUEST
                                              : HTTP_UNAUTHORIZED;
}

/* Validate with the current keys; on an unknown kid refresh once (the key
 * store rate-limits this) and try again. Returns 0 or an HTTP status when
 * no keys can be had. */
static int validate(request_rec *r, const b2c_auth_dir_conf_t *conf,
                    const char *token, size_t len, long long now,
                    b2c_validation_result_t *res)
{
    b2c_key_store_options_t opts;
    const b2c_keyset_t *ks;
    b2c_validation_params_t params;
    apr_array_header_t *discovered = NULL;
    apr_status_t rv;
    int attempt;

    key_store_options(r, conf, &opts);
    rv = b2c_key_store_get(key_store, r, conf->metadata_url, &opts, &ks);
    if (rv != APR_SUCCESS) {
        b2c_jwt_t *jwt;
        const char *err;
        /* A token that is not even a JWS is refused as such, outage or not. */
        if (b2c_jwt_parse(r->pool, token, len, &jwt, &err) != APR_SUCCESS) {
            res->status = B2C_TOKEN_MALFORMED;
            res->reason = err;
            return 0;
        }
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, B2CLOGNO(01104)
                      "no signing keys available from %s: answering 503",
                      conf->metadata_url);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    params.audiences = conf->audiences;
    params.algs = b2c_conf_algs(conf);
    params.clock_skew = b2c_conf_skew(conf);
    params.now = now;
    for (attempt = 0; attempt < 2; attempt++) {
        if (conf->issuers)
            params.issuers = conf->issuers;
        else {
            discovered = apr_array_make(r->pool, 1, sizeof(const char *));
            APR_ARRAY_PUSH(discovered, const char *) = ks->issuer;
            params.issuers = discovered;
        }
        b2c_validate_token(r->pool, token, len, ks->jwks, &params, res);
        if (res->status != B2C_TOKEN_UNKNOWN_KID || attempt == 1)
            break;
        if (b2c_key_store_refresh(key_store, r, conf->metadata_url, &opts,
                                  &ks) != APR_SUCCESS)
            break;
    }
    return 0;
}

/* For issuer/audience mismatches operators need to see what the token
 * claimed; these claim values (never signatures or whole tokens) are
 * escaped and cut short. */
static void log_token_identity(request_rec *r, const json_t *claims)
{
    static const char *const names[] = { "iss", "aud", "tid", "ver", NULL };
    const char *line = "";
    int i;

    for (i = 0; names[i]; i++) {
        const char *v = b2c_claim_text(r->pool, claims, names[i]);
        if (v)
            line = apr_psprintf(r->pool, "%s %s=%s", line, names[i],
                                ap_escape_logitem(r->pool,
                                                  apr_pstrndup(r->pool, v, 200)));
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, B2CLOGNO(01108)
                  "the rejected token says:%s", line);
}

static int authenticate(request_rec *r)
{
    const b2c_auth_dir_conf_t *conf;
    b2c_auth_request_t *st;
    b2c_validation_result_t res;
    const char *token = NULL, *why, *user, *claim;
    unsigned char key[B2C_TOKEN_KEY_LEN];
    json_t *claims;
    size_t len = 0;
    long long now = apr_time_sec(apr_time_now());
    int status;

    if (!is_bearer_request(r))
        return DECLINED;
    conf = ap_get_module_config(r->per_dir_config, &b2c_auth_module);
    st = b2c_auth_request_get(r, 1);
    if ((why = b2c_auth_conf_incomplete(conf))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, B2CLOGNO(01101)
                      "misconfigured: %s", why);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (b2c_bearer_parse(apr_table_get(r->headers_in, "Authorization"),
                             &token, &len)) {
    case B2C_BEARER_NONE:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, B2CLOGNO(01102)
                      "no bearer token in the request");
        return reject(r, st, B2C_REQ_NO_TOKEN, NULL);
    case B2C_BEARER_MALFORMED:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, B2CLOGNO(01103)
                      "malformed Authorization header (one Bearer token "
                      "expected)");
        return reject(r, st, B2C_REQ_INVALID_REQUEST,
                      "expected exactly one Bearer token");
    case B2C_BEARER_OK:
        break;
    }

    b2c_token_cache_key(validation_context(r, conf), token, len, key);
    claims = b2c_token_cache_get(token_cache, key, now, r->pool);
    if (!claims) {
        if ((status = validate(r, conf, token, len, now, &res)))
            return status;
        if (res.status != B2C_TOKEN_VALID) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, B2CLOGNO(01105)
                          "token rejected (%s): %s%s",
                          b2c_token_status_name(res.status), res.reason,
                          res.status == B2C_TOKEN_FOREIGN
                              ? " — the caller sent a token minted for another"
                                " resource (such as Microsoft Graph) instead"
                                " of one for this API"
                              : "");
            if ((res.status == B2C_TOKEN_BAD_ISSUER
                 || res.status == B2C_TOKEN_BAD_AUDIENCE) && res.jwt)
                log_token_identity(r, res.jwt->claims);
            return reject(r, st, B2C_REQ_INVALID_TOKEN, res.reason);
        }
        claims = res.jwt->claims;
        b2c_token_cache_put(token_cache, key, claims,
                            res.exp + b2c_conf_skew(conf), now);
    }

    claim = b2c_conf_remote_user(conf);
    user = b2c_claim_text(r->pool, claims, claim);
    if (!user || !*user) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, B2CLOGNO(01106)
                      "token rejected: it has no '%s' claim for REMOTE_USER",
                      ap_escape_logitem(r->pool, claim));
        return reject(r, st, B2C_REQ_INVALID_TOKEN,
                      "the token lacks the claim used as user name");
    }
    r->user = (char *)user;
    r->ap_auth_type = (char *)B2C_AUTH_TYPE;
    st->outcome = B2C_REQ_VALID;
    st->claims = claims;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, B2CLOGNO(01107)
                  "token accepted for %s", ap_escape_logitem(r->pool, user));
    return OK;
}

/* "x-b2c-claim-..." in any case, with '_' standing for '-' (CGI and some
 * backends treat them alike). */
static int is_claim_header(const char *name)
{
    static const char prefix[] = B2C_CLAIM_HEADER_PREFIX;
    size_t i;

    for (i = 0; i < sizeof(prefix) - 1; i++) {
        char c = name[i] == '_' ? '-' : name[i];
        if (!c || apr_tolower(c) != apr_tolower(prefix[i]))
            return 0;
    }
    return 1;
}

static void unset_matching(apr_pool_t *p, apr_table_t *t,
                           int (*match)(const char *))
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    apr_array_header_t *doomed = NULL;
    int i;

    for (i = 0; i < arr->nelts; i++)
        if (e[i].key && match(e[i].key)) {
            if (!doomed)
                doomed = apr_array_make(p, 2, sizeof(const char *));
            APR_ARRAY_PUSH(doomed, const char *) = e[i].key;
        }
    for (i = 0; doomed && i < doomed->nelts; i++)
        apr_table_unset(t, APR_ARRAY_IDX(doomed, i, const char *));
}

static int is_claim_env(const char *name)
{
    return !strncmp(name, B2C_CLAIM_ENV_PREFIX, sizeof(B2C_CLAIM_ENV_PREFIX) - 1);
}

/* Claim headers can only come from us: drop whatever the client sent. */
static int strip_claim_headers(request_rec *r)
{
    if (is_bearer_request(r))
        unset_matching(r->pool, r->headers_in, is_claim_header);
    return DECLINED;
}

static int export_claims(request_rec *r)
{
    const b2c_auth_dir_conf_t *conf;
    b2c_auth_request_t *st;
    const char *name;
    json_t *value;
    int env, headers;

    if (!is_bearer_request(r))
        return DECLINED;
    unset_matching(r->pool, r->headers_in, is_claim_header);
    unset_matching(r->pool, r->subprocess_env, is_claim_env);
    st = b2c_auth_request_get(r, 0);
    if (!st || st->outcome != B2C_REQ_VALID)
        return DECLINED;
    conf = ap_get_module_config(r->per_dir_config, &b2c_auth_module);
    env = conf->claims_env != 0;  /* default on */
    headers = conf->claims_headers == 1;
    if (!env && !headers)
        return DECLINED;
    json_object_foreach(st->claims, name, value) {
        const char *text = b2c_claim_text(r->pool, st->claims, name);
        const char *suffix = b2c_claim_env_name(r->pool, name);
        if (!text)
            continue;
        if (env)
            apr_table_setn(r->subprocess_env,
                           apr_pstrcat(r->pool, B2C_CLAIM_ENV_PREFIX, suffix,
                                       NULL), text);
        if (headers) {
            /* '-' rather than '_': CGI and many proxies drop names with '_' */
            char *h = apr_pstrcat(r->pool, B2C_CLAIM_HEADER_PREFIX, suffix, NULL);
            char *u;
            for (u = h; *u; u++)
                if (*u == '_')
                    *u = '-';
            apr_table_setn(r->headers_in, h, text);
        }
    }
    return DECLINED;
}

static int check_config(apr_pool_t *pconf, server_rec *s)
{
    const char *err = b2c_auth_check_sections(pconf, s);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, B2CLOGNO(01005)
                     "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void test_config_hook(apr_pool_t *pconf, server_rec *s)
{
    /* apachectl -t runs no post_config: fail it here, saying why */
    if (check_config(pconf, s) != OK)
        exit(1);
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                       server_rec *s)
{
    if (b2c_http_global_init() != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, B2CLOGNO(01003)
                     "cannot initialise libcurl");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return check_config(pconf, s);
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    const b2c_auth_server_conf_t *sc =
        ap_get_module_config(s->module_config, &b2c_auth_module);

    if (b2c_key_store_create(pchild, &key_store) != APR_SUCCESS
        || b2c_token_cache_create(
               pchild, b2c_sconf_int(sc->token_cache_entries,
                                     B2C_DEFAULT_TOKEN_CACHE),
               &token_cache) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, B2CLOGNO(01004)
                     "cannot create the key store or token cache");
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_test_config(test_config_hook, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(authenticate, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(b2c_auth_note_failure, NULL, NULL,
                              APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(b2c_auth_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    ap_hook_header_parser(strip_claim_headers, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_fixups(export_claims, NULL, NULL, APR_HOOK_FIRST);
    b2c_auth_register_authz_providers(p);
    b2c_auth_register_response_filter();
}

AP_DECLARE_MODULE(b2c_auth) = {
    STANDARD20_MODULE_STUFF,
    b2c_auth_create_dir_conf,
    b2c_auth_merge_dir_conf,
    b2c_auth_create_server_conf,
    b2c_auth_merge_server_conf,
    b2c_auth_cmds,
    register_hooks
};
