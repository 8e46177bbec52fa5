package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/dird/dird/ldapd"
	"github.com/dird/dird/mail"
	"github.com/dird/dird/metrics"
	"github.com/dird/dird/notify"
	"github.com/dird/dird/policy"
	"github.com/dird/dird/portal"
	"github.com/dird/dird/radiusd"
	"github.com/dird/dird/store"
)

// Config is the whole configuration of one dird process. Each component is
// given only its own section.
type Config struct {
	// BaseDN is the naming context the directory serves, e.g.
	// dc=example,dc=com. Its entry exists from the first start.
	BaseDN string `mapstructure:"base_dn"`
	// Admin is the one account that writes the directory.
	Admin AdminConfig `mapstructure:"admin"`
	// Store is where the directory lives.
	Store store.Config `mapstructure:"store"`
	// LDAP is the LDAP front.
	LDAP ldapd.Config `mapstructure:"ldap"`
	// Radius is the RADIUS front.
	Radius radiusd.Config `mapstructure:"radius"`
	// Portal is the web portal.
	Portal portal.Config `mapstructure:"portal"`
	// Metrics is the Prometheus and health endpoint.
	Metrics metrics.Config `mapstructure:"metrics"`
	// Mail is how the portal and the notifier send email.
	Mail mail.Config `mapstructure:"mail"`
	// Policy is the password policy every front applies.
	Policy policy.Config `mapstructure:"policy"`
	// Notify is the password expiry notifier.
	Notify notify.Config `mapstructure:"notify"`
	// Log is how dird writes its log.
	Log LogConfig `mapstructure:"log"`
}

// defaults holds a value for every key, as CONTRACT.md's example shows
// them. Every key needs one: viper's AutomaticEnv only consults the
// environment for keys it already knows (spf13/viper#761), so a key without
// a default could not be set from DIRD_*. base_dn and the administrator
// have no sensible default and are left empty, which Validate refuses.
// Durations are written as strings so they go through the same decoding as
// the file's.
func defaults() map[string]any {
	return map[string]any{
		"base_dn":             "",
		"admin.dn":            "",
		"admin.password":      "",
		"admin.password_file": "",

		"store.backend":        "badger",
		"store.path":           "./data",
		"store.etcd_endpoints": []string{},

		"ldap.listen":          "127.0.0.1:3389",
		"ldap.ldaps_listen":    "",
		"ldap.tls_cert":        "",
		"ldap.tls_key":         "",
		"ldap.anonymous_read":  false,
		"ldap.idle_timeout":    "5m",
		"ldap.max_connections": 10000,

		"radius.listen": "127.0.0.1:1812",
		"radius.clients": []any{
			map[string]any{"name": "local", "address": "127.0.0.0/8", "secret": "testing123"},
		},
		"radius.accounting_listen": "auto",
		"radius.eap_tls_cert":      "",
		"radius.eap_tls_key":       "",
		"radius.group_replies":     map[string]any{},

		"portal.listen":       "127.0.0.1:8080",
		"portal.public_url":   "http://127.0.0.1:8080",
		"portal.reset_ttl":    "10m",
		"portal.session_idle": "30m",
		"portal.session_max":  "12h",

		"metrics.listen": "",

		"mail.driver":           "log",
		"mail.from":             "dird@example.com",
		"mail.smtp_host":        "127.0.0.1",
		"mail.smtp_port":        25,
		"mail.smtp_username":    "",
		"mail.smtp_password":    "",
		"mail.smtp_tls":         "auto",
		"mail.smtp_tls_ca_file": "",

		"policy.min_length":        8,
		"policy.max_length":        128,
		"policy.require_upper":     false,
		"policy.require_lower":     false,
		"policy.require_digit":     false,
		"policy.require_symbol":    false,
		"policy.history":           0,
		"policy.max_age":           "0",
		"policy.expire_warning":    "7d",
		"policy.lock_on_expiry":    true,
		"policy.lockout_threshold": 0,
		"policy.lockout_duration":  "15m",
		"policy.grace_logins":      0,
		"policy.reject_common":     true,
		"policy.blocklist_file":    "",
		"policy.nt_hash":           false,
		"policy.hash":              "argon2id",
		"policy.argon2_memory":     19456,
		"policy.argon2_time":       2,
		"policy.argon2_threads":    1,
		"policy.upgrade_hashes":    true,

		"notify.expiry_notice": []string{"7d", "3d", "1d"},
		"notify.interval":      "1h",

		"log.level":  "info",
		"log.format": "json",
	}
}

// EnvPrefix starts the name of every environment variable that sets a key:
// DIRD_ + the key path upper-cased with "." replaced by "_".
const EnvPrefix = "DIRD"

// Load reads the YAML file at path, applies defaults and DIRD_* environment
// variables (which win over the file), and returns the validated
// configuration. Errors are one line that names the key and, where there
// is one, the fix. Load reads no file but path.
func Load(path string) (Config, error) {
	var cfg Config
	raw, err := readFile(path)
	if err != nil {
		return cfg, err
	}

	v := viper.New()
	for key, val := range defaults() {
		v.SetDefault(key, val)
	}
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	// A variable that is set wins even when empty, so DIRD_METRICS_LISTEN=
	// can turn off what the file turned on.
	v.AllowEmptyEnv(true)
	v.AutomaticEnv()
	if err := v.MergeConfigMap(raw); err != nil {
		return cfg, fmt.Errorf("config file %q: %w", path, err)
	}

	err = v.UnmarshalExact(&cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		durationHook,
		rangeHook,
		listHook,
	)))
	if err != nil {
		return Config{}, envNote(errors.New(strings.Join(decodeProblems(err), "; ")))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, envNote(err)
	}
	return cfg, nil
}

// readFile reads and parses the YAML file. It does the parsing itself
// rather than through viper so that the error names the file and says what
// is wrong with it, without viper's wrapping.
func readFile(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("config file %q: cannot read it: %w", path, err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		msg := strings.TrimPrefix(oneLine(err.Error()), "yaml: ")
		if strings.Contains(msg, "cannot unmarshal") && strings.Contains(msg, "into map") {
			return nil, fmt.Errorf("config file %q: the top level must be a mapping of keys (base_dn: ..., admin: ...)", path)
		}
		return nil, fmt.Errorf("config file %q: invalid YAML: %s", path, msg)
	}
	dropNulls(raw)
	return raw, nil
}

// dropNulls removes keys written without a value ("metrics:" or
// "listen:"), so they mean "not set" and the default applies. Left in, a
// null section would shadow the defaults of the keys beneath it.
func dropNulls(m map[string]any) {
	for k, val := range m {
		switch x := val.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(x)
		}
	}
}

// envNote appends the environment variable that set the key an error
// names, since the administrator will look for the value in the file first.
func envNote(err error) error {
	msg := err.Error()
	keys, _, ok := strings.Cut(msg, ": ")
	if !ok {
		return err
	}
	var set []string
	for _, key := range strings.Split(keys, ", ") {
		name := EnvName(key)
		if _, ok := os.LookupEnv(name); ok {
			set = append(set, name)
		}
	}
	if len(set) == 0 {
		return err
	}
	return fmt.Errorf("%w (set by %s)", err, strings.Join(set, ", "))
}

// EnvName returns the environment variable that sets key, e.g.
// DIRD_LDAP_LISTEN for ldap.listen. An element of a list
// (radius.clients[0].secret) is set with the whole list's variable.
func EnvName(key string) string {
	key, _, _ = strings.Cut(key, "[")
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
