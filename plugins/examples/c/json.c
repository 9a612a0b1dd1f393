/*
 * json.c: the strict config reader declared in json.h.
 *
 * One pass over the text with a cursor; the first problem ends the read with a message.
 * Configs are small and read once per instance, so clarity wins over speed here: keys are
 * decoded into a temporary copy so escaped keys compare like plain ones.
 */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys are shown as written; a longer one is cut here so the message stays readable. */
#define SHOWN_KEY_MAX 64

typedef struct reader {
    const uint8_t *start;
    const uint8_t *p;
    const uint8_t *end;
    char *err;
    size_t err_size;
    size_t err_len;
} reader;

/* A key as it appears between its quotes, escapes and all: printable and valid UTF-8. */
typedef struct raw_key {
    const uint8_t *ptr;
    size_t len;
} raw_key;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void append(reader *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->err_size == 0 || r->err_len >= r->err_size - 1) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(r->err + r->err_len, r->err_size - r->err_len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        r->err_len += (size_t)n;
        if (r->err_len > r->err_size - 1) {
            r->err_len = r->err_size - 1;
        }
    }
}

static bool syntax(reader *r, const char *what)
{
    append(r, "invalid JSON at byte %zu: %s", (size_t)(r->p - r->start), what);
    return false;
}

static void append_raw_key(reader *r, raw_key key)
{
    size_t shown = key.len;
    const char *ellipsis = "";

    if (shown > SHOWN_KEY_MAX) {
        shown = SHOWN_KEY_MAX;
        /* Back off to the start of a UTF-8 sequence: the host expects UTF-8 messages. */
        while (shown > 0 && (key.ptr[shown] & 0xC0) == 0x80) {
            shown--;
        }
        ellipsis = "...";
    }
    append(r, "\"%.*s%s\"", (int)shown, (const char *)key.ptr, ellipsis);
}

static const char *kind_name(evh_ex_json_kind kind)
{
    switch (kind) {
    case EVH_EX_JSON_UINT:
        return "an unsigned integer";
    case EVH_EX_JSON_STRING:
        return "a string";
    case EVH_EX_JSON_BOOL:
        return "true or false";
    }
    return "a value";
}

static bool at_literal(const reader *r, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(r->end - r->p) >= n && memcmp(r->p, word, n) == 0;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Names the value at the cursor for a "got ..." message; NULL when no value starts there. */
static const char *describe_value(const reader *r)
{
    switch (*r->p) {
    case '"':
        return "a string";
    case '{':
        return "an object";
    case '[':
        return "an array";
    case '-':
        return "a negative number";
    default:
        break;
    }
    if (is_digit(*r->p)) {
        return "a number";
    }
    if (at_literal(r, "true") || at_literal(r, "false")) {
        return "a boolean";
    }
    if (at_literal(r, "null")) {
        return "null";
    }
    return NULL;
}

static bool wrong_type(reader *r, const evh_ex_json_field *f, const char *got)
{
    append(r, "key \"%s\" must be %s, e.g. %s; got %s", f->key, kind_name(f->kind), f->example,
           got);
    return false;
}

static bool wrong_value(reader *r, const evh_ex_json_field *f)
{
    const char *got = describe_value(r);
    return got == NULL ? syntax(r, "expected a value") : wrong_type(r, f, got);
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Reads the 4 hex digits after "\u" at s; `limit` is the closing quote, which is no digit. */
static bool read_hex4(const uint8_t *s, const uint8_t *limit, uint32_t *out)
{
    uint32_t v = 0;
    int i;

    if (limit - s < 4) {
        return false;
    }
    for (i = 0; i < 4; i++) {
        int d = hex_value(s[i]);
        if (d < 0) {
            return false;
        }
        v = (v << 4) | (uint32_t)d;
    }
    *out = v;
    return true;
}

static size_t put_utf8(uint8_t *dst, uint32_t cp)
{
    if (cp < 0x80) {
        dst[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (uint8_t)(0xC0 | (cp >> 6));
        dst[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (uint8_t)(0xE0 | (cp >> 12));
        dst[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        dst[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (uint8_t)(0xF0 | (cp >> 18));
    dst[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    dst[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    dst[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Reads the string at the cursor (which is on its opening quote) into a malloc'd,
 * NUL-terminated copy. Escapes only ever shrink text (\uXXXX is 6 bytes for at most 3,
 * a surrogate pair 12 for 4), so the raw length bounds the copy.
 */
static bool read_string(reader *r, char **out, size_t *out_len, raw_key *raw)
{
    const uint8_t *begin = r->p + 1;
    const uint8_t *close = begin;
    const uint8_t *s;
    uint8_t *copy;
    size_t n = 0;

    while (close < r->end && *close != '"') {
        if (*close < 0x20) {
            r->p = close;
            return syntax(r, "control character in a string (write it as an escape)");
        }
        if (*close == '\\') {
            /* Skip the escaped character, so an escaped quote does not end the string. */
            if (r->end - close < 2) {
                close = r->end;
                break;
            }
            close++;
        }
        close++;
    }
    if (close >= r->end) {
        return syntax(r, "unterminated string");
    }

    copy = malloc((size_t)(close - begin) + 1);
    if (copy == NULL) {
        append(r, "out of memory");
        return false;
    }
    for (s = begin; s < close;) {
        uint32_t cp, low;

        if (*s != '\\') {
            copy[n++] = *s++;
            continue;
        }
        switch (s[1]) {
        case '"': copy[n++] = '"'; s += 2; continue;
        case '\\': copy[n++] = '\\'; s += 2; continue;
        case '/': copy[n++] = '/'; s += 2; continue;
        case 'b': copy[n++] = '\b'; s += 2; continue;
        case 'f': copy[n++] = '\f'; s += 2; continue;
        case 'n': copy[n++] = '\n'; s += 2; continue;
        case 'r': copy[n++] = '\r'; s += 2; continue;
        case 't': copy[n++] = '\t'; s += 2; continue;
        case 'u': break;
        default:
            free(copy);
            r->p = s;
            return syntax(r, "invalid escape in a string");
        }
        if (!read_hex4(s + 2, close, &cp)) {
            free(copy);
            r->p = s;
            return syntax(r, "\\u must be followed by 4 hex digits");
        }
        s += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            free(copy);
            r->p = s - 6;
            return syntax(r, "unpaired surrogate in a \\u escape");
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (close - s < 2 || s[0] != '\\' || s[1] != 'u' || !read_hex4(s + 2, close, &low)
                || low < 0xDC00 || low > 0xDFFF) {
                free(copy);
                r->p = s - 6;
                return syntax(r, "unpaired surrogate in a \\u escape");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            s += 6;
        }
        n += put_utf8(copy + n, cp);
    }
    copy[n] = '\0';

    raw->ptr = begin;
    raw->len = (size_t)(close - begin);
    r->p = close + 1;
    *out = (char *)copy;
    *out_len = n;
    return true;
}

static bool read_uint(reader *r, const evh_ex_json_field *f)
{
    uint64_t v = 0;

    if (!is_digit(*r->p)) {
        return wrong_value(r, f);
    }
    if (*r->p == '0' && r->p + 1 < r->end && is_digit(r->p[1])) {
        return syntax(r, "a number must not have leading zeros");
    }
    while (r->p < r->end && is_digit(*r->p)) {
        uint64_t d = (uint64_t)(*r->p - '0');
        if (v > (UINT64_MAX - d) / 10) {
            append(r, "key \"%s\" is too large (at most %llu)", f->key,
                   (unsigned long long)UINT64_MAX);
            return false;
        }
        v = v * 10 + d;
        r->p++;
    }
    if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E')) {
        return wrong_type(r, f, "a number with a fraction or exponent");
    }
    *f->out_uint = v;
    return true;
}

static bool read_bool(reader *r, const evh_ex_json_field *f)
{
    if (at_literal(r, "true")) {
        *f->out_bool = true;
        r->p += 4;
        return true;
    }
    if (at_literal(r, "false")) {
        *f->out_bool = false;
        r->p += 5;
        return true;
    }
    return wrong_value(r, f);
}

static bool read_string_value(reader *r, const evh_ex_json_field *f)
{
    char *value;
    size_t len;
    raw_key raw;

    if (*r->p != '"') {
        return wrong_value(r, f);
    }
    if (!read_string(r, &value, &len, &raw)) {
        return false;
    }
    /* The value becomes a C string (a path, say); a NUL would silently cut it short. */
    if (strlen(value) != len) {
        free(value);
        append(r, "key \"%s\" must not contain a NUL character", f->key);
        return false;
    }
    *f->out_string = value;
    return true;
}

static bool read_value(reader *r, const evh_ex_json_field *f)
{
    if (r->p >= r->end) {
        return syntax(r, "expected a value");
    }
    switch (f->kind) {
    case EVH_EX_JSON_UINT:
        return read_uint(r, f);
    case EVH_EX_JSON_STRING:
        return read_string_value(r, f);
    case EVH_EX_JSON_BOOL:
        return read_bool(r, f);
    }
    return syntax(r, "expected a value");
}

static void skip_space(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) {
        r->p++;
    }
}

static bool at(const reader *r, uint8_t c)
{
    return r->p < r->end && *r->p == c;
}

static bool unknown_key(reader *r, raw_key key, const evh_ex_json_field *fields, size_t n)
{
    size_t i;

    append(r, "unknown key ");
    append_raw_key(r, key);
    append(r, "; accepted keys: ");
    for (i = 0; i < n; i++) {
        append(r, "%s\"%s\"", i == 0 ? "" : ", ", fields[i].key);
    }
    return false;
}

/* Reads one `"key": value` member, marking its field in *seen. */
static bool read_member(reader *r, const evh_ex_json_field *fields, size_t n, uint64_t *seen)
{
    char *key;
    size_t key_len, i;
    raw_key raw;

    if (!at(r, '"')) {
        return syntax(r, "expected a key in double quotes");
    }
    if (!read_string(r, &key, &key_len, &raw)) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if (strlen(fields[i].key) == key_len && memcmp(fields[i].key, key, key_len) == 0) {
            break;
        }
    }
    free(key);
    if (i == n) {
        return unknown_key(r, raw, fields, n);
    }
    if (*seen & ((uint64_t)1 << i)) {
        append(r, "key ");
        append_raw_key(r, raw);
        append(r, " appears twice");
        return false;
    }

    skip_space(r);
    if (!at(r, ':')) {
        return syntax(r, "expected ':' after a key");
    }
    r->p++;
    skip_space(r);
    if (!read_value(r, &fields[i])) {
        return false;
    }
    *seen |= (uint64_t)1 << i;
    return true;
}

static bool read_object(reader *r, const evh_ex_json_field *fields, size_t n, uint64_t *seen)
{
    size_t i;

    skip_space(r);
    if (!at(r, '{')) {
        return syntax(r, "expected '{' (the config must be a JSON object)");
    }
    r->p++;
    skip_space(r);
    if (at(r, '}')) {
        r->p++;
    } else {
        for (;;) {
            if (!read_member(r, fields, n, seen)) {
                return false;
            }
            skip_space(r);
            if (at(r, ',')) {
                r->p++;
                skip_space(r);
                continue;
            }
            if (at(r, '}')) {
                r->p++;
                break;
            }
            return syntax(r, "expected ',' or '}'");
        }
    }
    skip_space(r);
    if (r->p != r->end) {
        return syntax(r, "unexpected text after the object");
    }

    for (i = 0; i < n; i++) {
        if (fields[i].required && !(*seen & ((uint64_t)1 << i))) {
            append(r, "missing required key \"%s\" (%s, e.g. %s)", fields[i].key,
                   kind_name(fields[i].kind), fields[i].example);
            return false;
        }
    }
    return true;
}

bool evh_ex_json_read_object(const uint8_t *text, size_t len, const evh_ex_json_field *fields,
                             size_t fields_len, char *err, size_t err_size)
{
    static const uint8_t empty[1] = { 0 };
    reader r;
    uint64_t seen = 0;
    size_t i;

    if (text == NULL) {
        text = empty;
        len = 0;
    }
    r.start = text;
    r.p = text;
    r.end = text + len;
    r.err = err;
    r.err_size = err_size;
    r.err_len = 0;
    if (err_size > 0) {
        err[0] = '\0';
    }

    /* `seen` is a bit set; schemas are a handful of keys. */
    if (fields_len > 64) {
        append(&r, "internal error: more than 64 config keys");
        return false;
    }
    if (read_object(&r, fields, fields_len, &seen)) {
        return true;
    }
    for (i = 0; i < fields_len; i++) {
        if (fields[i].kind == EVH_EX_JSON_STRING && (seen & ((uint64_t)1 << i))) {
            free(*fields[i].out_string);
            *fields[i].out_string = NULL;
        }
    }
    return false;
}
