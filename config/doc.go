// Package config turns a YAML file, DIRD_* environment variables and
// built-in defaults into one typed, validated Config.
//
// It is the only package that imports viper. It imports the Config types of
// the packages it composes (store, ldapd, radiusd, policy) and nothing else of
// dird's; cmd/dird and server import it. Every component is handed only its
// own section.
//
// Load reads the configuration file and nothing else, and Validate is
// pure, so check-config has no side effects. Files the configuration names
// (certificates, blocklists, admin.password_file through
// AdminConfig.ReadPassword) are read in a later step by their user, which
// names the key and the path in its errors.
package config
