/* SPDX-License-Identifier: Apache-2.0 */
/* Per-process client token state (see client_tokens.h). Each client has a
 * state lock, held only to read or swap fields, and a fetch lock that
 * serialises token requests, so that a burst of first requests makes one
 * token request and a background refresh never blocks a request that
 * already has a token to use. */
#include "client_tokens.h"

#include "b2c_cache_entry.h"
#include "b2c_discovery.h"
#include "b2c_url.h"
#include "b2c_util.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define REFUSED_RETRY_SECONDS 60 /* bad secret/scope: no tight loop */
#define BACKOFF_BASE_SECONDS  1
#define BACKOFF_CAP_SECONDS   300
#define LOG_INTERVAL_SECONDS  60

typedef struct {
    const b2c_client_def_t *def;
    apr_thread_mutex_t *lock;
    apr_thread_mutex_t *fetch_lock;
    char *token; /* malloc'ed; NULL when none */
    long long obtained, lifetime;
    long long usable_until, refresh_at;
    long long next_attempt; /* backoff: no request before this */
    int failures;
    char last_error[400]; /* for the 503 log line */
    long long last_failure_log, last_503_log;
    const char *token_endpoint; /* resolved (discovery) endpoint */
    const char *cache_id;       /* hex SHA-256 of what the token is for */
} client_state_t;

struct b2c_client_tokens {
    server_rec *s;
    apr_pool_t *pool;
    b2c_shared_cache_t *cache; /* NULL: per process only */
    int n;
    client_state_t *states;
};

/* Tokens are shared between processes (and servers) only for the same
 * client, credentials' owner, endpoint and scopes. */
static const char *token_cache_id(apr_pool_t *p, const b2c_client_def_t *d)
{
    unsigned char digest[32];
    const char *what =
        apr_pstrcat(p, d->name, "\n", d->client_id, "\n",
                    d->token_endpoint ? d->token_endpoint : d->discovery_url,
                    "\n", apr_array_pstrcat(p, d->scopes, ' '), NULL);
    b2c_sha256(what, strlen(what), digest);
    return b2c_hex_encode(p, digest, sizeof(digest));
}

/* At process exit: free what was malloc'ed for the clients. The watchdog's
 * work has stopped by then (b2c_background); the locks still guard against
 * anything else mid-fetch: an endpoint in use is left to the exit. */
static apr_status_t free_states(void *baton)
{
    b2c_client_tokens_t *t = baton;
    int i;

    for (i = 0; i < t->n; i++) {
        client_state_t *cs = &t->states[i];
        apr_thread_mutex_lock(cs->lock);
        free(cs->token);
        cs->token = NULL;
        apr_thread_mutex_unlock(cs->lock);
        if (apr_thread_mutex_trylock(cs->fetch_lock) == APR_SUCCESS) {
            if (cs->token_endpoint != cs->def->token_endpoint)
                free((char *)cs->token_endpoint);
            cs->token_endpoint = cs->def->token_endpoint;
            apr_thread_mutex_unlock(cs->fetch_lock);
        }
    }
    return APR_SUCCESS;
}

apr_status_t b2c_client_tokens_create(apr_pool_t *p, server_rec *s,
                                      b2c_shared_cache_t *cache,
                                      const apr_array_header_t *defs,
                                      b2c_client_tokens_t **out)
{
    b2c_client_tokens_t *t = apr_pcalloc(p, sizeof(*t));
    int i;

    t->s = s;
    t->pool = p;
    t->cache = cache;
    t->n = defs->nelts;
    t->states = apr_pcalloc(p, sizeof(client_state_t) * (t->n ? t->n : 1));
    for (i = 0; i < t->n; i++) {
        client_state_t *cs = &t->states[i];
        cs->def = APR_ARRAY_IDX(defs, i, const b2c_client_def_t *);
        cs->token_endpoint = cs->def->token_endpoint;
        cs->cache_id = token_cache_id(p, cs->def);
        if (apr_thread_mutex_create(&cs->lock, APR_THREAD_MUTEX_DEFAULT, p)
            || apr_thread_mutex_create(&cs->fetch_lock,
                                       APR_THREAD_MUTEX_DEFAULT, p))
            return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, t, free_states, apr_pool_cleanup_null);
    *out = t;
    return APR_SUCCESS;
}

static long long now_seconds(void)
{
    return apr_time_sec(apr_time_now());
}

static double random_unit(void)
{
    unsigned int v = 0;
    if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
        v = (unsigned int)rand();
    return (double)v / 4294967296.0;
}

/* The token endpoint's error text, with the secret cut out should an
 * endpoint ever echo it back. */
static const char *describe(apr_pool_t *p, const client_state_t *cs,
                            const b2c_token_result_t *res)
{
    /* Entra's descriptions start with the AADSTS code already */
    int code_said = res->error_code && res->error_description
                    && !strncmp(res->error_description, res->error_code,
                                strlen(res->error_code));
    const char *code = res->error_code && !code_said ? res->error_code : NULL;
    const char *d = apr_psprintf(
        p, "%s%s%s%s%s", res->error ? res->error : "error", code ? " " : "",
        code ? code : "", res->error_description ? ": " : "",
        res->error_description ? res->error_description : "");
    b2c_token_result_t copy = *res;

    /* the same check as the fetch's, on the text this line would log */
    copy.error = d;
    if (b2c_token_result_withhold_secret(p, &copy, NULL, 0, cs->def->client_id,
                                         cs->def->secret))
        return copy.error_description;
    return d;
}

/* Resolve a discovery-document authority to its token endpoint once. */
static const char *token_endpoint(client_state_t *cs, server_rec *s,
                                  apr_pool_t *p, const b2c_http_options_t *opts,
                                  b2c_token_result_t *res);

static const char *cache_key(apr_pool_t *p, const char *kind,
                             const client_state_t *cs)
{
    return apr_pstrcat(p, "b2c:", kind, ":", cs->cache_id, NULL);
}

/* Installs a token (cs->lock NOT held). */
static void install(client_state_t *cs, const char *token, long long obtained,
                    long long lifetime)
{
    char *copy = strdup(token);

    if (!copy)
        return;
    apr_thread_mutex_lock(cs->lock);
    free(cs->token);
    cs->token = copy;
    cs->obtained = obtained;
    cs->lifetime = lifetime;
    cs->usable_until = b2c_token_usable_until(obtained, lifetime);
    cs->refresh_at = b2c_token_refresh_at(obtained, lifetime);
    cs->failures = 0;
    cs->next_attempt = 0;
    apr_thread_mutex_unlock(cs->lock);
}

/* A token another process or server obtained, if newer than ours and not
 * yet due for refresh. A corrupted or hostile entry yields nothing. */
static int adopt_shared(b2c_client_tokens_t *t, client_state_t *cs,
                        apr_pool_t *p)
{
    const char *f[3];
    char *buf;
    size_t len;
    long long obtained, lifetime, now = now_seconds(), ours;

    if (b2c_shared_cache_get(t->cache, t->s, cache_key(p, "ctok", cs),
                             64 * 1024, p, &buf, &len)
            != APR_SUCCESS
        || b2c_cache_entry_unpack(p, buf, len, "ctoken", f, 3) != APR_SUCCESS
        || !b2c_cache_parse_int(f[0], &obtained)
        || !b2c_cache_parse_int(f[1], &lifetime) || lifetime <= 0 || !*f[2]
        || strpbrk(f[2], " \t\r\n")
        || now >= b2c_token_refresh_at(obtained, lifetime))
        return 0;
    apr_thread_mutex_lock(cs->lock);
    ours = cs->token ? cs->obtained : -1;
    apr_thread_mutex_unlock(cs->lock);
    if (obtained <= ours)
        return 0;
    install(cs, f[2], obtained, lifetime);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, t->s,
                 B2CLOGNO(02104) "client %s: token taken from the shared cache",
                 cs->def->name);
    return 1;
}

static void publish(b2c_client_tokens_t *t, client_state_t *cs, apr_pool_t *p,
                    const char *token, long long obtained, long long lifetime)
{
    const char *f[3];
    char *buf;
    size_t len;

    f[0] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)obtained);
    f[1] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)lifetime);
    f[2] = token;
    if (b2c_cache_entry_pack(p, "ctoken", f, 3, &buf, &len) == APR_SUCCESS)
        b2c_shared_cache_put(t->cache, t->s, cache_key(p, "ctok", cs), buf, len,
                             apr_time_from_sec(obtained + lifetime), p);
}

static void fetch_from_endpoint(b2c_client_tokens_t *t, client_state_t *cs,
                                apr_pool_t *p);

/* One fetch of a client's token, as the single-flight protocol sees it. */
typedef struct {
    b2c_client_tokens_t *t;
    client_state_t *cs;
} flight_t;

static int lease_adopt(void *baton, apr_pool_t *p, int waiting)
{
    flight_t *f = baton;
    (void)waiting; /* a token is adopted only while not yet due */
    return adopt_shared(f->t, f->cs, p);
}

static apr_status_t lease_fetch(void *baton, apr_pool_t *p)
{
    flight_t *f = baton;
    fetch_from_endpoint(f->t, f->cs, p);
    return APR_SUCCESS;
}

/* Get a token for cs: from the shared cache if another process or server
 * has a fresh one, else from the token endpoint, one fetch at a time per
 * machine and fleet (a lease entry per client, so a slow endpoint never
 * delays another; others wait at most one request timeout for the holder,
 * then give up: the request is answered 503). Caller holds fetch_lock. */
static void fetch(b2c_client_tokens_t *t, client_state_t *cs, apr_pool_t *p)
{
    b2c_shared_cache_seam_t seam;
    flight_t f = { t, cs };
    b2c_lease_t lease;

    lease.cache = b2c_shared_cache_seam(&seam, t->cache, t->s);
    lease.what = apr_pstrcat(p, "client ", cs->def->name, NULL);
    lease.lease_key = cache_key(p, "clease", cs);
    lease.lease_ttl = apr_time_from_msec(B2C_CLIENT_TIMEOUT_MS) * 2;
    lease.wait_max = apr_time_from_msec(B2C_CLIENT_TIMEOUT_MS);
    lease.poll = apr_time_from_msec(50);
    lease.give_up = 1; /* then 503: no request waits past the timeout */
    lease.adopt = lease_adopt;
    lease.work = lease_fetch;
    lease.baton = &f;
    b2c_lease_run(&lease, p);
}

/* One token request for cs. */
static void fetch_from_endpoint(b2c_client_tokens_t *t, client_state_t *cs,
                                apr_pool_t *p)
{
    b2c_http_options_t opts = { B2C_CLIENT_TIMEOUT_MS,
                                B2C_CLIENT_TIMEOUT_MS / 2, 256 * 1024, NULL };
    b2c_token_request_t req;
    b2c_token_result_t res;
    long long now = now_seconds();
    const char *endpoint;

    memset(&res, 0, sizeof(res));
    endpoint = token_endpoint(cs, t->s, p, &opts, &res);
    if (endpoint) {
        req.token_endpoint = endpoint;
        req.client_id = cs->def->client_id;
        req.secret = cs->def->secret;
        req.cert = cs->def->cert;
        req.auth = cs->def->auth;
        req.scopes = cs->def->scopes;
        b2c_token_fetch(p, &req, &opts, now, &res);
    }
    now = now_seconds();

    if (res.outcome == B2C_FETCH_OK) {
        install(cs, res.access_token, now, res.expires_in);
        publish(t, cs, p, res.access_token, now, res.expires_in);
        ap_log_error(
            APLOG_MARK, APLOG_INFO, 0, t->s,
            B2CLOGNO(
                02101) "client %s: token obtained, valid for %" APR_INT64_T_FMT
                       " s",
            cs->def->name, (apr_int64_t)res.expires_in);
        return;
    }
    {
        const char *what = describe(p, cs, &res);
        long long delay;
        int log_now;

        apr_thread_mutex_lock(cs->lock);
        cs->failures++;
        delay = res.outcome == B2C_FETCH_REFUSED
                    ? (res.retry_after > REFUSED_RETRY_SECONDS
                           ? res.retry_after
                           : REFUSED_RETRY_SECONDS)
                    : b2c_backoff_seconds(cs->failures, BACKOFF_BASE_SECONDS,
                                          BACKOFF_CAP_SECONDS, res.retry_after,
                                          random_unit());
        cs->next_attempt = now + delay;
        /* one line per interval, or at once when the error changes */
        log_now = now - cs->last_failure_log >= LOG_INTERVAL_SECONDS
                  || strncmp(cs->last_error, what, sizeof(cs->last_error) - 1);
        apr_cpystrn(cs->last_error, what, sizeof(cs->last_error));
        if (log_now)
            cs->last_failure_log = now;
        apr_thread_mutex_unlock(cs->lock);
        if (log_now)
            ap_log_error(
                APLOG_MARK, APLOG_ERR, 0, t->s,
                B2CLOGNO(
                    02102) "client %s: token request to %s failed: %s; next "
                           "attempt in %" APR_INT64_T_FMT " s%s",
                cs->def->name, endpoint ? endpoint : "(token endpoint unknown)",
                ap_escape_logitem(p, what), (apr_int64_t)delay,
                res.outcome == B2C_FETCH_REFUSED
                    ? " (the identity platform refused the client's "
                      "credentials or scope: check the configuration)"
                    : "");
    }
}

static const char *token_endpoint(client_state_t *cs, server_rec *s,
                                  apr_pool_t *p, const b2c_http_options_t *opts,
                                  b2c_token_result_t *res)
{
    b2c_http_response_t resp;
    b2c_discovery_t *disc = NULL;
    const char *err = NULL;

    if (cs->token_endpoint)
        return cs->token_endpoint;
    res->outcome = B2C_FETCH_RETRYABLE;
    res->retry_after = -1;
    if (b2c_http_get(p, cs->def->discovery_url, opts, &resp, &err)
        != APR_SUCCESS) {
        res->error = "unreachable";
        res->error_description = apr_psprintf(p, "discovery document: %s", err);
        return NULL;
    }
    /* the same parse and URL checks as the validator's metadata */
    if (resp.status != 200
        || b2c_discovery_parse(p, resp.body, resp.body_len, &disc, &err)
               != APR_SUCCESS
        || !disc->token_endpoint) {
        res->error = "invalid_response";
        res->error_description = "the discovery document names no usable "
                                 "token_endpoint";
        return NULL;
    }
    /* Written once, under fetch_lock, like every read of it; malloc'ed
     * because no pool here may be shared between threads. */
    cs->token_endpoint = strdup(disc->token_endpoint);
    /* the warning B2C02005 gives a configured endpoint, once per process */
    if (cs->token_endpoint && !b2c_url_is_https(p, cs->token_endpoint))
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, s,
            B2CLOGNO(
                02105) "<B2CClient %s> (%s): the token endpoint %s named by "
                       "the "
                       "discovery document is plain http://: credentials and "
                       "tokens cross the network unencrypted",
            cs->def->name, cs->def->defined_at,
            ap_escape_logitem(p, cs->token_endpoint));
    return cs->token_endpoint;
}

/* Copies the token into r's pool if one is usable now. */
static int take_token(client_state_t *cs, request_rec *r, const char **token)
{
    int ok;
    apr_thread_mutex_lock(cs->lock);
    ok = cs->token && now_seconds() < cs->usable_until;
    if (ok)
        *token = apr_pstrdup(r->pool, cs->token);
    apr_thread_mutex_unlock(cs->lock);
    return ok;
}

static int backoff_over(client_state_t *cs)
{
    int over;
    apr_thread_mutex_lock(cs->lock);
    over = now_seconds() >= cs->next_attempt;
    apr_thread_mutex_unlock(cs->lock);
    return over;
}

/* No token: the caller answers 503; say why once per interval. */
static apr_status_t refuse(client_state_t *cs, request_rec *r,
                           long long *retry_after)
{
    long long now = now_seconds(), wait;
    const char *last;
    int log_now;

    apr_thread_mutex_lock(cs->lock);
    wait = cs->next_attempt - now;
    log_now = now - cs->last_503_log >= LOG_INTERVAL_SECONDS;
    if (log_now)
        cs->last_503_log = now;
    last = apr_pstrdup(r->pool, cs->last_error);
    apr_thread_mutex_unlock(cs->lock);
    *retry_after = wait > 0 ? wait : 1;
    if (log_now)
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            B2CLOGNO(
                02103) "client %s: no valid token, answering 503 instead of "
                       "proxying without credentials (last error: %s)",
            cs->def->name,
            *last ? ap_escape_logitem(r->pool, last) : "none yet");
    return APR_EAGAIN;
}

apr_status_t b2c_client_tokens_get(b2c_client_tokens_t *t,
                                   const b2c_client_def_t *def, request_rec *r,
                                   const char **token, long long *retry_after)
{
    client_state_t *cs = &t->states[def->index];

    if (take_token(cs, r, token))
        return APR_SUCCESS;
    if (!backoff_over(cs)) {
        /* In the backoff: a token another process obtained since is taken
         * at once rather than waiting the backoff out (issue 12). */
        if (t->cache && adopt_shared(t, cs, r->pool)
            && take_token(cs, r, token))
            return APR_SUCCESS;
        return refuse(cs, r, retry_after);
    }
    /* One thread fetches; the others wait for its result at most one
     * request timeout (a slow endpoint must not hold threads longer), then
     * take what another process published, else answer 503. */
    if (apr_thread_mutex_trylock(cs->fetch_lock) == APR_SUCCESS) {
        if (!take_token(cs, r, token) && backoff_over(cs))
            fetch(t, cs, r->pool);
        apr_thread_mutex_unlock(cs->fetch_lock);
    }
    else if (b2c_mutex_lock_within(cs->fetch_lock, B2C_CLIENT_TIMEOUT_MS))
        apr_thread_mutex_unlock(cs->fetch_lock); /* its result, no fetch */
    else if (t->cache)
        adopt_shared(t, cs, r->pool);
    if (take_token(cs, r, token))
        return APR_SUCCESS;
    return refuse(cs, r, retry_after);
}

void b2c_client_tokens_maintain(b2c_client_tokens_t *t, apr_pool_t *parent)
{
    apr_pool_t *p;
    int i;

    apr_pool_create(&p, parent);
    for (i = 0; i < t->n; i++) {
        client_state_t *cs = &t->states[i];
        long long now = now_seconds();
        int due, paused;

        if (!cs->def->used) /* prefetch only what some location needs */
            continue;
        apr_thread_mutex_lock(cs->lock);
        due = now >= cs->next_attempt && (!cs->token || now >= cs->refresh_at);
        paused = now < cs->next_attempt;
        apr_thread_mutex_unlock(cs->lock);
        if (paused && t->cache) /* another process may have one by now */
            adopt_shared(t, cs, p);
        if (due && apr_thread_mutex_trylock(cs->fetch_lock) == APR_SUCCESS) {
            fetch(t, cs, p);
            apr_thread_mutex_unlock(cs->fetch_lock);
            apr_pool_clear(p);
        }
    }
    apr_pool_destroy(p);
}
