package store_test

import (
	"testing"
	"time"

	"github.com/dird/dird/store"
)

func TestParseGeneralizedTime(t *testing.T) {
	at := func(h, m, s, ns int) time.Time { return time.Date(2024, 3, 1, h, m, s, ns, time.UTC) }
	tests := []struct {
		name string
		in   string
		want time.Time
	}{
		{"seconds in UTC", "20240301120000Z", at(12, 0, 0, 0)},
		{"hours only", "2024030112Z", at(12, 0, 0, 0)},
		{"minutes", "202403011230Z", at(12, 30, 0, 0)},
		{"positive offset", "20240301130000+0100", at(12, 0, 0, 0)},
		{"negative offset", "20240301113000-0030", at(12, 0, 0, 0)},
		{"fraction of a second", "20240301120000.5Z", at(12, 0, 0, 500000000)},
		{"comma as decimal mark", "20240301120000,25Z", at(12, 0, 0, 250000000)},
		{"microseconds", "20240301120000.123456Z", at(12, 0, 0, 123456000)},
		{"fraction beyond nanoseconds is cut", "20240301120000.1234567891Z", at(12, 0, 0, 123456789)},
		{"fraction of a minute", "202403011159.5Z", at(11, 59, 30, 0)},
		{"fraction of an hour", "2024030111.5Z", at(11, 30, 0, 0)},
		{"large fraction of an hour", "2024030111.99Z", at(11, 59, 24, 0)},
		{"surrounding spaces", " 20240301120000Z ", at(12, 0, 0, 0)},
		{"year zero locks until unlocked", "000001010000Z", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := store.ParseGeneralizedTime(tt.in)
			if err != nil {
				t.Fatalf("ParseGeneralizedTime(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("ParseGeneralizedTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
			// FormatTime keeps microseconds.
			back, err := store.ParseGeneralizedTime(store.FormatTime(got))
			if err != nil || !back.Equal(got.Truncate(time.Microsecond)) {
				t.Errorf("FormatTime %q parses as %v, %v; want %v", store.FormatTime(got), back, err, got)
			}
		})
	}
	for _, in := range []string{"", "2024", "20240301120000", "2024030112000Z", "2024030112x000Z",
		"20241301000000Z", "20240301120000+01", "20240301120000+ab00"} {
		t.Run("refuses "+in, func(t *testing.T) {
			if got, err := store.ParseGeneralizedTime(in); err == nil {
				t.Errorf("ParseGeneralizedTime(%q) = %v, want an error", in, got)
			}
		})
	}
}

func TestFormatTime(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"whole seconds have no fraction", time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC), "20240301120000Z"},
		{"fraction without trailing zeros", time.Date(2024, 3, 1, 12, 0, 0, 500000000, time.UTC), "20240301120000.5Z"},
		{"microseconds kept", time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC), "20240301120000.123456Z"},
		{"other zones in UTC", time.Date(2024, 3, 1, 13, 0, 0, 0, time.FixedZone("", 3600)), "20240301120000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.FormatTime(tt.in); got != tt.want {
				t.Errorf("FormatTime = %q, want %q", got, tt.want)
			}
		})
	}
}
