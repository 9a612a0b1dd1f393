/*
 * util.h: what every example plugin would otherwise repeat: evh_str views, error reporting,
 * and the steps of on_create and on_stop (check the config's keys, copy and resolve `path`,
 * allocate the instance, write the result file). The config itself is read with the host's
 * accessors (evh_host_api.config_*), so there is no JSON parser here.
 *
 * The helpers carry the evh_ex_ prefix: evh_ keeps them greppable with the ABI, and the
 * extra ex_ keeps them out of the header's namespace, which may grow.
 */
#ifndef EVH_EX_UTIL_H
#define EVH_EX_UTIL_H

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evhost.h"

/* The number of elements of an array (not a pointer). */
#define EVH_EX_LEN(array) (sizeof(array) / sizeof((array)[0]))

/* A view of a NUL-terminated string; the view borrows it. */
static inline evh_str evh_ex_str_from_cstr(const char *s)
{
    evh_str view = { (const uint8_t *)s, strlen(s) };
    return view;
}

/* Decimal digits of UINT64_MAX: the size of an id slot for evh_ex_format_id. */
#define EVH_EX_ID_MAX 20

/*
 * Writes k in decimal so that it ends at the end of the EVH_EX_ID_MAX-byte `slot`, and
 * returns its view. Producers keep one slot per event of their batch, so formatting an id
 * allocates nothing.
 */
static inline evh_str evh_ex_format_id(char *slot, uint64_t k)
{
    char *p = slot + EVH_EX_ID_MAX;
    evh_str id;

    do {
        *--p = (char)('0' + k % 10);
        k /= 10;
    } while (k != 0);
    id.ptr = (const uint8_t *)p;
    id.len = (size_t)(slot + EVH_EX_ID_MAX - p);
    return id;
}

/*
 * Formats a message and hands it to api->set_error when level is 0 (no EVH_LOG_* level is 0),
 * else to api->log at that level.
 * The host copies the message, so a stack buffer does for the common case; a longer message
 * is formatted into the heap rather than truncated, and if even that fails the short form
 * is still better than nothing.
 */
static inline void evh_ex_vreport(const evh_host_api *api, evh_host *host, evh_log_level level,
                                  const char *fmt, va_list ap)
{
    char stack[512];
    char *msg = stack;
    va_list again;
    int len;

    va_copy(again, ap);
    len = vsnprintf(stack, sizeof stack, fmt, ap);
    if (len < 0) {
        va_end(again);
        return;
    }
    if ((size_t)len >= sizeof stack) {
        char *heap = malloc((size_t)len + 1);
        if (heap != NULL) {
            vsnprintf(heap, (size_t)len + 1, fmt, again);
            msg = heap;
        } else {
            len = (int)sizeof stack - 1;
        }
    }
    va_end(again);

    {
        evh_str view = { (const uint8_t *)msg, (size_t)len };
        if (level == 0) {
            api->set_error(host, view);
        } else {
            api->log(host, level, view);
        }
    }
    if (msg != stack) {
        free(msg);
    }
}

/* Explains the failure the calling hook is about to return. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline void evh_ex_set_errorf(const evh_host_api *api, evh_host *host, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    evh_ex_vreport(api, host, 0, fmt, ap);
    va_end(ap);
}

/* Writes one line to the host's log; on_stop has no status to return, so trouble goes here. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static inline void evh_ex_logf(const evh_host_api *api, evh_host *host, evh_log_level level,
                               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    evh_ex_vreport(api, host, level, fmt, ap);
    va_end(ap);
}

/*
 * Resolves a path from a plugin's config the way the host resolves its own: a relative path
 * is relative to the config file's folder (args->config_dir). "-", absolute and empty paths stay.
 * Takes ownership of `path` (malloc'd, not NULL) and returns a malloc'd path, or NULL when
 * out of memory (`path` is then freed).
 */
static inline char *evh_ex_resolve_path(const evh_create_args *args, char *path)
{
    size_t dir_len = args->config_dir.len;
    size_t path_len;
    char *joined;

    if (path[0] == '\0' || path[0] == '/' || dir_len == 0 || strcmp(path, "-") == 0) {
        return path;
    }
    path_len = strlen(path);
    joined = malloc(dir_len + 1 + path_len + 1);
    if (joined != NULL) {
        memcpy(joined, args->config_dir.ptr, dir_len);
        joined[dir_len] = '/';
        memcpy(joined + dir_len + 1, path, path_len + 1);
    }
    free(path);
    return joined;
}

/*
 * The body of evh_library_init: checks that the host speaks our ABI major (the host checks
 * our minor against its own) and answers with `library`, which lives as long as the process.
 * No copy of `api` is kept: every instance gets it again through evh_create_args.
 */
static inline evh_status evh_ex_library_init(const evh_host_api *api, const evh_library **out,
                                             const evh_library *library)
{
    if (api == NULL || out == NULL) {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    if (api->abi_major != EVH_ABI_VERSION_MAJOR) {
        return EVH_ERR_VERSION;
    }
    *out = library;
    return EVH_OK;
}

/*
 * Writes a library's one export: the static description of the plugins listed (pointers to
 * evh_plugin) and evh_library_init answering with it. Use it once, at file scope, with no
 * semicolon after it (ISO C forbids a stray one there).
 */
#define EVH_EX_EXPORT_LIBRARY(...)                                                            \
    static const evh_plugin *const evh_ex_plugins[] = { __VA_ARGS__ };                       \
    static const evh_library evh_ex_library = {                                               \
        .struct_size = sizeof(evh_library),                                                   \
        .abi_major = EVH_ABI_VERSION_MAJOR,                                                   \
        .abi_minor = EVH_ABI_VERSION_MINOR,                                                   \
        .flags = 0,                                                                           \
        .plugins = evh_ex_plugins,                                                            \
        .plugins_len = EVH_EX_LEN(evh_ex_plugins),                                            \
    };                                                                                        \
    EVH_EXPORT evh_status evh_library_init(const evh_host_api *api, const evh_library **out)  \
    {                                                                                         \
        return evh_ex_library_init(api, out, &evh_ex_library);                                \
    }

/*
 * The first step of reading a config: checks that the host has the config accessors (ABI 1.1
 * grew them, so an early 1.1 host lacks them) and that the config has no key but `keys`
 * (the host suggests the closest one for a typo). Returns EVH_OK, or the status to return
 * from on_create with the message recorded.
 */
static inline evh_status evh_ex_config_begin(const evh_create_args *args,
                                             const char *const *keys, size_t keys_len)
{
    const evh_host_api *api;

    if (args == NULL || args->api == NULL) {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    api = args->api;
    if (api->struct_size < offsetof(evh_host_api, config_keys) + sizeof api->config_keys) {
        evh_ex_set_errorf(api, args->host, "this plugin reads its config with the host's config "
                                           "accessors; upgrade evhost to a host that has them");
        return EVH_ERR_VERSION;
    }
    return api->config_keys(args, "", keys, keys_len);
}

/*
 * Reads the string at `path` into *out as a malloc'd NUL-terminated copy (the accessor's view
 * lives only until on_create returns). An optional key left out leaves *out as it was.
 * A string with a NUL in it is refused: the copy would silently end there.
 */
static inline evh_status evh_ex_config_cstr(const evh_create_args *args, const char *path,
                                            uint32_t flags, char **out)
{
    evh_str text = { NULL, 0 };
    evh_status status = args->api->config_string(args, path, flags, &text);
    char *copy;

    if (status != EVH_OK || text.ptr == NULL) {
        return status;
    }
    if (memchr(text.ptr, '\0', text.len) != NULL) {
        evh_ex_set_errorf(args->api, args->host,
                          "`%s` has a NUL character in it; remove it", path);
        return EVH_ERR_CONFIG;
    }
    copy = malloc(text.len + 1);
    if (copy == NULL) {
        evh_ex_set_errorf(args->api, args->host, "out of memory");
        return EVH_ERR_INTERNAL;
    }
    memcpy(copy, text.ptr, text.len);
    copy[text.len] = '\0';
    *out = copy;
    return EVH_OK;
}

/*
 * Reads the config key `path` into *path (see evh_ex_config_cstr) and resolves it (see
 * evh_ex_resolve_path). An optional path left out stays NULL; an empty path is refused, with
 * `example` ("digest.json") in the fix. On failure *path is NULL and the error is set.
 */
static inline evh_status evh_ex_config_path(const evh_create_args *args, bool required,
                                            const char *example, char **path)
{
    evh_status status = evh_ex_config_cstr(
        args, "path", required ? EVH_CONFIG_REQUIRED : EVH_CONFIG_OPTIONAL, path);

    if (status != EVH_OK || *path == NULL) {
        return status;
    }
    if ((*path)[0] == '\0') {
        free(*path);
        *path = NULL;
        evh_ex_set_errorf(args->api, args->host,
                          required ? "`path` = \"\" is empty; write a file path, e.g. "
                                     "path = \"%s\""
                                   : "`path` = \"\" is empty; leave it out to write no file, "
                                     "or write a file path, e.g. path = \"%s\"",
                          example);
        return EVH_ERR_CONFIG;
    }
    *path = evh_ex_resolve_path(args, *path);
    if (*path == NULL) {
        evh_ex_set_errorf(args->api, args->host, "out of memory");
        return EVH_ERR_INTERNAL;
    }
    return EVH_OK;
}

/* A zeroed instance of `size` bytes, or NULL with the error set. */
static inline void *evh_ex_new_instance(const evh_create_args *args, size_t size)
{
    void *instance = calloc(1, size);

    if (instance == NULL) {
        evh_ex_set_errorf(args->api, args->host, "out of memory");
    }
    return instance;
}

/*
 * The head of a consumer that writes a result file on stop (count, digest, and the latency
 * and slow fixtures): where it reports trouble and where it writes. Its first member, so the
 * helpers below take the instance as it is.
 */
typedef struct evh_ex_result_file {
    evh_host *host;
    const evh_host_api *api;
    /* NULL when the config names no path: then there is nothing to write. */
    char *path;
} evh_ex_result_file;

/*
 * A zeroed instance of `size` bytes that starts with an evh_ex_result_file, filled in from
 * `args` and `path`. Takes ownership of `path` (malloc'd or NULL), also on failure; NULL
 * with the error set when out of memory.
 */
static inline void *evh_ex_new_result_instance(const evh_create_args *args, size_t size,
                                               char *path)
{
    evh_ex_result_file *head = evh_ex_new_instance(args, size);

    if (head == NULL) {
        free(path);
        return NULL;
    }
    head->host = args->host;
    head->api = args->api;
    head->path = path;
    return head;
}

/* on_destroy for an instance from evh_ex_new_result_instance that owns nothing else. */
static inline void evh_ex_free_result_instance(void *instance)
{
    evh_ex_result_file *head = instance;
    free(head->path);
    free(head);
}

/*
 * Replaces the file at head->path, when there is one, with the `len` bytes of `line`, the
 * plugin's result. on_stop has no status to return, so a failure is logged; fclose is checked
 * because that is where a full disk often shows.
 */
static inline void evh_ex_write_result(const evh_ex_result_file *head, const char *line, int len)
{
    FILE *f;
    int err = 0;

    if (head->path == NULL) {
        return;
    }
    f = fopen(head->path, "w");
    if (f == NULL) {
        err = errno != 0 ? errno : EIO;
    } else {
        if (len < 0 || fwrite(line, 1, (size_t)len, f) != (size_t)len) {
            err = errno != 0 ? errno : EIO;
        }
        if (fclose(f) != 0 && err == 0) {
            err = errno != 0 ? errno : EIO;
        }
    }
    if (err != 0) {
        evh_ex_logf(head->api, head->host, EVH_LOG_ERROR, "cannot write %s: %s", head->path,
                    strerror(err));
    }
}

/*
 * Writes {"count": N, "bytes": B} and a newline, the result of the consumers that only add
 * up events and data bytes (count, and the slow fixture).
 */
static inline void evh_ex_write_tally(const evh_ex_result_file *head, uint64_t count,
                                      uint64_t bytes)
{
    char line[96];
    int len = snprintf(line, sizeof line, "{\"count\": %" PRIu64 ", \"bytes\": %" PRIu64 "}\n",
                       count, bytes);
    evh_ex_write_result(head, line, len);
}

#endif /* EVH_EX_UTIL_H */
