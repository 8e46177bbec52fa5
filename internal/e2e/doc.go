// Package e2e drives a real dird binary with the clients administrators
// and devices really use: the OpenLDAP command-line tools from Debian's
// ldap-utils (ldapwhoami, ldapsearch, ldapadd, ldapmodify, ldapdelete,
// ldapcompare, ldappasswd, ldapmodrdn), radclient from freeradius-utils
// for MS-CHAPv2 with the NT hash kept (mschap_test.go), go-ldap for the
// load-bearing crash test, and raw TCP for malformed input.
//
// TestMain builds cmd/dird once; each test starts its own `dird serve`
// on 127.0.0.1:0 with a configuration written to its temporary directory,
// reads the listening addresses from the JSON log, and stops it with
// SIGTERM (asserting exit status 0, since graceful shutdown is part of
// the contract). Every test also asserts that no log line contains a
// password it used.
//
// The package has only tests; it imports no dird package, so it sees
// exactly what an administrator sees. A missing ldap-utils binary fails
// the test ("run make test-deps"); it is never skipped.
package e2e
