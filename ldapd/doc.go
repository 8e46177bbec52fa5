// Package ldapd is the LDAP front: its own wire layer on BER (wire.go,
// controls.go), the connection loop (conn.go) and one file per operation
// (bind.go, search.go, write.go, extended.go). It only translates: every
// credential decision goes to package policy, every entry to package
// store. It imports policy and store (never another front) and is
// imported by server.
package ldapd
