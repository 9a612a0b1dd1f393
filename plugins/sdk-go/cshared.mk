# cshared.mk: the one recipe for a Go plugin library built on this SDK, shared by the Go
# example (plugins/examples/go/Makefile) and the Go fixtures (tests/fixtures/go/Makefile).
# The including Makefile sets OUT and LIB_NAME, and may add prerequisites to $(LIB).

SDK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
GO      ?= go
export GO

LIB      := $(OUT)/$(LIB_NAME).so
SRCS     := go.mod $(wildcard *.go)
SDK_SRCS := $(SDK_DIR)/go.mod $(wildcard $(SDK_DIR)/*.go $(SDK_DIR)/internal/*/*.go \
                                         $(SDK_DIR)/internal/*/*.c $(SDK_DIR)/internal/*/*.h)

.PHONY: all check-go
all: $(LIB)

# Run every time, before anything else: a missing or old Go is an error, never a skip.
check-go:
	@$(SDK_DIR)/check-go.sh

# cgo's own header for the main package is of no use to anyone: evhost.h is the ABI.
$(LIB): $(SRCS) $(SDK_SRCS) | check-go
	@mkdir -p $(OUT)
	$(GO) build -buildmode=c-shared -trimpath -buildvcs=false -o $@ .
	@rm -f $(OUT)/$(LIB_NAME).h
