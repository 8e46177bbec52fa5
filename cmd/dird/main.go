// Command dird runs the dird directory server: LDAP, RADIUS and a web
// portal over one embedded store, in one process.
//
// It is kept short: it parses flags, loads the configuration with package
// config, and hands the rest to package server. Those are the only dird
// packages it imports. See commands.go for the subcommands.
package main

import (
	"context"
	"os"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
