/*
 * entry.c: the library's one export. It checks the host speaks our ABI major and answers
 * with the static description of its plugins. It keeps no copy of `api`: every
 * instance gets it again through evh_create_args, so there is no global state.
 */
#include "evhost.h"
#include "plugins.h"

static const evh_plugin *const plugins[] = {
    &evh_ex_sequence_plugin,
    &evh_ex_digest_plugin,
    &evh_ex_count_plugin,
    &evh_ex_print_plugin,
};

static const evh_library library = {
    .struct_size = sizeof(evh_library),
    .abi_major = EVH_ABI_VERSION_MAJOR,
    .abi_minor = EVH_ABI_VERSION_MINOR,
    .flags = 0,
    .plugins = plugins,
    .plugins_len = sizeof plugins / sizeof plugins[0],
};

EVH_EXPORT evh_status evh_library_init(const evh_host_api *api, const evh_library **out)
{
    if (api == NULL || out == NULL) {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    /* The host checks our minor against its own; the major must match on both sides. */
    if (api->abi_major != EVH_ABI_VERSION_MAJOR) {
        return EVH_ERR_VERSION;
    }
    *out = &library;
    return EVH_OK;
}
