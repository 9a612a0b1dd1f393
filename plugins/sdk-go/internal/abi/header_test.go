package abi

import (
	"bytes"
	"os"
	"testing"
)

// The module carries its own copy of include/evhost.h so that it builds when fetched on
// its own (a Go module cannot reach files outside its directory). In the repository the
// copy must match the generated header byte for byte.
func TestHeaderCopyMatchesInclude(t *testing.T) {
	want, err := os.ReadFile("../../../../include/evhost.h")
	if os.IsNotExist(err) {
		t.Skip("not inside the evhost repository")
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("evhost.h")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("plugins/sdk-go/internal/abi/evhost.h differs from include/evhost.h; " +
			"refresh it with `make -C plugins/examples/go` (or cp include/evhost.h plugins/sdk-go/internal/abi/)")
	}
}
