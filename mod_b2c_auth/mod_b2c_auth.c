/* SPDX-License-Identifier: Apache-2.0 */
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
#include "claim_export.h"
#include "b2c_bearer.h"
#include "b2c_claims.h"
#include "b2c_http.h"
#include "b2c_cache_entry.h"
#include "b2c_json.h"
#include "b2c_key_policy.h"
#include "b2c_util.h"
#include "b2c_validate.h"
#include "key_store.h"
#include "b2c_background.h"
#include "b2c_version.h"
#include "b2c_glue_log.h"
#include "b2c_token_cache.h"

#include <apr_optional.h>

#define WATCHDOG_NAME "_b2c_auth_"

/* Process-wide, created in child_init. */
static b2c_key_store_t *key_store;
static b2c_background_t *background; /* the watchdog's key refreshes */
static b2c_token_cache_t *token_cache;
static b2c_shared_cache_t *shared_cache; /* the main server's, or NULL */
static int have_watchdog;

/* Validated-token entries in the shared cache stay small. */
#define SHARED_CLAIMS_MAX_BYTES (64 * 1024)

/* Everything a cached verdict depends on, so entries made under one
 * configuration are never used under another. Built on every request:
 * plain concatenation, no formatting. */
static void key_store_options(request_rec *r, const b2c_auth_dir_conf_t *c,
                              b2c_key_store_options_t *o);

static const char *validation_context(request_rec *r,
                                      const b2c_auth_dir_conf_t *c)
{
    b2c_key_store_options_t o;

    /* keys fetched under other trust options (CA bundle, .htaccess origin
     * rule, address guard) are other keys: their verdicts are not ours */
    key_store_options(r, c, &o);
    return apr_pstrcat(
        r->pool, c->metadata_url, "\n",
        apr_itoa(r->pool, (int)b2c_conf_algs(c)), "\n",
        apr_itoa(r->pool, b2c_conf_skew(c)),
        "\naud:", apr_array_pstrcat(r->pool, c->audiences, '\n'), "\niss:",
        c->issuers ? apr_array_pstrcat(r->pool, c->issuers, '\n')
                   : "(discovered)",
        "\ntrust:", o.jwks_same_origin ? "htaccess" : "conf",
        "\nca:", o.ca_file ? o.ca_file : "(system)", "\naddrs:",
        o.allowed_addrs ? apr_array_pstrcat(r->pool, o.allowed_addrs, ' ') : "",
        NULL);
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
    o->allowed_addrs =
        c->metadata_from_htaccess ? sc->metadata_allow_addrs : NULL;
    o->max_stale =
        apr_time_from_sec(b2c_sconf_int(sc->max_stale, B2C_DEFAULT_MAX_STALE));
}

/* The shared cache's key of a verdict: a digest, so neither the token nor
 * the configuration is spelled out in a shared store. */
static const char *shared_key(apr_pool_t *p, const char *context,
                              const char *token, size_t len)
{
    size_t clen = strlen(context);
    char *buf = apr_palloc(p, clen + 1 + len);
    unsigned char digest[32];

    memcpy(buf, context, clen + 1); /* the NUL keeps context from token */
    memcpy(buf + clen + 1, token, len);
    b2c_sha256(buf, clen + 1 + len, digest);
    return apr_pstrcat(p, "b2c:tok:", b2c_hex_encode(p, digest, sizeof(digest)),
                       NULL);
}

/* A verdict another process (or server) reached for this token under this
 * configuration: its claims, if still valid at now. */
static json_t *shared_verdict(request_rec *r, const char *key, long long now,
                              long long *expires_at)
{
    const char *f[2], *err;
    char *buf;
    size_t len;
    json_t *claims;

    if (!shared_cache
        || b2c_shared_cache_get(shared_cache, r->server, key,
                                SHARED_CLAIMS_MAX_BYTES, r->pool, &buf, &len)
               != APR_SUCCESS
        || b2c_cache_entry_unpack(r->pool, buf, len, "claims", f, 2)
               != APR_SUCCESS
        || !b2c_cache_parse_int(f[0], expires_at) || now > *expires_at
        || b2c_json_parse_object(r->pool, f[1], strlen(f[1]), &claims, &err)
               != APR_SUCCESS)
        return NULL;
    return claims;
}

/* claims_json: the token's claims as it carried them (parsed and accepted
 * already), so nothing is serialised again. */
static void share_verdict(request_rec *r, const char *key,
                          const char *claims_json, long long expires_at)
{
    const char *f[2];
    char *buf;
    size_t len;

    if (!shared_cache || !claims_json)
        return;
    f[0] = apr_psprintf(r->pool, "%" APR_INT64_T_FMT, (apr_int64_t)expires_at);
    f[1] = claims_json;
    if (b2c_cache_entry_pack(r->pool, "claims", f, 2, &buf, &len) == APR_SUCCESS
        && len <= SHARED_CLAIMS_MAX_BYTES)
        b2c_shared_cache_put(shared_cache, r->server, key, buf, len,
                             apr_time_from_sec(expires_at), r->pool);
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

/* 503 while keys are being fetched or cannot be had: the caller may retry
 * after the retry pause, by when a fetch has run. */
static int keys_unavailable(request_rec *r)
{
    apr_table_setn(
        r->err_headers_out, "Retry-After",
        apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                     (apr_int64_t)apr_time_sec(B2C_KEY_RETRY_PAUSE)));
    return HTTP_SERVICE_UNAVAILABLE;
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
            res->status = B2C_VERDICT_MALFORMED;
            res->reason = err;
            return 0;
        }
        /* B2C01002 says why, once per interval; this is per request */
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            B2CLOGNO(01104) "no signing keys available from %s: answering 503",
            conf->metadata_url);
        return keys_unavailable(r);
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
        if (res->status != B2C_VERDICT_UNKNOWN_KID || attempt == 1)
            break;
        rv =
            b2c_key_store_refresh(key_store, r, conf->metadata_url, &opts, &ks);
        if (rv == APR_EBUSY)
            return keys_unavailable(r); /* fetching now: ask to retry */
        if (rv != APR_SUCCESS)
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
            line = apr_psprintf(
                r->pool, "%s %s=%s", line, names[i],
                ap_escape_logitem(r->pool, apr_pstrndup(r->pool, v, 200)));
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  B2CLOGNO(01108) "the rejected token says:%s", line);
}

/* The verdict on a token no cache of this process knew: from the shared
 * cache, or by validation; either way rendered and cached. Returns 0 (and
 * fills *v, or res for a refusal) or an HTTP status when no keys can be
 * had. */
static int decide(request_rec *r, const b2c_auth_dir_conf_t *conf,
                  const char *context, const char *token, size_t len,
                  long long now, b2c_validation_result_t *res, b2c_verdict_t *v)
{
    const char *key = NULL;
    long long expires_at = 0;
    b2c_claim_export_t *exports;
    int status, cache = b2c_token_cache_enabled(token_cache);

    /* Only a structurally valid JWS is looked up: `Bearer x` never reaches
     * the shared cache, whatever was planted there (it parses again in
     * validation: cheap next to a signature check). */
    if (cache && shared_cache) {
        b2c_jwt_t *jwt;
        const char *err;
        if (b2c_jwt_parse(r->pool, token, len, &jwt, &err) != APR_SUCCESS) {
            res->status = B2C_VERDICT_MALFORMED;
            res->reason = err;
            res->jwt = NULL;
            return 0;
        }
    }
    /* B2CAuthTokenCacheEntries 0: every request is checked, not only here */
    if (cache && shared_cache) {
        key = shared_key(r->pool, context, token, len);
        v->claims = shared_verdict(r, key, now, &expires_at);
    }
    else
        v->claims = NULL;
    if (!v->claims) {
        if ((status = validate(r, conf, token, len, now, res)))
            return status;
        if (res->status != B2C_VERDICT_VALID)
            return 0;
        v->claims = res->jwt->claims;
        expires_at = res->exp + b2c_conf_skew(conf);
        if (key)
            share_verdict(r, key, res->jwt->claims_json, expires_at);
    }
    res->status = B2C_VERDICT_VALID;
    v->nexports = b2c_claims_render_exports(r->pool, v->claims,
                                            B2C_CLAIM_ENV_PREFIX, &exports);
    v->exports = exports;
    b2c_token_cache_put(token_cache, context, token, len, v, expires_at, now);
    return 0;
}

static int authenticate(request_rec *r)
{
    const b2c_auth_dir_conf_t *conf;
    b2c_auth_request_t *st;
    b2c_validation_result_t res;
    b2c_verdict_t verdict;
    const char *token = NULL, *why, *user, *claim, *context;
    size_t len = 0;
    long long now = apr_time_sec(r->request_time);
    int status;

    if (!b2c_auth_is_bearer_request(r))
        return DECLINED;
    conf = ap_get_module_config(r->per_dir_config, &b2c_auth_module);
    st = b2c_auth_request_get(r, 1);
    if ((why = b2c_auth_conf_incomplete(conf))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      B2CLOGNO(01101) "misconfigured: %s", why);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (b2c_bearer_parse(apr_table_get(r->headers_in, "Authorization"),
                             &token, &len)) {
    case B2C_BEARER_NONE:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      B2CLOGNO(01102) "no bearer token in the request");
        return reject(r, st, B2C_REQ_NO_TOKEN, NULL);
    case B2C_BEARER_MALFORMED:
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            B2CLOGNO(01103) "malformed Authorization header (one Bearer token "
                            "expected)");
        return reject(r, st, B2C_REQ_INVALID_REQUEST,
                      "expected exactly one Bearer token");
    case B2C_BEARER_OK:
        break;
    }

    context = validation_context(r, conf);
    if (!b2c_token_cache_get(token_cache, context, token, len, now, r->pool,
                             &verdict)) {
        if ((status =
                 decide(r, conf, context, token, len, now, &res, &verdict)))
            return status;
        if (res.status != B2C_VERDICT_VALID) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          B2CLOGNO(01105) "token rejected (%s): %s%s",
                          b2c_token_status_name(res.status), res.reason,
                          res.status == B2C_VERDICT_FOREIGN
                              ? "; the caller sent a token minted for another"
                                " resource (such as Microsoft Graph) instead"
                                " of one for this API"
                              : "");
            if ((res.status == B2C_VERDICT_BAD_ISSUER
                 || res.status == B2C_VERDICT_BAD_AUDIENCE)
                && res.jwt && APLOGrinfo(r))
                log_token_identity(r, res.jwt->claims);
            return reject(r, st, B2C_REQ_INVALID_TOKEN, res.reason);
        }
    }

    claim = b2c_conf_remote_user(conf);
    user = b2c_claim_text(r->pool, verdict.claims, claim);
    if (!user || !*user) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            B2CLOGNO(
                01106) "token rejected: it has no '%s' claim for REMOTE_USER",
            ap_escape_logitem(r->pool, claim));
        return reject(r, st, B2C_REQ_INVALID_TOKEN,
                      "the token lacks the claim used as user name");
    }
    r->user = (char *)user;
    r->ap_auth_type = (char *)B2C_AUTH_TYPE;
    st->outcome = B2C_REQ_VALID;
    st->claims = verdict.claims;
    st->exports = verdict.exports;
    st->nexports = verdict.nexports;
    if (APLOGrdebug(r))
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      B2CLOGNO(01107) "token accepted for %s",
                      ap_escape_logitem(r->pool, user));
    return OK;
}

static int check_config(apr_pool_t *pconf, server_rec *s)
{
    const b2c_auth_server_conf_t *sc =
        ap_get_module_config(s->module_config, &b2c_auth_module);
    const char *err = b2c_auth_check_sections(pconf, s);

    if (!err)
        err = b2c_shared_cache_check_ring(pconf, sc->cache, sc->cache_ring,
                                          "B2CAuthCache", "B2CAuthCacheKey");
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, B2CLOGNO(01005) "%s", err);
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

static void maintain_keys(void *unused, server_rec *s, apr_pool_t *p)
{
    if (key_store)
        b2c_key_store_maintain(key_store, s, p);
}

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    b2c_shared_cache_register_mutex(pconf, B2C_AUTH_MUTEX);
    return OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                       server_rec *s)
{
    b2c_auth_server_conf_t *sc =
        ap_get_module_config(s->module_config, &b2c_auth_module);
    const char *err;
    apr_status_t rv;
    int fell_back;

    b2c_glue_log_init(s);
    b2c_version_announce(pconf, s, "mod_b2c_auth", sc->server_tokens,
                         B2CLOGNO(01000));
    if (b2c_http_global_init() != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     B2CLOGNO(01003) "cannot initialise libcurl");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (check_config(pconf, s) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;
    /* Sealed with B2CAuthCacheKey: check_config made sure a cache server
     * outside httpd has one. */
    rv = b2c_shared_cache_start(&sc->cache, sc->cache_set, B2C_DEFAULT_CACHE,
                                sc->cache_ring, B2CLOGNO(01032), "b2c_auth",
                                B2C_AUTH_MUTEX, s, pconf, &fell_back, &err);
    if (fell_back)
        ap_log_error(
            APLOG_MARK, APLOG_NOTICE, 0, s,
            B2CLOGNO(
                01006) "mod_socache_shmcb is not loaded: keys and validated "
                       "tokens are cached per process only");
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     B2CLOGNO(01007) "B2CAuthCache %s: %s",
                     b2c_shared_cache_name(sc->cache), err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* One watchdog thread per child refreshes keys ahead of schedule (the
     * shared cache makes that one fetch per machine or fleet). */
    have_watchdog = b2c_background_register(pconf, WATCHDOG_NAME,
                                            apr_time_from_sec(1), &background);
    return OK;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    const b2c_auth_server_conf_t *sc =
        ap_get_module_config(s->module_config, &b2c_auth_module);

    shared_cache = sc->cache;
    b2c_shared_cache_child_init(shared_cache, pchild);
    if (have_watchdog
        && b2c_background_open(pchild, s, maintain_keys, NULL, &background)
               != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     B2CLOGNO(01008) "cannot start background key refreshes");
        have_watchdog = 0; /* requests refresh the keys instead */
    }
    if (b2c_key_store_create(pchild, shared_cache, have_watchdog, &key_store)
            != APR_SUCCESS
        || b2c_token_cache_create(
               pchild,
               b2c_sconf_int(sc->token_cache_entries, B2C_DEFAULT_TOKEN_CACHE),
               &token_cache)
               != APR_SUCCESS)
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, 0, s,
            B2CLOGNO(01004) "cannot create the key store or token cache");
}

static void register_hooks(apr_pool_t *p)
{
    static const char *const before_watchdog[] = { "mod_watchdog.c", NULL };

    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, before_watchdog, APR_HOOK_LAST);
    ap_hook_test_config(test_config_hook, NULL, NULL, APR_HOOK_MIDDLE);
    /* before the watchdog thread starts: it reads what child_init set */
    ap_hook_child_init(child_init, NULL, before_watchdog, APR_HOOK_MIDDLE);
    ap_hook_check_authn(authenticate, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(b2c_auth_note_failure, NULL, NULL,
                              APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(b2c_auth_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    ap_hook_header_parser(b2c_auth_strip_claim_headers, NULL, NULL,
                          APR_HOOK_FIRST);
    ap_hook_fixups(b2c_auth_export_claims, NULL, NULL, APR_HOOK_FIRST);
    b2c_auth_register_authz_providers(p);
    b2c_auth_register_response_filter();
}

AP_DECLARE_MODULE(b2c_auth) = { STANDARD20_MODULE_STUFF,
                                b2c_auth_create_dir_conf,
                                b2c_auth_merge_dir_conf,
                                b2c_auth_create_server_conf,
                                b2c_auth_merge_server_conf,
                                b2c_auth_cmds,
                                register_hooks };
