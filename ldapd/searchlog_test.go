package ldapd

import (
	"testing"

	"github.com/dird/dird/store"
)

// TestLoggableFilter: the debug line of a search never carries a value
// asserted on a secret attribute (a guessed password), and keeps the rest.
func TestLoggableFilter(t *testing.T) {
	tests := []struct {
		name, filter, want string
	}{
		{"ordinary filter unchanged", "(&(uid=alice)(objectClass=posixAccount))", "(&(uid=alice)(objectClass=posixAccount))"},
		{"userPassword equality", "(userPassword=Guess-1234)", "(userPassword=redacted)"},
		{"nested and substrings", "(|(uid=bob)(!(userPassword=*Secret*)))", "(|(uid=bob)(!(userPassword=*redacted*)))"},
		{"presence says nothing", "(userPassword=*)", "(userPassword=*)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := store.ParseFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := loggableFilter(f).String(); got != tt.want {
				t.Errorf("loggableFilter(%s) = %s, want %s", tt.filter, got, tt.want)
			}
		})
	}
}
