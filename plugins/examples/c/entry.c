/*
 * entry.c: the library's one export. It checks the host speaks our ABI major and answers
 * with the static description of its plugins (util.h's evh_ex_library_init). It keeps no
 * copy of `api`: every instance gets it again through evh_create_args, so there is no
 * global state.
 */
#include "evhost.h"
#include "plugins.h"
#include "util.h"

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
    .plugins_len = EVH_EX_LEN(plugins),
};

EVH_EXPORT evh_status evh_library_init(const evh_host_api *api, const evh_library **out)
{
    return evh_ex_library_init(api, out, &library);
}
