package evhost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/evhost/evhost/plugins/sdk-go/internal/abi"
)

// DecodeConfig decodes an instance's JSON config into v, a pointer, with
// encoding/json's rules plus one: a key v has no field for is an error, so a typo in the
// host's config is reported instead of ignored. A mistake comes back as a *ConfigError,
// worded as the host words its own config errors and naming the key:
//
//	unknown key `cuont`; remove it; the keys accepted here are count, batch
//	`count` is a string; write an integer from 0 up
//
// Return it from your factory as it is: the SDK then asks the host's config accessors
// about the key, so that the host reports the mistake in its own words with its caret on
// the key in the config file. Empty config decodes as {}. Use pointer fields to tell a
// missing key from a zero value, and MissingKey for a required one.
func DecodeConfig(config []byte, v any) error {
	if len(bytes.TrimSpace(config)) == 0 {
		config = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return configError(config, v, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &ConfigError{msg: "the config is not JSON: unexpected data after the JSON object"}
	}
	return nil
}

// ConfigError is a mistake in an instance's config, in the host's wording. Key is the
// path of the key at fault as the host writes it ("tls.ca_file"), or "" for the whole
// config.
type ConfigError struct {
	Key string
	msg string
	// How the host's accessors can report it (see HostAccessor); viaHost false: they cannot.
	accessor int
	path     string
	keys     []string
	viaHost  bool
}

func (e *ConfigError) Error() string { return e.msg }

// HostAccessor is for the SDK: which of the host's config accessors reports this mistake
// (and the path and accepted keys to ask it with), when one can.
func (e *ConfigError) HostAccessor() (accessor int, path string, keys []string, ok bool) {
	return e.accessor, e.path, e.keys, e.viaHost
}

// MissingKey is the error for a required key that is absent, in the host's wording;
// example is a whole line such as `count = 1000`.
func MissingKey(key, example string) error {
	return &ConfigError{Key: key, msg: fmt.Sprintf("missing key `%s`; add `%s` to the `config` table", key, example)}
}

func configError(config []byte, v any, err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return wrongType(config, typeErr)
	case errors.As(err, &syntaxErr):
		return &ConfigError{msg: fmt.Sprintf("the config is not JSON: %s at byte %d", syntaxErr, syntaxErr.Offset)}
	}
	// encoding/json reports unknown fields only as text, without the table they are in: the
	// config is walked along v's type to find it.
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		var value any
		if json.Unmarshal(config, &value) == nil {
			if table, key, accepted, others, found := findUnknown(value, reflect.TypeOf(v), ""); found {
				full := join(table, key)
				msg := fmt.Sprintf("unknown key `%s`; remove it", full)
				if len(accepted) > 0 {
					msg += "; the keys accepted here are " + strings.Join(accepted, ", ")
				}
				// The host is told the table's other keys too: what encoding/json accepts
				// beyond the exact names (another case) must not be the key it blames.
				hostKeys := append(append([]string{}, accepted...), others...)
				return &ConfigError{Key: full, msg: msg, accessor: abi.ConfigKeys, path: table, keys: hostKeys, viaHost: true}
			}
		}
	}
	return &ConfigError{msg: "the config: " + strings.TrimPrefix(err.Error(), "json: ")}
}

func wrongType(config []byte, e *json.UnmarshalTypeError) error {
	want, accessor := wanted(e.Type)
	if e.Field == "" {
		return &ConfigError{msg: fmt.Sprintf("the config is %s; write %s", kindOf(e.Value), want)}
	}
	msg := fmt.Sprintf("`%s` is %s; write %s", e.Field, kindOf(e.Value), want)
	if number, ok := strings.CutPrefix(e.Value, "number "); ok {
		msg = fmt.Sprintf("`%s` = %s is out of range; write %s", e.Field, number, want)
	}
	// encoding/json's Field leaves out array indices: only a path through tables is the
	// host's path too.
	return &ConfigError{Key: e.Field, msg: msg, accessor: accessor, path: e.Field, viaHost: accessor >= 0 && throughTables(config, e.Field)}
}

// kindOf names encoding/json's kinds of JSON value as the host does.
func kindOf(value string) string {
	kind, _, _ := strings.Cut(value, " ")
	switch kind {
	case "object":
		return "a table"
	case "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "number":
		return "a number"
	case "string":
		return "a string"
	}
	return value
}

// wanted says what a Go type takes, as the host says it, and which accessor reads it (-1:
// none).
func wanted(t reflect.Type) (string, int) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string", abi.ConfigString
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer", abi.ConfigInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer from 0 up", abi.ConfigUint
	case reflect.Float32, reflect.Float64:
		return "a number", abi.ConfigFloat
	case reflect.Bool:
		return "true or false", abi.ConfigBool
	case reflect.Slice, reflect.Array:
		return "an array", abi.ConfigLen
	case reflect.Struct, reflect.Map:
		return "a table", abi.ConfigKeys
	}
	return "a " + t.String(), -1
}

// throughTables: every segment of the dotted path but the last names a table.
func throughTables(config []byte, path string) bool {
	var value any
	if json.Unmarshal(config, &value) != nil {
		return false
	}
	segments := strings.Split(path, ".")
	for _, segment := range segments[:len(segments)-1] {
		table, ok := value.(map[string]any)
		if !ok {
			return false
		}
		value = table[segment]
	}
	_, ok := value.(map[string]any)
	return ok
}

// findUnknown walks value along t and answers the first key (in order) that t has no
// field for: the path of its table, the key, the keys accepted there, and the table's
// other keys.
func findUnknown(value any, t reflect.Type, path string) (table, key string, accepted, others []string, found bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		object, ok := value.(map[string]any)
		if !ok {
			return
		}
		fields, names := jsonFields(t)
		for _, k := range sortedKeys(object) {
			field, known := lookupField(fields, k)
			if !known {
				for _, other := range sortedKeys(object) {
					if _, exact := fields[other]; other != k && !exact {
						others = append(others, other)
					}
				}
				return path, k, names, others, true
			}
			if table, key, accepted, others, found = findUnknown(object[k], field, join(path, k)); found {
				return
			}
		}
	case reflect.Map:
		if object, ok := value.(map[string]any); ok {
			for _, k := range sortedKeys(object) {
				if table, key, accepted, others, found = findUnknown(object[k], t.Elem(), join(path, k)); found {
					return
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if array, ok := value.([]any); ok {
			for i, element := range array {
				if table, key, accepted, others, found = findUnknown(element, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); found {
					return
				}
			}
		}
	}
	return
}

// jsonFields are the JSON names of a struct's fields (embedded structs' included), with
// their types, and the names in order.
func jsonFields(t reflect.Type) (map[string]reflect.Type, []string) {
	fields := map[string]reflect.Type{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			inner, innerNames := jsonFields(f.Type)
			for k, v := range inner {
				fields[k] = v
			}
			names = append(names, innerNames...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names
}

// lookupField matches a key as encoding/json does: exactly, else ignoring case.
func lookupField(fields map[string]reflect.Type, key string) (reflect.Type, bool) {
	if t, ok := fields[key]; ok {
		return t, true
	}
	for name, t := range fields {
		if strings.EqualFold(name, key) {
			return t, true
		}
	}
	return nil, false
}

func sortedKeys(object map[string]any) []string {
	keys := make([]string, 0, len(object))
	for k := range object {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(table, key string) string {
	if table == "" {
		return key
	}
	return table + "." + key
}
