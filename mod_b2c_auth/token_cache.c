/* Validated-token cache (see token_cache.h). A hash table of fixed-size
 * keys under one mutex; entries own a jansson reference to the claims,
 * whose reference counts are atomic, so requests can share them. */
#include "token_cache.h"

#include <apr_hash.h>
#include <apr_thread_mutex.h>
#include <openssl/evp.h>
#include <string.h>

typedef struct {
    unsigned char key[B2C_TOKEN_KEY_LEN];
    json_t *claims;
    long long expires_at;
} entry_t;

struct b2c_token_cache {
    apr_thread_mutex_t *lock;
    apr_hash_t *table;       /* key → entry_t*, from a malloc'ed free list */
    apr_pool_t *pool;
    int max_entries;
    entry_t *free_list_storage;
    entry_t **free_list;
    int nfree;
};

static void drop_locked(b2c_token_cache_t *c, entry_t *e);

/* At process exit: release the claims the entries hold. */
static apr_status_t release_entries(void *baton)
{
    b2c_token_cache_t *c = baton;
    apr_hash_index_t *hi, *next;

    apr_thread_mutex_lock(c->lock);
    for (hi = apr_hash_first(NULL, c->table); hi; hi = next) {
        entry_t *e = apr_hash_this_val(hi); /* before next(): it moves hi */
        next = apr_hash_next(hi);
        drop_locked(c, e);
    }
    apr_thread_mutex_unlock(c->lock);
    return APR_SUCCESS;
}

apr_status_t b2c_token_cache_create(apr_pool_t *p, int max_entries,
                                    b2c_token_cache_t **out)
{
    b2c_token_cache_t *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;
    int i;

    c->pool = p;
    c->max_entries = max_entries;
    c->table = apr_hash_make(p);
    /* Entries come from one preallocated block so a busy process never
     * grows its pool: the hash table's own nodes are recycled by APR. */
    if (max_entries > 0) {
        c->free_list_storage = apr_pcalloc(p, sizeof(entry_t) * max_entries);
        c->free_list = apr_palloc(p, sizeof(entry_t *) * max_entries);
        for (i = 0; i < max_entries; i++)
            c->free_list[i] = &c->free_list_storage[i];
        c->nfree = max_entries;
    }
    *out = c;
    rv = apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, p);
    /* registered after the mutex, so it runs before the mutex is gone */
    if (rv == APR_SUCCESS)
        apr_pool_cleanup_register(p, c, release_entries, apr_pool_cleanup_null);
    return rv;
}

int b2c_token_cache_enabled(const b2c_token_cache_t *c)
{
    return c && c->max_entries > 0;
}

/* OpenSSL 3 looks the digest up (under a lock) on every init given
 * EVP_sha256(); fetch it once per process instead. */
static EVP_MD *sha256_md; /* set in child_init, before any thread runs */

static const EVP_MD *sha256(void)
{
    return sha256_md ? sha256_md : EVP_sha256();
}

static apr_status_t free_sha256(void *unused)
{
    EVP_MD_free(sha256_md);
    sha256_md = NULL;
    return APR_SUCCESS;
}

void b2c_token_cache_prepare(apr_pool_t *pchild)
{
    if (!sha256_md && (sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL)))
        apr_pool_cleanup_register(pchild, NULL, free_sha256,
                                  apr_pool_cleanup_null);
}

void b2c_token_cache_key(const char *context, const char *token, size_t len,
                         unsigned char key[B2C_TOKEN_KEY_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    unsigned char sep = 0;

    EVP_DigestInit_ex(ctx, sha256(), NULL);
    EVP_DigestUpdate(ctx, context, strlen(context));
    EVP_DigestUpdate(ctx, &sep, 1); /* context can never run into token */
    EVP_DigestUpdate(ctx, token, len);
    EVP_DigestFinal_ex(ctx, key, &n);
    EVP_MD_CTX_free(ctx);
}

static apr_status_t release_claims(void *claims)
{
    json_decref(claims);
    return APR_SUCCESS;
}

static void drop_locked(b2c_token_cache_t *c, entry_t *e)
{
    apr_hash_set(c->table, e->key, B2C_TOKEN_KEY_LEN, NULL);
    json_decref(e->claims);
    e->claims = NULL;
    c->free_list[c->nfree++] = e;
}

json_t *b2c_token_cache_get(b2c_token_cache_t *c,
                            const unsigned char key[B2C_TOKEN_KEY_LEN],
                            long long now, apr_pool_t *p)
{
    entry_t *e;
    json_t *claims = NULL;

    if (c->max_entries == 0)
        return NULL;
    apr_thread_mutex_lock(c->lock);
    e = apr_hash_get(c->table, key, B2C_TOKEN_KEY_LEN);
    if (e && now > e->expires_at)
        drop_locked(c, e);
    else if (e)
        claims = json_incref(e->claims);
    apr_thread_mutex_unlock(c->lock);
    if (claims)
        apr_pool_cleanup_register(p, claims, release_claims,
                                  apr_pool_cleanup_null);
    return claims;
}

void b2c_token_cache_put(b2c_token_cache_t *c,
                         const unsigned char key[B2C_TOKEN_KEY_LEN],
                         json_t *claims, long long expires_at, long long now)
{
    entry_t *e;

    if (c->max_entries == 0 || expires_at < now)
        return;
    apr_thread_mutex_lock(c->lock);
    if (apr_hash_get(c->table, key, B2C_TOKEN_KEY_LEN)) {
        apr_thread_mutex_unlock(c->lock);
        return; /* another thread validated the same token meanwhile */
    }
    if (c->nfree == 0) {
        apr_hash_index_t *hi, *next;
        for (hi = apr_hash_first(NULL, c->table); hi; hi = next) {
            entry_t *old = apr_hash_this_val(hi);
            next = apr_hash_next(hi);
            if (now > old->expires_at)
                drop_locked(c, old);
        }
    }
    if (c->nfree > 0) {
        e = c->free_list[--c->nfree];
        memcpy(e->key, key, B2C_TOKEN_KEY_LEN);
        e->claims = json_incref(claims);
        e->expires_at = expires_at;
        apr_hash_set(c->table, e->key, B2C_TOKEN_KEY_LEN, e);
    }
    apr_thread_mutex_unlock(c->lock);
}
