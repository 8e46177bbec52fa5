// Package ldif reads and writes LDIF, the LDAP Data Interchange Format of
// RFC 2849, as `dird import` reads it and `dird export` writes it.
//
// The Reader takes content records and `changetype: add` records: the
// optional `version: 1` line, comments, folded (continued) lines, base64
// values (`::`), with every error naming its line. It refuses what an
// import cannot do safely, each with its own message: URL values (`:<`,
// which would read local files), other change types, and controls. The
// Writer folds lines at 76 columns and base64-encodes every value that is
// not plain printable ASCII or that LDIF would misread (a leading space,
// colon or `<`, a trailing space), as OpenLDAP's slapcat does, so its
// output loads into both `dird import` and `slapadd`.
//
// The package knows nothing of dird's directory: records are strings, and
// package server turns them into entries. It imports nothing of dird's own
// and is imported by server.
package ldif
