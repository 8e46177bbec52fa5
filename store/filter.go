package store

// FilterKind is the choice of an RFC 4511 Filter.
type FilterKind uint8

// The filter choices of RFC 4511 §4.5.1.7, in their context-tag order.
const (
	FilterAnd FilterKind = iota
	FilterOr
	FilterNot
	FilterEquality
	FilterSubstrings
	FilterGreaterOrEqual
	FilterLessOrEqual
	FilterPresent
	FilterApprox
	FilterExtensible
)

// Filter is a decoded search filter (RFC 4511 §4.5.1.7), independent of its
// wire form (BER) or string form (RFC 4515).
type Filter struct {
	Kind FilterKind
	// Children holds the operands of And and Or, and the single operand of
	// Not.
	Children []Filter
	// Attr is the attribute description of every other kind (for
	// Extensible it may be empty when only a matching rule is given).
	Attr string
	// Value is the assertion value of Equality, GreaterOrEqual,
	// LessOrEqual, Approx and Extensible.
	Value string
	// Substrings: Initial and Final are empty when absent; Any keeps order.
	Initial string
	Any     []string
	Final   string
	// Extensible only.
	MatchingRule string
	DNAttributes bool
}
