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
		{"sequence", `{}`, `config: "count" is required: the number of events to emit, e.g. {"count": 1000}`,
			func(c []byte) error { _, err := newSequence(nil, c); return err }},
		{"sequence", `{"count": 1, "batch": 0}`, `config: "batch" must be between 1 and 1048576`,
			func(c []byte) error { _, err := newSequence(nil, c); return err }},
		{"sequence", `{"count": -1}`, `config: key "count": want uint64, got number -1`,
			func(c []byte) error { _, err := newSequence(nil, c); return err }},
		{"digest", `{}`, `config: "path" is required: the file the digest is written to on stop`,
			func(c []byte) error { _, err := newDigest(nil, c); return err }},
		{"count", `{"pth": "x"}`, `config: unknown key "pth"`,
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
