/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded HTTP exchanges with libcurl for metadata, key sets and token
 * requests. Every transfer has a total timeout and a body cap, follows no
 * redirects and speaks only http/https, so a hostile or broken identity
 * platform can slow one fetch down but never hang or balloon a worker. */
#include "b2c_http.h"
#include "b2c_stopping.h"
#include "b2c_url.h"

#include <apr_strings.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef struct {
    apr_pool_t *p;
    char *buf;
    size_t len, cap, max;
    int too_big;
} body_sink_t;

typedef struct {
    apr_pool_t *p;
    const char *content_type;
    const char *retry_after;
} header_sink_t;

apr_status_t b2c_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? APR_SUCCESS
                                                             : APR_EGENERAL;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *baton)
{
    body_sink_t *sink = baton;
    size_t n = size * nmemb;

    if (n > sink->max - sink->len) {
        sink->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (sink->len + n + 1 > sink->cap) {
        size_t cap = sink->cap ? sink->cap : 4096;
        char *grown;
        while (cap < sink->len + n + 1)
            cap *= 2;
        grown = apr_palloc(sink->p, cap);
        if (sink->len)
            memcpy(grown, sink->buf, sink->len);
        sink->buf = grown;
        sink->cap = cap;
    }
    memcpy(sink->buf + sink->len, data, n);
    sink->len += n;
    sink->buf[sink->len] = '\0';
    return n;
}

/* "Name: value\r\n" → value without surrounding blanks, or NULL. */
static const char *header_value(apr_pool_t *p, const char *line, size_t len,
                                const char *name)
{
    size_t nlen = strlen(name);
    const char *v, *end = line + len;

    if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
        return NULL;
    v = line + nlen + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return apr_pstrndup(p, v, end - v);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *baton)
{
    header_sink_t *sink = baton;
    size_t n = size * nmemb;
    const char *v;

    if ((v = header_value(sink->p, data, n, "Content-Type")))
        sink->content_type = v;
    else if ((v = header_value(sink->p, data, n, "Retry-After")))
        sink->retry_after = v;
    return n;
}

static int v4_internal(const unsigned char *a)
{
    return a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224
           || (a[0] == 100 && (a[1] & 0xc0) == 64)
           || (a[0] == 169 && a[1] == 254)
           || (a[0] == 172 && (a[1] & 0xf0) == 16)
           || (a[0] == 192 && a[1] == 168);
}

int b2c_http_address_is_internal(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_internal(
            (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family == AF_INET6) {
        static const unsigned char zero[15] = { 0 };
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0,    0,
                                                  0, 0, 0, 0, 0xff, 0xff };
        const unsigned char *a =
            ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (!memcmp(a, zero, 15) && a[15] <= 1)
            return 1; /* :: and ::1 */
        if (!memcmp(a, mapped, 12))
            return v4_internal(a + 12);
        return (a[0] & 0xfe) == 0xfc || a[0] == 0xff
               || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
    }
    return 1; /* anything else (unix sockets...) is not for customers */
}

typedef struct {
    const b2c_http_options_t *opts;
    int refused;
} socket_guard_t;

static int address_allowed(const socket_guard_t *g, const struct sockaddr *sa)
{
    char text[INET6_ADDRSTRLEN] = "";
    const void *bin =
        sa->sa_family == AF_INET
            ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
            : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    int i;

    if (!b2c_http_address_is_internal(sa))
        return 1;
    if (!g->opts->allowed_addrs
        || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        || !inet_ntop(sa->sa_family, bin, text, sizeof(text)))
        return 0;
    for (i = 0; i < g->opts->allowed_addrs->nelts; i++)
        if (!strcasecmp(text,
                        APR_ARRAY_IDX(g->opts->allowed_addrs, i, const char *)))
            return 1;
    return 0;
}

/* libcurl asks us for every socket it connects, with the address DNS
 * gave: the one place a check cannot be fooled by names (or rebinding). */
static curl_socket_t open_socket(void *baton, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
    socket_guard_t *g = baton;

    if (purpose == CURLSOCKTYPE_IPCXN && !address_allowed(g, &a->addr)) {
        g->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

/* libcurl calls this at least once a second while a transfer runs. */
static int on_progress(void *baton, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    return b2c_stopping(); /* non-zero aborts the transfer */
}

static apr_status_t perform(apr_pool_t *p, const char *url,
                            const apr_table_t *headers, const char *form,
                            const b2c_http_options_t *opts,
                            b2c_http_response_t *resp, const char **err)
{
    CURL *curl;
    CURLcode rc;
    struct curl_slist *hdrs = NULL;
    body_sink_t body = { p, NULL, 0, 0, opts->max_body, 0 };
    header_sink_t head = { p, NULL, NULL };
    socket_guard_t guard = { opts, 0 };
    apr_status_t status = APR_SUCCESS;

    memset(resp, 0, sizeof(*resp));
    *err = NULL;
    /* the same check as the configuration's: libcurl takes "HTTPS://"
     * too, and refusing it here left such a URL accepted but never fetched */
    if (!b2c_url_is_http(p, url)) {
        *err = "only http and https URLs are fetched";
        return APR_EINVAL;
    }
    if (b2c_stopping()) {
        *err = "the process is stopping";
        return APR_EINTR;
    }
    if (!(curl = curl_easy_init())) {
        *err = "cannot create an HTTP client";
        return APR_ENOMEM;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* threaded MPMs */
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, opts->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, opts->connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
    if (opts->refuse_internal) {
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &guard);
        curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* connect directly */
    }
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (opts->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, opts->ca_file);
    curl_easy_setopt(curl, CURLOPT_USERAGENT,
                     "mod_b2c/"
                     "0.1");
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, ""); /* identity, gzip */
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &head);
    if (headers) {
        const apr_array_header_t *arr = apr_table_elts(headers);
        const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
        int i;
        for (i = 0; i < arr->nelts; i++)
            hdrs = curl_slist_append(
                hdrs, apr_pstrcat(p, e[i].key, ": ", e[i].val, NULL));
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    if (form) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
    }

    rc = curl_easy_perform(curl);
    if (guard.refused && rc != CURLE_OK) {
        *err = "the host has an internal address (loopback, link-local or "
               "private) that the allow-list does not name";
        status = APR_EACCES;
    }
    else if (body.too_big) {
        *err = apr_psprintf(p, "answer larger than %" APR_SIZE_T_FMT " bytes",
                            opts->max_body);
        status = APR_ENOSPC;
    }
    else if (rc == CURLE_ABORTED_BY_CALLBACK) {
        *err = "cancelled: the process is stopping";
        status = APR_EINTR;
    }
    else if (rc != CURLE_OK) {
        /* curl's message names host and cause, never the query or body */
        *err = apr_pstrdup(p, curl_easy_strerror(rc));
        status = rc == CURLE_OPERATION_TIMEDOUT ? APR_TIMEUP : APR_EGENERAL;
    }
    else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
        resp->body = body.buf ? body.buf : "";
        resp->body_len = body.len;
        resp->content_type = head.content_type;
        resp->retry_after = head.retry_after;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    return status;
}

apr_status_t b2c_http_get(apr_pool_t *p, const char *url,
                          const b2c_http_options_t *opts,
                          b2c_http_response_t *resp, const char **err)
{
    return perform(p, url, NULL, NULL, opts, resp, err);
}

apr_status_t b2c_http_post_form(apr_pool_t *p, const char *url,
                                const apr_table_t *headers, const char *form,
                                const b2c_http_options_t *opts,
                                b2c_http_response_t *resp, const char **err)
{
    return perform(p, url, headers, form, opts, resp, err);
}
