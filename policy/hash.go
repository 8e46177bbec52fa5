package policy

// This file holds password hashing and verification: the stored formats dird
// writes (argon2id as OpenLDAP's argon2 module writes it, or PBKDF2-SHA512 as
// OpenLDAP's pw-pbkdf2 module writes it) and every format it accepts from an
// imported directory. It is pure: no I/O besides crypto/rand.

import (
	"bytes"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	//lint:ignore SA1019 the NT hash is MD4 by definition (MS-NLMP 3.3.1); it is not used for anything else
	"golang.org/x/crypto/md4"
)

var (
	// ErrUnknownScheme means a stored value is in no scheme dird can verify:
	// an unknown {TAG}, or a known family with an unsupported variant such
	// as DES crypt, yescrypt, argon2d or argon2 version 0x10.
	ErrUnknownScheme = errors.New("policy: unrecognised password scheme")
	// ErrMalformedHash means a stored value names a supported scheme but
	// cannot be parsed (bad base64, missing fields, wrong digest length).
	ErrMalformedHash = errors.New("policy: malformed stored password")
	// ErrHashTooCostly means a stored value asks for more memory or
	// iterations than dird will spend on one verification (see
	// verifyLimits); refusing it keeps one bad value from stalling or
	// exhausting the server.
	ErrHashTooCostly = errors.New("policy: stored password parameters exceed limits")
	// ErrHashParams means HashParams cannot produce a hash (unknown scheme
	// for new passwords, impossible argon2 parameters).
	ErrHashParams = errors.New("policy: invalid hash parameters")
)

// Schemes dird writes for new passwords (HashParams.Scheme).
const (
	SchemeArgon2id     = "argon2id"
	SchemePBKDF2SHA512 = "pbkdf2-sha512"
)

// Default argon2id parameters: OWASP's minimum headline setting and ASVS 5
// Appendix C's "t=2, m>=19 MiB, p=1".
const (
	DefaultArgon2Memory  uint32 = 19456 // KiB
	DefaultArgon2Time    uint32 = 2
	DefaultArgon2Threads uint8  = 1
)

// PBKDF2SHA512Iterations is the iteration count of new PBKDF2-SHA512
// hashes: OWASP's and ASVS 5's minimum for SHA-512.
const PBKDF2SHA512Iterations = 210000

// MaxPasswordBytes is the longest password dird hashes or verifies. SHA-crypt
// and md5crypt cost grows with the password length in every round, so an
// unbounded password is a denial-of-service lever; no front needs more
// (RADIUS PAP carries 128 bytes). policy.max_length must not exceed it.
const MaxPasswordBytes = 1024

const (
	saltLen      = 16 // bytes, for new argon2id and PBKDF2 hashes (OpenLDAP's modules use 16)
	argon2KeyLen = 32 // bytes, OpenLDAP's argon2 module default
	bcryptMaxPw  = 72 // bcrypt ignores everything past 72 bytes
)

// HashParams chooses the scheme and cost of new hashes. Zero fields take the
// defaults, so HashParams{} is argon2id m=19456,t=2,p=1.
type HashParams struct {
	Scheme        string // "argon2id" (default) | "pbkdf2-sha512"
	Argon2Memory  uint32 // KiB, default 19456
	Argon2Time    uint32 // default 2
	Argon2Threads uint8  // default 1
}

// DefaultHashParams returns the parameters used when nothing is configured.
func DefaultHashParams() HashParams {
	return HashParams{}.withDefaults()
}

func (p HashParams) withDefaults() HashParams {
	p.Scheme = strings.ToLower(strings.TrimSpace(p.Scheme))
	if p.Scheme == "" {
		p.Scheme = SchemeArgon2id
	}
	if p.Argon2Memory == 0 {
		p.Argon2Memory = DefaultArgon2Memory
	}
	if p.Argon2Time == 0 {
		p.Argon2Time = DefaultArgon2Time
	}
	if p.Argon2Threads == 0 {
		p.Argon2Threads = DefaultArgon2Threads
	}
	return p
}

// Validate checks configured parameters: a scheme dird writes, and argon2id
// costs at or above the OWASP/ASVS 5 ladder (t=1 with m>=47104 KiB, t=2 with
// m>=19456 KiB, t>=3 with m>=12288 KiB). HashPassword itself accepts lower
// costs so that tests can run fast; configuration must not.
func (p HashParams) Validate() error {
	p = p.withDefaults()
	switch p.Scheme {
	case SchemeArgon2id:
	case SchemePBKDF2SHA512:
		return nil
	default:
		return fmt.Errorf("policy.hash: %q is not supported for new passwords, use %q or %q: %w",
			p.Scheme, SchemeArgon2id, SchemePBKDF2SHA512, ErrHashParams)
	}
	if p.Argon2Memory > verifyLimits.argon2Memory || p.Argon2Time > verifyLimits.argon2Time {
		return fmt.Errorf("policy.argon2_memory/argon2_time: at most %d KiB and %d passes: %w",
			verifyLimits.argon2Memory, verifyLimits.argon2Time, ErrHashParams)
	}
	var floor uint32
	switch p.Argon2Time {
	case 1:
		floor = 47104
	case 2:
		floor = 19456
	default:
		floor = 12288
	}
	if p.Argon2Memory < floor {
		return fmt.Errorf("policy.argon2_memory: %d KiB is below the OWASP minimum of %d KiB for argon2_time %d (1: 47104, 2: 19456, 3 or more: 12288): %w",
			p.Argon2Memory, floor, p.Argon2Time, ErrHashParams)
	}
	return nil
}

// HashPassword returns a new stored value for password, with a fresh random
// salt. argon2id values are written as OpenLDAP's argon2 module writes them
// ({ARGON2}$argon2id$v=19$m=...,t=...,p=...$salt$hash, unpadded standard
// base64, 16-byte salt, 32-byte key), so slapd can verify them after an
// export. The password is hashed exactly as given: no trimming, no
// normalisation.
func HashPassword(password []byte, p HashParams) (string, error) {
	if len(password) == 0 {
		return "", fmt.Errorf("hashing password: empty password: %w", ErrHashParams)
	}
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("hashing password: longer than %d bytes: %w", MaxPasswordBytes, ErrHashParams)
	}
	p = p.withDefaults()
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("reading salt: %w", err)
	}
	switch p.Scheme {
	case SchemeArgon2id:
		// x/crypto silently raises memory below 8*threads, which would
		// write parameters that differ from those used.
		if p.Argon2Memory < 8*uint32(p.Argon2Threads) {
			return "", fmt.Errorf("hashing password: argon2 memory must be at least 8 KiB per thread: %w", ErrHashParams)
		}
		key := argon2.IDKey(password, salt, p.Argon2Time, p.Argon2Memory, p.Argon2Threads, argon2KeyLen)
		return fmt.Sprintf("{ARGON2}$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s",
			p.Argon2Memory, p.Argon2Time, p.Argon2Threads,
			base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
	case SchemePBKDF2SHA512:
		dk, err := pbkdf2.Key(sha512.New, string(password), salt, PBKDF2SHA512Iterations, sha512.Size)
		if err != nil {
			return "", fmt.Errorf("deriving pbkdf2 key: %w", err)
		}
		return fmt.Sprintf("{PBKDF2-SHA512}%d$%s$%s", PBKDF2SHA512Iterations, ab64Encode(salt), ab64Encode(dk)), nil
	}
	return "", fmt.Errorf("hashing password: scheme %q: %w", p.Scheme, ErrHashParams)
}

// VerifyPassword reports whether password matches stored. The error is only
// for technical failure or an unrecognised/malformed stored value
// (ErrUnknownScheme, ErrMalformedHash, ErrHashTooCostly), never for "wrong
// password".
//
// An empty password never matches (an LDAP bind with a DN and no password is
// unauthenticated, RFC 4513 5.1.2), nor does one longer than
// MaxPasswordBytes, nor one longer than 72 bytes against a bcrypt value:
// bcrypt ignores bytes past 72, so accepting it would let "first 72 bytes +
// anything" log in, and would carry that weakness into the argon2id hash
// made at the upgrade.
func VerifyPassword(stored string, password []byte) (bool, error) {
	return verify(stored, password, verifyLimits)
}

// verify is VerifyPassword with explicit work limits, so the fuzz test can
// refuse expensive values quickly.
func verify(stored string, password []byte, l limits) (bool, error) {
	h, err := parseStored(stored)
	if err != nil {
		return false, err
	}
	if err := h.within(l); err != nil {
		return false, err
	}
	if len(password) == 0 || len(password) > MaxPasswordBytes {
		return false, nil
	}
	return h.matches(password)
}

// NeedsUpgrade reports whether a stored value verified OK should be re-hashed
// with p: true for any other scheme, and for an argon2id value (or a
// PBKDF2-SHA512 one, when that is the configured scheme) with a lower cost,
// salt or key length than p would write.
func NeedsUpgrade(stored string, p HashParams) bool {
	p = p.withDefaults()
	h, err := parseStored(stored)
	if err != nil {
		return true
	}
	switch p.Scheme {
	case SchemeArgon2id:
		a, ok := h.(*argon2Hash)
		return !ok || a.variant != "argon2id" ||
			a.memory < p.Argon2Memory || a.time < p.Argon2Time || a.threads < p.Argon2Threads ||
			len(a.salt) < saltLen || len(a.key) < argon2KeyLen
	case SchemePBKDF2SHA512:
		k, ok := h.(*pbkdf2Hash)
		return !ok || k.size != sha512.Size || k.iter < PBKDF2SHA512Iterations || len(k.salt) < saltLen
	}
	return true
}

// IsHashed reports whether a userPassword value written by an administrator
// is an already hashed value in a recognised scheme (to be kept as is) rather
// than cleartext. It looks only at the scheme tag ({SSHA}, {CRYPT},
// {ARGON2}, {PBKDF2-SHA512}, ..., case-insensitive) or the crypt prefix of a
// bare value ($argon2id$, $6$, $2b$, ...): a value carrying a recognised tag
// is never taken as cleartext, even "{SSHA}" alone, so a mangled import can
// not silently become somebody's password. Call CheckHashed to refuse such a
// value instead of storing it.
func IsHashed(value string) bool {
	if tag, _, ok := splitTag(value); ok {
		_, known := digestSchemes[tag]
		return known || tag == "ARGON2" || tag == "CRYPT" || pbkdf2Schemes[tag].size != 0
	}
	for _, prefix := range mcfPrefixes {
		if strings.HasPrefix(value, prefix) {
			return true
		}
	}
	return false
}

// CheckHashed reports whether an already hashed value can be verified: it
// parses the value fully and checks its costs against the verification
// limits, without needing a password. The error wraps ErrUnknownScheme,
// ErrMalformedHash or ErrHashTooCostly.
func CheckHashed(value string) error {
	h, err := parseStored(value)
	if err != nil {
		return err
	}
	return h.within(verifyLimits)
}

// dummyHashes caches DummyHash values by normalised HashParams. It is
// package state only because DummyHash has no receiver; entries are never
// changed once stored.
var dummyHashes sync.Map // HashParams -> string

// DummyHash returns a valid stored value for p, computed once per params, for
// spending the same work on an unknown user as on a real one. If p cannot
// hash (invalid parameters), it falls back to the defaults' value.
func DummyHash(p HashParams) string {
	p = p.withDefaults()
	if v, ok := dummyHashes.Load(p); ok {
		return v.(string)
	}
	// A random password nobody knows, so the dummy can never match.
	v, err := HashPassword([]byte(rand.Text()), p)
	if err != nil {
		def := DefaultHashParams()
		if p == def {
			// Unreachable: the defaults always hash. An empty or
			// unparseable dummy would make unknown users cheap to
			// probe, so fail loudly instead.
			panic(fmt.Sprintf("policy: hashing with default parameters: %v", err))
		}
		return DummyHash(def)
	}
	actual, _ := dummyHashes.LoadOrStore(p, v)
	return actual.(string)
}

// NTHash returns the NT hash of password: MD4 of its UTF-16LE encoding, 16
// bytes, as MSCHAPv2 needs (RFC 2759 NtPasswordHash). It is
// password-equivalent; keep it only when policy.nt_hash is on. Invalid UTF-8
// bytes become U+FFFD, as they would in any client.
func NTHash(password []byte) []byte {
	u := utf16.Encode([]rune(string(password)))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i] = byte(c)
		b[2*i+1] = byte(c >> 8)
	}
	h := md4.New()
	h.Write(b)
	return h.Sum(nil)
}

// limits caps the work one verification may cost. A stored value beyond them
// is refused with ErrHashTooCostly instead of being computed.
type limits struct {
	argon2Memory uint32 // KiB
	argon2Time   uint32
	cryptRounds  int // SHA-crypt rounds
	pbkdf2Iter   int
	bcryptCost   int
}

// verifyLimits are far above any sane setting (a verification at the limit
// takes seconds) and far below what could exhaust memory or stall a worker
// for minutes.
var verifyLimits = limits{
	argon2Memory: 1 << 20, // 1 GiB
	argon2Time:   64,
	cryptRounds:  10_000_000,
	pbkdf2Iter:   10_000_000,
	bcryptCost:   16,
}

// storedHash is one parsed stored value.
type storedHash interface {
	// within returns ErrHashTooCostly (wrapped) when checking a password
	// would exceed l.
	within(l limits) error
	// matches hashes password with the stored parameters and compares in
	// constant time.
	matches(password []byte) (bool, error)
}

// mcfPrefixes are the bare (untagged) crypt formats that are recognised.
var mcfPrefixes = []string{"$argon2id$", "$argon2i$", "$argon2d$", "$1$", "$5$", "$6$", "$2a$", "$2b$", "$2y$"}

// splitTag splits "{TAG}rest" into the upper-cased tag and rest.
func splitTag(s string) (tag, rest string, ok bool) {
	if !strings.HasPrefix(s, "{") {
		return "", "", false
	}
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", "", false
	}
	return strings.ToUpper(s[1:end]), s[end+1:], true
}

func parseStored(s string) (storedHash, error) {
	tag, rest, ok := splitTag(s)
	if !ok {
		if strings.HasPrefix(s, "$") {
			return parseMCF(s)
		}
		return nil, ErrUnknownScheme
	}
	if d, ok := digestSchemes[tag]; ok {
		return parseDigest(tag, d, rest)
	}
	if k := pbkdf2Schemes[tag]; k.size != 0 {
		return parsePBKDF2(tag, k, rest)
	}
	switch tag {
	case "ARGON2":
		if !strings.HasPrefix(rest, "$argon2") {
			return nil, fmt.Errorf("parsing {ARGON2} value: %w", ErrMalformedHash)
		}
		return parseArgon2(rest)
	case "CRYPT":
		return parseMCF(rest)
	}
	return nil, ErrUnknownScheme
}

// parseMCF parses a crypt(3) "modular crypt format" value.
func parseMCF(s string) (storedHash, error) {
	switch {
	case strings.HasPrefix(s, "$argon2"):
		return parseArgon2(s)
	case strings.HasPrefix(s, "$1$"):
		return parseMD5Crypt(s)
	case strings.HasPrefix(s, "$5$"):
		return parseSHACrypt(s, false)
	case strings.HasPrefix(s, "$6$"):
		return parseSHACrypt(s, true)
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		return parseBcrypt(s)
	}
	return nil, fmt.Errorf("parsing crypt value: %w", ErrUnknownScheme)
}

// --- argon2 ---

type argon2Hash struct {
	variant      string // "argon2id" or "argon2i"
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parseArgon2 parses the PHC string the argon2 reference library writes:
// $argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>, unpadded standard base64.
func parseArgon2(s string) (storedHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) < 2 {
		return nil, fmt.Errorf("parsing argon2 value: %w", ErrMalformedHash)
	}
	variant := parts[1]
	if variant != "argon2id" && variant != "argon2i" {
		// argon2d is not in x/crypto and is not meant for passwords.
		return nil, fmt.Errorf("parsing argon2 value: variant %q: %w", variant, ErrUnknownScheme)
	}
	if len(parts) == 5 && strings.HasPrefix(parts[2], "m=") {
		// No "v=" field means version 0x10, which x/crypto does not implement.
		return nil, fmt.Errorf("parsing argon2 value: version 16: %w", ErrUnknownScheme)
	}
	if len(parts) != 6 || parts[0] != "" {
		return nil, fmt.Errorf("parsing argon2 value: %w", ErrMalformedHash)
	}
	if parts[2] != "v=19" {
		return nil, fmt.Errorf("parsing argon2 value: version %q: %w", parts[2], ErrUnknownScheme)
	}
	h := &argon2Hash{variant: variant}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, fmt.Errorf("parsing argon2 parameters: %w", ErrMalformedHash)
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[i], name)
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || n == 0 {
			return nil, fmt.Errorf("parsing argon2 parameter %s: %w", name[:1], ErrMalformedHash)
		}
		vals[i] = n
	}
	if vals[2] > 255 {
		return nil, fmt.Errorf("parsing argon2 parameters: more than 255 lanes: %w", ErrUnknownScheme)
	}
	h.memory, h.time, h.threads = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	if h.memory < 8*uint32(h.threads) {
		// The reference implementation refuses this; x/crypto would
		// silently raise m and so compute a different key.
		return nil, fmt.Errorf("parsing argon2 parameters: m below 8*p: %w", ErrMalformedHash)
	}
	var err error
	if h.salt, err = decodeB64(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, fmt.Errorf("parsing argon2 salt: %w", ErrMalformedHash)
	}
	if h.key, err = decodeB64(parts[5]); err != nil || len(h.key) < 4 || len(h.key) > 1024 {
		return nil, fmt.Errorf("parsing argon2 hash: %w", ErrMalformedHash)
	}
	return h, nil
}

func (h *argon2Hash) within(l limits) error {
	if h.memory > l.argon2Memory || h.time > l.argon2Time {
		return fmt.Errorf("checking argon2 m=%d,t=%d: %w", h.memory, h.time, ErrHashTooCostly)
	}
	return nil
}

func (h *argon2Hash) matches(password []byte) (bool, error) {
	var key []byte
	if h.variant == "argon2id" {
		key = argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	} else {
		key = argon2.Key(password, h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	}
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// --- {SHA}, {SSHA}, {SHA256}, ... ---

type digestScheme struct {
	newHash func() hash.Hash
	size    int
	salted  bool
}

// digestSchemes are OpenLDAP's built-in schemes and those of its pw-sha2
// module: base64(H(password || salt) || salt), or base64(H(password)).
var digestSchemes = map[string]digestScheme{
	"MD5":     {md5.New, md5.Size, false},
	"SMD5":    {md5.New, md5.Size, true},
	"SHA":     {sha1.New, sha1.Size, false},
	"SSHA":    {sha1.New, sha1.Size, true},
	"SHA256":  {sha256.New, sha256.Size, false},
	"SSHA256": {sha256.New, sha256.Size, true},
	"SHA384":  {sha512.New384, sha512.Size384, false},
	"SSHA384": {sha512.New384, sha512.Size384, true},
	"SHA512":  {sha512.New, sha512.Size, false},
	"SSHA512": {sha512.New, sha512.Size, true},
}

type digestHash struct {
	newHash   func() hash.Hash
	sum, salt []byte
}

func parseDigest(tag string, d digestScheme, rest string) (storedHash, error) {
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(rest)
	}
	if err != nil {
		return nil, fmt.Errorf("decoding {%s} value: %w", tag, ErrMalformedHash)
	}
	// An unsalted value is exactly one digest; a salted one carries at
	// least one byte of salt after it (OpenLDAP refuses less too).
	if (!d.salted && len(raw) != d.size) || (d.salted && len(raw) <= d.size) {
		return nil, fmt.Errorf("decoding {%s} value: length %d: %w", tag, len(raw), ErrMalformedHash)
	}
	return &digestHash{newHash: d.newHash, sum: raw[:d.size], salt: raw[d.size:]}, nil
}

func (h *digestHash) within(limits) error { return nil }

func (h *digestHash) matches(password []byte) (bool, error) {
	m := h.newHash()
	m.Write(password)
	m.Write(h.salt)
	return subtle.ConstantTimeCompare(m.Sum(nil), h.sum) == 1, nil
}

// --- {PBKDF2-SHA512} and friends (OpenLDAP contrib pw-pbkdf2) ---

type pbkdf2Scheme struct {
	newHash func() hash.Hash
	size    int
}

var pbkdf2Schemes = map[string]pbkdf2Scheme{
	"PBKDF2":        {sha1.New, sha1.Size},
	"PBKDF2-SHA1":   {sha1.New, sha1.Size},
	"PBKDF2-SHA256": {sha256.New, sha256.Size},
	"PBKDF2-SHA512": {sha512.New, sha512.Size},
}

type pbkdf2Hash struct {
	newHash  func() hash.Hash
	size     int
	iter     int
	salt, dk []byte
}

// parsePBKDF2 parses pw-pbkdf2's "<iterations>$<ab64 salt>$<ab64 dk>", where
// adapted base64 is standard base64 with '.' for '+' and no padding (the
// passlib ldap_pbkdf2_* format is the same). Like the module, it requires
// the derived key to be exactly one digest long.
func parsePBKDF2(tag string, k pbkdf2Scheme, rest string) (storedHash, error) {
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return nil, fmt.Errorf("parsing {%s} value: %w", tag, ErrMalformedHash)
	}
	iter, err := strconv.Atoi(parts[0])
	if err != nil || iter < 1 {
		return nil, fmt.Errorf("parsing {%s} iterations: %w", tag, ErrMalformedHash)
	}
	salt, err := ab64Decode(parts[1])
	if err != nil || len(salt) == 0 {
		return nil, fmt.Errorf("parsing {%s} salt: %w", tag, ErrMalformedHash)
	}
	dk, err := ab64Decode(parts[2])
	if err != nil || len(dk) != k.size {
		return nil, fmt.Errorf("parsing {%s} key: %w", tag, ErrMalformedHash)
	}
	return &pbkdf2Hash{newHash: k.newHash, size: k.size, iter: iter, salt: salt, dk: dk}, nil
}

func (h *pbkdf2Hash) within(l limits) error {
	if h.iter > l.pbkdf2Iter {
		return fmt.Errorf("checking pbkdf2 iterations %d: %w", h.iter, ErrHashTooCostly)
	}
	return nil
}

func (h *pbkdf2Hash) matches(password []byte) (bool, error) {
	dk, err := pbkdf2.Key(h.newHash, string(password), h.salt, h.iter, len(h.dk))
	if err != nil {
		return false, fmt.Errorf("deriving pbkdf2 key: %w", err)
	}
	return subtle.ConstantTimeCompare(dk, h.dk) == 1, nil
}

func ab64Encode(b []byte) string {
	return strings.ReplaceAll(base64.RawStdEncoding.EncodeToString(b), "+", ".")
}

func ab64Decode(s string) ([]byte, error) {
	return decodeB64(strings.ReplaceAll(s, ".", "+"))
}

// decodeB64 decodes standard base64 with or without padding.
func decodeB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// --- bcrypt ($2a$, $2b$, $2y$) ---

type bcryptHash struct {
	value []byte
	cost  int
}

func parseBcrypt(s string) (storedHash, error) {
	// bcrypt.Cost parses version and cost; the salt and hash after
	// "$2b$05$" use the crypt alphabet (in another order).
	cost, err := bcrypt.Cost([]byte(s))
	if err != nil || len(s) != 60 || !isCryptB64(s[7:]) {
		return nil, fmt.Errorf("parsing bcrypt value: %w", ErrMalformedHash)
	}
	return &bcryptHash{value: []byte(s), cost: cost}, nil
}

func (h *bcryptHash) within(l limits) error {
	if h.cost > l.bcryptCost {
		return fmt.Errorf("checking bcrypt cost %d: %w", h.cost, ErrHashTooCostly)
	}
	return nil
}

func (h *bcryptHash) matches(password []byte) (bool, error) {
	if len(password) > bcryptMaxPw {
		// See VerifyPassword: bcrypt would compare only the first 72 bytes.
		return false, nil
	}
	err := bcrypt.CompareHashAndPassword(h.value, password)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	}
	return false, fmt.Errorf("checking bcrypt value: %w", ErrMalformedHash)
}

// --- md5crypt ($1$) and SHA-crypt ($5$, $6$) ---
//
// Written from the published descriptions: Poul-Henning Kamp's md5crypt and
// Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" specification.

// cryptAlphabet is crypt(3)'s base64 alphabet.
const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// cryptEncode appends the crypt(3) encoding of sum: each group of three byte
// indexes is packed big-endian into 24 bits and written 6 bits at a time,
// least significant first; tail, a final group of one or two bytes, is
// written in tailChars characters.
func cryptEncode(sum []byte, groups [][3]int, tail []int, tailChars int) string {
	var out []byte
	put := func(w uint32, n int) {
		for ; n > 0; n-- {
			out = append(out, cryptAlphabet[w&0x3f])
			w >>= 6
		}
	}
	for _, g := range groups {
		put(uint32(sum[g[0]])<<16|uint32(sum[g[1]])<<8|uint32(sum[g[2]]), 4)
	}
	var w uint32
	for _, i := range tail {
		w = w<<8 | uint32(sum[i])
	}
	put(w, tailChars)
	return string(out)
}

var (
	md5CryptGroups = [][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}}
	sha256Groups   = [][3]int{
		{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14},
		{15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29},
	}
	sha512Groups = [][3]int{
		{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4},
		{47, 5, 26}, {6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51},
		{31, 52, 10}, {53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35},
		{15, 36, 57}, {37, 58, 16}, {59, 17, 38}, {18, 39, 60}, {40, 61, 19},
		{62, 20, 41},
	}
)

type md5CryptHash struct {
	salt, encoded string
}

func parseMD5Crypt(s string) (storedHash, error) {
	salt, encoded, ok := strings.Cut(s[len("$1$"):], "$")
	if !ok || len(salt) > 8 || len(encoded) != 22 || !isCryptB64(encoded) {
		return nil, fmt.Errorf("parsing md5crypt value: %w", ErrMalformedHash)
	}
	return &md5CryptHash{salt: salt, encoded: encoded}, nil
}

func (h *md5CryptHash) within(limits) error { return nil }

func (h *md5CryptHash) matches(password []byte) (bool, error) {
	got := md5Crypt(password, h.salt)
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.encoded)) == 1, nil
}

// md5Crypt returns the 22-character hash part of $1$salt$hash.
func md5Crypt(pw []byte, salt string) string {
	alt := md5.New()
	alt.Write(pw)
	alt.Write([]byte(salt))
	alt.Write(pw)
	altSum := alt.Sum(nil)

	h := md5.New()
	h.Write(pw)
	h.Write([]byte("$1$"))
	h.Write([]byte(salt))
	for n := len(pw); n > 0; n -= md5.Size {
		h.Write(altSum[:min(n, md5.Size)])
	}
	// The original code "cleared" the alternate sum before this loop, so a
	// set bit adds a zero byte, a clear bit the first password byte.
	for n := len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write([]byte{0})
		} else {
			h.Write(pw[:1])
		}
	}
	sum := h.Sum(nil)

	for i := range 1000 {
		h.Reset()
		if i&1 != 0 {
			h.Write(pw)
		} else {
			h.Write(sum)
		}
		if i%3 != 0 {
			h.Write([]byte(salt))
		}
		if i%7 != 0 {
			h.Write(pw)
		}
		if i&1 != 0 {
			h.Write(sum)
		} else {
			h.Write(pw)
		}
		sum = h.Sum(sum[:0])
	}
	return cryptEncode(sum, md5CryptGroups, []int{11}, 2)
}

type shaCryptHash struct {
	is512         bool
	salt, encoded string
	rounds        int
}

const (
	shaCryptDefaultRounds = 5000
	shaCryptMinRounds     = 1000
	shaCryptMaxRounds     = 999_999_999
)

// parseSHACrypt parses $5$[rounds=N$]salt$hash and $6$[...]. As in glibc, a
// rounds= field that is not digits followed by '$' is part of the salt, and
// rounds outside [1000, 999999999] are clamped; the salt is cut at 16 bytes.
func parseSHACrypt(s string, is512 bool) (storedHash, error) {
	h := &shaCryptHash{is512: is512, rounds: shaCryptDefaultRounds}
	rest := s[len("$5$"):]
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		digits, after, found := strings.Cut(r, "$")
		if found && isDigits(digits) {
			n, err := strconv.ParseUint(digits, 10, 64)
			if err != nil || n > shaCryptMaxRounds {
				n = shaCryptMaxRounds // ParseUint fails only on overflow here
			}
			h.rounds = max(int(n), shaCryptMinRounds)
			rest = after
		}
	}
	salt, encoded, ok := strings.Cut(rest, "$")
	want := 43
	if is512 {
		want = 86
	}
	if !ok || len(encoded) != want || !isCryptB64(encoded) {
		return nil, fmt.Errorf("parsing sha-crypt value: %w", ErrMalformedHash)
	}
	if len(salt) > 16 {
		salt = salt[:16]
	}
	h.salt, h.encoded = salt, encoded
	return h, nil
}

func (h *shaCryptHash) within(l limits) error {
	if h.rounds > l.cryptRounds {
		return fmt.Errorf("checking sha-crypt rounds %d: %w", h.rounds, ErrHashTooCostly)
	}
	return nil
}

func (h *shaCryptHash) matches(password []byte) (bool, error) {
	got := shaCrypt(password, h.salt, h.rounds, h.is512)
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.encoded)) == 1, nil
}

// shaCrypt returns the hash part of $5$/$6$ (43 or 86 characters), following
// the numbered steps of Drepper's specification.
func shaCrypt(pw []byte, salt string, rounds int, is512 bool) string {
	newHash, size := sha256.New, sha256.Size
	if is512 {
		newHash, size = sha512.New, sha512.Size
	}
	s := []byte(salt)

	// Steps 4-8: digest B = H(pw salt pw).
	h := newHash()
	h.Write(pw)
	h.Write(s)
	h.Write(pw)
	b := h.Sum(nil)

	// Steps 1-3, 9-12: digest A.
	h.Reset()
	h.Write(pw)
	h.Write(s)
	n := len(pw)
	for ; n > size; n -= size {
		h.Write(b)
	}
	h.Write(b[:n])
	for n := len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(pw)
		}
	}
	a := h.Sum(nil)

	// Steps 13-16: the P sequence, len(pw) bytes of H(pw repeated len(pw) times).
	h.Reset()
	for range len(pw) {
		h.Write(pw)
	}
	p := repeatTo(h.Sum(nil), len(pw))

	// Steps 17-20: the S sequence, len(salt) bytes of H(salt repeated 16+A[0] times).
	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(s)
	}
	sq := repeatTo(h.Sum(nil), len(s))

	// Step 21: the rounds.
	c := a
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sq)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}

	if is512 {
		return cryptEncode(c, sha512Groups, []int{63}, 2)
	}
	return cryptEncode(c, sha256Groups, []int{31, 30}, 3)
}

// repeatTo returns n bytes made of d repeated (and cut).
func repeatTo(d []byte, n int) []byte {
	return bytes.Repeat(d, n/len(d)+1)[:n]
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isCryptB64(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(cryptAlphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}
