package config

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dird/dird/ldapd"
	"github.com/dird/dird/mail"
	"github.com/dird/dird/notify"
	"github.com/dird/dird/policy"
	"github.com/dird/dird/portal"
	"github.com/dird/dird/radiusd"
	"github.com/dird/dird/store"
)

// minimal is the smallest valid file: what has no default.
const minimal = `
base_dn: dc=example,dc=com
admin:
  dn: cn=admin,dc=example,dc=com
  password: dird-admin-secret
`

// writeConfig writes content to a file in a fresh directory and returns
// its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dird.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clearEnv unsets every DIRD_* variable for the test, so the developer's
// or the CI's environment cannot change what Load sees. (An empty value
// would still count as set.)
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix+"_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

func examplePath(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "config.example.yaml")
}

func TestLoadDefaults(t *testing.T) {
	clearEnv(t)
	got, err := Load(writeConfig(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		BaseDN: "dc=example,dc=com",
		Admin:  AdminConfig{DN: "cn=admin,dc=example,dc=com", Password: "dird-admin-secret"},
		Store:  store.Config{Backend: "badger", Path: "./data", EtcdEndpoints: []string{}},
		LDAP: ldapd.Config{
			Listen:         "127.0.0.1:3389",
			IdleTimeout:    5 * time.Minute,
			MaxConnections: 10000,
		},
		Radius: radiusd.Config{
			Listen:           "127.0.0.1:1812",
			AccountingListen: "auto",
			Clients:          []radiusd.Client{{Name: "local", Address: "127.0.0.0/8", Secret: "testing123"}},
		},
		Portal: portal.Config{
			Listen:      "127.0.0.1:8080",
			PublicURL:   "http://127.0.0.1:8080",
			ResetTTL:    10 * time.Minute,
			SessionIdle: 30 * time.Minute,
			SessionMax:  12 * time.Hour,
		},
		Mail: mail.Config{Driver: "log", From: "dird@example.com", SMTPHost: "127.0.0.1", SMTPPort: 25, SMTPTLS: "auto"},
		Policy: policy.Config{
			MinLength:       8,
			MaxLength:       128,
			ExpireWarning:   7 * 24 * time.Hour,
			LockOnExpiry:    true,
			LockoutDuration: 15 * time.Minute,
			RejectCommon:    true,
			Hash:            "argon2id",
			Argon2Memory:    19456,
			Argon2Time:      2,
			Argon2Threads:   1,
			UpgradeHashes:   true,
		},
		Notify: notify.Config{
			ExpiryNotice: []time.Duration{7 * 24 * time.Hour, 3 * 24 * time.Hour, 24 * time.Hour},
			Interval:     time.Hour,
		},
		Log: LogConfig{Level: "info", Format: "json"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestLoadFileValues(t *testing.T) {
	clearEnv(t)
	got, err := Load(writeConfig(t, minimal+`
store:
  path: /var/lib/dird
ldap:
  listen: 0.0.0.0:389
  anonymous_read: true
  idle_timeout: 90s
  max_connections: 50
radius:
  listen: ":1812"
  clients:
    - name: office-ap
      address: 10.1.0.0/24
      secret: a-long-shared-secret
    - name: vpn
      address: 10.2.0.7
      secret: another-secret
portal:
  public_url: https://id.example.com/
metrics:
  listen: 127.0.0.1:9100
mail:
  driver: smtp
  smtp_host: mail.example.com
  smtp_port: 587
  smtp_username: dird@example.com
  smtp_password: an-smtp-password
  smtp_tls: starttls
  smtp_tls_ca_file: /etc/dird/relay-ca.pem
policy:
  min_length: 12
  history: 5
  max_age: 2160h
  argon2_threads: 4
notify:
  expiry_notice: [14d]
  interval: 30m
`))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"store.path", got.Store.Path, "/var/lib/dird"},
		{"ldap.listen", got.LDAP.Listen, "0.0.0.0:389"},
		{"ldap.anonymous_read", got.LDAP.AnonymousRead, true},
		{"ldap.idle_timeout", got.LDAP.IdleTimeout, 90 * time.Second},
		{"ldap.max_connections", got.LDAP.MaxConnections, 50},
		{"radius.clients", got.Radius.Clients, []radiusd.Client{
			{Name: "office-ap", Address: "10.1.0.0/24", Secret: "a-long-shared-secret"},
			{Name: "vpn", Address: "10.2.0.7", Secret: "another-secret"},
		}},
		{"portal.public_url", got.Portal.PublicURL, "https://id.example.com/"},
		{"portal.listen (default kept)", got.Portal.Listen, "127.0.0.1:8080"},
		{"metrics.listen", got.Metrics.Listen, "127.0.0.1:9100"},
		{"mail.smtp_port", got.Mail.SMTPPort, 587},
		{"mail.smtp_username", got.Mail.SMTPUsername, "dird@example.com"},
		{"mail.smtp_password", got.Mail.SMTPPassword, "an-smtp-password"},
		{"mail.smtp_tls", got.Mail.SMTPTLS, "starttls"},
		{"mail.smtp_tls_ca_file", got.Mail.SMTPTLSCAFile, "/etc/dird/relay-ca.pem"},
		{"policy.min_length", got.Policy.MinLength, 12},
		{"policy.history", got.Policy.History, 5},
		{"policy.max_age", got.Policy.MaxAge, 2160 * time.Hour},
		{"policy.argon2_threads", got.Policy.Argon2Threads, uint8(4)},
		{"policy.max_length (default kept)", got.Policy.MaxLength, 128},
		{"notify.expiry_notice", got.Notify.ExpiryNotice, []time.Duration{14 * 24 * time.Hour}},
		{"notify.interval", got.Notify.Interval, 30 * time.Minute},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
}

func TestLoadEnv(t *testing.T) {
	file := minimal + `
ldap:
  listen: 127.0.0.1:3389
metrics:
  listen: 127.0.0.1:9100
`
	tests := []struct {
		name  string
		env   map[string]string
		check func(Config) (got, want any)
	}{
		{
			name:  "env beats the file",
			env:   map[string]string{"DIRD_LDAP_LISTEN": "127.0.0.1:10389"},
			check: func(c Config) (any, any) { return c.LDAP.Listen, "127.0.0.1:10389" },
		},
		{
			name:  "env beats a default",
			env:   map[string]string{"DIRD_POLICY_MIN_LENGTH": "14"},
			check: func(c Config) (any, any) { return c.Policy.MinLength, 14 },
		},
		{
			name:  "an empty variable turns a listener off",
			env:   map[string]string{"DIRD_METRICS_LISTEN": ""},
			check: func(c Config) (any, any) { return c.Metrics.Listen, "" },
		},
		{
			name:  "booleans",
			env:   map[string]string{"DIRD_LDAP_ANONYMOUS_READ": "true"},
			check: func(c Config) (any, any) { return c.LDAP.AnonymousRead, true },
		},
		{
			name:  "durations with days",
			env:   map[string]string{"DIRD_POLICY_MAX_AGE": "90d"},
			check: func(c Config) (any, any) { return c.Policy.MaxAge, 90 * 24 * time.Hour },
		},
		{
			name: "a duration list is comma-separated",
			env:  map[string]string{"DIRD_NOTIFY_EXPIRY_NOTICE": "14d, 1.5d,12h"},
			check: func(c Config) (any, any) {
				return c.Notify.ExpiryNotice, []time.Duration{14 * 24 * time.Hour, 36 * time.Hour, 12 * time.Hour}
			},
		},
		{
			name:  "an empty list variable empties the list",
			env:   map[string]string{"DIRD_NOTIFY_EXPIRY_NOTICE": ""},
			check: func(c Config) (any, any) { return len(c.Notify.ExpiryNotice), 0 },
		},
		{
			name:  "a string list is comma-separated",
			env:   map[string]string{"DIRD_STORE_ETCD_ENDPOINTS": "http://a:2379,http://b:2379"},
			check: func(c Config) (any, any) { return c.Store.EtcdEndpoints, []string{"http://a:2379", "http://b:2379"} },
		},
		{
			name: "a list of mappings is a YAML flow sequence",
			env:  map[string]string{"DIRD_RADIUS_CLIENTS": "[{name: ap, address: 10.0.0.0/24, secret: s3cret}]"},
			check: func(c Config) (any, any) {
				return c.Radius.Clients, []radiusd.Client{{Name: "ap", Address: "10.0.0.0/24", Secret: "s3cret"}}
			},
		},
		{
			name:  "the admin password from the environment",
			env:   map[string]string{"DIRD_ADMIN_PASSWORD": "from-env"},
			check: func(c Config) (any, any) { return c.Admin.Password, "from-env" },
		},
		{
			name: "the SMTP login from the environment",
			env:  map[string]string{"DIRD_MAIL_SMTP_USERNAME": "dird", "DIRD_MAIL_SMTP_PASSWORD": "relay-pass"},
			check: func(c Config) (any, any) {
				return []string{c.Mail.SMTPUsername, c.Mail.SMTPPassword}, []string{"dird", "relay-pass"}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := Load(writeConfig(t, file))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tt.check(cfg); !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "90s", want: 90 * time.Second},
		{in: "15m", want: 15 * time.Minute},
		{in: "2160h", want: 2160 * time.Hour},
		{in: "90d", want: 90 * 24 * time.Hour},
		{in: "7d", want: 7 * 24 * time.Hour},
		{in: "1.5d", want: 36 * time.Hour},
		{in: "0", want: 0},
		{in: " 0 ", want: 0},
		{in: "0s", want: 0},
		{in: "-1d", want: -24 * time.Hour},
		{in: "", wantErr: true},
		{in: "d", wantErr: true},
		{in: "7", wantErr: true},
		{in: "7x", wantErr: true},
		{in: "1d12h", wantErr: true},
		{in: "NaNd", wantErr: true},
		{in: "1e300d", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseDuration(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestLoadZeroMeansOff(t *testing.T) {
	clearEnv(t)
	cfg, err := Load(writeConfig(t, minimal+`
ldap:
  idle_timeout: 0
policy:
  max_age: "0"
  lockout_duration: 0
notify:
  interval: 0
  expiry_notice: []
`))
	if err != nil {
		t.Fatal(err)
	}
	for key, d := range map[string]time.Duration{
		"ldap.idle_timeout":       cfg.LDAP.IdleTimeout,
		"policy.max_age":          cfg.Policy.MaxAge,
		"policy.lockout_duration": cfg.Policy.LockoutDuration,
		"notify.interval":         cfg.Notify.Interval,
	} {
		if d != 0 {
			t.Errorf("%s = %v, want 0", key, d)
		}
	}
}

func TestLoadNullKeepsDefault(t *testing.T) {
	clearEnv(t)
	cfg, err := Load(writeConfig(t, minimal+"metrics:\nldap:\n  listen:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LDAP.Listen != "127.0.0.1:3389" {
		t.Errorf("ldap.listen = %q, want the default", cfg.LDAP.Listen)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string // appended to minimal unless replace is set
		// replace uses file as the whole configuration.
		replace bool
		env     map[string]string
		want    []string // substrings of the error, the key first
	}{
		{name: "unknown top-level key", file: "ldpa:\n  listen: x\n", want: []string{"ldpa: unknown key", "did you mean ldap?"}},
		{name: "unknown nested key", file: "ldap:\n  lisen: 127.0.0.1:1\n", want: []string{"ldap.lisen: unknown key", "did you mean ldap.listen?"}},
		{name: "unknown key far from any", file: "policy:\n  colour: blue\n", want: []string{"policy.colour: unknown key", "config.example.yaml"}},
		{name: "unknown key in a list element", file: "radius:\n  clients:\n    - {name: a, address: 10.0.0.1, secrt: x}\n", want: []string{"radius.clients[0].secrt: unknown key", "radius.clients[0].secret?"}},
		{name: "invalid duration", file: "policy:\n  max_age: 90 days\n", want: []string{"policy.max_age:", `"90 days" is not a duration`}},
		{name: "duration without unit", file: "ldap:\n  idle_timeout: 300\n", want: []string{"ldap.idle_timeout: 300 has no unit"}},
		{name: "invalid duration in a list", file: "notify:\n  expiry_notice: [7d, soon]\n", want: []string{"notify.expiry_notice[1]:", `"soon"`}},
		{name: "unknown log level", file: "log:\n  level: verbose\n", want: []string{"log.level:", "debug, info, warn or error"}},
		{name: "unknown log format", file: "log:\n  format: xml\n", want: []string{"log.format:", "json or text"}},
		{name: "wrong type", file: "ldap:\n  max_connections: many\n", want: []string{"ldap.max_connections:", "whole number"}},
		{name: "mapping where a value belongs", file: "ldap:\n  listen: {host: x}\n", want: []string{"ldap.listen:", "got a mapping"}},
		{name: "base_dn missing", replace: true, file: "admin: {dn: cn=admin, password: x}\n", want: []string{"base_dn: required"}},
		{name: "base_dn not a DN", file: "base_dn: example.com\n", replace: true, want: []string{"base_dn:", "dc=example,dc=com"}},
		{name: "admin.dn missing", replace: true, file: "base_dn: dc=example,dc=com\nadmin: {password: x}\n", want: []string{"admin.dn: required"}},
		{name: "admin.dn outside base_dn", replace: true, file: "base_dn: dc=example,dc=com\nadmin: {dn: 'cn=admin,dc=other,dc=com', password: x}\n", want: []string{"admin.dn:", "directly under base_dn"}},
		{name: "admin.dn is base_dn", replace: true, file: "base_dn: dc=example,dc=com\nadmin: {dn: 'dc=example,dc=com', password: x}\n", want: []string{"admin.dn:", "directly under base_dn"}},
		{name: "admin.dn too deep", replace: true, file: "base_dn: dc=example,dc=com\nadmin: {dn: 'cn=admin,ou=system,dc=example,dc=com', password: x}\n", want: []string{"admin.dn:", "directly under"}},
		{name: "no admin password", replace: true, file: "base_dn: dc=example,dc=com\nadmin: {dn: 'cn=admin,dc=example,dc=com'}\n", want: []string{"admin.password, admin.password_file: set one"}},
		{name: "both admin passwords", replace: true, file: "base_dn: dc=example,dc=com\nadmin: {dn: 'cn=admin,dc=example,dc=com', password: x, password_file: /run/secrets/admin}\n", want: []string{"admin.password, admin.password_file: set only one"}},
		{name: "store backend", file: "store: {backend: mysql}\n", want: []string{"store.backend:"}},
		{name: "policy min_length", file: "policy: {min_length: 0}\n", want: []string{"policy.min_length: must be at least 1"}},
		{name: "policy max_length above PAP", file: "policy: {max_length: 200}\n", want: []string{"policy.max_length:"}},
		{name: "negative duration", file: "policy: {max_age: -1d}\n", want: []string{"policy.max_age: must not be negative"}},
		{name: "argon2_threads overflow", file: "policy: {argon2_threads: 300}\n", want: []string{"policy.argon2_threads: 300 is out of range", "0 to 255"}},
		{name: "negative into unsigned", file: "policy: {argon2_memory: -1}\n", want: []string{"policy.argon2_memory: -1 is out of range"}},
		{name: "overflow from the environment", env: map[string]string{"DIRD_POLICY_ARGON2_TIME": "5000000000"}, want: []string{"policy.argon2_time:", "(set by DIRD_POLICY_ARGON2_TIME)"}},
		{name: "ldap listen", file: "ldap: {listen: localhost}\n", want: []string{"ldap.listen:"}},
		{name: "ldaps without certificate", file: "ldap: {ldaps_listen: 127.0.0.1:6360}\n", want: []string{"ldap.ldaps_listen:"}},
		{name: "radius listen", file: "radius: {listen: 1812}\n", want: []string{"radius.listen:"}},
		{name: "radius without clients", file: "radius: {clients: []}\n", want: []string{"radius.clients: at least one"}},
		{name: "radius client address", file: "radius: {clients: [{name: a, address: 10.0.0.0/33, secret: s}]}\n", want: []string{"radius.clients[0].address:"}},
		{name: "radius client without secret", file: "radius: {clients: [{name: a, address: 10.0.0.0/8}]}\n", want: []string{"radius.clients[0].secret: required"}},
		{name: "radius client without name", file: "radius: {clients: [{address: 10.0.0.0/8, secret: s}]}\n", want: []string{"radius.clients[0].name: required"}},
		{name: "radius duplicate client name", file: "radius: {clients: [{name: a, address: 10.0.0.0/8, secret: s}, {name: a, address: 10.1.0.0/16, secret: s}]}\n", want: []string{"radius.clients[1].name:"}},
		{name: "radius duplicate client address", file: "radius: {clients: [{name: a, address: 10.0.0.1, secret: s}, {name: b, address: 10.0.0.1/32, secret: s}]}\n", want: []string{"radius.clients[1].address:"}},
		{name: "radius eap half set", file: "radius: {eap_tls_cert: /etc/dird/eap.pem}\n", want: []string{"radius.eap_tls_cert, radius.eap_tls_key:"}},
		{name: "portal public_url", file: "portal: {public_url: id.example.com}\n", want: []string{"portal.public_url:"}},
		{name: "portal public_url with query", file: "portal: {public_url: 'https://id.example.com/?a=b'}\n", want: []string{"portal.public_url:"}},
		{name: "portal reset_ttl off", file: "portal: {reset_ttl: 0}\n", want: []string{"portal.reset_ttl: must be positive"}},
		{name: "portal reset_ttl too long", file: "portal: {reset_ttl: 2d}\n", want: []string{"portal.reset_ttl:", "24h"}},
		{name: "metrics listen", file: "metrics: {listen: 'http://127.0.0.1:9100'}\n", want: []string{"metrics.listen:"}},
		{name: "mail driver", file: "mail: {driver: sendmail}\n", want: []string{"mail.driver:"}},
		{name: "mail from", file: "mail: {from: dird}\n", want: []string{"mail.from:"}},
		{name: "mail smtp without host", file: "mail: {driver: smtp, smtp_host: ''}\n", want: []string{"mail.smtp_host: required"}},
		{name: "mail port", file: "mail: {smtp_port: 70000}\n", want: []string{"mail.smtp_port:"}},
		{name: "mail smtp_tls", file: "mail: {smtp_tls: ssl}\n", want: []string{"mail.smtp_tls:", "auto, starttls, tls, none"}},
		{name: "mail password in clear to a remote relay", file: "mail: {driver: smtp, smtp_host: mail.example.com, smtp_tls: none, smtp_username: dird}\n", want: []string{"mail.smtp_tls: none", "loopback"}},
		{name: "mail password without username", env: map[string]string{"DIRD_MAIL_SMTP_PASSWORD": "x"}, want: []string{"mail.smtp_password:", "(set by DIRD_MAIL_SMTP_PASSWORD)"}},
		{name: "notify notice zero", file: "notify: {expiry_notice: [7d, 0]}\n", want: []string{"notify.expiry_notice[1]: must be positive"}},
		{name: "notify duplicate notice", file: "notify: {expiry_notice: [7d, 168h]}\n", want: []string{"notify.expiry_notice[1]:"}},
		{name: "notify interval too short", file: "notify: {interval: 1ms}\n", want: []string{"notify.interval:"}},
		{name: "two fronts on one port", file: "portal: {listen: '127.0.0.1:3389'}\n", want: []string{"portal.listen: port 3389 is already taken by ldap.listen"}},
		{name: "wildcard and loopback on one port", file: "ldap: {listen: '127.0.0.1:8080'}\nportal: {listen: ':8080'}\n", want: []string{"portal.listen: port 8080 is already taken by ldap.listen"}},
		{name: "error from the environment names the variable", env: map[string]string{"DIRD_LDAP_LISTEN": "nonsense"}, want: []string{"ldap.listen:", "(set by DIRD_LDAP_LISTEN)"}},
		{name: "bad duration from the environment", env: map[string]string{"DIRD_POLICY_MAX_AGE": "forever"}, want: []string{"policy.max_age:", "(set by DIRD_POLICY_MAX_AGE)"}},
		{name: "bad list from the environment", env: map[string]string{"DIRD_RADIUS_CLIENTS": "[{name: a"}, want: []string{"radius.clients:", "not a YAML list"}},
		{name: "not YAML", replace: true, file: "base_dn: [unclosed\n", want: []string{"dird.yaml", "invalid YAML: line 1"}},
		{name: "YAML but not a mapping", replace: true, file: "- base_dn\n", want: []string{"dird.yaml", "top level must be a mapping"}},
		{name: "duplicate key", file: "base_dn: dc=other\n", want: []string{"dird.yaml", "already defined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			content := minimal + tt.file
			if tt.replace {
				content = tt.file
			}
			_, err := Load(writeConfig(t, content))
			if err == nil {
				t.Fatalf("Load succeeded, want an error containing %q", tt.want)
			}
			msg := err.Error()
			t.Log(msg)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if !strings.HasPrefix(msg, tt.want[0]) && !strings.HasPrefix(msg, "config file") {
				t.Errorf("error %q does not start with the key %q", msg, tt.want[0])
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
		})
	}
}

func TestLoadListenersThatMayShareAPort(t *testing.T) {
	tests := []struct{ name, file string }{
		{"UDP and TCP are separate", "portal: {listen: '127.0.0.1:1812'}\n"},
		{"port 0 picks a free port for each", "ldap: {listen: '127.0.0.1:0'}\nportal: {listen: '127.0.0.1:0'}\nradius: {listen: '127.0.0.1:0'}\n"},
		{"different addresses", "ldap: {listen: '127.0.0.1:8080'}\nportal: {listen: '127.0.0.2:8080'}\n"},
		{"a front turned off", "metrics: {listen: ''}\nportal: {listen: ''}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if _, err := Load(writeConfig(t, minimal+tt.file)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	clearEnv(t)
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("Load(missing) = %v, want an error naming %s", err, path)
	}
}

func TestExampleLoads(t *testing.T) {
	clearEnv(t)
	cfg, err := Load(examplePath(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Password != "dird-admin-secret" || cfg.LDAP.Listen != "127.0.0.1:3389" || cfg.Store.Path != "./data" {
		t.Errorf("example: admin.password %q, ldap.listen %q, store.path %q; the README quotes these",
			cfg.Admin.Password, cfg.LDAP.Listen, cfg.Store.Path)
	}
}

// TestExampleHasEveryKey keeps config.example.yaml, the user's reference,
// complete: a new key must be documented there.
func TestExampleHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath(t))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	var got []string
	var flatten func(prefix string, m map[string]any)
	flatten = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 { // an empty map is a key (radius.group_replies: {})
				flatten(joinKey(prefix, k), sub)
				continue
			}
			got = append(got, joinKey(prefix, k))
		}
	}
	flatten("", raw)
	sort.Strings(got)
	if want := Keys(); !slices.Equal(got, want) {
		t.Errorf("config.example.yaml keys differ from Config:\n got %v\nwant %v", got, want)
	}
}

// TestEveryKeyHasDefault: a key without a default cannot be set from the
// environment (viper only looks up keys it knows).
func TestEveryKeyHasDefault(t *testing.T) {
	var got []string
	for k := range defaults() {
		got = append(got, k)
	}
	sort.Strings(got)
	if want := Keys(); !slices.Equal(got, want) {
		t.Errorf("defaults() keys differ from Config:\n got %v\nwant %v", got, want)
	}
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"ldap.listen":              "DIRD_LDAP_LISTEN",
		"base_dn":                  "DIRD_BASE_DN",
		"admin.password_file":      "DIRD_ADMIN_PASSWORD_FILE",
		"radius.clients[0].secret": "DIRD_RADIUS_CLIENTS",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		admin   AdminConfig
		want    string
		wantErr string
	}{
		{name: "inline password", admin: AdminConfig{Password: "inline"}, want: "inline"},
		{name: "file with newline", admin: AdminConfig{PasswordFile: file("a", "from-file\n")}, want: "from-file"},
		{name: "file with CRLF", admin: AdminConfig{PasswordFile: file("b", "crlf\r\n")}, want: "crlf"},
		{name: "only the first line counts", admin: AdminConfig{PasswordFile: file("c", "first\nsecond\n")}, want: "first"},
		{name: "spaces are kept", admin: AdminConfig{PasswordFile: file("d", " pass phrase ")}, want: " pass phrase "},
		{name: "empty file", admin: AdminConfig{PasswordFile: file("e", "\n")}, wantErr: "admin.password_file:"},
		{name: "missing file", admin: AdminConfig{PasswordFile: filepath.Join(dir, "missing")}, wantErr: "admin.password_file:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.admin.ReadPassword()
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("ReadPassword() error = %v, want one starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ReadPassword() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
