/* SPDX-License-Identifier: Apache-2.0 */
/* mod_b2c_client: httpd glue of the client-credentials token client. For
 * requests that mod_proxy is about to forward from a location naming a
 * <B2CClient>, the fixups hook puts "Bearer <token>" in the request headers
 * mod_proxy copies to the backend, or answers 503 when no valid token can be
 * had, so the backend never sees an unauthenticated request. A watchdog
 * thread in each child refreshes tokens ahead of expiry, so requests only
 * read a cached token. */
#define B2C_CLIENT_MODULE_FILE
#include "mod_b2c_client.h"

#include <apr_optional.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_main.h>
#include <http_protocol.h>
#include <http_request.h>

#include "b2c_http.h"
#include "client_config.h"
#include "client_tokens.h"
#include "b2c_background.h"
#include "b2c_version.h"
#include "b2c_glue_log.h"

#define WATCHDOG_NAME     "_b2c_client_"
#define WATCHDOG_INTERVAL apr_time_from_sec(1)

static b2c_client_tokens_t *tokens;  /* this process's, from child_init */
static b2c_background_t *background; /* the watchdog's token refreshes */
static int have_watchdog;

/* Is mod_proxy going to forward r to a backend of ours? ProxyPass and
 * RewriteRule [P] have set a "proxy:" filename by now (mod_rewrite's
 * per-directory rules run in fixups before us); SetHandler "proxy:..."
 * names it in the handler. Forward-proxy requests (ProxyRequests On) go
 * wherever the client says, so they never get a token. */
static int is_proxied(const request_rec *r)
{
    if (r->proxyreq == PROXYREQ_PROXY)
        return 0;
    return (r->proxyreq == PROXYREQ_REVERSE && r->filename
            && !strncmp(r->filename, "proxy:", 6))
           || (r->handler && !strncmp(r->handler, "proxy:", 6));
}

/* What inject_token put into a request's headers_in, kept in its
 * request_config so the requests that share or copy that table can find it. */
typedef struct {
    const char *header;
    const char *value;
} injected_t;

/* An internal redirect (ErrorDocument, mod_rewrite, mod_negotiation...)
 * shares r->headers_in with the request it came from; a sub-request
 * (mod_include, mod_dir...) gets a copy of its parent's. Either would carry
 * the token an earlier request got for its own backend to wherever this one
 * goes: take it out first, so a token only ever travels with the request
 * whose location named the client. */
static void drop_inherited_token(request_rec *r)
{
    request_rec *up;

    for (up = r->prev ? r->prev : r->main; up;
         up = up->prev ? up->prev : up->main) {
        const injected_t *in =
            ap_get_module_config(up->request_config, &b2c_client_module);
        const char *v;
        if (in && (v = apr_table_get(r->headers_in, in->header))
            && !strcmp(v, in->value)) {
            apr_table_unset(r->headers_in, in->header);
            ap_log_rerror(
                APLOG_MARK, APLOG_TRACE1, 0, r,
                B2CLOGNO(02203) "token of an earlier request taken out of %s",
                in->header);
        }
    }
}

/* Did an .htaccess file take part in r's configuration? httpd lists every
 * directory it looked in (r->htaccess); an entry with a configuration read
 * a file. A proxy target chosen there (RewriteRule [P], SetHandler proxy:)
 * is a customer's choice, never a backend of the operator's: no token. A
 * ProxyPass or server-context RewriteRule [P] never reads .htaccess, since
 * mod_proxy maps "proxy:" requests without a directory walk. */
static int htaccess_applied(const request_rec *r)
{
    const struct htaccess_result *h;

    for (h = r->htaccess; h; h = h->next)
        if (h->htaccess)
            return 1;
    return 0;
}

static int inject_token(request_rec *r)
{
    const b2c_client_dir_conf_t *dc =
        ap_get_module_config(r->per_dir_config, &b2c_client_module);
    const b2c_client_server_conf_t *sc;
    const b2c_client_def_t *def;
    const char *token, *header;
    long long retry_after = 1;
    injected_t *in;

    if (r->prev || r->main)
        drop_inherited_token(r);
    if (!dc->client_name || !strcmp(dc->client_name, "off") || !is_proxied(r))
        return DECLINED;
    if (htaccess_applied(r)) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            B2CLOGNO(
                02204) "client %s: no token for a request an .htaccess file "
                       "took part in (its proxy target may be a customer's)",
            ap_escape_logitem(r->pool, dc->client_name));
        return DECLINED;
    }
    sc =
        ap_get_module_config(ap_server_conf->module_config, &b2c_client_module);
    def = apr_hash_get(sc->clients, dc->client_name, APR_HASH_KEY_STRING);
    if (!def || !tokens) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      B2CLOGNO(02201) "client %s: %s",
                      ap_escape_logitem(r->pool, dc->client_name),
                      def ? "token state unavailable in this process (see "
                            "B2C02004 at its start)"
                          : "no such <B2CClient>");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (b2c_client_tokens_get(tokens, def, r, &token, &retry_after)
        != APR_SUCCESS) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                    (apr_int64_t)retry_after));
        return HTTP_SERVICE_UNAVAILABLE;
    }
    header = dc->header ? dc->header : B2C_CLIENT_DEFAULT_HEADER;
    in = apr_palloc(r->pool, sizeof(*in));
    in->header = header;
    in->value = apr_pstrcat(r->pool, "Bearer ", token, NULL);
    apr_table_setn(r->headers_in, header, in->value);
    ap_set_module_config(r->request_config, &b2c_client_module, in);
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                  B2CLOGNO(02202) "client %s: token put in %s", def->name,
                  header);
    return DECLINED;
}

static void maintain_tokens(void *t, server_rec *s, apr_pool_t *p)
{
    b2c_client_tokens_maintain(t, p);
}

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    b2c_client_config_reset(pconf);
    b2c_shared_cache_register_mutex(pconf, B2C_CLIENT_MUTEX);
    return OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                       server_rec *s)
{
    b2c_client_server_conf_t *sc =
        ap_get_module_config(s->module_config, &b2c_client_module);
    const char *err = b2c_client_check_references(ptemp, s);
    apr_status_t rv;
    int fell_back;

    if (!err)
        err =
            b2c_shared_cache_check_ring(ptemp, sc->cache, sc->cache_ring,
                                        "B2CClientCache", "B2CClientCacheKey");

    b2c_glue_log_init(s);
    b2c_version_announce(pconf, s, "mod_b2c_client", sc->server_tokens,
                         B2CLOGNO(02000));
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, B2CLOGNO(02008) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (b2c_http_global_init() != APR_SUCCESS)
        return HTTP_INTERNAL_SERVER_ERROR;
    have_watchdog = 0;
    if (sc->ordered->nelts == 0)
        return OK;
    /* Sealed with B2CClientCacheKey: checked above for a cache server. */
    rv = b2c_shared_cache_start(&sc->cache, sc->cache_set,
                                B2C_CLIENT_DEFAULT_CACHE, sc->cache_ring,
                                B2CLOGNO(02032), "b2c_client", B2C_CLIENT_MUTEX,
                                s, pconf, &fell_back, &err);
    if (fell_back)
        ap_log_error(
            APLOG_MARK, APLOG_NOTICE, 0, s,
            B2CLOGNO(
                02006) "mod_socache_shmcb is not loaded: each process gets its "
                       "own client tokens");
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     B2CLOGNO(02007) "B2CClientCache %s: %s",
                     b2c_shared_cache_name(sc->cache), err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* A child (not parent), non-singleton watchdog: every process keeps its
     * own tokens fresh. */
    have_watchdog = b2c_background_register(pconf, WATCHDOG_NAME,
                                            WATCHDOG_INTERVAL, &background);
    if (!have_watchdog)
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, s,
            B2CLOGNO(
                02003) "mod_watchdog is not available: tokens are refreshed by "
                       "the request that finds them expiring");
    return OK;
}

static void test_config(apr_pool_t *pconf, server_rec *s)
{
    const b2c_client_server_conf_t *sc =
        ap_get_module_config(s->module_config, &b2c_client_module);
    const char *err = b2c_client_check_references(pconf, s);

    if (!err)
        err =
            b2c_shared_cache_check_ring(pconf, sc->cache, sc->cache_ring,
                                        "B2CClientCache", "B2CClientCacheKey");
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, B2CLOGNO(02002) "%s", err);
        exit(1);
    }
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    b2c_client_server_conf_t *sc =
        ap_get_module_config(s->module_config, &b2c_client_module);
    b2c_client_tokens_t *t;

    if (sc->ordered->nelts == 0)
        return;
    b2c_shared_cache_child_init(sc->cache, pchild);
    if (b2c_client_tokens_create(pchild, s, sc->cache, sc->ordered, &t)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     B2CLOGNO(02004) "cannot create the client token state");
        return;
    }
    tokens = t;
    if (have_watchdog
        && b2c_background_open(pchild, s, maintain_tokens, t, &background)
               != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     B2CLOGNO(02010) "cannot start background token refreshes");
}

static void register_hooks(apr_pool_t *p)
{
    static const char *const before_watchdog[] = { "mod_watchdog.c", NULL };

    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, before_watchdog, APR_HOOK_LAST);
    ap_hook_test_config(test_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* before the watchdog thread starts: it reads what child_init set */
    ap_hook_child_init(child_init, NULL, before_watchdog, APR_HOOK_MIDDLE);
    /* last: after mod_rewrite's fixups have turned [P] rules into proxy: */
    ap_hook_fixups(inject_token, NULL, NULL, APR_HOOK_LAST);
}

AP_DECLARE_MODULE(b2c_client) = { STANDARD20_MODULE_STUFF,
                                  b2c_client_create_dir_conf,
                                  b2c_client_merge_dir_conf,
                                  b2c_client_create_server_conf,
                                  NULL,
                                  b2c_client_cmds,
                                  register_hooks };
