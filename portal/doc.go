// Package portal is dird's web portal for the people in the directory:
// log in, see the password's age and expiry (warned at every login within
// policy.expire_warning), change it in Security, reset it from an emailed
// link (then the authenticator code when enrolled), and enrol an
// authenticator app (TOTP) with recovery codes. Pages are server-rendered
// html/template with embedded CSS and no JavaScript.
//
// Every credential decision goes through policy.Door (login, change,
// reset, sessions, TOTP); the portal only decodes forms, calls the door,
// and renders the outcome. Sessions are kept server-side in the store by
// the door, so they survive a restart and end when the password changes on
// any front. Mail goes through package mail.
//
// It imports policy, store and mail, is imported by server (and config,
// for its Config), and never by another front.
package portal
