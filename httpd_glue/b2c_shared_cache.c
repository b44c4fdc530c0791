/* SPDX-License-Identifier: Apache-2.0 */
/* Shared cache over httpd's socache providers (see b2c_shared_cache.h).
 * Providers flagged not multi-process safe (shmcb) are only called under
 * the global mutex; redis and memcache are called directly. With a key
 * ring every value is sealed under its cache key (b2c_seal.h): whoever can
 * write the cache server can delete entries, never plant or alter one. */
#include "b2c_shared_cache.h"
#include "b2c_glue_module.h"

#include <ap_provider.h>
#include <ap_socache.h>
#include <apr_atomic.h>
#include <apr_global_mutex.h>
#include <apr_strings.h>
#include <http_log.h>
#include <openssl/evp.h>
#include <unistd.h>
#include <util_mutex.h>

/* Providers see SHA-256(key), not the key: shmcb picks its subcache by the
 * first byte of the id, and all our keys start alike, so hashing spreads
 * them over every subcache (and bounds id length for memcache). */
#define ID_LEN 32

static void cache_id(const char *key, unsigned char id[ID_LEN])
{
    static EVP_MD *md; /* fetched at the first init, before threads run */
    unsigned int n = 0;

    if (!md)
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_Digest(key, strlen(key), id, &n, md ? md : EVP_sha256(), NULL);
}

struct b2c_shared_cache {
    const char *spec;
    const ap_socache_provider_t *provider;
    const char *arg;
    ap_socache_instance_t *instance;
    apr_global_mutex_t *mutex;    /* lease check-and-set ("-fetch") */
    apr_global_mutex_t *io_mutex; /* shmcb's lock ("-cache"), else NULL:
                                    * apart, so a slow fetch never blocks
                                    * cache reads */
    const b2c_seal_ring_t *ring;  /* NULL: values stored as they are */
    const char *logno;            /* prefix of the refusal log line */
};

/* Per process (the observability work will export it); atomics, as the
 * worker threads of a child count at once. */
static volatile apr_uint32_t refused;
static volatile apr_uint32_t refused_logged; /* seconds; one thread logs */

apr_uint64_t b2c_shared_cache_refused(void)
{
    return apr_atomic_read32(&refused);
}

static int is_local(const b2c_shared_cache_t *c)
{
    return !strncasecmp(c->spec, "shmcb", 5)
           && (c->spec[5] == '\0' || c->spec[5] == ':');
}

const char *b2c_shared_cache_check_ring(apr_pool_t *p,
                                        const b2c_shared_cache_t *c,
                                        const b2c_seal_ring_t *ring,
                                        const char *cache_directive,
                                        const char *key_directive)
{
    if (!c || ring || is_local(c))
        return NULL;
    return apr_psprintf(p,
                        "%s %s is a cache server outside httpd: it needs "
                        "%s file:PATH (the same key file on every server) so "
                        "that its entries are sealed and checked",
                        cache_directive, c->spec, key_directive);
}

const char *b2c_shared_cache_key_directive(cmd_parms *cmd, int argc,
                                           char *const argv[],
                                           const char *warn_logno,
                                           const b2c_seal_ring_t **ring)
{
    const char **paths, *err = NULL, *warn = NULL;
    b2c_seal_ring_t *r;
    int i;

    if (argc < 1 || argc > 1 + B2C_SEAL_MAX_OLD)
        return apr_psprintf(cmd->pool,
                            "%s: give file:PATH, then at most %d "
                            "old keys (file:OLD)",
                            cmd->cmd->name, B2C_SEAL_MAX_OLD);
    paths = apr_pcalloc(cmd->temp_pool, argc * sizeof(*paths));
    for (i = 0; i < argc; i++) {
        if (strncmp(argv[i], "file:", 5) || !argv[i][5])
            return apr_psprintf(cmd->pool, "%s: '%s' is not file:PATH",
                                cmd->cmd->name, argv[i]);
        paths[i] = ap_server_root_relative(cmd->temp_pool, argv[i] + 5);
        if (!paths[i])
            return apr_psprintf(cmd->pool, "%s: bad path '%s'", cmd->cmd->name,
                                argv[i] + 5);
    }
    if (b2c_seal_ring_load(cmd->pool, paths, argc, &r, &err, &warn)
        != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name,
                            err ? err : "cannot load the key");
    if (warn)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, "%s%s: %s",
                     warn_logno, cmd->cmd->name, warn);
    *ring = r;
    return NULL;
}

static void note_refused(b2c_shared_cache_t *c, server_rec *s,
                         b2c_seal_status_t st)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t n = apr_atomic_inc32(&refused) + 1;
    apr_uint32_t last = apr_atomic_read32(&refused_logged);

    if ((last && now - last < 60)
        || apr_atomic_cas32(&refused_logged, now, last) != last)
        return;
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "%sshared cache %s: refused an entry (%s); %u refused by "
                 "this process so far: is another key in use, or is someone "
                 "writing to the cache server?",
                 c->logno, c->spec, b2c_seal_status_text(st), (unsigned)n);
}

const char *b2c_shared_cache_configure(apr_pool_t *p, const char *spec,
                                       b2c_shared_cache_t **out)
{
    b2c_shared_cache_t *c;
    const char *colon = strchr(spec, ':');
    const char *name = colon ? apr_pstrmemdup(p, spec, colon - spec) : spec;

    if (!strcasecmp(spec, "none")) {
        *out = NULL;
        return NULL;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->spec = spec;
    c->arg = colon ? colon + 1 : NULL;
    c->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                     AP_SOCACHE_PROVIDER_VERSION);
    if (!c->provider)
        return apr_psprintf(p,
                            "no socache provider '%s': load "
                            "mod_socache_%s (or say 'none')",
                            name, name);
    *out = c;
    return NULL;
}

void b2c_shared_cache_register_mutex(apr_pool_t *pconf, const char *prefix)
{
    ap_mutex_register(pconf, apr_pstrcat(pconf, prefix, "-cache", NULL), NULL,
                      APR_LOCK_DEFAULT, 0);
    ap_mutex_register(pconf, apr_pstrcat(pconf, prefix, "-fetch", NULL), NULL,
                      APR_LOCK_DEFAULT, 0);
}

static apr_status_t init_provider(b2c_shared_cache_t *c, const char *name,
                                  const char *mutex_prefix, server_rec *s,
                                  apr_pool_t *pconf, const char **err)
{
    struct ap_socache_hints hints = { 64, 4096, apr_time_from_sec(3600) };
    apr_status_t rv;

    *err = NULL;
    if (!c)
        return APR_SUCCESS;
    if ((*err = c->provider->create(&c->instance, c->arg, pconf, pconf)))
        return APR_EGENERAL;
    rv = ap_global_mutex_create(
        &c->mutex, NULL, apr_pstrcat(pconf, mutex_prefix, "-fetch", NULL), NULL,
        s, pconf, 0);
    if (rv == APR_SUCCESS && (c->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE))
        rv = ap_global_mutex_create(
            &c->io_mutex, NULL,
            apr_pstrcat(pconf, mutex_prefix, "-cache", NULL), NULL, s, pconf,
            0);
    if (rv != APR_SUCCESS) {
        *err = "cannot create its global mutexes";
        return rv;
    }
    {
        unsigned char id[ID_LEN];
        cache_id("", id); /* fetch the digest now, single-threaded */
    }
    rv = c->provider->init(c->instance, name, &hints, s, pconf);
    if (rv != APR_SUCCESS)
        *err = "cannot initialise the cache provider";
    return rv;
}

apr_status_t b2c_shared_cache_start(b2c_shared_cache_t **c, int directive_set,
                                    const char *default_spec,
                                    const b2c_seal_ring_t *ring,
                                    const char *seal_logno, const char *name,
                                    const char *mutex_prefix, server_rec *s,
                                    apr_pool_t *pconf, int *fell_back,
                                    const char **err)
{
    *fell_back = 0;
    if (!directive_set && b2c_shared_cache_configure(pconf, default_spec, c)) {
        *c = NULL;
        *fell_back = 1;
    }
    if (*c) {
        (*c)->ring = ring;
        (*c)->logno = seal_logno ? seal_logno : "";
    }
    return init_provider(*c, name, mutex_prefix, s, pconf, err);
}

void b2c_shared_cache_child_init(b2c_shared_cache_t *c, apr_pool_t *pchild)
{
    if (c && c->mutex)
        apr_global_mutex_child_init(
            &c->mutex, apr_global_mutex_lockfile(c->mutex), pchild);
    if (c && c->io_mutex)
        apr_global_mutex_child_init(
            &c->io_mutex, apr_global_mutex_lockfile(c->io_mutex), pchild);
}

static void io_lock(b2c_shared_cache_t *c)
{
    if (c->io_mutex)
        apr_global_mutex_lock(c->io_mutex);
}

static void io_unlock(b2c_shared_cache_t *c)
{
    if (c->io_mutex)
        apr_global_mutex_unlock(c->io_mutex);
}

apr_status_t b2c_shared_cache_get(b2c_shared_cache_t *c, server_rec *s,
                                  const char *key, size_t max, apr_pool_t *p,
                                  char **val, size_t *len)
{
    unsigned char *buf, id[ID_LEN];
    size_t room = max + (c && c->ring ? B2C_SEAL_OVERHEAD : 0);
    unsigned int n = (unsigned int)room;
    apr_status_t rv;

    if (!c || !c->instance)
        return APR_NOTFOUND;
    buf = apr_palloc(p, room + 1);
    cache_id(key, id);
    io_lock(c);
    rv = c->provider->retrieve(c->instance, s, id, ID_LEN, buf, &n, p);
    io_unlock(c);
    if (rv != APR_SUCCESS)
        return rv == APR_NOTFOUND ? rv : APR_NOTFOUND;
    if (n > room)
        return APR_NOTFOUND;
    if (c->ring) {
        char *plain;
        size_t plen;
        b2c_seal_status_t st =
            b2c_seal_open(c->ring, p, key, buf, n, &plain, &plen);
        if (st != B2C_SEAL_OK) {
            note_refused(c, s, st);
            return APR_NOTFOUND;
        }
        if (plen > max)
            return APR_NOTFOUND;
        *val = plain;
        *len = plen;
        return APR_SUCCESS;
    }
    buf[n] = '\0';
    *val = (char *)buf;
    *len = n;
    return APR_SUCCESS;
}

apr_status_t b2c_shared_cache_put(b2c_shared_cache_t *c, server_rec *s,
                                  const char *key, const char *val, size_t len,
                                  apr_time_t expiry, apr_pool_t *p)
{
    unsigned char id[ID_LEN];
    apr_status_t rv;

    if (!c || !c->instance)
        return APR_ENOTIMPL;
    if (c->ring) {
        unsigned char *blob;
        size_t blen;
        if ((rv = b2c_seal(c->ring, p, key, val, len, &blob, &blen))
            != APR_SUCCESS)
            return rv;
        val = (const char *)blob;
        len = blen;
    }
    /* some providers store whole seconds: keep at least one */
    if (expiry < apr_time_now() + apr_time_from_sec(1))
        expiry = apr_time_now() + apr_time_from_sec(1);
    cache_id(key, id);
    io_lock(c);
    rv = c->provider->store(c->instance, s, id, ID_LEN, expiry,
                            (unsigned char *)val, (unsigned int)len, p);
    io_unlock(c);
    return rv;
}

apr_status_t b2c_shared_cache_remove(b2c_shared_cache_t *c, server_rec *s,
                                     const char *key, apr_pool_t *p)
{
    unsigned char id[ID_LEN];
    apr_status_t rv;

    if (!c || !c->instance)
        return APR_ENOTIMPL;
    cache_id(key, id);
    io_lock(c);
    rv = c->provider->remove(c->instance, s, id, ID_LEN, p);
    io_unlock(c);
    return rv;
}

int b2c_shared_cache_take_lease(b2c_shared_cache_t *c, server_rec *s,
                                const char *key, apr_time_t expiry,
                                apr_pool_t *p)
{
    char *val, *nonce;
    size_t len, nlen;
    int mine;

    if (!c || !c->instance)
        return 1;
    nonce = apr_psprintf(p, "%" APR_PID_T_FMT ".%" APR_TIME_T_FMT ".%pp",
                         getpid(), apr_time_now(), (void *)&nonce);
    nlen = strlen(nonce);
    /* Leases are sealed like any value (an unsealed one planted on the
     * server would delay a fetch by its lifetime); the values are compared
     * with their lengths, as they may hold any byte. */
    apr_global_mutex_lock(c->mutex);
    mine = b2c_shared_cache_get(c, s, key, 64, p, &val, &len) != APR_SUCCESS;
    if (mine)
        b2c_shared_cache_put(c, s, key, nonce, nlen, expiry, p);
    apr_global_mutex_unlock(c->mutex);
    /* A cache shared by a fleet has no atomic check-and-set here: let racing
     * servers' writes land, then the one whose nonce stayed goes ahead. */
    if (mine && !c->io_mutex) {
        apr_sleep(apr_time_from_msec(20));
        mine = b2c_shared_cache_get(c, s, key, 64, p, &val, &len) != APR_SUCCESS
               || (len == nlen && !memcmp(val, nonce, nlen));
    }
    return mine;
}

const char *b2c_shared_cache_name(const b2c_shared_cache_t *c)
{
    return c ? c->spec : "none";
}

static apr_status_t seam_get(void *baton, const char *key, size_t max,
                             apr_pool_t *p, char **val, size_t *len)
{
    b2c_shared_cache_seam_t *h = baton;
    return b2c_shared_cache_get(h->cache, h->s, key, max, p, val, len);
}

static apr_status_t seam_put(void *baton, const char *key, const char *val,
                             size_t len, apr_time_t expiry, apr_pool_t *p)
{
    b2c_shared_cache_seam_t *h = baton;
    return b2c_shared_cache_put(h->cache, h->s, key, val, len, expiry, p);
}

static apr_status_t seam_remove(void *baton, const char *key, apr_pool_t *p)
{
    b2c_shared_cache_seam_t *h = baton;
    return b2c_shared_cache_remove(h->cache, h->s, key, p);
}

static int seam_take_lease(void *baton, const char *key, apr_time_t expiry,
                           apr_pool_t *p)
{
    b2c_shared_cache_seam_t *h = baton;
    return b2c_shared_cache_take_lease(h->cache, h->s, key, expiry, p);
}

static apr_time_t seam_now(void *baton)
{
    (void)baton;
    return apr_time_now();
}

static void seam_sleep(void *baton, apr_interval_time_t t)
{
    (void)baton;
    apr_sleep(t);
}

const b2c_lease_cache_t *b2c_shared_cache_seam(b2c_shared_cache_seam_t *holder,
                                               b2c_shared_cache_t *c,
                                               server_rec *s)
{
    if (!c)
        return NULL;
    holder->seam.get = seam_get;
    holder->seam.put = seam_put;
    holder->seam.remove = seam_remove;
    holder->seam.take_lease = seam_take_lease;
    holder->seam.now = seam_now;
    holder->seam.sleep = seam_sleep;
    holder->seam.baton = holder;
    holder->cache = c;
    holder->s = s;
    return &holder->seam;
}

int b2c_shared_cache_once(b2c_shared_cache_t *c, server_rec *s, const char *key,
                          apr_interval_time_t interval, apr_pool_t *p)
{
    char *buf;
    size_t len;

    if (!c)
        return 1;
    if (b2c_shared_cache_get(c, s, key, 64, p, &buf, &len) == APR_SUCCESS)
        return 0;
    b2c_shared_cache_put(c, s, key, "1", 1, apr_time_now() + interval, p);
    return 1;
}
