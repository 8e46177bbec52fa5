package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"go.yaml.in/yaml/v3"
)

var durationType = reflect.TypeFor[time.Duration]()

// ParseDuration parses a configuration duration: a Go duration ("90s",
// "15m", "2160h"), a number of days ("90d", "1.5d"), or "0" for off.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, durationError(s)
		}
		d := n * float64(24*time.Hour)
		if d > math.MaxInt64 || d < math.MinInt64 {
			return 0, fmt.Errorf("%q is too long", s)
		}
		return time.Duration(d), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, durationError(s)
	}
	return d, nil
}

func durationError(s string) error {
	return fmt.Errorf("%q is not a duration; write e.g. 90s, 15m, 2160h, 7d, or 0 for off", s)
}

// durationHook decodes durations. A bare number other than 0 is refused
// rather than read as nanoseconds, which is what "max_age: 90" would
// otherwise silently mean.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from == durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.String:
		return ParseDuration(reflect.ValueOf(data).String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if reflect.ValueOf(data).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("%v has no unit; write e.g. %vs, %vm, %vd, or 0 for off", data, data, data, data)
	}
	return data, nil
}

// rangeHook refuses a number that does not fit its field. mapstructure
// would store 300 in a uint8 as 44, and -1 in a uint32 as 4294967295.
func rangeHook(from, to reflect.Type, data any) (any, error) {
	if to == durationType {
		return data, nil
	}
	v := reflect.ValueOf(data)
	var out bool
	switch {
	case isInt(to.Kind()) && isInt(from.Kind()):
		out = reflect.Zero(to).OverflowInt(v.Int())
	case isInt(to.Kind()) && isUint(from.Kind()):
		out = v.Uint() > math.MaxInt64 || reflect.Zero(to).OverflowInt(int64(v.Uint()))
	case isUint(to.Kind()) && isInt(from.Kind()):
		out = v.Int() < 0 || reflect.Zero(to).OverflowUint(uint64(v.Int()))
	case isUint(to.Kind()) && isUint(from.Kind()):
		out = reflect.Zero(to).OverflowUint(v.Uint())
	default:
		return data, nil
	}
	if out {
		return nil, fmt.Errorf("%v is out of range, want %s", data, want(to))
	}
	return data, nil
}

func isInt(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Int64
}

func isUint(k reflect.Kind) bool {
	return k >= reflect.Uint && k <= reflect.Uint64
}

// listHook lets an environment variable, which is always a string, set a
// list: "7d,3d,1d" splits on commas, and a value that starts with "[" is
// read as a YAML flow sequence, which is how a list of mappings such as
// radius.clients can be given:
// DIRD_RADIUS_CLIENTS='[{name: ap, address: 10.0.0.0/24, secret: s3cret}]'.
func listHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice {
		return data, nil
	}
	s := strings.TrimSpace(reflect.ValueOf(data).String())
	if strings.HasPrefix(s, "[") {
		var list []any
		if err := yaml.Unmarshal([]byte(s), &list); err != nil {
			return nil, fmt.Errorf("not a YAML list: %s", strings.TrimPrefix(oneLine(err.Error()), "yaml: "))
		}
		return list, nil
	}
	list := []any{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list, nil
}

var invalidKeys = regexp.MustCompile(`^has invalid keys: (.*)$`)

// decodeProblems turns mapstructure's nested, multi-line error into one
// message per problem, each starting with the full key path.
func decodeProblems(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case *mapstructure.DecodeError:
			if inner := x.Unwrap(); hasDecodeError(inner) {
				walk(inner)
				return
			}
			out = append(out, describe(x.Name(), x.Unwrap())...)
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			if inner := x.Unwrap(); hasDecodeError(inner) {
				walk(inner)
				return
			}
			out = append(out, oneLine(e.Error()))
		default:
			out = append(out, oneLine(e.Error()))
		}
	}
	walk(err)
	sort.Strings(out)
	return out
}

func hasDecodeError(err error) bool {
	var de *mapstructure.DecodeError
	return errors.As(err, &de)
}

func describe(name string, err error) []string {
	msg := oneLine(err.Error())
	if m := invalidKeys.FindStringSubmatch(msg); m != nil {
		var out []string
		for _, k := range strings.Split(m[1], ", ") {
			key := joinKey(name, k)
			line := key + ": unknown key"
			if s := suggest(name, k); s != "" {
				line += "; did you mean " + joinKey(name, s) + "?"
			} else {
				line += "; see config.example.yaml for the keys"
			}
			out = append(out, line)
		}
		return out
	}
	var ute *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ute) {
		return []string{fmt.Sprintf("%s: %s, want %s", name, shown(ute.Value), want(ute.Expected.Type()))}
	}
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		return []string{fmt.Sprintf("%s: %s, want %s", name, shown(pe.Value), want(pe.Expected.Type()))}
	}
	return []string{name + ": " + msg}
}

func joinKey(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

func shown(v any) string {
	switch v.(type) {
	case map[string]any, map[any]any:
		return "got a mapping"
	case []any:
		return "got a list"
	}
	return fmt.Sprintf("%q is not valid", fmt.Sprint(v))
}

func want(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 15m or 7d"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return fmt.Sprintf("a whole number from %d to %d", -(int64(1) << (t.Bits() - 1)), int64(1)<<(t.Bits()-1)-1)
	case reflect.Uint, reflect.Uint64:
		return "a whole number from 0"
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return fmt.Sprintf("a whole number from 0 to %d", uint64(1)<<t.Bits()-1)
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping of keys"
	}
	return t.String()
}

// suggest returns the known key under parent closest to the unknown one,
// or "" when none is close enough to be the intended spelling.
func suggest(parent, unknown string) string {
	best, bestDist := "", 3
	for _, k := range childKeys(parent) {
		if d := editDistance(strings.ToLower(unknown), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// childKeys lists the keys directly under parent ("" for the top level,
// "radius.clients[2]" for an element of a list) by walking Config's
// mapstructure tags.
func childKeys(parent string) []string {
	t := reflect.TypeFor[Config]()
	if parent != "" {
		for _, part := range strings.Split(parent, ".") {
			part, _, _ = strings.Cut(part, "[")
			f, ok := fieldByKey(t, part)
			if !ok {
				return nil
			}
			t = f.Type
			for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
		}
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for f := range t.Fields() {
		if k := keyOf(f); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for f := range t.Fields() {
		if keyOf(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func keyOf(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	if tag == "-" {
		return ""
	}
	if tag == "" {
		return strings.ToLower(f.Name)
	}
	return tag
}

// Keys returns every leaf key path of Config, sorted: "ldap.listen",
// "radius.clients" (a list of mappings counts as one key), ...
func Keys() []string {
	var out []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for f := range t.Fields() {
			k := keyOf(f)
			if k == "" {
				continue
			}
			k = joinKey(prefix, k)
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(k, f.Type)
				continue
			}
			out = append(out, k)
		}
	}
	walk("", reflect.TypeFor[Config]())
	sort.Strings(out)
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
