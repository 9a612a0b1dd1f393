package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The plugins' behaviour on real events is checked end to end by the host's tests (and
// by the known digest vector in plugins/examples/c/README.md); these cover what needs no host.

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, config, want string
		create             func([]byte) error
	}{
		{"sequence", `{}`, "missing key `count`; add `count = 1000` to the `config` table",
			func(c []byte) error { _, err := newSequence(nil, c); return err }},
		{"sequence", `{"count": 1, "batch": 0}`, "`batch` = 0 is out of range; write an integer from 1 to 1048576",
			func(c []byte) error { _, err := newSequence(nil, c); return err }},
		{"sequence", `{"count": -1}`, "`count` = -1 is out of range; write an integer from 0 up",
			func(c []byte) error { _, err := newSequence(nil, c); return err }},
		{"digest", `{}`, "missing key `path`; add `path = \"digest.json\"` to the `config` table",
			func(c []byte) error { _, err := newDigest(nil, c); return err }},
		{"count", `{"pth": "x"}`, "unknown key `pth`; remove it; the keys accepted here are path",
			func(c []byte) error { _, err := newCount(nil, c); return err }},
	} {
		if err := tc.create([]byte(tc.config)); err == nil || err.Error() != tc.want {
			t.Errorf("%s %s: %v, want %q", tc.name, tc.config, err, tc.want)
		}
	}
}

func TestDigestOutputFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "digest.json")
	c, err := newDigest(nil, []byte(`{"path": "`+path+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	c.Stop()
	got, _ := os.ReadFile(path)
	if want := "{\"count\": 0, \"digest\": \"cbf29ce484222325\", \"in_order\": true}\n"; string(got) != want {
		t.Fatalf("wrote %q, want %q", got, want)
	}
}
