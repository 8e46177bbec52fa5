// Package radiusd is the RADIUS front (RFC 2865) for Wi-Fi and VPN: its
// own UDP loop (server.go) on layeh.com/radius's packet codec and
// dictionaries, with client lookup by source address, the
// Message-Authenticator every request must carry and every reply carries
// first (RFC 3579 §3.2, the BlastRADIUS mitigation, msgauth.go), the
// RFC 5080 duplicate cache (dedup.go), Status-Server (RFC 5997) and one
// file per kind of request: access.go for Access-Request and PAP,
// mschapradius.go for MS-CHAPv2 carried in RADIUS attributes (RFC 2548),
// mschapauth.go for verifyMSCHAPv2, the one MS-CHAPv2 check (RADIUS and
// EAP-MSCHAPv2 alike), mschap.go for its cryptography (RFC 2759, RFC
// 3079), and authz.go for authorisation after authentication (per-client
// groups, VLAN and other reply attributes per group). papcode.go asks
// PAP users with an authenticator app for its code (Access-Challenge,
// RFC 2865 §4.4, checked by policy.VerifyTOTP); the methods that cannot
// ask refuse such users in authorize. accounting.go answers
// Accounting-Requests on their own port (RFC 2866).
//
// EAP (RFC 3579): eap.go carries EAP in EAP-Message attributes and keeps
// the State-keyed conversations (bounded, timed out); eaptls.go is the
// TLS tunnel of PEAP and EAP-TTLS (Go's crypto/tls on an in-memory conn,
// EAP-TLS fragmentation, key export to MS-MPPE keys); eaptlscert.go the
// server certificate; peap.go PEAPv0 with EAP-MSCHAPv2 inside; ttls.go
// EAP-TTLS with PAP or MS-CHAPv2 inside. Authentication and authorisation
// use the inner identity only.
//
// It only translates: every credential decision goes to package policy
// through policy.Door.Authenticate (a password) or AuthenticateNT
// (MS-CHAPv2, against the NT hash policy keeps sealed), so RADIUS
// failures count toward the same lockout as LDAP ones. It imports policy
// and store (never another front) and is imported by server and config (for Config). No
// layeh.com/radius type appears in its exported API.
package radiusd
