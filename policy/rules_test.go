package policy

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckQuality(t *testing.T) {
	nist := Rules{MinLength: 8, MaxLength: 128, RejectCommon: true}
	all := Rules{MinLength: 8, MaxLength: 128, RequireUpper: true, RequireLower: true, RequireDigit: true, RequireSymbol: true}
	blocked, err := LoadBlocklist(strings.NewReader("# site words\nAcmeCorp2024\n\n  Dird-Rocks  \n"))
	if err != nil {
		t.Fatal(err)
	}
	withBlocklist := Rules{MinLength: 8, Blocklist: blocked}

	for _, tc := range []struct {
		name     string
		r        Rules
		password string
		context  []string
		rule     string // "" means accepted
		code     int
		message  string
	}{
		{name: "ordinary passphrase is accepted", r: nist, password: "violet tractor umbrella"},
		{name: "spaces are accepted and kept", r: nist, password: "  leading and trailing  "},
		{name: "unicode letters are accepted", r: nist, password: "Grüße aus Köln"},
		{name: "emoji are accepted", r: nist, password: "🦊🌲🏔️🚲 ride"},
		{name: "CJK is accepted", r: nist, password: "東京特許許可局長"},
		{name: "64-character password is accepted", r: nist, password: "Sixty-four characters: violet tractor, amber kettle & 9 owls!!!?"},
		{name: "128-byte password is accepted", r: nist, password: strings.Repeat("kT9!x", 25) + "abc"},
		{name: "empty password is refused", r: nist, password: "", rule: "empty", code: 6,
			message: "Password is too short for policy: a password is required"},
		{name: "empty password is refused with no rules", r: Rules{}, password: "", rule: "empty", code: 6},
		{name: "short password is refused", r: nist, password: "Xk3#pQ", rule: "min_length", code: 6,
			message: "Password is too short for policy: at least 8 characters"},
		{name: "length counts characters, not bytes", r: nist, password: "äöüßéèàç"},
		{name: "seven 4-byte emoji are too short", r: nist, password: "🦊🌲🏔🚲🦊🌲🏔", rule: "min_length", code: 6},
		{name: "over max_length bytes is refused", r: nist, password: strings.Repeat("kT9!x", 25) + "abcd", rule: "max_length", code: 9,
			message: "Password is too long for policy: at most 128 bytes"},
		{name: "max_length counts bytes", r: Rules{MaxLength: 10}, password: "ääääää", rule: "max_length", code: 9},
		{name: "no max_length still caps at MaxPasswordBytes", r: Rules{}, password: strings.Repeat("ab", MaxPasswordBytes), rule: "max_length", code: 9},
		{name: "newline is refused", r: nist, password: "violet\ntractor", rule: "characters", code: 5},
		{name: "NUL is refused", r: nist, password: "violet\x00tractor", rule: "characters", code: 5},
		{name: "invalid UTF-8 is refused", r: nist, password: "violet\xfftractor", rule: "characters", code: 5},
		{name: "all classes present passes composition", r: all, password: "Violet-tractor-9"},
		{name: "missing upper-case is refused", r: all, password: "violet-tractor-9", rule: "require_upper", code: 5,
			message: "Password fails quality checks: it must contain an upper-case letter"},
		{name: "missing lower-case is refused", r: all, password: "VIOLET-TRACTOR-9", rule: "require_lower", code: 5,
			message: "Password fails quality checks: it must contain a lower-case letter"},
		{name: "missing digit is refused", r: all, password: "Violet-tractor-x", rule: "require_digit", code: 5,
			message: "Password fails quality checks: it must contain a digit"},
		{name: "missing symbol is refused", r: all, password: "Violettractor9", rule: "require_symbol", code: 5,
			message: "Password fails quality checks: it must contain a symbol or punctuation character"},
		{name: "space counts as a symbol", r: all, password: "Violet tractor 9"},
		{name: "accented capital counts as upper-case", r: all, password: "Élan-vital-99"},
		{name: "common password is refused", r: nist, password: "password1", rule: "reject_common", code: 5,
			message: "Password fails quality checks: it is on the list of common or breached passwords"},
		{name: "common password is refused whatever its case", r: nist, password: "PassWord1", rule: "reject_common", code: 5},
		{name: "common password is refused deep in the list", r: nist, password: "dimazarya", rule: "reject_common", code: 5},
		{name: "common password is allowed when reject_common is off", r: Rules{MinLength: 8}, password: "password1"},
		{name: "repeated character is refused", r: nist, password: "zzzzzzzzzzzzzzzzzz", rule: "repetitive", code: 5},
		{name: "repeated short unit is refused", r: nist, password: "xq7!xq7!xq7!", rule: "repetitive", code: 5},
		{name: "repeated common word is refused", r: nist, password: "sunshinesunshine", rule: "repetitive", code: 5,
			message: "Password fails quality checks: it is only a repeated or sequential run of characters"},
		{name: "ascending run is refused", r: nist, password: "lmnopqrstu", rule: "repetitive", code: 5},
		{name: "descending run is refused", r: nist, password: "9876543210", rule: "repetitive", code: 5},
		{name: "user name is refused", r: nist, password: "JDoe1234!", context: []string{"jdoe"}, rule: "user_name", code: 5,
			message: "Password fails quality checks: it must not contain the user name"},
		{name: "password equal to a short user name is refused", r: Rules{}, password: "Bob", context: []string{"bob"}, rule: "user_name", code: 5},
		{name: "short user name inside the password is allowed", r: nist, password: "bobcat tractor", context: []string{"bob"}},
		{name: "surname from cn is refused", r: nist, password: "smith-family-77", context: []string{"jdoe", "John Smith"}, rule: "personal_info", code: 5,
			message: "Password fails quality checks: it must not contain your name, e-mail address or other account details"},
		{name: "mail local part is refused", r: nist, password: "xx-jane.doe-xx", context: []string{"jd", "jane.doe@example.com"}, rule: "personal_info", code: 5},
		{name: "mail domain word is refused", r: nist, password: "Example#Garden", context: []string{"jd", "jd@example.com"}, rule: "personal_info", code: 5},
		{name: "empty context words are ignored", r: nist, password: "violet tractor", context: []string{"", "  "}},
		{name: "blocklist entry is refused whatever its case", r: withBlocklist, password: "acmecorp2024", rule: "blocklist", code: 5,
			message: "Password fails quality checks: it is on this site's list of forbidden passwords"},
		{name: "blocklist entry is trimmed when loaded", r: withBlocklist, password: "DIRD-ROCKS", rule: "blocklist", code: 5},
		{name: "blocklist does not forbid longer passwords", r: withBlocklist, password: "acmecorp2024 and more"},
		{name: "blocklist comment lines are not entries", r: withBlocklist, password: "# site words"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckQuality(tc.r, tc.password, tc.context...)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("CheckQuality(%q) = %v, want nil", tc.password, err)
				}
				return
			}
			var qe *QualityError
			if !errors.As(err, &qe) {
				t.Fatalf("CheckQuality(%q) = %v, want a *QualityError for %s", tc.password, err, tc.rule)
			}
			if qe.Rule != tc.rule || qe.PPolicyError != tc.code {
				t.Errorf("rule %q code %d, want %q code %d (%s)", qe.Rule, qe.PPolicyError, tc.rule, tc.code, qe.Message)
			}
			if tc.message != "" && qe.Error() != tc.message {
				t.Errorf("message %q, want %q", qe.Error(), tc.message)
			}
		})
	}
}

func TestCheckQualityDoesNotAlterThePassword(t *testing.T) {
	// A password that differs from a common one only by case is still
	// refused, but the check must not leave anything behind that a caller
	// could hash in place of the original: strings are immutable, so this
	// only guards against a future []byte API mutating input.
	pw := "Violet Tractor"
	if err := CheckQuality(Rules{MinLength: 8, RejectCommon: true}, pw); err != nil {
		t.Fatal(err)
	}
	if pw != "Violet Tractor" {
		t.Fatal("password changed")
	}
}

func TestCommonPasswordList(t *testing.T) {
	set := commonPasswords()
	if len(set) < 10000 {
		t.Fatalf("common list has %d entries, want at least 10,000", len(set))
	}
	for _, pw := range []string{"123456", "password", "qwerty", "iloveyou", "letmein"} {
		if _, ok := set[pw]; !ok {
			t.Errorf("%q is not on the common list", pw)
		}
	}
	for pw := range set {
		if pw != strings.ToLower(pw) || strings.HasPrefix(pw, "#") || strings.TrimSpace(pw) != pw {
			t.Errorf("entry %q is not a lowercased, trimmed password", pw)
		}
	}
}

func TestLoadBlocklist(t *testing.T) {
	set, err := LoadBlocklist(strings.NewReader("One\r\ntwo\n#three\n\nFOUR five\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"one", "two", "four five"}
	if len(set) != len(want) {
		t.Errorf("got %d entries %v, want %v", len(set), set, want)
	}
	for _, w := range want {
		if _, ok := set[w]; !ok {
			t.Errorf("missing %q", w)
		}
	}
	t.Run("a read error is returned", func(t *testing.T) {
		if _, err := LoadBlocklist(errReader{}); err == nil {
			t.Error("LoadBlocklist = nil error for a failing reader")
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestGeneratePassword(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       Rules
		wantLen int
	}{
		{"default rules give 22 characters", Rules{}, 22},
		{"NIST profile", Rules{MinLength: 15, MaxLength: 128, RejectCommon: true}, 22},
		{"every class required", Rules{MinLength: 12, MaxLength: 64, RequireUpper: true, RequireLower: true, RequireDigit: true, RequireSymbol: true, RejectCommon: true}, 22},
		{"min_length above the default length", Rules{MinLength: 40, RequireSymbol: true}, 40},
		{"max_length below the default length", Rules{MinLength: 8, MaxLength: 12, RequireDigit: true}, 12},
		{"every class in only four characters", Rules{MinLength: 4, MaxLength: 4, RequireUpper: true, RequireLower: true, RequireDigit: true, RequireSymbol: true}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := make(map[string]bool)
			for range 20 {
				pw, err := GeneratePassword(tc.r)
				if err != nil {
					t.Fatal(err)
				}
				if utf8.RuneCountInString(pw) != tc.wantLen {
					t.Errorf("%q has %d characters, want %d", pw, len(pw), tc.wantLen)
				}
				if err := CheckQuality(tc.r, pw); err != nil {
					t.Errorf("generated %q fails its own rules: %v", pw, err)
				}
				seen[pw] = true
			}
			if tc.wantLen >= 12 && len(seen) != 20 {
				t.Errorf("20 draws gave only %d distinct passwords", len(seen))
			}
		})
	}
	for _, tc := range []struct {
		name string
		r    Rules
	}{
		{"min_length above max_length", Rules{MinLength: 20, MaxLength: 10}},
		{"more required classes than characters", Rules{MaxLength: 3, RequireUpper: true, RequireLower: true, RequireDigit: true, RequireSymbol: true}},
	} {
		t.Run(tc.name+" is an error", func(t *testing.T) {
			if pw, err := GeneratePassword(tc.r); err == nil {
				t.Errorf("GeneratePassword = %q, nil; want an error", pw)
			}
		})
	}
}
