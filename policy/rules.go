package policy

// This file holds the password quality rules applied to every new password,
// whatever front it arrives through. They are pure functions of the rules,
// the password and the account's context words.

//go:generate go run gen_common.go

import (
	"bufio"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Rules are the configured password quality rules (the policy: section).
type Rules struct {
	// MinLength counts Unicode code points, as NIST SP 800-63B asks.
	// Zero or less still refuses the empty password.
	MinLength int
	// MaxLength counts UTF-8 bytes, so that every front can carry the
	// password (RADIUS PAP: 128 bytes). Zero or less, or more than
	// MaxPasswordBytes, means MaxPasswordBytes.
	MaxLength int
	// Composition rules, off by default (NIST rev 4 and ASVS advise
	// against them). Upper and lower mean unicode.IsUpper/IsLower, so É
	// counts; digit means unicode.IsDigit; a symbol is any other
	// character that is neither a letter nor a number, space and emoji
	// included.
	RequireUpper, RequireLower, RequireDigit, RequireSymbol bool
	// RejectCommon refuses passwords on the embedded list of common and
	// breached passwords, and passwords that are only a repeated or
	// sequential run of characters.
	RejectCommon bool
	// Blocklist holds extra forbidden passwords from policy.blocklist_file,
	// lowercased (see LoadBlocklist). It is applied whenever it is
	// non-empty, independently of RejectCommon, since an administrator who
	// configured a file wants it used.
	Blocklist map[string]struct{}
}

// QualityError says which rule a new password broke. PPolicyError is the
// ppolicy control error number: 5 insufficientPasswordQuality, 6
// passwordTooShort, 9 passwordTooLong (8 passwordInHistory is the door's).
type QualityError struct {
	// Rule is a stable identifier of the broken rule, for tests and logs:
	// "empty", "min_length", "max_length", "characters", "require_upper",
	// "require_lower", "require_digit", "require_symbol", "user_name",
	// "personal_info", "reject_common", "repetitive" or "blocklist".
	Rule         string
	PPolicyError int
	// Message is meant for the person choosing the password. It starts
	// with OpenLDAP's text for PPolicyError and names the rule, because
	// SSSD and the portal show it as it is.
	Message string
}

// Error returns Message unchanged: unlike other errors it is a sentence for
// people, passed verbatim into LDAP diagnostic messages and the portal.
func (e *QualityError) Error() string { return e.Message }

// ppolicy password quality error numbers (draft-behera-ldap-password-policy
// 8.2, the PasswordPolicyResponseValue error field).
const (
	ppInsufficientQuality = 5
	ppTooShort            = 6
	ppTooLong             = 9
)

const (
	msgTooShort = "Password is too short for policy: "
	msgTooLong  = "Password is too long for policy: "
	msgQuality  = "Password fails quality checks: "
)

func qualityErr(rule string, code int, msg string) *QualityError {
	return &QualityError{Rule: rule, PPolicyError: code, Message: msg}
}

// contextMinRunes is the length from which a context word is refused as a
// part of the password, not only as the whole of it. Shorter words ("li",
// "bob") occur by chance in strong passwords too often to forbid.
const contextMinRunes = 4

// CheckQuality applies every rule to a new password and returns a
// *QualityError for the first one broken, or nil. Checks run in this order:
// empty, characters (valid UTF-8, no control characters), min_length,
// max_length, the composition rules, user_name/personal_info, reject_common,
// repetitive, blocklist.
//
// context holds the account's own words: context[0], when given, is the
// login name (uid); the others are further details such as cn, sn,
// givenName, the mail address and the organisation name. The password may
// not equal any of them, nor any of their parts (split at anything that is
// not a letter or digit, so "John Smith" gives "john" and "smith", and
// "jdoe@example.com" gives "jdoe", "example" and "com"), and may not contain
// any of them or their parts that is 4 or more characters long. Comparisons
// ignore case; the password itself is never altered.
func CheckQuality(r Rules, password string, context ...string) error {
	if password == "" {
		return qualityErr("empty", ppTooShort, msgTooShort+"a password is required")
	}
	if !utf8.ValidString(password) {
		return qualityErr("characters", ppInsufficientQuality, msgQuality+"it must be valid UTF-8 text")
	}
	for _, c := range password {
		// Control characters cannot be typed at a login prompt and are
		// cut or mangled by C clients (NUL ends a C string).
		if unicode.IsControl(c) {
			return qualityErr("characters", ppInsufficientQuality, msgQuality+"it must not contain control characters such as tab or newline")
		}
	}
	if n := utf8.RuneCountInString(password); n < r.MinLength {
		unit := "characters"
		if r.MinLength == 1 {
			unit = "character"
		}
		return qualityErr("min_length", ppTooShort, fmt.Sprintf("%sat least %d %s", msgTooShort, r.MinLength, unit))
	}
	if maxLen := r.maxBytes(); len(password) > maxLen {
		return qualityErr("max_length", ppTooLong, fmt.Sprintf("%sat most %d bytes", msgTooLong, maxLen))
	}
	if err := checkComposition(r, password); err != nil {
		return err
	}
	lower := strings.ToLower(password)
	if err := checkContext(lower, context); err != nil {
		return err
	}
	if r.RejectCommon {
		if _, ok := commonPasswords()[lower]; ok {
			return qualityErr("reject_common", ppInsufficientQuality, msgQuality+"it is on the list of common or breached passwords")
		}
		if isRepetitive(lower, r.Blocklist) {
			return qualityErr("repetitive", ppInsufficientQuality, msgQuality+"it is only a repeated or sequential run of characters")
		}
	}
	if _, ok := r.Blocklist[lower]; ok {
		return qualityErr("blocklist", ppInsufficientQuality, msgQuality+"it is on this site's list of forbidden passwords")
	}
	return nil
}

func (r Rules) maxBytes() int {
	if r.MaxLength <= 0 || r.MaxLength > MaxPasswordBytes {
		return MaxPasswordBytes
	}
	return r.MaxLength
}

func checkComposition(r Rules, password string) error {
	var upper, lower, digit, symbol bool
	for _, c := range password {
		switch {
		case unicode.IsUpper(c):
			upper = true
		case unicode.IsLower(c):
			lower = true
		case unicode.IsDigit(c):
			digit = true
		case !unicode.IsLetter(c) && !unicode.IsNumber(c):
			symbol = true
		}
	}
	switch {
	case r.RequireUpper && !upper:
		return qualityErr("require_upper", ppInsufficientQuality, msgQuality+"it must contain an upper-case letter")
	case r.RequireLower && !lower:
		return qualityErr("require_lower", ppInsufficientQuality, msgQuality+"it must contain a lower-case letter")
	case r.RequireDigit && !digit:
		return qualityErr("require_digit", ppInsufficientQuality, msgQuality+"it must contain a digit")
	case r.RequireSymbol && !symbol:
		return qualityErr("require_symbol", ppInsufficientQuality, msgQuality+"it must contain a symbol or punctuation character")
	}
	return nil
}

// checkContext applies the context-word rule (see CheckQuality) to the
// lowercased password.
func checkContext(lower string, context []string) error {
	for i, word := range context {
		word = strings.ToLower(strings.TrimSpace(word))
		if word == "" {
			continue
		}
		parts := strings.FieldsFunc(word, func(c rune) bool {
			return !unicode.IsLetter(c) && !unicode.IsNumber(c)
		})
		for _, w := range append(parts, word) {
			if w == lower || (utf8.RuneCountInString(w) >= contextMinRunes && strings.Contains(lower, w)) {
				if i == 0 {
					return qualityErr("user_name", ppInsufficientQuality, msgQuality+"it must not contain the user name")
				}
				return qualityErr("personal_info", ppInsufficientQuality, msgQuality+"it must not contain your name, e-mail address or other account details")
			}
		}
	}
	return nil
}

// isRepetitive reports whether the lowercased password is a string repeated
// ("aaaaaaaa", "abcabcabc", "passwordpassword") where the repeated unit is
// at most 4 characters or itself a common or blocked password, or a run of
// consecutive code points up or down ("abcdefgh", "98765432"). NIST SP
// 800-63B names repetitive and sequential values among those to refuse.
func isRepetitive(lower string, blocklist map[string]struct{}) bool {
	rs := []rune(lower)
	n := len(rs)
	for unit := 1; unit <= n/2; unit++ {
		periodic := true
		for i := unit; i < n; i++ {
			if rs[i] != rs[i-unit] {
				periodic = false
				break
			}
		}
		if !periodic {
			continue
		}
		if unit <= 4 {
			return true
		}
		u := string(rs[:unit])
		_, common := commonPasswords()[u]
		_, blocked := blocklist[u]
		if common || blocked {
			return true
		}
	}
	if n < 3 {
		return false
	}
	step := rs[1] - rs[0]
	if step != 1 && step != -1 {
		return false
	}
	for i := 2; i < n; i++ {
		if rs[i]-rs[i-1] != step {
			return false
		}
	}
	return true
}

// LoadBlocklist reads a blocklist file: one forbidden password per line,
// compared without regard to case. Surrounding white space is dropped (so a
// password that starts or ends with a space cannot be listed), and empty
// lines and lines starting with '#' are skipped.
func LoadBlocklist(r io.Reader) (map[string]struct{}, error) {
	set := make(map[string]struct{})
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading blocklist: %w", err)
	}
	return set, nil
}

//go:embed commonpasswords.txt
var commonPasswordsText string

// commonPasswords returns the embedded common-password set, built on first
// use (about 47,000 entries; only servers with reject_common pay for it). It
// is private and never modified after it is built. Keys are substrings of
// the embedded text, so the set costs only its map overhead.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 50000)
	for line := range strings.Lines(commonPasswordsText) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[line] = struct{}{}
	}
	return set
})

// Generated password alphabet: ASCII only, so MinLength and MaxLength count
// the same, and without look-alikes (I, l, O, 0, 1), quotes, backslash, '$'
// and space, so the password survives being read aloud, typed from paper,
// pasted into a shell or an LDIF file.
const (
	genUpper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	genLower  = "abcdefghijkmnopqrstuvwxyz"
	genDigit  = "23456789"
	genSymbol = "-_.!@#%+=?*"
	genAll    = genUpper + genLower + genDigit + genSymbol
)

// genDefaultLength gives at least 128 bits of entropy (ASVS 5 11.5.1):
// 22 characters from 68 carry 22*log2(68) = 133.9 bits.
const genDefaultLength = 22

var errGenerate = errors.New("policy: cannot generate a password for these rules")

// GeneratePassword returns a random password from the CSPRNG that satisfies
// r, Require* included: genDefaultLength characters, or MinLength if larger,
// never more than MaxLength. Candidates that break a rule are drawn again,
// which keeps every valid password equally likely.
func GeneratePassword(r Rules) (string, error) {
	n := max(genDefaultLength, r.MinLength)
	n = min(n, r.maxBytes())
	need := 0
	for _, b := range []bool{r.RequireUpper, r.RequireLower, r.RequireDigit, r.RequireSymbol} {
		if b {
			need++
		}
	}
	if n < r.MinLength || n < need || n < 1 {
		return "", fmt.Errorf("generating password of %d characters (min_length %d, max_length %d): %w", n, r.MinLength, r.MaxLength, errGenerate)
	}
	buf := make([]byte, n)
	for range 1000 {
		for i := range buf {
			buf[i] = genAll[randIntn(len(genAll))]
		}
		if CheckQuality(r, string(buf)) == nil {
			return string(buf), nil
		}
	}
	return "", fmt.Errorf("generating password: no valid candidate in 1000 draws: %w", errGenerate)
}

// randIntn returns a uniform random int in [0, n) from crypto/rand, n <= 256,
// rejecting the bytes that would bias the result.
func randIntn(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}
