#!/bin/sh
# Fails, saying why and how to fix it, unless `go` (or $GO) is Go >= 1.21 with cgo
# available. The Go plugin build calls it first so that a missing or old Go toolchain is
# an error, never a silently skipped library.
set -eu

GO="${GO:-go}"
need_major=1
need_minor=21

install_hint() {
    cat >&2 <<'HINT'
  Install Go >= 1.21, either
    - the official tarball: https://go.dev/dl/ (unpack to /usr/local/go, add /usr/local/go/bin to PATH), or
    - your distribution's package, if it is new enough: `apt-get install golang-go`
      (Debian 13 / Ubuntu 24.04 or later; Debian 12 ships 1.19: use a golang-1.2x package
      from bookworm-backports, or the tarball).
  Or point GO=/path/to/go at a suitable toolchain.
HINT
}

if ! command -v "$GO" >/dev/null 2>&1; then
    echo "error: the Go plugins need Go >= $need_major.$need_minor, but '$GO' is not on PATH." >&2
    install_hint
    exit 1
fi

# "go version go1.26.8 linux/amd64", "go version go1.22rc1 ...", "go version devel go1.27-abc ..."
version=$("$GO" version | sed -n 's/.*go\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p')
major=${version% *}
minor=${version#* }
if [ -z "$version" ] || [ "$major" -lt "$need_major" ] ||
    { [ "$major" -eq "$need_major" ] && [ "$minor" -lt "$need_minor" ]; }; then
    echo "error: the Go plugins need Go >= $need_major.$need_minor (older Go costs ~1.5 us per host call);" \
        "found: $("$GO" version)." >&2
    install_hint
    exit 1
fi

if [ "$("$GO" env CGO_ENABLED)" != "1" ]; then
    echo "error: Go plugins are built with cgo, but cgo is disabled (CGO_ENABLED=$("$GO" env CGO_ENABLED))." >&2
    echo "  Go turns cgo off when it finds no C compiler: install one (\`apt-get install gcc\`)" \
        "or set CC, and do not set CGO_ENABLED=0." >&2
    exit 1
fi
