package policy

import (
	"errors"
	"fmt"
	"time"
)

// Config is the policy section of the configuration: the password rules
// every front applies through the Door.
type Config struct {
	MinLength     int  `mapstructure:"min_length"`
	MaxLength     int  `mapstructure:"max_length"`
	RequireUpper  bool `mapstructure:"require_upper"`
	RequireLower  bool `mapstructure:"require_lower"`
	RequireDigit  bool `mapstructure:"require_digit"`
	RequireSymbol bool `mapstructure:"require_symbol"`
	// History is how many previous passwords may not be reused.
	History int `mapstructure:"history"`
	// MaxAge is the password lifetime; 0: passwords never expire.
	MaxAge time.Duration `mapstructure:"max_age"`
	// ExpireWarning is how long before expiry logins are warned.
	ExpireWarning time.Duration `mapstructure:"expire_warning"`
	// LockOnExpiry locks an expired account until an administrator
	// restores it.
	LockOnExpiry bool `mapstructure:"lock_on_expiry"`
	// LockoutThreshold is the number of failed attempts before lockout;
	// 0: never (the 100-an-hour throttle still applies).
	LockoutThreshold int `mapstructure:"lockout_threshold"`
	// LockoutDuration is how long a lockout lasts; 0: until an
	// administrator unlocks.
	LockoutDuration time.Duration `mapstructure:"lockout_duration"`
	// GraceLogins are binds allowed after expiry when LockOnExpiry is off.
	GraceLogins int `mapstructure:"grace_logins"`
	// RejectCommon refuses passwords on the built-in common list and on
	// BlocklistFile.
	RejectCommon  bool   `mapstructure:"reject_common"`
	BlocklistFile string `mapstructure:"blocklist_file"`
	// NTHash also keeps an NT hash (sealed) for MSCHAPv2.
	NTHash bool `mapstructure:"nt_hash"`
	// Hash is the scheme for new passwords.
	Hash          string `mapstructure:"hash"`
	Argon2Memory  uint32 `mapstructure:"argon2_memory"`
	Argon2Time    uint32 `mapstructure:"argon2_time"`
	Argon2Threads uint8  `mapstructure:"argon2_threads"`
	// UpgradeHashes re-hashes imported schemes at the next successful bind.
	UpgradeHashes bool `mapstructure:"upgrade_hashes"`
}

// Validate checks the section without touching the file system.
func (c Config) Validate() error {
	switch {
	case c.MinLength < 1:
		return errors.New("policy.min_length: must be at least 1")
	case c.MaxLength < c.MinLength:
		return fmt.Errorf("policy.max_length: %d is below policy.min_length %d", c.MaxLength, c.MinLength)
	case c.MaxLength > 128:
		// RADIUS PAP carries at most 128 bytes (RFC 2865 §5.2); every front
		// must be able to carry every valid password.
		return fmt.Errorf("policy.max_length: %d is above 128, the most RADIUS PAP can carry", c.MaxLength)
	case c.History < 0:
		return errors.New("policy.history: must not be negative")
	case c.MaxAge < 0:
		return errors.New("policy.max_age: must not be negative")
	case c.ExpireWarning < 0:
		return errors.New("policy.expire_warning: must not be negative")
	case c.LockoutThreshold < 0:
		return errors.New("policy.lockout_threshold: must not be negative")
	case c.LockoutDuration < 0:
		return errors.New("policy.lockout_duration: must not be negative")
	case c.GraceLogins < 0:
		return errors.New("policy.grace_logins: must not be negative")
	}
	switch c.Hash {
	case SchemeArgon2id:
		if c.Argon2Memory < 7168 {
			return fmt.Errorf("policy.argon2_memory: %d KiB is below the OWASP floor of 7168", c.Argon2Memory)
		}
		if c.Argon2Time < 1 {
			return errors.New("policy.argon2_time: must be at least 1")
		}
		if c.Argon2Threads < 1 {
			return errors.New("policy.argon2_threads: must be at least 1")
		}
		// Above these the verifier refuses a stored hash as too costly
		// (hash.go verifyLimits), so every changed password would stop
		// working.
		if c.Argon2Memory > 1<<20 {
			return fmt.Errorf("policy.argon2_memory: %d KiB is above the 1 GiB dird verifies", c.Argon2Memory)
		}
		if c.Argon2Time > 64 {
			return fmt.Errorf("policy.argon2_time: %d is above the 64 passes dird verifies", c.Argon2Time)
		}
	case SchemePBKDF2SHA512:
	default:
		// Fast schemes ({SSHA} and friends) are accepted for import and
		// upgraded, but never written: ASVS asks for a slow, salted KDF.
		return fmt.Errorf("policy.hash: %q is not one of argon2id, pbkdf2-sha512", c.Hash)
	}
	return nil
}

// HashWarning reports hashing parameters below OWASP's recommended
// ladder (t=1: 46 MiB, t=2: 19 MiB, t>=3: 12 MiB). They are accepted,
// since tests and small devices use them, but server logs the warning.
func (c Config) HashWarning() error {
	return HashParams{Scheme: c.Hash, Argon2Memory: c.Argon2Memory, Argon2Time: c.Argon2Time, Argon2Threads: c.Argon2Threads}.Validate()
}
