/* SPDX-License-Identifier: Apache-2.0 */
/* Metadata and key store (see key_store.h).
 *
 * Locks: store->lock guards the table, the entries and reference counts,
 * never held across I/O. e->fetch_lock (trylock only) is held by the one
 * thread of this process fetching a URL, a shared-cache lease picks one
 * process of the machine and fleet; other threads answer at once with what
 * they have (keys, or 503): a slow URL holds one thread per process plus
 * the watchdog. Waiting for another process's lease is bounded. */
#include "key_store.h"
#include "mod_b2c_auth.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <http_log.h>

#include "b2c_cache_entry.h"
#include "b2c_discovery.h"
#include "b2c_key_fetch.h"
#include "b2c_key_policy.h"
#include "b2c_util.h"

#define SHARED_ENTRY_MAX_BYTES (B2C_KEY_JWKS_MAX_BYTES + 8192)
#define LOG_INTERVAL           apr_time_from_sec(60)
#define LEASE_POLL             apr_time_from_msec(50)

typedef struct generation {
    b2c_keyset_t keyset;   /* first: requests get &generation->keyset */
    const char *jwks_text; /* as served, to republish it */
    apr_pool_t *pool;      /* unmanaged; destroyed with the last ref */
    unsigned refs;
} generation_t;

typedef struct {
    const char *url;
    const char *cache_id; /* hex SHA-256 of b2c_key_fetch_trust_key() */
    /* Trust options (url, ca_file, jwks_same_origin, allowed_addrs) and
     * fetch_timeout_ms are fixed when the entry is made: fetches read them
     * without the lock. Only refresh_interval, kid_refresh_interval and
     * max_stale follow the latest request (written under store->lock). */
    b2c_key_store_options_t opts;
    generation_t *current;
    b2c_key_policy_t pol;      /* from opts */
    b2c_key_state_t st;        /* schedule, retry pause, kid refresh */
    int kid_refresh_running;   /* a thread is doing it: others wait */
    apr_time_t last_error_log; /* outage logged once per interval */
    apr_thread_mutex_t *fetch_lock;
} entry_t;

struct b2c_key_store {
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    apr_hash_t *entries;
    b2c_shared_cache_t *cache;
    int background;
};

apr_status_t b2c_key_store_create(apr_pool_t *p, b2c_shared_cache_t *cache,
                                  int background, b2c_key_store_t **out)
{
    b2c_key_store_t *store = apr_pcalloc(p, sizeof(*store));

    store->pool = p;
    store->entries = apr_hash_make(p);
    store->cache = cache;
    store->background = background;
    *out = store;
    return apr_thread_mutex_create(&store->lock, APR_THREAD_MUTEX_DEFAULT, p);
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

static entry_t *entry_locked(b2c_key_store_t *store, apr_pool_t *tmp,
                             const char *url,
                             const b2c_key_store_options_t *opts)
{
    const char *key = b2c_key_fetch_trust_key(
        tmp, url, opts->jwks_same_origin, opts->ca_file, opts->allowed_addrs);
    entry_t *e = apr_hash_get(store->entries, key, APR_HASH_KEY_STRING);

    if (!e) {
        unsigned char digest[32];
        e = apr_pcalloc(store->pool, sizeof(*e));
        e->url = apr_pstrdup(store->pool, url);
        b2c_sha256(key, strlen(key), digest);
        e->cache_id = b2c_hex_encode(store->pool, digest, sizeof(digest));
        e->opts = *opts;
        e->opts.ca_file =
            opts->ca_file ? apr_pstrdup(store->pool, opts->ca_file) : NULL;
        e->opts.allowed_addrs =
            b2c_strings_copy(store->pool, opts->allowed_addrs);
        apr_thread_mutex_create(&e->fetch_lock, APR_THREAD_MUTEX_DEFAULT,
                                store->pool);
        apr_hash_set(store->entries, apr_pstrdup(store->pool, key),
                     APR_HASH_KEY_STRING, e);
    }
    e->opts.refresh_interval = opts->refresh_interval;
    e->opts.kid_refresh_interval = opts->kid_refresh_interval;
    e->opts.max_stale = opts->max_stale;
    e->pol.refresh_interval = opts->refresh_interval;
    e->pol.kid_refresh_interval = opts->kid_refresh_interval;
    e->pol.max_stale = opts->max_stale;
    return e;
}

/* A generation is usable until its schedule plus the stale period. */
static int usable(const entry_t *e, apr_time_t now)
{
    return b2c_key_policy_usable(&e->st, &e->pol, now);
}

/* A generation from an issuer and a JWKS document. */
static apr_status_t build_generation(const char *issuer, const char *jwks_text,
                                     size_t len, apr_time_t fetched,
                                     generation_t **out, const char **err,
                                     apr_pool_t *errp)
{
    apr_pool_t *gp;
    b2c_jwks_t *jwks;
    generation_t *g;
    const char *e = NULL;

    /* Unmanaged pools: creating children of a shared pool from many
     * threads is not safe, and these outlive any request. */
    if (apr_pool_create_unmanaged_ex(&gp, NULL, NULL) != APR_SUCCESS)
        return APR_ENOMEM;
    if (b2c_jwks_parse(gp, jwks_text, len, &jwks, &e) != APR_SUCCESS) {
        *err = apr_psprintf(errp, "JWKS rejected: %s", e);
        apr_pool_destroy(gp);
        return APR_EINVAL;
    }
    g = apr_pcalloc(gp, sizeof(*g));
    g->pool = gp;
    g->refs = 1; /* the entry's reference */
    g->keyset.issuer = apr_pstrdup(gp, issuer);
    g->keyset.jwks = jwks;
    g->keyset.fetched = fetched;
    g->jwks_text = apr_pstrmemdup(gp, jwks_text, len);
    *out = g;
    return APR_SUCCESS;
}

static const char *cache_key(apr_pool_t *p, const char *kind, const entry_t *e)
{
    return apr_pstrcat(p, "b2c:", kind, ":", e->cache_id, NULL);
}

/* The generation another process or server published, if it was fetched
 * after newer_than, parses and belongs to this URL (a hostile or corrupted
 * cache yields nothing). A small stamp entry is read first, so a look that
 * finds nothing new costs neither a copy nor a parse of the key set:
 * floods of unknown kids look often. */
static generation_t *from_shared(b2c_key_store_t *store, const entry_t *e,
                                 server_rec *s, apr_pool_t *p,
                                 apr_time_t newer_than)
{
    const char *f[4];
    char *buf;
    size_t len;
    long long fetched;
    generation_t *g;
    const char *err;

    /* the small stamp entry first: most looks end there */
    if (b2c_shared_cache_get(store->cache, s, cache_key(p, "stamp", e), 32, p,
                             &buf, &len)
            == APR_SUCCESS
        && b2c_cache_parse_int(buf, &fetched)
        && apr_time_from_sec(fetched) <= newer_than)
        return NULL;
    if (b2c_shared_cache_get(store->cache, s, cache_key(p, "keys", e),
                             SHARED_ENTRY_MAX_BYTES, p, &buf, &len)
            != APR_SUCCESS
        || b2c_cache_entry_unpack(p, buf, len, "keys", f, 4) != APR_SUCCESS
        || !b2c_cache_parse_int(f[0], &fetched) || fetched <= 0
        || apr_time_from_sec(fetched) <= newer_than || strcmp(f[1], e->url)
        || !*f[2]
        || build_generation(f[2], f[3], strlen(f[3]),
                            apr_time_from_sec(fetched), &g, &err, p)
               != APR_SUCCESS)
        return NULL;
    return g;
}

static void publish(b2c_key_store_t *store, const entry_t *e, server_rec *s,
                    apr_pool_t *p, const char *issuer, const char *jwks,
                    apr_time_t fetched)
{
    const char *f[4];
    char *buf;
    size_t len;

    f[0] = apr_psprintf(p, "%" APR_INT64_T_FMT,
                        (apr_int64_t)apr_time_sec(fetched));
    f[1] = e->url;
    f[2] = issuer;
    f[3] = jwks;
    if (strchr(issuer, '\n')
        || b2c_cache_entry_pack(p, "keys", f, 4, &buf, &len) != APR_SUCCESS)
        return;
    b2c_shared_cache_put(store->cache, s, cache_key(p, "keys", e), buf, len,
                         b2c_key_policy_usable_until(&e->pol, fetched), p);
    b2c_shared_cache_put(store->cache, s, cache_key(p, "stamp", e), f[0],
                         strlen(f[0]),
                         b2c_key_policy_usable_until(&e->pol, fetched), p);
}

/* Installs g as the current generation; store->lock NOT held. */
static void install(b2c_key_store_t *store, entry_t *e, generation_t *g,
                    server_rec *s, const char *how)
{
    generation_t *old;

    apr_thread_mutex_lock(store->lock);
    old = e->current;
    e->current = g;
    b2c_key_policy_installed(&e->st, &e->pol, g->keyset.fetched);
    generation_unref_locked(old);
    apr_thread_mutex_unlock(store->lock);
    ap_log_error(
        APLOG_MARK, APLOG_INFO, 0, s,
        B2CLOGNO(
            01001) "keys for %s %s: issuer %s, %d usable keys (%d skipped)",
        e->url, how, g->keyset.issuer, g->keyset.jwks->nkeys,
        g->keyset.jwks->nskipped);
}

/* Is there a generation in the shared cache newer than ours (and, for a
 * scheduled refresh, itself within schedule)? Installs it if so. */
static int adopt_shared(b2c_key_store_t *store, entry_t *e, server_rec *s,
                        apr_pool_t *p, int need_fresh)
{
    generation_t *g;
    b2c_key_state_t ours;

    apr_thread_mutex_lock(store->lock);
    ours = e->st;
    apr_thread_mutex_unlock(store->lock);
    g = from_shared(store, e, s, p, ours.fetched);
    if (g
        && b2c_key_policy_adoptable(&ours, &e->pol, g->keyset.fetched,
                                    need_fresh, apr_time_now())) {
        install(store, e, g, s, "taken from the shared cache");
        return 1;
    }
    if (g)
        apr_pool_destroy(g->pool);
    return 0;
}

/* One refresh of an entry, as the single-flight protocol sees it. */
typedef struct {
    b2c_key_store_t *store;
    entry_t *e;
    server_rec *s;
    int need_fresh;  /* a scheduled refresh: see refresh_entry */
    generation_t *g; /* what the fetch got */
    const char *err;
    apr_time_t fetched;
    b2c_shared_cache_seam_t seam;
    b2c_lease_t lease;
} flight_t;

static int flight_adopt(void *baton, apr_pool_t *p, int waiting)
{
    flight_t *f = baton;
    /* a holder's result is taken whatever its age */
    return adopt_shared(f->store, f->e, f->s, p, f->need_fresh && !waiting);
}

static apr_status_t flight_fetch(void *baton, apr_pool_t *p)
{
    flight_t *f = baton;
    const char *issuer = NULL, *jwks = NULL;
    size_t jwks_len = 0;
    apr_status_t rv;

    rv = b2c_key_fetch_documents(
        p, f->e->url, f->e->opts.jwks_same_origin, f->e->opts.allowed_addrs,
        f->e->opts.fetch_timeout_ms, f->e->opts.ca_file, &issuer, &jwks,
        &jwks_len, &f->err);
    f->fetched = apr_time_now();
    if (rv == APR_SUCCESS
        && (rv = build_generation(issuer, jwks, jwks_len, f->fetched, &f->g,
                                  &f->err, p))
               == APR_SUCCESS)
        publish(f->store, f->e, f->s, p, issuer, jwks, f->fetched);
    return rv;
}

/* The flight for e: whoever holds the lease fetches and publishes, the
 * others wait (at most the fetch timeout) for that, then answer 503. */
static void flight_init(flight_t *f, b2c_key_store_t *store, entry_t *e,
                        server_rec *s, apr_pool_t *p, int need_fresh)
{
    apr_interval_time_t timeout = apr_time_from_msec(e->opts.fetch_timeout_ms);

    memset(f, 0, sizeof(*f));
    f->store = store;
    f->e = e;
    f->s = s;
    f->need_fresh = need_fresh;
    f->lease.cache = b2c_shared_cache_seam(&f->seam, store->cache, s);
    f->lease.what = e->url;
    f->lease.lease_key = cache_key(p, "lease", e);
    f->lease.lease_ttl = timeout * 2;
    f->lease.wait_max = timeout;
    f->lease.give_up = 1;
    f->lease.poll = LEASE_POLL;
    f->lease.adopt = flight_adopt;
    f->lease.work = flight_fetch;
    f->lease.baton = f;
}

/* Fetch (or adopt) a new generation for e. The caller holds e->fetch_lock,
 * not store->lock. need_fresh: a scheduled refresh, which a generation
 * still within schedule satisfies; else any newer one will do. */
static apr_status_t refresh_entry(b2c_key_store_t *store, entry_t *e,
                                  server_rec *s, apr_pool_t *p, int need_fresh)
{
    flight_t f;
    apr_status_t rv;
    apr_time_t now;
    int log_now;

    /* One fetch per URL in the machine and the fleet; the others adopt. */
    flight_init(&f, store, e, s, p, need_fresh);
    rv = b2c_lease_run(&f.lease, p);
    if (rv == APR_SUCCESS && f.g)
        install(store, e, f.g, s, "fetched");
    if (rv == APR_SUCCESS)
        return APR_SUCCESS;
    now = f.fetched;
    /* The identity platform is unreachable: keys another process published
     * earlier beat none (a process started during the outage), within the
     * stale period that usable() enforces. */
    adopt_shared(store, e, s, p, 0);
    /* Keep what we have; try again after a pause rather than on every
     * request, and say so once per interval. */
    apr_thread_mutex_lock(store->lock);
    b2c_key_policy_failed(&e->st, now);
    log_now = now - e->last_error_log >= LOG_INTERVAL;
    if (log_now)
        e->last_error_log = now;
    apr_thread_mutex_unlock(store->lock);
    if (log_now)
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     B2CLOGNO(01002) "cannot refresh keys from %s: %s%s",
                     e->url, f.err,
                     usable(e, now) ? " (still using the keys fetched before)"
                                    : " (no usable keys: answering 503)");
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
    int have, fresh, may_try, look;

    apr_thread_mutex_lock(store->lock);
    e = entry_locked(store, r->pool, url, opts);
    have = usable(e, now);
    fresh = b2c_key_policy_fresh(&e->st, &e->pol, now);
    may_try = b2c_key_policy_may_try(&e->st, now);
    if (fresh || (have && store->background)) {
        /* the watchdog refreshes what is due */
        *out = lend_locked(store, e, r);
        apr_thread_mutex_unlock(store->lock);
        return APR_SUCCESS;
    }
    look = b2c_key_policy_look_during_pause(&e->st, &e->pol, now);
    apr_thread_mutex_unlock(store->lock);

    if (look) {
        /* In a retry pause: what another process published since is
         * taken at once (a stamp read when there is nothing new). */
        if (store->cache)
            adopt_shared(store, e, r->server, r->pool, 0);
    }
    else if (may_try
             && apr_thread_mutex_trylock(e->fetch_lock) == APR_SUCCESS) {
        /* One thread refreshes; the others go on with the keys they have,
         * or answer 503 at once rather than queue behind a slow URL. */
        apr_thread_mutex_lock(store->lock);
        have = usable(e, apr_time_now());
        fresh = b2c_key_policy_fresh(&e->st, &e->pol, apr_time_now());
        may_try = b2c_key_policy_may_try(&e->st, apr_time_now());
        apr_thread_mutex_unlock(store->lock);
        if (!fresh && may_try)
            refresh_entry(store, e, r->server, r->pool, 1);
        apr_thread_mutex_unlock(e->fetch_lock);
    }
    else if (!have && !e->opts.jwks_same_origin
             && b2c_mutex_lock_within(e->fetch_lock,
                                      e->opts.fetch_timeout_ms)) {
        /* Another thread fetches a URL of httpd.conf: wait for its result
         * (at most the fetch timeout), so that a cold start's burst makes
         * one fetch and is served by it. No fetch of our own: the total
         * wait stays within the timeout. */
        apr_thread_mutex_unlock(e->fetch_lock);
    }
    else if (!have && store->cache) {
        /* A .htaccess URL being fetched (a tenant's URL may be a tarpit:
         * its requests must not hold the workers), or the wait ran out:
         * answer at once, unless another process published meanwhile. */
        adopt_shared(store, e, r->server, r->pool, 0);
    }

    apr_thread_mutex_lock(store->lock);
    rv = usable(e, apr_time_now()) ? APR_SUCCESS : APR_ENOENT;
    if (rv == APR_SUCCESS)
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
    apr_status_t rv = APR_EAGAIN;
    int allowed, busy = 0;

    apr_thread_mutex_lock(store->lock);
    e = entry_locked(store, r->pool, url, opts);
    before = e->current;
    allowed =
        b2c_key_policy_kid_refresh_allowed(&e->st, &e->pol, apr_time_now())
        || e->kid_refresh_running;
    apr_thread_mutex_unlock(store->lock);

    if (!allowed) {
        /* The common case under a flood: no fetch, no waiting on the fetch
         * lock; only keys another process published since ours (a kid
         * refresh elsewhere) are worth a look. */
        if (store->cache && adopt_shared(store, e, r->server, r->pool, 0))
            rv = APR_SUCCESS;
    }
    else if (!b2c_mutex_lock_within(e->fetch_lock, e->opts.fetch_timeout_ms)) {
        /* Another thread fetched this URL for longer than the timeout: no
         * more waiting (a slow URL would hold every thread); newer keys
         * another process published are taken, else the caller answers
         * 503 (APR_EBUSY). */
        if (store->cache && adopt_shared(store, e, r->server, r->pool, 0))
            rv = APR_SUCCESS;
        else
            busy = 1;
    }
    else {
        apr_thread_mutex_lock(store->lock);
        now = apr_time_now();
        if (e->current != before) {
            /* Another thread refreshed while we waited: use its result. */
            rv = e->current ? APR_SUCCESS : APR_EAGAIN;
            allowed = 0;
        }
        else {
            allowed = b2c_key_policy_kid_refresh_allowed(&e->st, &e->pol, now);
            if (allowed) {
                e->st.last_kid_refresh = now;
                e->kid_refresh_running = 1;
            }
        }
        apr_thread_mutex_unlock(store->lock);

        if (rv != APR_SUCCESS) {
            /* Newer keys from another process need no fetch and no quota;
             * a fetch in progress elsewhere (the new key being published
             * right now) is worth its bounded wait. */
            flight_t f;
            flight_init(&f, store, e, r->server, r->pool, 0);
            if (adopt_shared(store, e, r->server, r->pool, 0)
                || b2c_lease_join(&f.lease, r->pool))
                rv = APR_SUCCESS;
            else if (allowed
                     && b2c_shared_cache_once(
                         store->cache, r->server, cache_key(r->pool, "kid", e),
                         e->opts.kid_refresh_interval, r->pool)
                     && refresh_entry(store, e, r->server, r->pool, 0)
                            == APR_SUCCESS)
                rv = APR_SUCCESS;
        }
        if (allowed) {
            apr_thread_mutex_lock(store->lock);
            e->kid_refresh_running = 0;
            apr_thread_mutex_unlock(store->lock);
        }
        apr_thread_mutex_unlock(e->fetch_lock);
    }
    apr_thread_mutex_lock(store->lock);
    if (rv == APR_SUCCESS && e->current && e->current != before)
        *out = lend_locked(store, e, r);
    else
        rv = busy ? APR_EBUSY : APR_EAGAIN;
    apr_thread_mutex_unlock(store->lock);
    return rv;
}

/* A shared cache under pressure may evict the keys entry: put ours back,
 * so that a process started later (or during an outage) still finds it. */
static void republish_if_missing(b2c_key_store_t *store, entry_t *e,
                                 server_rec *s, apr_pool_t *p)
{
    generation_t *g;
    char *buf;
    size_t len;

    if (!store->cache
        || b2c_shared_cache_get(store->cache, s, cache_key(p, "keys", e),
                                SHARED_ENTRY_MAX_BYTES, p, &buf, &len)
               == APR_SUCCESS)
        return;
    apr_thread_mutex_lock(store->lock);
    g = e->current;
    if (g)
        g->refs++;
    apr_thread_mutex_unlock(store->lock);
    if (!g)
        return;
    publish(store, e, s, p, g->keyset.issuer, g->jwks_text, g->keyset.fetched);
    apr_thread_mutex_lock(store->lock);
    generation_unref_locked(g);
    apr_thread_mutex_unlock(store->lock);
}

void b2c_key_store_maintain(b2c_key_store_t *store, server_rec *s,
                            apr_pool_t *p)
{
    apr_array_header_t *due = apr_array_make(p, 4, sizeof(entry_t *));
    apr_array_header_t *known = apr_array_make(p, 4, sizeof(entry_t *));
    apr_array_header_t *paused = apr_array_make(p, 4, sizeof(entry_t *));
    apr_hash_index_t *hi;
    apr_time_t now = apr_time_now();
    int i;

    apr_thread_mutex_lock(store->lock);
    for (hi = apr_hash_first(p, store->entries); hi; hi = apr_hash_next(hi)) {
        entry_t *e = apr_hash_this_val(hi);
        if (b2c_key_policy_watchdog_due(&e->st, &e->pol, now))
            APR_ARRAY_PUSH(due, entry_t *) = e;
        else if (b2c_key_policy_look_during_pause(&e->st, &e->pol, now))
            APR_ARRAY_PUSH(paused, entry_t *) = e;
        else if (e->current)
            APR_ARRAY_PUSH(known, entry_t *) = e;
    }
    apr_thread_mutex_unlock(store->lock);
    for (i = 0; i < known->nelts; i++)
        republish_if_missing(store, APR_ARRAY_IDX(known, i, entry_t *), s, p);
    /* in a retry pause: another process may have fetched meanwhile */
    for (i = 0; store->cache && i < paused->nelts; i++)
        adopt_shared(store, APR_ARRAY_IDX(paused, i, entry_t *), s, p, 0);
    for (i = 0; i < due->nelts; i++) {
        entry_t *e = APR_ARRAY_IDX(due, i, entry_t *);
        if (apr_thread_mutex_trylock(e->fetch_lock) == APR_SUCCESS) {
            refresh_entry(store, e, s, p, 1);
            apr_thread_mutex_unlock(e->fetch_lock);
        }
    }
}
