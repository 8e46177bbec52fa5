// Package opstest drives the operations commands of a real dird binary
// as an administrator runs them: dird import of an OpenLDAP slapcat file,
// then dird serve and binds with the migrated passwords; dird backup while
// dird serve takes writes, then dird restore and a check that every
// acknowledged write is there; and a round trip through Debian's real
// OpenLDAP (slapadd, slapcat, slapd), with LDAP binds and RADIUS PAP
// (radtest) on dird in between; and a password expiry notice from dird
// serve through mail.driver smtp to a real SMTP server on loopback
// (emersion/go-smtp), across a refused try, a restart and a restore; and
// dird mfa-reset of an authenticator app enrolled in the portal, with
// dird serve running and stopped. The
// tools come from make test-deps; a missing one fails the test ("run make
// test-deps").
//
// TestMain builds cmd/dird once (with -race under go test -race). The
// package has only tests and imports no dird package: it sees what an
// administrator sees.
package opstest
