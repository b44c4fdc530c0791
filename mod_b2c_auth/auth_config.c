/* SPDX-License-Identifier: Apache-2.0 */
/* Directives of mod_b2c_auth: parsing, merging, and the checks that turn
 * configuration mistakes into startup errors (apachectl -t) rather than
 * requests that slip through. */
#include "auth_config.h"

#include <apr_strings.h>
#include <arpa/inet.h>
#include <http_core.h>

#include "b2c_jwt.h"
#include "b2c_logno.h"
#include "b2c_url.h"

/* Hosts a .htaccess author may fetch metadata from when the server names
 * no B2CAuthMetadataAllow prefixes: Microsoft's identity platform clouds. */
static const char *const microsoft_hosts[] = {
    "login.microsoftonline.com", "login.microsoftonline.us",
    "login.partner.microsoftonline.cn", "login.chinacloudapi.cn", NULL
};
static const char *const microsoft_host_suffixes[] = { ".b2clogin.com",
                                                       ".ciamlogin.com", NULL };

void *b2c_auth_create_dir_conf(apr_pool_t *p, char *dir)
{
    b2c_auth_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->clock_skew = -1;
    c->claims_env = -1;
    c->claims_headers = -1;
    c->bearer = -1;
    return c;
}

void *b2c_auth_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const b2c_auth_dir_conf_t *base = basev, *add = addv;
    b2c_auth_dir_conf_t *c = apr_palloc(p, sizeof(*c));

    c->metadata_url =
        add->metadata_url ? add->metadata_url : base->metadata_url;
    c->metadata_from_htaccess = add->metadata_url
                                    ? add->metadata_from_htaccess
                                    : base->metadata_from_htaccess;
    c->issuers = add->issuers ? add->issuers : base->issuers;
    c->audiences = add->audiences ? add->audiences : base->audiences;
    c->algs = add->algs ? add->algs : base->algs;
    c->clock_skew = add->clock_skew >= 0 ? add->clock_skew : base->clock_skew;
    c->remote_user_claim = add->remote_user_claim ? add->remote_user_claim
                                                  : base->remote_user_claim;
    c->claims_env = add->claims_env >= 0 ? add->claims_env : base->claims_env;
    c->claims_headers =
        add->claims_headers >= 0 ? add->claims_headers : base->claims_headers;
    c->bearer = add->bearer >= 0 ? add->bearer : base->bearer;
    return c;
}

void *b2c_auth_create_server_conf(apr_pool_t *p, server_rec *s)
{
    b2c_auth_server_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->refresh_interval = -1;
    c->kid_refresh_interval = -1;
    c->fetch_timeout = -1;
    c->token_cache_entries = -1;
    c->max_stale = -1;
    return c;
}

void *b2c_auth_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    const b2c_auth_server_conf_t *base = basev, *add = addv;
    b2c_auth_server_conf_t *c = apr_palloc(p, sizeof(*c));

    c->metadata_allow =
        add->metadata_allow ? add->metadata_allow : base->metadata_allow;
    c->metadata_allow_addrs = add->metadata_allow ? add->metadata_allow_addrs
                                                  : base->metadata_allow_addrs;
#define PICK(f) c->f = add->f >= 0 ? add->f : base->f
    PICK(refresh_interval);
    PICK(kid_refresh_interval);
    PICK(fetch_timeout);
    PICK(token_cache_entries);
    PICK(max_stale);
#undef PICK
    c->cache = base->cache;
    c->cache_set = base->cache_set;
    c->cache_ring = base->cache_ring;
    c->server_tokens = base->server_tokens;
    c->ca_file = add->ca_file ? add->ca_file : base->ca_file;
    return c;
}

unsigned b2c_conf_algs(const b2c_auth_dir_conf_t *c)
{
    return c->algs ? c->algs : B2C_DEFAULT_ALGS;
}

int b2c_conf_skew(const b2c_auth_dir_conf_t *c)
{
    return c->clock_skew >= 0 ? c->clock_skew : B2C_DEFAULT_SKEW;
}

const char *b2c_conf_remote_user(const b2c_auth_dir_conf_t *c)
{
    return c->remote_user_claim ? c->remote_user_claim
                                : B2C_DEFAULT_REMOTE_USER;
}

int b2c_sconf_int(int value, int dflt)
{
    return value >= 0 ? value : dflt;
}

/* In .htaccess the override mask never includes ACCESS_CONF. */
static int in_htaccess(const cmd_parms *cmd)
{
    return !(cmd->override & ACCESS_CONF);
}

/* The host of an https URL, lower-cased; NULL for anything else or for
 * URLs with userinfo, which could disguise the real host. */
static const char *https_host(apr_pool_t *p, const char *url)
{
    b2c_url_t u;
    const char *err;

    if (b2c_url_parse(p, url, B2C_URL_NO_USERINFO, &u, &err) != APR_SUCCESS
        || !u.https)
        return NULL;
    return u.host;
}

static int microsoft_host(const char *host)
{
    size_t hlen = strlen(host);
    int i;

    for (i = 0; microsoft_hosts[i]; i++)
        if (!strcmp(host, microsoft_hosts[i]))
            return 1;
    for (i = 0; microsoft_host_suffixes[i]; i++) {
        size_t slen = strlen(microsoft_host_suffixes[i]);
        /* the label before the suffix must be non-empty */
        if (hlen > slen
            && !strcmp(host + hlen - slen, microsoft_host_suffixes[i]))
            return 1;
    }
    return 0;
}

/* No "." or ".." segment, no backslash, no %-escape (which could hide
 * either): a path that means what it says. */
static int plain_path(const char *path)
{
    const char *seg;

    if (strpbrk(path, "%\\"))
        return 0;
    if (*path != '/')
        return 1; /* no path at all */
    for (seg = path; seg; seg = strchr(seg + 1, '/')) {
        size_t n = strcspn(seg + 1, "/?#");
        if ((n == 1 && seg[1] == '.') || (n == 2 && !strncmp(seg + 1, "..", 2)))
            return 0;
    }
    return 1;
}

static const char *htaccess_url_allowed(cmd_parms *cmd, const char *url)
{
    const b2c_auth_server_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &b2c_auth_module);
    const char *host, *path = strstr(url, "://") + 3;
    int i;

    /* Prefixes are compared as text while libcurl resolves dot segments:
     * "https://allowed/t1/../t2/" must not pass for the prefix of t1. */
    path += strcspn(path, "/");
    if (!plain_path(path))
        return "B2CAuthMetadataURL in .htaccess must not contain dot "
               "segments, backslashes or %-escapes";
    if (sc->metadata_allow) {
        for (i = 0; i < sc->metadata_allow->nelts; i++) {
            const char *prefix =
                APR_ARRAY_IDX(sc->metadata_allow, i, const char *);
            if (!strncmp(url, prefix, strlen(prefix)))
                return NULL;
        }
        return "B2CAuthMetadataURL in .htaccess must start with a prefix "
               "listed by the server's B2CAuthMetadataAllow";
    }
    host = https_host(cmd->temp_pool, url);
    if (host && microsoft_host(host))
        return NULL;
    return "B2CAuthMetadataURL in .htaccess must be an https:// URL on a "
           "Microsoft identity host (the server sets no B2CAuthMetadataAllow)";
}

static const char *set_metadata_url(cmd_parms *cmd, void *dcfg, const char *url)
{
    b2c_auth_dir_conf_t *c = dcfg;
    b2c_url_t u;
    const char *why;

    if (b2c_url_parse(cmd->temp_pool, url, 0, &u, &why) != APR_SUCCESS)
        return "B2CAuthMetadataURL must be an http:// or https:// URL";
    if (u.fragment)
        return "B2CAuthMetadataURL must not contain a fragment";
    if (in_htaccess(cmd) && (why = htaccess_url_allowed(cmd, url)))
        return why;
    c->metadata_url = url;
    c->metadata_from_htaccess = in_htaccess(cmd);
    return NULL;
}

static const char *add_issuer(cmd_parms *cmd, void *dcfg, const char *iss)
{
    b2c_auth_dir_conf_t *c = dcfg;
    if (!*iss)
        return "B2CAuthIssuer: empty issuer";
    if (!c->issuers)
        c->issuers = apr_array_make(cmd->pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(c->issuers, const char *) = iss;
    return NULL;
}

static const char *add_audience(cmd_parms *cmd, void *dcfg, const char *aud)
{
    b2c_auth_dir_conf_t *c = dcfg;
    if (!*aud)
        return "B2CAuthAudience: empty audience";
    if (!c->audiences)
        c->audiences = apr_array_make(cmd->pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(c->audiences, const char *) = aud;
    return NULL;
}

static const char *add_algorithm(cmd_parms *cmd, void *dcfg, const char *name)
{
    b2c_auth_dir_conf_t *c = dcfg;
    unsigned alg = b2c_alg_from_name(name);

    if (!alg)
        return apr_psprintf(cmd->pool,
                            "B2CAuthAlgorithms: '%s' is not accepted; use "
                            "RS256, RS384, RS512, PS256, PS384, PS512, "
                            "ES256, ES384 or ES512 (never none or HMAC)",
                            ap_escape_logitem(cmd->pool, name));
    c->algs |= alg;
    return NULL;
}

/* A whole number within [lo, hi], or an error naming the directive. */
static const char *parse_seconds(cmd_parms *cmd, const char *arg, int lo,
                                 int hi, int *out)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    if (!*arg || *end || v < lo || v > hi)
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a whole number from "
                            "%d to %d",
                            cmd->cmd->name, ap_escape_logitem(cmd->pool, arg),
                            lo, hi);
    *out = (int)v;
    return NULL;
}

static const char *set_clock_skew(cmd_parms *cmd, void *dcfg, const char *arg)
{
    return parse_seconds(cmd, arg, 0, 86400,
                         &((b2c_auth_dir_conf_t *)dcfg)->clock_skew);
}

static const char *set_remote_user(cmd_parms *cmd, void *dcfg, const char *arg)
{
    if (!*arg)
        return "B2CAuthRemoteUser: empty claim name";
    ((b2c_auth_dir_conf_t *)dcfg)->remote_user_claim = arg;
    return NULL;
}

static const char *set_claims_env(cmd_parms *cmd, void *dcfg, int on)
{
    ((b2c_auth_dir_conf_t *)dcfg)->claims_env = on;
    return NULL;
}

static const char *set_claims_headers(cmd_parms *cmd, void *dcfg, int on)
{
    ((b2c_auth_dir_conf_t *)dcfg)->claims_headers = on;
    return NULL;
}

/* AuthType belongs to mod_authn_core; we only note whether a section asks
 * for Bearer (so startup can check it) and decline, so that mod_authn_core
 * still sets it. */
static const char *note_auth_type(cmd_parms *cmd, void *dcfg, const char *arg)
{
    ((b2c_auth_dir_conf_t *)dcfg)->bearer = !strcasecmp(arg, B2C_AUTH_TYPE);
    return DECLINE_CMD;
}

static b2c_auth_server_conf_t *server_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &b2c_auth_module);
}

/* A numeric host B2CAuthMetadataAllow names is the only kind of internal
 * address a fetch started from .htaccess may connect to; kept in the
 * canonical text form the connect-time check prints. A name is not
 * resolved here: what it resolves to is checked at connect time. */
static void add_allowed_addr(apr_pool_t *p, b2c_auth_server_conf_t *sc,
                             const char *host)
{
    unsigned char bin[16];
    char text[64];
    int fam = strchr(host, ':') ? AF_INET6 : AF_INET;

    if (inet_pton(fam, host, bin) != 1
        || !inet_ntop(fam, bin, text, sizeof(text)))
        return;
    if (!sc->metadata_allow_addrs)
        sc->metadata_allow_addrs = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(sc->metadata_allow_addrs, const char *) =
        apr_pstrdup(p, text);
}

static const char *add_metadata_allow(cmd_parms *cmd, void *dcfg,
                                      const char *prefix)
{
    b2c_auth_server_conf_t *sc = server_conf(cmd);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    b2c_url_t u;

    if (err)
        return err;
    if (b2c_url_parse(cmd->temp_pool, prefix, 0, &u, &err) != APR_SUCCESS)
        return "B2CAuthMetadataAllow: each prefix must be an http:// or "
               "https:// URL prefix";
    /* "https://host" alone would also allow "https://host.evil.example" */
    if (!u.path)
        return "B2CAuthMetadataAllow: a prefix must include the path after "
               "the host, at least '/' (e.g. https://login.example.com/)";
    if (!sc->metadata_allow)
        sc->metadata_allow = apr_array_make(cmd->pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(sc->metadata_allow, const char *) = prefix;
    add_allowed_addr(cmd->pool, sc, u.host);
    return NULL;
}

static const char *set_server_seconds(cmd_parms *cmd, void *dcfg,
                                      const char *arg)
{
    b2c_auth_server_conf_t *sc = server_conf(cmd);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    int *field = (int *)((char *)sc + (apr_size_t)cmd->info);
    int lo =
        field == &sc->token_cache_entries || field == &sc->max_stale ? 0 : 1;
    int hi = field == &sc->token_cache_entries ? 10000000 : 30 * 86400;

    if (field == &sc->fetch_timeout)
        hi = 120;
    return err ? err : parse_seconds(cmd, arg, lo, hi, field);
}

static const char *set_ca_file(cmd_parms *cmd, void *dcfg, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *path;
    apr_finfo_t fi;

    if (err)
        return err;
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path
        || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || fi.filetype != APR_REG)
        return apr_psprintf(cmd->pool,
                            "B2CAuthCACertificate: cannot read "
                            "file '%s'",
                            arg);
    server_conf(cmd)->ca_file = path;
    return NULL;
}

static const char *set_cache(cmd_parms *cmd, void *dcfg, const char *arg)
{
    b2c_auth_server_conf_t *sc = server_conf(cmd);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err)
        return err;
    if ((err = b2c_shared_cache_configure(cmd->pool, arg, &sc->cache)))
        return apr_pstrcat(cmd->pool, "B2CAuthCache: ", err, NULL);
    sc->cache_set = 1;
    return NULL;
}

static const char *set_cache_key(cmd_parms *cmd, void *dcfg, int argc,
                                 char *const argv[])
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err)
        return err;
    return b2c_shared_cache_key_directive(cmd, argc, argv, B2CLOGNO(01031),
                                          &server_conf(cmd)->cache_ring);
}

static const char *set_server_tokens(cmd_parms *cmd, void *dcfg, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err)
        return err;
    server_conf(cmd)->server_tokens = on;
    return NULL;
}

#define SCONF_OFFSET(f) ((void *)APR_OFFSETOF(b2c_auth_server_conf_t, f))

const command_rec b2c_auth_cmds[] = {
    AP_INIT_TAKE1("AuthType", note_auth_type, NULL, OR_AUTHCFG,
                  "(noted by mod_b2c_auth, handled by mod_authn_core)"),
    AP_INIT_TAKE1("B2CAuthMetadataURL", set_metadata_url, NULL, OR_AUTHCFG,
                  "URL of the OpenID Connect discovery document"),
    AP_INIT_ITERATE("B2CAuthIssuer", add_issuer, NULL, OR_AUTHCFG,
                    "accepted token issuers ({tenantid} allowed); default: "
                    "the discovery document's issuer"),
    AP_INIT_ITERATE("B2CAuthAudience", add_audience, NULL, OR_AUTHCFG,
                    "accepted token audiences (required)"),
    AP_INIT_ITERATE("B2CAuthAlgorithms", add_algorithm, NULL, OR_AUTHCFG,
                    "accepted signature algorithms; default RS256"),
    AP_INIT_TAKE1("B2CAuthClockSkew", set_clock_skew, NULL, OR_AUTHCFG,
                  "seconds of clock skew allowed for exp and nbf; default 300"),
    AP_INIT_TAKE1("B2CAuthRemoteUser", set_remote_user, NULL, OR_AUTHCFG,
                  "claim that becomes REMOTE_USER; default sub"),
    AP_INIT_FLAG(
        "B2CAuthClaimsEnv", set_claims_env, NULL, OR_AUTHCFG,
        "export claims as B2C_CLAIM_* environment variables; default On"),
    AP_INIT_FLAG("B2CAuthClaimsHeaders", set_claims_headers, NULL, OR_AUTHCFG,
                 "pass claims as X-B2C-Claim-* request headers; default Off"),
    AP_INIT_ITERATE("B2CAuthMetadataAllow", add_metadata_allow, NULL, RSRC_CONF,
                    "URL prefixes that .htaccess files may use as metadata"),
    AP_INIT_TAKE1("B2CAuthRefreshInterval", set_server_seconds,
                  SCONF_OFFSET(refresh_interval), RSRC_CONF,
                  "seconds between metadata/key refreshes; default 3600"),
    AP_INIT_TAKE1("B2CAuthKidRefreshInterval", set_server_seconds,
                  SCONF_OFFSET(kid_refresh_interval), RSRC_CONF,
                  "least seconds between refreshes caused by an unknown kid; "
                  "default 300"),
    AP_INIT_TAKE1("B2CAuthFetchTimeout", set_server_seconds,
                  SCONF_OFFSET(fetch_timeout), RSRC_CONF,
                  "seconds allowed for one metadata or key fetch; default 5"),
    AP_INIT_TAKE1("B2CAuthCACertificate", set_ca_file, NULL, RSRC_CONF,
                  "CA bundle for https fetches; default: the system store"),
    AP_INIT_TAKE1("B2CAuthTokenCacheEntries", set_server_seconds,
                  SCONF_OFFSET(token_cache_entries), RSRC_CONF,
                  "validated tokens cached per process; 0 disables; "
                  "default 10000"),
    AP_INIT_TAKE1("B2CAuthMaxStale", set_server_seconds,
                  SCONF_OFFSET(max_stale), RSRC_CONF,
                  "seconds keys stay in use past their refresh time while the "
                  "identity platform is unreachable; default 86400"),
    AP_INIT_TAKE1("B2CAuthCache", set_cache, NULL, RSRC_CONF,
                  "shared cache: shmcb[:ARGS], redis:HOST:PORT, "
                  "memcache:HOST:PORT or none; default shmcb"),
    AP_INIT_TAKE_ARGV("B2CAuthCacheKey", set_cache_key, NULL, RSRC_CONF,
                      "file:PATH [file:OLD ...]: the key that seals shared "
                      "cache entries (required with redis or memcache)"),
    AP_INIT_FLAG(
        "B2CAuthServerTokens", set_server_tokens, NULL, RSRC_CONF,
        "add mod_b2c_auth/VERSION to the server's version; default Off"),
    { NULL }
};

const char *b2c_auth_conf_incomplete(const b2c_auth_dir_conf_t *c)
{
    if (!c->metadata_url)
        return "AuthType Bearer needs B2CAuthMetadataURL";
    if (!c->audiences || c->audiences->nelts == 0)
        return "AuthType Bearer needs B2CAuthAudience (audience checks are "
               "never optional)";
    return NULL;
}

/* Is section path `outer` an enclosing section of `inner`? Regex sections
 * and <Files> are not resolved statically; the request-time check covers
 * them. */
static int encloses(const char *outer, const char *inner)
{
    size_t n = strlen(outer);
    if (strncmp(outer, inner, n) != 0)
        return 0;
    return n == strlen(inner) || outer[n - 1] == '/' || inner[n] == '/';
}

static const char *check_section_list(apr_pool_t *p, server_rec *s,
                                      apr_array_header_t *secs,
                                      const char *kind)
{
    ap_conf_vector_t **v = (ap_conf_vector_t **)secs->elts;
    int i, j;

    for (i = 0; i < secs->nelts; i++) {
        core_dir_config *core = ap_get_core_module_config(v[i]);
        b2c_auth_dir_conf_t *eff;
        const char *why;

        if (core->r || !core->d)
            continue;
        eff = ap_get_module_config(s->lookup_defaults, &b2c_auth_module);
        if (!eff)
            eff = b2c_auth_create_dir_conf(p, NULL);
        for (j = 0; j <= i; j++) {
            core_dir_config *outer = ap_get_core_module_config(v[j]);
            b2c_auth_dir_conf_t *ours =
                ap_get_module_config(v[j], &b2c_auth_module);
            /* sections without any of our directives have no config */
            if (!ours || outer->r || !outer->d || !encloses(outer->d, core->d))
                continue;
            eff = b2c_auth_merge_dir_conf(p, eff, ours);
        }
        if (eff->bearer == 1 && (why = b2c_auth_conf_incomplete(eff)))
            return apr_psprintf(p, "%s (in <%s %s>)", why, kind, core->d);
    }
    return NULL;
}

const char *b2c_auth_check_sections(apr_pool_t *p, server_rec *s)
{
    for (; s; s = s->next) {
        core_server_config *sconf = ap_get_core_module_config(s->module_config);
        const char *err;
        if ((err = check_section_list(p, s, sconf->sec_dir, "Directory"))
            || (err = check_section_list(p, s, sconf->sec_url, "Location")))
            return err;
    }
    return NULL;
}
