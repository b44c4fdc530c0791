/* Per-process metadata and key cache (see key_store.h). One mutex guards the
 * table and reference counts; a second, per URL, serialises fetches so a
 * burst of first requests makes one fetch, while requests that already have
 * keys never wait for a scheduled refresh running in another thread. */
#include "key_store.h"
#include "mod_b2c_auth.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <http_log.h>

#include "b2c_discovery.h"
#include "b2c_http.h"

/* Generous caps: Microsoft's JWKS is ~12 KB, discovery ~2 KB. */
#define DISCOVERY_MAX_BYTES (256 * 1024)
#define JWKS_MAX_BYTES (1024 * 1024)

typedef struct generation {
    b2c_keyset_t keyset;      /* first: requests get &generation->keyset */
    apr_pool_t *pool;         /* unmanaged; destroyed with the last ref */
    unsigned refs;
} generation_t;

typedef struct {
    const char *url;
    generation_t *current;
    apr_time_t next_refresh;     /* scheduled refresh due */
    apr_time_t last_kid_refresh; /* last refresh caused by an unknown kid */
    apr_time_t last_error_log;   /* outage logged once per interval */
    apr_thread_mutex_t *fetch_lock;
} entry_t;

struct b2c_key_store {
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    apr_hash_t *entries;
};

apr_status_t b2c_key_store_create(apr_pool_t *p, b2c_key_store_t **out)
{
    b2c_key_store_t *store = apr_pcalloc(p, sizeof(*store));
    apr_status_t rv;

    store->pool = p;
    store->entries = apr_hash_make(p);
    rv = apr_thread_mutex_create(&store->lock, APR_THREAD_MUTEX_DEFAULT, p);
    *out = store;
    return rv;
}

static void generation_unref_locked(generation_t *g)
{
    if (g && --g->refs == 0)
        apr_pool_destroy(g->pool);
}

typedef struct {
    b2c_key_store_t *store;
    generation_t *gen;
} release_t;

static apr_status_t release_generation(void *baton)
{
    release_t *rel = baton;
    apr_thread_mutex_lock(rel->store->lock);
    generation_unref_locked(rel->gen);
    apr_thread_mutex_unlock(rel->store->lock);
    return APR_SUCCESS;
}

/* Hands the current generation to r (a reference released with r's pool). */
static const b2c_keyset_t *lend_locked(b2c_key_store_t *store, entry_t *e,
                                       request_rec *r)
{
    release_t *rel = apr_palloc(r->pool, sizeof(*rel));
    rel->store = store;
    rel->gen = e->current;
    e->current->refs++;
    apr_pool_cleanup_register(r->pool, rel, release_generation,
                              apr_pool_cleanup_null);
    return &e->current->keyset;
}

/* Entries for the same URL from httpd.conf and from .htaccess are kept
 * apart: only the latter carry the same-origin rule. */
static entry_t *entry_locked(b2c_key_store_t *store, request_rec *r,
                             const char *url,
                             const b2c_key_store_options_t *opts)
{
    const char *key =
        opts->jwks_same_origin ? apr_pstrcat(r->pool, "\n", url, NULL) : url;
    entry_t *e = apr_hash_get(store->entries, key, APR_HASH_KEY_STRING);
    if (!e) {
        e = apr_pcalloc(store->pool, sizeof(*e));
        e->url = apr_pstrdup(store->pool, url);
        apr_thread_mutex_create(&e->fetch_lock, APR_THREAD_MUTEX_DEFAULT,
                                store->pool);
        apr_hash_set(store->entries, apr_pstrdup(store->pool, key),
                     APR_HASH_KEY_STRING, e);
    }
    return e;
}

static apr_status_t fetch_json(apr_pool_t *p, const char *what, const char *url,
                               size_t max, const b2c_key_store_options_t *opts,
                               b2c_http_response_t *resp, const char **err)
{
    b2c_http_options_t ho = { opts->fetch_timeout_ms,
                              opts->fetch_timeout_ms, max, opts->ca_file };
    apr_status_t rv = b2c_http_get(p, url, &ho, resp, err);

    if (rv == APR_SUCCESS && resp->status != 200) {
        *err = apr_psprintf(p, "%s answered HTTP %ld", what, resp->status);
        rv = APR_EGENERAL;
    }
    else if (rv != APR_SUCCESS)
        *err = apr_psprintf(p, "%s fetch failed: %s", what, *err);
    return rv;
}

/* Length of "scheme://authority" of url (up to the first '/' after it). */
static size_t origin_len(const char *url)
{
    const char *a = strstr(url, "://");
    return a ? (size_t)(a + 3 - url) + strcspn(a + 3, "/?#") : 0;
}

static int same_origin(const char *a, const char *b)
{
    size_t n = origin_len(a);
    return n && n == origin_len(b) && !strncasecmp(a, b, n);
}

/* Fetch discovery + JWKS into a new generation (no locks held). */
static apr_status_t fetch_generation(const char *url,
                                     const b2c_key_store_options_t *opts,
                                     generation_t **out, const char **err,
                                     apr_pool_t *errp)
{
    apr_pool_t *gp, *tmp;
    b2c_http_response_t resp;
    b2c_discovery_t *disc;
    b2c_jwks_t *jwks;
    generation_t *g;
    const char *e = NULL;
    apr_status_t rv;

    /* Unmanaged pools: creating children of a shared pool from many
     * threads is not safe, and these outlive any request. */
    if ((rv = apr_pool_create_unmanaged_ex(&gp, NULL, NULL)) != APR_SUCCESS)
        return rv;
    apr_pool_create(&tmp, gp);
    rv = fetch_json(tmp, "discovery document", url, DISCOVERY_MAX_BYTES, opts,
                    &resp, &e);
    if (rv == APR_SUCCESS
        && (rv = b2c_discovery_parse(gp, resp.body, resp.body_len, &disc, &e))
               != APR_SUCCESS)
        e = apr_psprintf(tmp, "discovery document rejected: %s", e);
    if (rv == APR_SUCCESS && opts->jwks_same_origin
        && !same_origin(url, disc->jwks_uri)) {
        e = "discovery document rejected: its jwks_uri is on another host "
            "than the metadata URL set in .htaccess";
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS)
        rv = fetch_json(tmp, "JWKS", disc->jwks_uri, JWKS_MAX_BYTES, opts,
                        &resp, &e);
    if (rv == APR_SUCCESS
        && (rv = b2c_jwks_parse(gp, resp.body, resp.body_len, &jwks, &e))
               != APR_SUCCESS)
        e = apr_psprintf(tmp, "JWKS rejected: %s", e);
    if (rv != APR_SUCCESS) {
        *err = apr_pstrdup(errp, e ? e : "fetch failed");
        apr_pool_destroy(gp);
        return rv;
    }
    apr_pool_destroy(tmp);
    g = apr_pcalloc(gp, sizeof(*g));
    g->pool = gp;
    g->refs = 1; /* the entry's reference */
    g->keyset.issuer = disc->issuer;
    g->keyset.jwks = jwks;
    *out = g;
    return APR_SUCCESS;
}

/* Fetch and install a new generation for e; called with e->fetch_lock held
 * and store->lock NOT held. */
static apr_status_t refresh_entry(b2c_key_store_t *store, entry_t *e,
                                  request_rec *r,
                                  const b2c_key_store_options_t *opts)
{
    generation_t *g = NULL;
    const char *err = NULL;
    apr_status_t rv = fetch_generation(e->url, opts, &g, &err, r->pool);
    apr_time_t now = apr_time_now();

    apr_thread_mutex_lock(store->lock);
    if (rv == APR_SUCCESS) {
        generation_t *old = e->current;
        e->current = g;
        e->next_refresh = now + opts->refresh_interval;
        generation_unref_locked(old);
        apr_thread_mutex_unlock(store->lock);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, B2CLOGNO(01001)
                      "keys for %s refreshed: issuer %s, %d usable keys "
                      "(%d skipped)", e->url, g->keyset.issuer,
                      g->keyset.jwks->nkeys, g->keyset.jwks->nskipped);
        return APR_SUCCESS;
    }
    /* Keep what we have; retry after a short pause rather than on every
     * request, and say so once per pause. */
    e->next_refresh = now + apr_time_from_sec(10) < now + opts->refresh_interval
                          ? now + apr_time_from_sec(10)
                          : now + opts->refresh_interval;
    if (now - e->last_error_log >= apr_time_from_sec(60)) {
        e->last_error_log = now;
        apr_thread_mutex_unlock(store->lock);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, B2CLOGNO(01002)
                      "cannot refresh keys from %s: %s%s", e->url, err,
                      e->current ? " (still using the keys fetched before)"
                                 : " (no keys yet: answering 503)");
    }
    else
        apr_thread_mutex_unlock(store->lock);
    return rv;
}

apr_status_t b2c_key_store_get(b2c_key_store_t *store, request_rec *r,
                               const char *url,
                               const b2c_key_store_options_t *opts,
                               const b2c_keyset_t **out)
{
    entry_t *e;
    apr_time_t now = apr_time_now();
    apr_status_t rv;
    int have_keys;

    apr_thread_mutex_lock(store->lock);
    e = entry_locked(store, r, url, opts);
    have_keys = e->current != NULL;
    if (have_keys && now < e->next_refresh) {
        *out = lend_locked(store, e, r);
        apr_thread_mutex_unlock(store->lock);
        return APR_SUCCESS;
    }
    apr_thread_mutex_unlock(store->lock);

    if (have_keys) {
        /* Scheduled refresh: one thread does it, the others go on with the
         * keys they have. */
        if (apr_thread_mutex_trylock(e->fetch_lock) == APR_SUCCESS) {
            refresh_entry(store, e, r, opts);
            apr_thread_mutex_unlock(e->fetch_lock);
        }
    }
    else {
        /* No keys at all: wait for whoever is fetching, then try once. */
        apr_thread_mutex_lock(e->fetch_lock);
        apr_thread_mutex_lock(store->lock);
        rv = e->current || now < e->next_refresh ? APR_SUCCESS : APR_EGENERAL;
        apr_thread_mutex_unlock(store->lock);
        if (rv != APR_SUCCESS)
            refresh_entry(store, e, r, opts);
        apr_thread_mutex_unlock(e->fetch_lock);
    }

    apr_thread_mutex_lock(store->lock);
    rv = e->current ? APR_SUCCESS : APR_ENOENT;
    if (e->current)
        *out = lend_locked(store, e, r);
    apr_thread_mutex_unlock(store->lock);
    return rv;
}

apr_status_t b2c_key_store_refresh(b2c_key_store_t *store, request_rec *r,
                                   const char *url,
                                   const b2c_key_store_options_t *opts,
                                   const b2c_keyset_t **out)
{
    entry_t *e;
    apr_time_t now;
    generation_t *before;
    apr_status_t rv;

    apr_thread_mutex_lock(store->lock);
    e = entry_locked(store, r, url, opts);
    before = e->current;
    apr_thread_mutex_unlock(store->lock);

    apr_thread_mutex_lock(e->fetch_lock);
    apr_thread_mutex_lock(store->lock);
    now = apr_time_now();
    if (e->current != before) {
        /* Another thread refreshed while we waited: use its result. */
        rv = e->current ? APR_SUCCESS : APR_EAGAIN;
    }
    else if (e->last_kid_refresh
             && now - e->last_kid_refresh < opts->kid_refresh_interval) {
        rv = APR_EAGAIN;
    }
    else {
        e->last_kid_refresh = now;
        apr_thread_mutex_unlock(store->lock);
        rv = refresh_entry(store, e, r, opts) == APR_SUCCESS ? APR_SUCCESS
                                                             : APR_EAGAIN;
        apr_thread_mutex_lock(store->lock);
    }
    if (rv == APR_SUCCESS)
        *out = lend_locked(store, e, r);
    apr_thread_mutex_unlock(store->lock);
    apr_thread_mutex_unlock(e->fetch_lock);
    return rv;
}
