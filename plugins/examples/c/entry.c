/*
 * entry.c: the library's one export. It checks the host speaks our ABI major and answers
 * with the static description of its plugins (util.h's EVH_EX_EXPORT_LIBRARY). It keeps no
 * copy of `api`: every instance gets it again through evh_create_args, so there is no
 * global state.
 */
#include "evhost.h"
#include "plugins.h"
#include "util.h"

EVH_EX_EXPORT_LIBRARY(&evh_ex_sequence_plugin, &evh_ex_digest_plugin, &evh_ex_count_plugin,
                      &evh_ex_print_plugin)
