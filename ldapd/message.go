package ldapd

import "github.com/dird/dird/store"

// The types below are the decoded form of RFC 4511 messages. wire.go turns
// BER into these and results back into BER; the operation files
// (bind.go, search.go, ...) only ever see these types.

// Control is a request or response control (RFC 4511 §4.1.11), value raw.
type Control struct {
	OID      string
	Critical bool
	Value    []byte
	HasValue bool
}

// Request is one LDAPMessage from a client.
type Request struct {
	MessageID int64
	// Op is one of *BindRequest, *UnbindRequest, *SearchRequest,
	// *ModifyRequest, *AddRequest, *DelRequest, *ModifyDNRequest,
	// *CompareRequest, *AbandonRequest, *ExtendedRequest, or
	// *UnknownRequest for an application tag we do not know.
	Op       any
	Controls []Control
}

// BindRequest is RFC 4511 §4.2. Simple is false for SASL.
type BindRequest struct {
	Version     int
	Name        string
	Simple      bool
	Password    []byte // simple
	Mechanism   string // SASL
	Credentials []byte // SASL
}

// UnbindRequest is RFC 4511 §4.3.
type UnbindRequest struct{}

// Search scopes (RFC 4511 §4.5.1.2).
const (
	ScopeBase     = 0
	ScopeOne      = 1
	ScopeSubtree  = 2
	ScopeChildren = 3 // draft-sermersheim-ldap-subordinate-scope, sent by some clients
)

// SearchRequest is RFC 4511 §4.5.1.
type SearchRequest struct {
	BaseDN       string
	Scope        int
	DerefAliases int
	SizeLimit    int
	TimeLimit    int
	TypesOnly    bool
	Filter       store.Filter
	Attributes   []string
}

// Modify operations (RFC 4511 §4.6, RFC 4525 increment).
const (
	ModAdd       = 0
	ModDelete    = 1
	ModReplace   = 2
	ModIncrement = 3
)

// Change is one item of a ModifyRequest.
type Change struct {
	Op     int
	Type   string
	Values []string
}

// ModifyRequest is RFC 4511 §4.6.
type ModifyRequest struct {
	DN      string
	Changes []Change
}

// Attribute is an attribute description with its values.
type Attribute struct {
	Type   string
	Values []string
}

// AddRequest is RFC 4511 §4.7.
type AddRequest struct {
	DN         string
	Attributes []Attribute
}

// DelRequest is RFC 4511 §4.8.
type DelRequest struct {
	DN string
}

// ModifyDNRequest is RFC 4511 §4.9.
type ModifyDNRequest struct {
	DN           string
	NewRDN       string
	DeleteOldRDN bool
	NewSuperior  string
	HasSuperior  bool
}

// CompareRequest is RFC 4511 §4.10.
type CompareRequest struct {
	DN    string
	Type  string
	Value string
}

// AbandonRequest is RFC 4511 §4.11.
type AbandonRequest struct {
	MessageID int64
}

// ExtendedRequest is RFC 4511 §4.12. HasValue distinguishes an absent
// requestValue from an empty one (RFC 3062 gives them different meanings).
type ExtendedRequest struct {
	Name     string
	Value    []byte
	HasValue bool
}

// UnknownRequest is a protocolOp whose tag this server does not know.
type UnknownRequest struct {
	Tag int
}

// Application tags of the response protocolOps (RFC 4511 §4.2 - §4.13).
const (
	AppBindResponse     = 1
	AppSearchEntry      = 4
	AppSearchDone       = 5
	AppModifyResponse   = 7
	AppAddResponse      = 9
	AppDelResponse      = 11
	AppModifyDNResponse = 13
	AppCompareResponse  = 15
	AppExtendedResponse = 24
	AppIntermediate     = 25
)

// Result is an LDAPResult (RFC 4511 §4.1.9).
type Result struct {
	Code       int
	MatchedDN  string
	Diagnostic string
}

// Response is one LDAPMessage the server sends.
type Response struct {
	MessageID int64
	// AppTag is one of the App* constants.
	AppTag int
	Result Result
	// Entry fields, for AppSearchEntry only.
	EntryDN    string
	Attributes []Attribute
	TypesOnly  bool
	// ExtendedResponse / BindResponse extras.
	ResponseName     string // ExtendedResponse responseName [10], omitted when empty
	ResponseValue    []byte // ExtendedResponse responseValue [11]
	HasResponseValue bool
	Controls         []Control
}
