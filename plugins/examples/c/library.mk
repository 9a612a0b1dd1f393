# library.mk: the one recipe for a strict C plugin library, shared by the C example
# (plugins/examples/c/Makefile) and the C fixtures (tests/fixtures/c/Makefile). The including
# Makefile sets OUT, LIB_NAME, SRCS and HDRS (absolute paths), and may add EXTRA_INCLUDES.
# One compiler call builds the library: a few small files compile in well under a second,
# and no object files land in the source tree.

LIBRARY_MK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
INCLUDE        := $(abspath $(LIBRARY_MK_DIR)/../../../include)

CC      ?= cc
CFLAGS  ?= -O2
# -z defs: an undefined symbol fails the link here, not the host's dlopen later.
LDFLAGS ?= -Wl,-z,defs
# Not overridable: the plugins promise strict C11 against the header, and only
# evh_library_init exported (-fvisibility=hidden; the header marks it EVH_EXPORT).
EVH_CFLAGS := -std=c11 -Wall -Wextra -Werror -pedantic -fPIC -shared -fvisibility=hidden \
              -I$(INCLUDE) $(addprefix -I,$(EXTRA_INCLUDES))

LIB := $(OUT)/$(LIB_NAME)

.PHONY: all clean
all: $(LIB)

$(LIB): $(SRCS) $(HDRS) $(INCLUDE)/evhost.h $(MAKEFILE_LIST) | $(OUT)
	$(CC) $(EVH_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS)

$(OUT):
	mkdir -p $@

clean:
	rm -f $(LIB)
