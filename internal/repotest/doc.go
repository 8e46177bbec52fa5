// Package repotest holds the repository-wide presubmit tests: one package
// comment per package, gofmt, the configuration examples in the docs, and
// viper staying inside package config. It has no code of its own; its
// tests import config and nothing else of dird's, and nothing imports it.
package repotest
