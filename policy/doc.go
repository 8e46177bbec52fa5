// Package policy is dird's one door for credentials: hashing and
// verifying passwords (argon2id by default, imported schemes upgraded),
// quality rules, history, expiry and its warnings, lockout and the hourly
// throttle, must-change after an administrator reset, the NT hash kept
// sealed for MS-CHAPv2 (seal.go, AuthenticateNT in ntlogin.go), and the
// one authentication Outcome every front maps onto its protocol. Its rules are
// pure functions with the time passed in; the Door around them does the
// I/O. It imports only store, holds the store's Credentials handle (so no
// other package can write userPassword or pwd* attributes), and is
// imported by the fronts and by server.
package policy
