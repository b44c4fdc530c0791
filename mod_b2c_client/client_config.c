/* SPDX-License-Identifier: Apache-2.0 */
/* Directives of mod_b2c_client. Client definitions are read, and their
 * secrets resolved, while httpd parses its configuration as root, so a
 * secret file can be readable by root only and a mistake (missing file,
 * unset variable, unknown client) fails `apachectl -t`. */
#include "client_config.h"
#include "b2c_logno.h"
#include "b2c_url.h"

#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <http_core.h>
#include <stdlib.h>

#define SECTION          "<B2CClient"
#define MAX_SECRET_BYTES 8192

/* The definition being read: set while walking a <B2CClient> section.
 * Configuration is parsed by one thread. */
static b2c_client_def_t *current_def;

/* B2CClientToken names seen, checked once all sections are read. */
typedef struct {
    const char *name;
    const char *where;
} reference_t;
static apr_array_header_t *references;

void b2c_client_config_reset(apr_pool_t *pconf)
{
    current_def = NULL;
    references = apr_array_make(pconf, 8, sizeof(reference_t));
}

static const char *where(cmd_parms *cmd)
{
    return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                        cmd->directive->line_num);
}

void *b2c_client_create_server_conf(apr_pool_t *p, server_rec *s)
{
    b2c_client_server_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->clients = apr_hash_make(p);
    c->ordered = apr_array_make(p, 4, sizeof(b2c_client_def_t *));
    return c;
}

void *b2c_client_create_dir_conf(apr_pool_t *p, char *dir)
{
    return apr_pcalloc(p, sizeof(b2c_client_dir_conf_t));
}

void *b2c_client_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const b2c_client_dir_conf_t *base = basev, *add = addv;
    b2c_client_dir_conf_t *c = apr_palloc(p, sizeof(*c));
    c->client_name = add->client_name ? add->client_name : base->client_name;
    c->header = add->header ? add->header : base->header;
    return c;
}

static int valid_name(const char *s)
{
    return *s
           && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789._-")
                  == strlen(s);
}

static const char *inside_section(cmd_parms *cmd)
{
    if (!current_def)
        return apr_pstrcat(cmd->pool, cmd->cmd->name,
                           " is only allowed inside <B2CClient name>", NULL);
    return NULL;
}

static const char *complete(apr_pool_t *p, const b2c_client_def_t *d)
{
    const char *missing = NULL;
    if (!d->client_id)
        missing = "B2CClientId";
    else if (!d->token_endpoint && !d->discovery_url)
        missing = "B2CTokenEndpoint or B2CAuthority";
    else if (!d->secret && !d->cert)
        missing = "B2CClientSecret or B2CClientCertificate";
    else if (!d->scopes)
        missing = "B2CScope";
    if (missing)
        return apr_psprintf(p, "<B2CClient %s> (%s) needs %s", d->name,
                            d->defined_at, missing);
    if (d->secret && d->cert)
        return apr_psprintf(p,
                            "<B2CClient %s> (%s): use either "
                            "B2CClientSecret or B2CClientCertificate, not both",
                            d->name, d->defined_at);
    if (d->cert && d->auth_set && d->auth != B2C_CLIENT_AUTH_PRIVATE_KEY_JWT)
        return apr_psprintf(p,
                            "<B2CClient %s>: B2CClientAuthMethod does not "
                            "apply to a certificate",
                            d->name);
    return NULL;
}

static const char *client_section(cmd_parms *cmd, void *mconfig,
                                  const char *arg)
{
    b2c_client_server_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &b2c_client_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *endp = ap_strrchr_c(arg, '>');
    b2c_client_def_t *d;
    const char *name, *args;

    if (err)
        return err;
    if (current_def)
        return "<B2CClient> sections cannot be nested";
    if (!endp)
        return "<B2CClient> section lacks its closing '>'";
    args = apr_pstrndup(cmd->temp_pool, arg, endp - arg);
    name = ap_getword_conf(cmd->pool, &args);
    if (!valid_name(name) || *args)
        return "<B2CClient> takes one name of letters, digits, '.', '_' or '-'";
    if (!strcasecmp(name, "off"))
        return "<B2CClient off>: 'off' is reserved (B2CClientToken Off)";
    if (apr_hash_get(sc->clients, name, APR_HASH_KEY_STRING))
        return apr_psprintf(cmd->pool, "<B2CClient %s> is defined twice", name);

    d = apr_pcalloc(cmd->pool, sizeof(*d));
    d->name = name;
    d->defined_at = where(cmd);
    current_def = d;
    err = ap_walk_config(cmd->directive->first_child, cmd, cmd->context);
    current_def = NULL;
    if (err)
        return err;
    if ((err = complete(cmd->pool, d)))
        return err;
    if (d->cert)
        d->auth = B2C_CLIENT_AUTH_PRIVATE_KEY_JWT;
    if (d->token_endpoint
        && !b2c_url_is_https(cmd->temp_pool, d->token_endpoint))
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, cmd->server,
            B2CLOGNO(
                02005) "<B2CClient %s> (%s): the token endpoint is plain "
                       "http://: "
                       "credentials and tokens cross the network unencrypted",
            d->name, d->defined_at);
    if (d->secret_is_literal)
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, cmd->server,
            B2CLOGNO(
                02001) "<B2CClient %s> (%s): B2CClientSecret is written in the "
                       "configuration; prefer file:PATH or env:NAME",
            d->name, d->defined_at);
    d->index = sc->ordered->nelts;
    APR_ARRAY_PUSH(sc->ordered, b2c_client_def_t *) = d;
    apr_hash_set(sc->clients, d->name, APR_HASH_KEY_STRING, d);
    return NULL;
}

static const char *is_url(cmd_parms *cmd, const char *url)
{
    if (!b2c_url_is_http(cmd->temp_pool, url))
        return apr_pstrcat(cmd->pool, cmd->cmd->name,
                           " needs an http:// or https:// URL", NULL);
    return NULL;
}

static const char *set_token_endpoint(cmd_parms *cmd, void *m, const char *arg)
{
    const char *err = inside_section(cmd);
    if (err || (err = is_url(cmd, arg)))
        return err;
    if (current_def->token_endpoint || current_def->discovery_url)
        return "B2CTokenEndpoint/B2CAuthority given twice";
    current_def->token_endpoint = arg;
    return NULL;
}

static const char *set_authority(cmd_parms *cmd, void *m, const char *arg)
{
    const char *err = inside_section(cmd), *endpoint;
    if (err || (err = is_url(cmd, arg)))
        return err;
    if (current_def->token_endpoint || current_def->discovery_url)
        return "B2CTokenEndpoint/B2CAuthority given twice";
    endpoint = b2c_authority_token_endpoint(cmd->pool, arg, &err);
    if (err)
        return apr_psprintf(cmd->pool, "B2CAuthority: %s", err);
    if (endpoint)
        current_def->token_endpoint = endpoint;
    else
        current_def->discovery_url = arg;
    return NULL;
}

static const char *set_client_id(cmd_parms *cmd, void *m, const char *arg)
{
    const char *err = inside_section(cmd);
    if (err)
        return err;
    if (!*arg)
        return "B2CClientId: empty";
    if (current_def->client_id)
        return "B2CClientId given twice";
    current_def->client_id = arg;
    return NULL;
}

/* A secret or private key file every user of the machine may read is no
 * secret: say so at every start (the operator may have reasons, so it is a
 * warning, not an error). */
static void warn_if_world_readable(cmd_parms *cmd, const char *what,
                                   const char *path)
{
    apr_finfo_t fi;

    if (path
        && apr_stat(&fi, path, APR_FINFO_PROT, cmd->temp_pool) == APR_SUCCESS
        && (fi.protection & APR_FPROT_WREAD))
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, cmd->server,
            B2CLOGNO(
                02009) "<B2CClient %s>: %s file '%s' is readable by every user "
                       "of this machine; make it readable by root only "
                       "(chmod 600)",
            current_def->name, what, path);
}

/* Reads a secret file; trailing newlines (from editors and echo) dropped. */
static const char *read_secret_file(cmd_parms *cmd, const char *arg,
                                    const char **secret)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    apr_status_t rv;
    char *buf;

    if (!path)
        return apr_psprintf(cmd->pool, "B2CClientSecret: bad file name '%s'",
                            arg);
    rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, cmd->temp_pool);
    if (rv == APR_SUCCESS)
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv != APR_SUCCESS) {
        char msg[120];
        return apr_psprintf(cmd->pool,
                            "B2CClientSecret: cannot read secret "
                            "file '%s': %s",
                            path, apr_strerror(rv, msg, sizeof(msg)));
    }
    if (fi.filetype != APR_REG || fi.size == 0 || fi.size > MAX_SECRET_BYTES) {
        apr_file_close(f);
        return apr_psprintf(cmd->pool,
                            "B2CClientSecret: secret file '%s' "
                            "must be a regular file of 1 to %d bytes",
                            path, MAX_SECRET_BYTES);
    }
    warn_if_world_readable(cmd, "secret", path);
    buf = apr_palloc(cmd->pool, (apr_size_t)fi.size + 1);
    n = (apr_size_t)fi.size;
    rv = apr_file_read_full(f, buf, n, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF)
        return apr_psprintf(cmd->pool,
                            "B2CClientSecret: cannot read secret "
                            "file '%s'",
                            path);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    if (n == 0 || strlen(buf) != n)
        return apr_psprintf(cmd->pool,
                            "B2CClientSecret: secret file '%s' is "
                            "empty or holds NUL bytes",
                            path);
    *secret = buf;
    return NULL;
}

static const char *set_secret(cmd_parms *cmd, void *m, const char *arg)
{
    const char *err = inside_section(cmd);

    if (err)
        return err;
    if (current_def->secret)
        return "B2CClientSecret given twice";
    if (!strncmp(arg, "file:", 5))
        return read_secret_file(cmd, arg + 5, &current_def->secret);
    if (!strncmp(arg, "env:", 4)) {
        const char *v = getenv(arg + 4);
        if (!v || !*v)
            return apr_psprintf(cmd->pool,
                                "B2CClientSecret: environment "
                                "variable '%s' is not set",
                                arg + 4);
        current_def->secret = apr_pstrdup(cmd->pool, v);
        return NULL;
    }
    if (!*arg)
        return "B2CClientSecret: empty";
    current_def->secret = arg;
    current_def->secret_is_literal = 1;
    return NULL;
}

static const char *set_certificate(cmd_parms *cmd, void *m, const char *cert,
                                   const char *key)
{
    const char *err = inside_section(cmd);
    if (err)
        return err;
    if (b2c_client_cert_load(
            cmd->pool, ap_server_root_relative(cmd->pool, cert),
            ap_server_root_relative(cmd->pool, key), &current_def->cert, &err)
        != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "B2CClientCertificate: %s", err);
    warn_if_world_readable(cmd, "private key",
                           ap_server_root_relative(cmd->pool, key));
    return NULL;
}

static const char *add_scope(cmd_parms *cmd, void *m, const char *arg)
{
    const char *err = inside_section(cmd), *c;
    if (err)
        return err;
    for (c = arg; *c; c++)
        if (*c < 0x21 || *c > 0x7e || *c == '"' || *c == '\\')
            return "B2CScope: a scope is one word of printable ASCII "
                   "(no quotes or backslashes)";
    if (!*arg)
        return "B2CScope: empty scope";
    if (!current_def->scopes)
        current_def->scopes =
            apr_array_make(cmd->pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(current_def->scopes, const char *) = arg;
    return NULL;
}

static const char *set_auth_method(cmd_parms *cmd, void *m, const char *arg)
{
    const char *err = inside_section(cmd);
    if (err)
        return err;
    if (!strcasecmp(arg, "client_secret_post"))
        current_def->auth = B2C_CLIENT_AUTH_SECRET_POST;
    else if (!strcasecmp(arg, "client_secret_basic"))
        current_def->auth = B2C_CLIENT_AUTH_SECRET_BASIC;
    else
        return "B2CClientAuthMethod: client_secret_post or client_secret_basic";
    current_def->auth_set = 1;
    return NULL;
}

static const char *set_client_token(cmd_parms *cmd, void *dcfg, const char *arg)
{
    b2c_client_dir_conf_t *c = dcfg;
    reference_t *ref;

    if (strcasecmp(arg, "off") && !valid_name(arg))
        return "B2CClientToken: a client name (or Off)";
    c->client_name = strcasecmp(arg, "off") ? arg : "off";
    if (strcmp(c->client_name, "off") && references) {
        ref = apr_array_push(references);
        ref->name = arg;
        ref->where = where(cmd);
    }
    return NULL;
}

static const char *set_token_header(cmd_parms *cmd, void *dcfg, const char *arg)
{
    if (!*arg || strpbrk(arg, " \t:()<>@,;\\\"/[]?={}"))
        return "B2CClientTokenHeader: a header field name";
    ((b2c_client_dir_conf_t *)dcfg)->header = arg;
    return NULL;
}

const char *b2c_client_check_references(apr_pool_t *p, server_rec *s)
{
    b2c_client_server_conf_t *sc =
        ap_get_module_config(s->module_config, &b2c_client_module);
    int i;

    for (i = 0; references && i < references->nelts; i++) {
        reference_t *ref = &APR_ARRAY_IDX(references, i, reference_t);
        b2c_client_def_t *d =
            apr_hash_get(sc->clients, ref->name, APR_HASH_KEY_STRING);
        if (!d)
            return apr_psprintf(p,
                                "B2CClientToken %s (%s): no <B2CClient %s> "
                                "is defined",
                                ref->name, ref->where, ref->name);
        d->used = 1;
    }
    return NULL;
}

static const char *set_cache(cmd_parms *cmd, void *dcfg, const char *arg)
{
    b2c_client_server_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &b2c_client_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err)
        return err;
    if ((err = b2c_shared_cache_configure(cmd->pool, arg, &sc->cache)))
        return apr_pstrcat(cmd->pool, "B2CClientCache: ", err, NULL);
    sc->cache_set = 1;
    return NULL;
}

static const char *set_cache_key(cmd_parms *cmd, void *dcfg, int argc,
                                 char *const argv[])
{
    b2c_client_server_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &b2c_client_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err)
        return err;
    return b2c_shared_cache_key_directive(cmd, argc, argv, B2CLOGNO(02031),
                                          &sc->cache_ring);
}

static const char *set_server_tokens(cmd_parms *cmd, void *dcfg, int on)
{
    b2c_client_server_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &b2c_client_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err)
        return err;
    sc->server_tokens = on;
    return NULL;
}

const command_rec b2c_client_cmds[] = {
    AP_INIT_TAKE1("B2CClientCache", set_cache, NULL, RSRC_CONF,
                  "shared token cache: shmcb[:ARGS], redis:HOST:PORT, "
                  "memcache:HOST:PORT or none; default shmcb"),
    AP_INIT_TAKE_ARGV("B2CClientCacheKey", set_cache_key, NULL, RSRC_CONF,
                      "file:PATH [file:OLD ...]: the key that seals shared "
                      "cache entries (required with redis or memcache)"),
    AP_INIT_RAW_ARGS(SECTION, client_section, NULL, RSRC_CONF,
                     "a named client-credentials client: <B2CClient name>"),
    AP_INIT_TAKE1("B2CTokenEndpoint", set_token_endpoint, NULL, RSRC_CONF,
                  "the OAuth 2.0 token endpoint URL"),
    AP_INIT_TAKE1("B2CAuthority", set_authority, NULL, RSRC_CONF,
                  "an MSAL-style authority or a discovery document URL"),
    AP_INIT_TAKE1("B2CClientId", set_client_id, NULL, RSRC_CONF,
                  "the client (application) id"),
    AP_INIT_TAKE1("B2CClientSecret", set_secret, NULL, RSRC_CONF,
                  "file:PATH, env:NAME, or the secret itself (discouraged)"),
    AP_INIT_TAKE2(
        "B2CClientCertificate", set_certificate, NULL, RSRC_CONF,
        "certificate and private key files (PEM) for private_key_jwt"),
    AP_INIT_ITERATE("B2CScope", add_scope, NULL, RSRC_CONF,
                    "scopes to request, e.g. api://API-ID/.default"),
    AP_INIT_TAKE1("B2CClientAuthMethod", set_auth_method, NULL, RSRC_CONF,
                  "client_secret_post (default) or client_secret_basic"),
    AP_INIT_TAKE1(
        "B2CClientToken", set_client_token, NULL, RSRC_CONF | ACCESS_CONF,
        "name of the client whose token proxied requests carry, or Off"),
    AP_INIT_TAKE1("B2CClientTokenHeader", set_token_header, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "header that carries the token; default Authorization"),
    AP_INIT_FLAG("B2CClientServerTokens", set_server_tokens, NULL, RSRC_CONF,
                 "add mod_b2c_client/VERSION to the server's version; "
                 "default Off"),
    { NULL }
};
