package policy

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fastArgon2 keeps argon2 tests that are not about the defaults quick.
var fastArgon2 = HashParams{Argon2Memory: 64, Argon2Time: 1, Argon2Threads: 1}

var argon2Format = regexp.MustCompile(`^\{ARGON2\}\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)

func TestHashPasswordDefaultsAreOpenLDAPArgon2id(t *testing.T) {
	pw := []byte("correct horse battery staple")
	stored, err := HashPassword(pw, HashParams{})
	if err != nil {
		t.Fatal(err)
	}
	m := argon2Format.FindStringSubmatch(stored)
	if m == nil {
		t.Fatalf("stored value %q is not in OpenLDAP's {ARGON2} format", stored)
	}
	mem, _ := strconv.Atoi(m[1])
	tm, _ := strconv.Atoi(m[2])
	p, _ := strconv.Atoi(m[3])
	// ASVS 5 Appendix C / OWASP floor: t=2 needs m >= 19456 KiB, p=1.
	if mem < 19456 || tm < 2 || p != 1 {
		t.Errorf("default parameters m=%d,t=%d,p=%d are below m>=19456,t>=2,p=1", mem, tm, p)
	}
	salt, err := base64.RawStdEncoding.DecodeString(m[4])
	if err != nil || len(salt) != 16 {
		t.Errorf("salt %q: %d bytes, err %v; want 16 bytes of unpadded base64", m[4], len(salt), err)
	}
	key, err := base64.RawStdEncoding.DecodeString(m[5])
	if err != nil || len(key) != 32 {
		t.Errorf("key %q: %d bytes, err %v; want 32 bytes of unpadded base64", m[5], len(key), err)
	}

	for _, tc := range []struct {
		name string
		pw   string
		want bool
	}{
		{"same password verifies", string(pw), true},
		{"wrong password does not verify", "correct horse battery stapler", false},
		{"case is not folded", "Correct horse battery staple", false},
		{"password is not trimmed", string(pw) + " ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := VerifyPassword(stored, []byte(tc.pw))
			if err != nil || ok != tc.want {
				t.Errorf("VerifyPassword = %v, %v; want %v, nil", ok, err, tc.want)
			}
		})
	}
	if NeedsUpgrade(stored, HashParams{}) {
		t.Error("a fresh default hash needs an upgrade")
	}
}

func TestHashPasswordRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      HashParams
		prefix string
	}{
		{"argon2id with small params", fastArgon2, "{ARGON2}$argon2id$v=19$m=64,t=1,p=1$"},
		{"argon2id with several lanes", HashParams{Argon2Memory: 64, Argon2Time: 1, Argon2Threads: 4}, "{ARGON2}$argon2id$v=19$m=64,t=1,p=4$"},
		{"pbkdf2-sha512 in the pw-pbkdf2 format", HashParams{Scheme: "PBKDF2-SHA512"}, "{PBKDF2-SHA512}210000$"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pw := []byte("pässwörd mit Ümläuten 🔑")
			stored, err := HashPassword(pw, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(stored, tc.prefix) {
				t.Errorf("stored %q does not start with %q", stored, tc.prefix)
			}
			if ok, err := VerifyPassword(stored, pw); !ok || err != nil {
				t.Errorf("right password: %v, %v", ok, err)
			}
			if ok, err := VerifyPassword(stored, []byte("pässwörd mit Ümläuten")); ok || err != nil {
				t.Errorf("wrong password: %v, %v", ok, err)
			}
			again, _ := HashPassword(pw, tc.p)
			if again == stored {
				t.Error("two hashes of one password are equal: salt is not random")
			}
			if NeedsUpgrade(stored, tc.p) {
				t.Error("hash made with p needs an upgrade to p")
			}
		})
	}
}

func TestHashPasswordRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		pw   []byte
		p    HashParams
	}{
		{"empty password", nil, fastArgon2},
		{"password over MaxPasswordBytes", []byte(strings.Repeat("a", MaxPasswordBytes+1)), fastArgon2},
		{"weak scheme for new hashes", []byte("x"), HashParams{Scheme: "ssha"}},
		{"argon2 memory under 8 KiB per lane", []byte("x"), HashParams{Argon2Memory: 8, Argon2Time: 1, Argon2Threads: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := HashPassword(tc.pw, tc.p); err == nil {
				t.Errorf("HashPassword = %q, nil; want an error", s)
			}
		})
	}
}

func TestHashParamsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    HashParams
		ok   bool
	}{
		{"defaults", HashParams{}, true},
		{"t=1 m=47104", HashParams{Argon2Time: 1, Argon2Memory: 47104}, true},
		{"t=3 m=12288", HashParams{Argon2Time: 3, Argon2Memory: 12288}, true},
		{"scheme is case-insensitive", HashParams{Scheme: "PBKDF2-SHA512"}, true},
		{"t=2 below 19456 KiB", HashParams{Argon2Memory: 19455}, false},
		{"t=1 below 47104 KiB", HashParams{Argon2Time: 1, Argon2Memory: 19456}, false},
		{"memory above the verify limit", HashParams{Argon2Memory: 2 << 20}, false},
		{"ssha for new hashes", HashParams{Scheme: "ssha"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrHashParams) {
				t.Errorf("error %v does not wrap ErrHashParams", err)
			}
		})
	}
}

// Vectors made by independent implementations on Debian bookworm:
//   - md5crypt and SHA-crypt: `openssl passwd -1|-5|-6 -salt SALT PW` (OpenSSL 3)
//     and `mkpasswd -m sha256crypt|sha512crypt [-R ROUNDS] -S SALT PW` (whois
//     package, glibc/libxcrypt);
//   - bcrypt: `mkpasswd -m bcrypt|bcrypt-a -R 5 PW` ($2b$, $2a$) and
//     `htpasswd -nbB -C 5 u PW` ($2y$, apache2-utils);
//   - argon2: `echo -n PW | argon2 somesaltsomesalt -id|-i -t T -m LOG2M -p P -l LEN -e`
//     (the reference implementation's CLI, package argon2);
//   - {SHA}..{SSHA512}, {MD5}, {SMD5}: python3 hashlib, base64(H(pw+salt)+salt)
//     with salt 0102030405060708;
//   - {PBKDF2*}: python3 hashlib.pbkdf2_hmac with salt bytes 00..0f (and a salt
//     of 0xfb 0xef 0xbe bytes, whose base64 is all '+', to exercise the '.'
//     of adapted base64), encoded as pw-pbkdf2 does.
const vectorPassword = "correct horse"

var schemeVectors = []struct {
	name, stored, password string
}{
	{"md5crypt", "{CRYPT}$1$saltsalt$NuzA7WTAelpl95xgBGWN60", vectorPassword},
	{"md5crypt with short salt and UTF-8 password", "{CRYPT}$1$ab$bRZzLnQPD1ql12pSoshc71", "pässwörd"},
	{"sha256-crypt", "{CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!"},
	{"sha256-crypt with rounds", "{CRYPT}$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA", "Hello world!"},
	{"sha256-crypt with 16-byte salt", "{CRYPT}$5$0123456789abcdef$GkVfGOcpKLcryIiNM.uN6AQV7DQsJJPqGu0QqsSSMrD", vectorPassword},
	{"sha256-crypt with password longer than a digest", "{CRYPT}$5$rounds=1000$abcdefgh$dXGB1Np5cJiNmUZuKibH2bp4WILkTfbAFhIaEs/Z4Q/", "a much longer password that spans more than one sha256 block of 64 bytes!!"},
	{"sha512-crypt", "{CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"},
	{"sha512-crypt with rounds", "{CRYPT}$6$rounds=5001$shortsalt$Y4kqbOsQv.SB.St8a6mfNsSALOcImlyR6lgOR2QnzTweFOtN9lswdiKObAsG3AsmT6z0MKCmFKg9/EG0vQVZL.", vectorPassword},
	{"sha512-crypt with password longer than a digest", "{CRYPT}$6$ABCDEFGHabcdefgh$Ck4OaFEuHIlLuo3ftoy5o5CmOygZTySTm7Ngg8F8w4npIsnnIjpEymX00.N2ITBBZi959amzXAAx2gVaeiIYn/", "a much longer password that spans more than one sha512 block of 128 bytes, yes it really does go on and on."},
	{"sha512-crypt without {CRYPT}", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"},
	{"lower-case {crypt} tag", "{crypt}$1$saltsalt$NuzA7WTAelpl95xgBGWN60", vectorPassword},
	{"bcrypt $2b$", "{CRYPT}$2b$05$MJ/4qW7HOC2i0jzJloRwjehZ2uWb8apBVCDJxdHikNWsmB.vnnOEi", vectorPassword},
	{"bcrypt $2y$", "{CRYPT}$2y$05$DiRbYxv6k8GxfLfOxg0DJu7sgsAC5PvgdJlxaaF73HI88QnwFt.y6", vectorPassword},
	{"bcrypt $2a$", "{CRYPT}$2a$05$mZDqiROCJPJ8OBKZqlU16e8zQscQ6xMtiPFFC.G8od4cJTMgIrWGq", vectorPassword},
	{"argon2id bare", "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4BnlcpLz5MRq0Izs2E2zIqpIFISeK/m9DFKmAc7uq5Y", vectorPassword},
	{"argon2id with {ARGON2}", "{ARGON2}$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4BnlcpLz5MRq0Izs2E2zIqpIFISeK/m9DFKmAc7uq5Y", vectorPassword},
	{"argon2id with 4 lanes and 16-byte key", "{argon2}$argon2id$v=19$m=256,t=1,p=4$c29tZXNhbHRzb21lc2FsdA$qzT7JBTTjl6s5I6MzGCa2w", vectorPassword},
	{"argon2i", "{ARGON2}$argon2i$v=19$m=256,t=2,p=2$c29tZXNhbHRzb21lc2FsdA$23nZJWEVcV7e+6c0uk3+c/GoEqwhBxVq5uyCuXLwEJU", vectorPassword},
	{"{SHA}", "{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=", vectorPassword},
	{"{SSHA}", "{SSHA}NSZEu/ZzEMKdBO5ESNEYml3qKRYBAgMEBQYHCA==", vectorPassword},
	{"{ssha} lower-case tag", "{ssha}NSZEu/ZzEMKdBO5ESNEYml3qKRYBAgMEBQYHCA==", vectorPassword},
	{"{SHA256}", "{SHA256}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE=", vectorPassword},
	{"{SSHA256}", "{SSHA256}CFsq5JPfiBQ0W3uR5Dnao+9mknEq9a739V+FPkJ6yjABAgMEBQYHCA==", vectorPassword},
	{"{SHA384}", "{SHA384}ArIKby67E2Cppg9M+QhXNj7UGcAisSFWfOX5HG45Zk+3j9YCNMSli1v8cUWumDKS", vectorPassword},
	{"{SSHA384}", "{SSHA384}HifEba0mre/qPk1zTkOCivlXqCbKCMIHVZoLT2gNpUWAqKu82zF4HGxJGzZHrBafAQIDBAUGBwg=", vectorPassword},
	{"{SHA512}", "{SHA512}VraY3v7bWkNbY0r+MyC7rz/c2SC2xQOkRvx7endrKY1HnRumqLYXgI6wv1ec6aldZoNHvKtxSQhayTyyeZUZew==", vectorPassword},
	{"{SSHA512}", "{SSHA512}ggObOJHDWCqgI5uFv/j9yDNYMvdTgt+Toj8d6cGrSG/e+E9GbH4DkQ8y5jY3NblhoGens+zNVX1mZaFy0qwRwwECAwQFBgcI", vectorPassword},
	{"{MD5}", "{MD5}PLTnMmMfR+brlh80VUt83g==", vectorPassword},
	{"{SMD5}", "{SMD5}vPjZQdkpEUFwnJ1WNg63FAECAwQFBgcI", vectorPassword},
	{"{PBKDF2}", "{PBKDF2}10000$AAECAwQFBgcICQoLDA0ODw$/AtELtgmsPDI8LWGK9x0DWVUnSI", vectorPassword},
	{"{PBKDF2-SHA1}", "{PBKDF2-SHA1}1000$AAECAwQFBgcICQoLDA0ODw$ndhWw3a4srcTtr4HQFTLiKRlVuA", vectorPassword},
	{"{PBKDF2-SHA256}", "{PBKDF2-SHA256}29000$AAECAwQFBgcICQoLDA0ODw$ZvLORN3Wu1.2s6Mb0kBKZ43bylSsC/t0Vz5rE9nJPNg", vectorPassword},
	{"{PBKDF2-SHA256} with '.' in adapted base64", "{PBKDF2-SHA256}1000$.....................w$inu/EBpg0qECleeKypc9kzVfX63hp95yXHO9eUdBakk", vectorPassword},
	{"{PBKDF2-SHA512}", "{PBKDF2-SHA512}25000$AAECAwQFBgcICQoLDA0ODw$no0pQATH8VKOEmBWJw50YZrk2tmzRj9Ae6xEw1vLLehsKeOPWOMVonpc79bKsUZLnXvPrnJcFkEt9hwlEgxdKw", vectorPassword},
}

func TestVerifyPasswordImportedSchemes(t *testing.T) {
	for _, tc := range schemeVectors {
		t.Run(tc.name+" verifies the right password", func(t *testing.T) {
			ok, err := VerifyPassword(tc.stored, []byte(tc.password))
			if !ok || err != nil {
				t.Errorf("VerifyPassword = %v, %v; want true, nil", ok, err)
			}
		})
		t.Run(tc.name+" rejects a wrong password", func(t *testing.T) {
			wrong := tc.password[:len(tc.password)-1] + "X"
			ok, err := VerifyPassword(tc.stored, []byte(wrong))
			if ok || err != nil {
				t.Errorf("VerifyPassword = %v, %v; want false, nil", ok, err)
			}
		})
		t.Run(tc.name+" is recognised as hashed", func(t *testing.T) {
			if !IsHashed(tc.stored) {
				t.Error("IsHashed = false")
			}
			if err := CheckHashed(tc.stored); err != nil {
				t.Errorf("CheckHashed = %v", err)
			}
			if !NeedsUpgrade(tc.stored, HashParams{}) {
				t.Error("an imported value does not need an upgrade to the default argon2id")
			}
		})
	}
}

func TestVerifyPasswordNeverMatches(t *testing.T) {
	// bcrypt of 72 'a' bytes, by `mkpasswd -m bcrypt -R 4 $(printf 'a%.0s' {1..72})`.
	const bcrypt72 = "{CRYPT}$2b$05$LVR/vZwcRmVMD33xIhIpYOMk9mWzRAzEyjJJUB8//pftFTteZbWd."
	a72 := strings.Repeat("a", 72)
	if ok, err := VerifyPassword(bcrypt72, []byte(a72)); !ok || err != nil {
		t.Fatalf("72-byte password against its own bcrypt hash: %v, %v", ok, err)
	}
	for _, tc := range []struct {
		name, stored, password string
	}{
		// bcrypt itself would accept these: it reads only 72 bytes.
		{"73-byte password against a bcrypt hash of its first 72 bytes", bcrypt72, a72 + "a"},
		{"100-byte password against a bcrypt hash of its first 72 bytes", bcrypt72, a72 + strings.Repeat("b", 28)},
		// `openssl passwd -1 -salt x ''`
		{"empty password against a hash of the empty password", "{CRYPT}$1$x$fwjfZtMwarkdetsjiQreU1", ""},
		{"password longer than MaxPasswordBytes", "{SSHA}NSZEu/ZzEMKdBO5ESNEYml3qKRYBAgMEBQYHCA==", strings.Repeat("x", MaxPasswordBytes+1)},
		{"dummy hash with any password", DummyHash(fastArgon2), "anything"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := VerifyPassword(tc.stored, []byte(tc.password))
			if ok || err != nil {
				t.Errorf("VerifyPassword = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	goodSHA512 := "svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
	for _, tc := range []struct {
		name, stored string
		want         error
	}{
		{"empty value", "", ErrUnknownScheme},
		{"cleartext", "secret", ErrUnknownScheme},
		{"unknown tag", "{FOO}abc", ErrUnknownScheme},
		{"{CLEARTEXT} is not verified", "{CLEARTEXT}secret", ErrUnknownScheme},
		{"unclosed tag", "{SSHA", ErrUnknownScheme},
		{"tag alone", "{SSHA}", ErrMalformedHash},
		{"{SSHA} not base64", "{SSHA}!!!!", ErrMalformedHash},
		{"{SSHA} without salt", "{SSHA}L55TUjtiq8FBorTWAZ0jy6g129A=", ErrMalformedHash},
		{"{SHA} too short", "{SHA}dG9vc2hvcnQ=", ErrMalformedHash},
		{"DES crypt", "{CRYPT}ab01FAX.bQRSU", ErrUnknownScheme},
		{"yescrypt", "{CRYPT}$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7", ErrUnknownScheme},
		{"md5crypt without hash", "{CRYPT}$1$saltsalt", ErrMalformedHash},
		{"md5crypt with 9-byte salt", "{CRYPT}$1$saltsalts$NuzA7WTAelpl95xgBGWN60", ErrMalformedHash},
		{"sha512-crypt hash too short", "{CRYPT}$6$salt$abc", ErrMalformedHash},
		{"sha512-crypt hash with bad character", "{CRYPT}$6$saltstring$" + goodSHA512[:85] + "!", ErrMalformedHash},
		{"sha512-crypt rounds beyond the limit", "{CRYPT}$6$rounds=999999999$saltstring$" + goodSHA512, ErrHashTooCostly},
		{"bcrypt truncated", "{CRYPT}$2b$05$MJ/4qW7HOC2i0jzJloRwje", ErrMalformedHash},
		{"bcrypt cost beyond the limit", "{CRYPT}$2b$31$MJ/4qW7HOC2i0jzJloRwjehZ2uWb8apBVCDJxdHikNWsmB.vnnOEi", ErrHashTooCostly},
		{"bcrypt salt not base64", "{CRYPT}$2b$04$" + strings.Repeat("!", 53), ErrMalformedHash},
		{"argon2d", "$argon2d$v=19$m=256,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$qzT7JBTTjl6s5I6MzGCa2w", ErrUnknownScheme},
		{"argon2 version 16", "$argon2id$m=256,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$qzT7JBTTjl6s5I6MzGCa2w", ErrUnknownScheme},
		{"argon2 bad parameter", "$argon2id$v=19$m=x,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$qzT7JBTTjl6s5I6MzGCa2w", ErrMalformedHash},
		{"argon2 zero passes", "$argon2id$v=19$m=256,t=0,p=1$c29tZXNhbHRzb21lc2FsdA$qzT7JBTTjl6s5I6MzGCa2w", ErrMalformedHash},
		{"argon2 memory below 8 KiB per lane", "$argon2id$v=19$m=8,t=1,p=2$c29tZXNhbHRzb21lc2FsdA$qzT7JBTTjl6s5I6MzGCa2w", ErrMalformedHash},
		{"argon2 short salt", "$argon2id$v=19$m=256,t=1,p=1$c2FsdA$qzT7JBTTjl6s5I6MzGCa2w", ErrMalformedHash},
		{"argon2 missing hash", "$argon2id$v=19$m=256,t=1,p=1$c29tZXNhbHRzb21lc2FsdA", ErrMalformedHash},
		{"argon2 memory beyond the limit", "{ARGON2}$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$qzT7JBTTjl6s5I6MzGCa2w", ErrHashTooCostly},
		{"{ARGON2} with a crypt value", "{ARGON2}$6$saltstring$" + goodSHA512, ErrMalformedHash},
		{"pbkdf2 zero iterations", "{PBKDF2-SHA256}0$AAECAwQFBgcICQoLDA0ODw$ZvLORN3Wu1.2s6Mb0kBKZ43bylSsC/t0Vz5rE9nJPNg", ErrMalformedHash},
		{"pbkdf2 key of the wrong length", "{PBKDF2-SHA512}1000$AAECAwQFBgcICQoLDA0ODw$ZvLORN3Wu1.2s6Mb0kBKZ43bylSsC/t0Vz5rE9nJPNg", ErrMalformedHash},
		{"pbkdf2 missing field", "{PBKDF2-SHA256}1000$AAECAwQFBgcICQoLDA0ODw", ErrMalformedHash},
		{"pbkdf2 iterations beyond the limit", "{PBKDF2-SHA256}100000000$AAECAwQFBgcICQoLDA0ODw$ZvLORN3Wu1.2s6Mb0kBKZ43bylSsC/t0Vz5rE9nJPNg", ErrHashTooCostly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := VerifyPassword(tc.stored, []byte(vectorPassword))
			if ok {
				t.Error("VerifyPassword = true")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
			if err := CheckHashed(tc.stored); !errors.Is(err, tc.want) {
				t.Errorf("CheckHashed = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestIsHashed(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        bool
	}{
		{"{SSHA} value", "{SSHA}NSZEu/ZzEMKdBO5ESNEYml3qKRYBAgMEBQYHCA==", true},
		{"lower-case tag", "{ssha512}abc", true},
		{"tag alone is not cleartext", "{SSHA}", true},
		{"malformed value with a known tag is not cleartext", "{CRYPT}not a crypt value", true},
		{"{ARGON2}", "{ARGON2}$argon2id$v=19$m=19456,t=2,p=1$x$y", true},
		{"{PBKDF2-SHA512}", "{PBKDF2-SHA512}1$a$b", true},
		{"bare argon2id", "$argon2id$v=19$m=19456,t=2,p=1$x$y", true},
		{"bare sha512-crypt", "$6$salt$hash", true},
		{"bare bcrypt", "$2y$10$abc", true},
		{"cleartext", "correct horse", false},
		{"empty", "", false},
		{"unknown tag", "{CLEARTEXT}secret", false},
		{"brace without tag end", "{SSHA", false},
		{"dollar cleartext", "$ecret$", false},
		{"scrypt is not supported", "$7$CU..../....abc", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsHashed(tc.value); got != tc.want {
				t.Errorf("IsHashed(%q) = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

func TestNeedsUpgrade(t *testing.T) {
	salt16 := base64.RawStdEncoding.EncodeToString(make([]byte, 16))
	key32 := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	key16 := base64.RawStdEncoding.EncodeToString(make([]byte, 16))
	argon := func(variant, params, key string) string {
		return "{ARGON2}$" + variant + "$v=19$" + params + "$" + salt16 + "$" + key
	}
	pbkdf := func(iter string) string {
		return "{PBKDF2-SHA512}" + iter + "$" + ab64Encode(make([]byte, 16)) + "$" + ab64Encode(make([]byte, 64))
	}
	def := HashParams{}
	pb := HashParams{Scheme: SchemePBKDF2SHA512}
	for _, tc := range []struct {
		name, stored string
		p            HashParams
		want         bool
	}{
		{"argon2id with the configured params", argon("argon2id", "m=19456,t=2,p=1", key32), def, false},
		{"bare argon2id with the configured params", "$argon2id$v=19$m=19456,t=2,p=1$" + salt16 + "$" + key32, def, false},
		{"argon2id with stronger params", argon("argon2id", "m=65536,t=3,p=2", key32), def, false},
		{"argon2id with less memory", argon("argon2id", "m=12288,t=2,p=1", key32), def, true},
		{"argon2id with fewer passes", argon("argon2id", "m=19456,t=1,p=1", key32), def, true},
		{"argon2id with fewer lanes than configured", argon("argon2id", "m=19456,t=2,p=1", key32), HashParams{Argon2Threads: 2}, true},
		{"argon2id with a short key", argon("argon2id", "m=19456,t=2,p=1", key16), def, true},
		{"argon2i", argon("argon2i", "m=19456,t=2,p=1", key32), def, true},
		{"ssha", "{SSHA}NSZEu/ZzEMKdBO5ESNEYml3qKRYBAgMEBQYHCA==", def, true},
		{"bcrypt", "{CRYPT}$2b$05$MJ/4qW7HOC2i0jzJloRwjehZ2uWb8apBVCDJxdHikNWsmB.vnnOEi", def, true},
		{"pbkdf2-sha512 when argon2id is configured", pbkdf("210000"), def, true},
		{"unparseable value", "{SSHA}", def, true},
		{"pbkdf2-sha512 with the configured iterations", pbkdf("210000"), pb, false},
		{"pbkdf2-sha512 with fewer iterations", pbkdf("100000"), pb, true},
		{"argon2id when pbkdf2-sha512 is configured", argon("argon2id", "m=19456,t=2,p=1", key32), pb, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NeedsUpgrade(tc.stored, tc.p); got != tc.want {
				t.Errorf("NeedsUpgrade = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDummyHash(t *testing.T) {
	t.Run("is cached per params", func(t *testing.T) {
		a, b := DummyHash(fastArgon2), DummyHash(fastArgon2)
		if a != b {
			t.Errorf("two calls gave %q and %q", a, b)
		}
	})
	t.Run("uses the given params", func(t *testing.T) {
		d := DummyHash(fastArgon2)
		if NeedsUpgrade(d, fastArgon2) {
			t.Errorf("dummy %q does not carry the params it was asked for", d)
		}
		if err := CheckHashed(d); err != nil {
			t.Errorf("dummy %q does not parse: %v", d, err)
		}
	})
	t.Run("invalid params fall back to a valid value", func(t *testing.T) {
		d := DummyHash(HashParams{Scheme: "rot13"})
		if err := CheckHashed(d); err != nil {
			t.Errorf("fallback dummy %q: %v", d, err)
		}
	})
}

func TestNTHash(t *testing.T) {
	// Expected values from
	//   printf '%s' PW | iconv -f UTF-8 -t UTF-16LE | openssl dgst -md4 -provider legacy
	// (not `mkpasswd -m nt`, which widens each UTF-8 byte on its own and so
	// is wrong beyond ASCII; for "password" it agrees).
	for _, tc := range []struct {
		name, password, want string
	}{
		{"ASCII password", "password", "8846F7EAEE8FB117AD06BDD830B7586C"},
		{"Latin-1 letters", "pässwörd", "0553152250AC01ADB4213CB9938663E4"},
		{"emoji beyond the BMP become surrogate pairs", "I❤️🔑", "B93500CBB0914C6779B5D29D2D9EBD87"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NTHash([]byte(tc.password))
			if len(got) != 16 || !strings.EqualFold(hex.EncodeToString(got), tc.want) {
				t.Errorf("NTHash(%q) = %X, want %s", tc.password, got, tc.want)
			}
		})
	}
}

// fuzzLimits keep each fuzz input cheap: anything costlier is refused.
var fuzzLimits = limits{argon2Memory: 64, argon2Time: 2, cryptRounds: 2000, pbkdf2Iter: 2000, bcryptCost: 4}

func FuzzVerifyPassword(f *testing.F) {
	for _, v := range schemeVectors {
		f.Add(v.stored, []byte(v.password))
	}
	f.Add("{SSHA}", []byte("x"))
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$qzT7JBTTjl6s5I6MzGCa2w", []byte("x"))
	f.Fuzz(func(t *testing.T, stored string, password []byte) {
		ok, err := verify(stored, password, fuzzLimits)
		if err != nil && ok {
			t.Fatalf("verify(%q) = true with error %v", stored, err)
		}
		if ok && len(password) == 0 {
			t.Fatalf("verify(%q) accepted an empty password", stored)
		}
		if err == nil && !IsHashed(stored) {
			t.Fatalf("verify(%q) parsed a value IsHashed calls cleartext", stored)
		}
		NeedsUpgrade(stored, fastArgon2)
	})
}
