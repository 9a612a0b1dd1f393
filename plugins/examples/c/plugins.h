/*
 * plugins.h: the plugin descriptors this library carries, each defined next to its hooks
 * and gathered by entry.c into the library description.
 */
#ifndef EVH_EX_PLUGINS_H
#define EVH_EX_PLUGINS_H

#include "evhost.h"

/* The plugins' own version, reported to `evhost inspect`. */
#define EVH_EX_VERSION "0.1.0"

extern const evh_plugin evh_ex_sequence_plugin;
extern const evh_plugin evh_ex_digest_plugin;
extern const evh_plugin evh_ex_count_plugin;
extern const evh_plugin evh_ex_print_plugin;

#endif /* EVH_EX_PLUGINS_H */
