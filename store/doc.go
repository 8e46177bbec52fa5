// Package store is the directory: the small KV interface and its
// transactions, entries, DN parsing and normalisation, a light schema,
// equality indexes, search evaluation and computed memberOf.
//
// It imports nothing of dird's own. Backends (store/badgerkv, store/memkv)
// import only store; everything above them sees only the KV interface.
// Credential attributes (userPassword, pwd*, sealed secrets) can only be
// written through a *Credentials handle, which package policy claims.
package store
