package evhost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DecodeConfig decodes an instance's JSON config into v, a pointer, with
// encoding/json's rules plus one: a key v has no field for is an error, so a typo in the
// host's config is reported instead of ignored. Errors name the offending key:
//
//	config: unknown key "cuont"
//	config: key "count": want uint64, got string
//
// Empty config decodes as {}. Use pointer fields to tell a missing key from a zero value,
// and return the error from your factory: the host shows it with the instance's name.
func DecodeConfig(config []byte, v any) error {
	if len(bytes.TrimSpace(config)) == 0 {
		config = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return configError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("config: unexpected data after the JSON object")
	}
	return nil
}

func configError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		key := typeErr.Field
		if key == "" {
			return fmt.Errorf("config: want %s, got %s", typeErr.Type, typeErr.Value)
		}
		return fmt.Errorf("config: key %q: want %s, got %s", key, typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("config: invalid JSON at byte %d: %v", syntaxErr.Offset, err)
	}
	// encoding/json reports unknown fields only as text: `json: unknown field "x"`.
	if key, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("config: unknown key %s", key)
	}
	return fmt.Errorf("config: %s", strings.TrimPrefix(err.Error(), "json: "))
}
