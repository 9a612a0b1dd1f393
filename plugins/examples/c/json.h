/*
 * json.h: a small, strict reader for plugin configs.
 *
 * A plugin's config reaches it as JSON text: one flat object. The reader takes a schema
 * (the accepted keys, their types, whether required) and fills the plugin's variables, so
 * every plugin rejects the same mistakes with the same words: a syntax error with its byte
 * offset, an unknown key with the list of accepted ones, a wrong type with an example,
 * a missing required key. Values are strings, unsigned integers or booleans; anything else
 * (null, arrays, objects, negative or fractional numbers) is refused, not guessed at.
 *
 * The C++ example links this file in too (compiled as C), hence the extern "C" guard.
 */
#ifndef EVH_EX_JSON_H
#define EVH_EX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum evh_ex_json_kind {
    EVH_EX_JSON_UINT,
    EVH_EX_JSON_STRING,
    EVH_EX_JSON_BOOL
} evh_ex_json_kind;

/*
 * One accepted key. Exactly one of the out pointers matching `kind` is used; a key absent
 * from the text leaves its variable untouched, which is how defaults work.
 */
typedef struct evh_ex_json_field {
    const char *key;
    evh_ex_json_kind kind;
    bool required;
    /* A TOML line for messages, since users write TOML: "count = 1000". */
    const char *example;
    uint64_t *out_uint;
    /* Receives a malloc'd NUL-terminated copy; the caller frees it. Embedded NULs are
     * refused, so the copy is a faithful C string. Must be NULL on entry. */
    char **out_string;
    bool *out_bool;
} evh_ex_json_field;

/*
 * Reads `len` bytes of `text` as one JSON object whose keys are all among `fields` (no
 * duplicates) and stores each value through its field. Returns true on success. On failure
 * writes a NUL-terminated message (truncated to err_size) into err, frees the strings it
 * stored and resets their variables to NULL, and returns false; other variables may have
 * been written.
 */
bool evh_ex_json_read_object(const uint8_t *text, size_t len, const evh_ex_json_field *fields,
                             size_t fields_len, char *err, size_t err_size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EVH_EX_JSON_H */
