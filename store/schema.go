package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// matchKind is an attribute's equality (and ordering) rule.
type matchKind uint8

const (
	caseIgnore matchKind = iota // caseIgnoreMatch, caseIgnoreIA5Match
	caseExact                   // caseExactMatch, caseExactIA5Match
	integerMatch
	dnMatch
	timeMatch    // generalizedTimeMatch, with ordering
	octetMatch   // octetStringMatch
	booleanMatch // booleanMatch
)

// AttrType describes one attribute type of the light schema.
type AttrType struct {
	// Name is the canonical spelling returned to clients.
	Name  string
	lower string
	match matchKind
	// SingleValue: SINGLE-VALUE in the schema.
	SingleValue bool
	// Operational attributes are returned only when asked for by name or
	// with "+".
	Operational bool
	// NoUserMod attributes are maintained by the server.
	NoUserMod bool
	// Class says who may read and write the attribute.
	Class AttrClass
	known bool
}

// Lower is the canonical name in lower case, for case-insensitive maps
// keyed by attribute (computed once, not at every lookup).
func (a *AttrType) Lower() string { return a.lower }

// AttrClass sorts attributes by who may see them.
type AttrClass uint8

const (
	// Public attributes are readable by any bound user.
	Public AttrClass = iota
	// PolicyState attributes (ppolicy operational state) are readable by
	// the administrator only and written only through Credentials.
	PolicyState
	// Secret attributes (userPassword, sealed secrets) are never returned
	// by a search, never match a filter and are written only through
	// Credentials.
	Secret
)

// Known reports whether the type is in dird's schema.
func (a *AttrType) Known() bool { return a.known }

// Ordered reports whether the type has an ordering rule (>=, <=).
func (a *AttrType) Ordered() bool { return a.match == integerMatch || a.match == timeMatch }

var attrTypes = map[string]*AttrType{}

func defAttr(names string, m matchKind, single bool, opts ...func(*AttrType)) {
	list := strings.Split(names, ",")
	at := &AttrType{Name: list[0], lower: strings.ToLower(list[0]), match: m, SingleValue: single, known: true}
	for _, o := range opts {
		o(at)
	}
	for _, n := range list {
		attrTypes[strings.ToLower(n)] = at
		// Also as spelled, so that LookupAttr finds the usual spelling
		// without lower-casing it (an allocation on every lookup).
		attrTypes[n] = at
	}
}

func operational(a *AttrType) { a.Operational = true; a.NoUserMod = true }
func policyState(a *AttrType) { a.Operational = true; a.NoUserMod = true; a.Class = PolicyState }
func secret(a *AttrType)      { a.Class = Secret }

func init() {
	defAttr("objectClass", caseIgnore, false)
	defAttr("cn,commonName", caseIgnore, false)
	defAttr("sn,surname", caseIgnore, false)
	defAttr("givenName,gn", caseIgnore, false)
	defAttr("uid,userid", caseIgnore, false)
	defAttr("mail,rfc822Mailbox", caseIgnore, false)
	for _, n := range []string{"displayName", "preferredLanguage", "employeeNumber"} {
		defAttr(n, caseIgnore, true)
	}
	for _, n := range []string{"description", "telephoneNumber", "mobile", "title", "o,organizationName",
		"ou,organizationalUnitName", "dc,domainComponent", "c,countryName", "l,localityName", "st,stateOrProvinceName",
		"street,streetAddress", "postalCode", "postalAddress", "postOfficeBox", "employeeType", "departmentNumber",
		"initials", "businessCategory", "carLicense", "homePhone", "homePostalAddress", "pager", "labeledURI",
		"roomNumber", "physicalDeliveryOfficeName", "facsimileTelephoneNumber", "associatedDomain", "host",
		"registeredAddress", "destinationIndicator", "internationaliSDNNumber", "telexNumber",
		"x121Address", "userClass", "info", "drink", "buildingName", "audio", "photo", "userCertificate",
		"userSMIMECertificate", "userPKCS12", "x500UniqueIdentifier", "nisNetgroupTriple", "memberNisNetgroup",
		"sshPublicKey", "macAddress", "ipHostNumber", "authorizedService"} {
		defAttr(n, caseIgnore, false)
	}
	defAttr("jpegPhoto", octetMatch, false)
	for _, n := range []string{"member", "uniqueMember", "owner", "seeAlso", "manager", "secretary", "roleOccupant"} {
		defAttr(n, dnMatch, false)
	}
	defAttr("uidNumber", integerMatch, true)
	defAttr("gidNumber", integerMatch, true)
	defAttr("homeDirectory", caseExact, true)
	defAttr("loginShell", caseExact, true)
	defAttr("gecos", caseIgnore, true)
	defAttr("memberUid", caseExact, false)
	for _, n := range []string{"shadowLastChange", "shadowMin", "shadowMax", "shadowWarning", "shadowInactive",
		"shadowExpire", "shadowFlag"} {
		defAttr(n, integerMatch, true)
	}

	defAttr("entryUUID", caseIgnore, true, operational)
	defAttr("entryDN", dnMatch, true, operational)
	defAttr("createTimestamp", timeMatch, true, operational)
	defAttr("modifyTimestamp", timeMatch, true, operational)
	defAttr("creatorsName", dnMatch, true, operational)
	defAttr("modifiersName", dnMatch, true, operational)
	defAttr("hasSubordinates", booleanMatch, true, operational)
	defAttr("numSubordinates", integerMatch, true, operational)
	defAttr("memberOf", dnMatch, false, operational)
	defAttr("subschemaSubentry", dnMatch, true, operational)
	defAttr("structuralObjectClass", caseIgnore, true, operational)

	defAttr("userPassword", octetMatch, false, secret)
	// Sealed NT hash and TOTP secret: never leave the server.
	defAttr("dirdNTHash", octetMatch, true, secret, func(a *AttrType) { a.Operational = true; a.NoUserMod = true })
	defAttr("dirdTOTPSecret", octetMatch, true, secret, func(a *AttrType) { a.Operational = true; a.NoUserMod = true })

	defAttr("pwdChangedTime", timeMatch, true, policyState)
	defAttr("pwdAccountLockedTime", timeMatch, true, policyState)
	defAttr("pwdFailureTime", timeMatch, false, policyState)
	defAttr("pwdHistory", octetMatch, false, policyState)
	defAttr("pwdGraceUseTime", timeMatch, false, policyState)
	defAttr("pwdReset", booleanMatch, true, policyState)
	defAttr("pwdLastSuccess", timeMatch, true, policyState)
	defAttr("pwdPolicySubentry", dnMatch, true, policyState)
	defAttr("pwdStartTime", timeMatch, true, policyState)
	defAttr("pwdEndTime", timeMatch, true, policyState)
}

// LookupAttr returns the schema entry for name (case-insensitive, aliases
// resolved). An unknown name gets an ad-hoc case-ignore, multi-valued,
// public type named as given: the schema is light and does not refuse
// attributes it does not know.
func LookupAttr(name string) *AttrType {
	// Attribute options (cn;lang-en) are not supported: strip them.
	if i := strings.IndexByte(name, ';'); i >= 0 {
		name = name[:i]
	}
	if at, ok := attrTypes[name]; ok {
		return at
	}
	lower := strings.ToLower(name)
	if at, ok := attrTypes[lower]; ok {
		return at
	}
	return &AttrType{Name: name, lower: lower, match: caseIgnore}
}

// ErrInvalidSyntax is returned for a value its attribute's syntax refuses.
var ErrInvalidSyntax = errors.New("store: invalid attribute syntax")

// normalize returns the value's form for equality matching and indexes.
func (a *AttrType) normalize(v string) (string, error) {
	switch a.match {
	case caseIgnore:
		return foldSpaces(strings.ToLower(v)), nil
	case caseExact:
		return foldSpaces(v), nil
	case integerMatch:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return "", fmt.Errorf("%w: %s: %q is not an integer", ErrInvalidSyntax, a.Name, v)
		}
		return strconv.FormatInt(n, 10), nil
	case dnMatch:
		dn, err := ParseDN(v)
		if err != nil {
			return "", fmt.Errorf("%w: %s: %q is not a DN", ErrInvalidSyntax, a.Name, v)
		}
		return dn.Norm(), nil
	case timeMatch:
		t, err := ParseGeneralizedTime(v)
		if err != nil {
			return "", fmt.Errorf("%w: %s: %q is not a generalized time", ErrInvalidSyntax, a.Name, v)
		}
		return FormatTime(t), nil
	case booleanMatch:
		switch strings.ToUpper(strings.TrimSpace(v)) {
		case "TRUE":
			return "TRUE", nil
		case "FALSE":
			return "FALSE", nil
		}
		return "", fmt.Errorf("%w: %s: %q is not TRUE or FALSE", ErrInvalidSyntax, a.Name, v)
	}
	return v, nil
}

// foldSpaces trims and collapses runs of spaces (RFC 4518 insignificant
// space handling, simplified).
func foldSpaces(s string) string {
	if !strings.Contains(s, "  ") && (len(s) == 0 || (s[0] != ' ' && s[len(s)-1] != ' ')) {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}

// compare orders two normalised values of an ordered type.
func (a *AttrType) compare(x, y string) int {
	if a.match == integerMatch {
		xi, _ := strconv.ParseInt(x, 10, 64)
		yi, _ := strconv.ParseInt(y, 10, 64)
		switch {
		case xi < yi:
			return -1
		case xi > yi:
			return 1
		}
		return 0
	}
	// Normalised generalized times (FormatTime) sort as strings, except
	// that fractions are variable-length: compare the instants.
	tx, _ := ParseGeneralizedTime(x)
	ty, _ := ParseGeneralizedTime(y)
	return tx.Compare(ty)
}

// ParseGeneralizedTime parses an RFC 4517 GeneralizedTime
// (YYYYMMDDHH[MM[SS[.fff]]](Z|±hhmm)).
func ParseGeneralizedTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) < 11 {
		return time.Time{}, errors.New("generalized time too short")
	}
	var loc *time.Location
	var body string
	switch {
	case strings.HasSuffix(s, "Z"):
		loc, body = time.UTC, s[:len(s)-1]
	case len(s) > 5 && (s[len(s)-5] == '+' || s[len(s)-5] == '-'):
		off := s[len(s)-5:]
		h, err1 := strconv.Atoi(off[1:3])
		m, err2 := strconv.Atoi(off[3:5])
		if err1 != nil || err2 != nil {
			return time.Time{}, errors.New("bad time zone offset")
		}
		secs := h*3600 + m*60
		if off[0] == '-' {
			secs = -secs
		}
		loc, body = time.FixedZone("", secs), s[:len(s)-5]
	default:
		return time.Time{}, errors.New("generalized time without time zone")
	}
	frac := ""
	if i := strings.IndexAny(body, ".,"); i >= 0 {
		frac, body = body[i+1:], body[:i]
	}
	for _, r := range body + frac {
		if !unicode.IsDigit(r) {
			return time.Time{}, errors.New("non-digit in generalized time")
		}
	}
	layout := map[int]string{10: "2006010215", 12: "200601021504", 14: "20060102150405"}[len(body)]
	if layout == "" {
		return time.Time{}, errors.New("bad generalized time length")
	}
	t, err := time.ParseInLocation(layout, body, loc)
	if err != nil {
		return time.Time{}, err
	}
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		n, _ := strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
		// A fraction applies to the last unit written (RFC 4517 §3.3.13).
		// n is in billionths of that unit: scale the unit first, as
		// n*time.Hour overflows int64.
		switch len(body) {
		case 10:
			t = t.Add(time.Duration(n) * (time.Hour / 1e9))
		case 12:
			t = t.Add(time.Duration(n) * (time.Minute / 1e9))
		default:
			t = t.Add(time.Duration(n))
		}
	}
	return t.UTC(), nil
}

// FormatTime writes t as GeneralizedTime in UTC, with a fraction of a
// second only when t has one (pwdFailureTime values must be unique, so
// they keep microseconds).
func FormatTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("20060102150405Z")
	}
	s := t.Format("20060102150405.000000")
	s = strings.TrimRight(s, "0")
	return s + "Z"
}

// objectClass is one class of the light schema.
type objectClass struct {
	name       string
	sup        string
	must       []string
	structural bool
}

var objectClasses = map[string]*objectClass{}

func defClass(name, sup string, structural bool, must ...string) {
	objectClasses[strings.ToLower(name)] = &objectClass{name: name, sup: sup, must: must, structural: structural}
}

func init() {
	defClass("top", "", false, "objectClass")
	defClass("dcObject", "top", false, "dc")
	defClass("domain", "top", true, "dc")
	defClass("organization", "top", true, "o")
	defClass("organizationalUnit", "top", true, "ou")
	defClass("person", "top", true, "sn", "cn")
	defClass("organizationalPerson", "person", true)
	defClass("inetOrgPerson", "organizationalPerson", true)
	defClass("posixAccount", "top", false, "cn", "uid", "uidNumber", "gidNumber", "homeDirectory")
	defClass("shadowAccount", "top", false, "uid")
	defClass("groupOfNames", "top", true, "member", "cn")
	defClass("groupOfUniqueNames", "top", true, "uniqueMember", "cn")
	// posixGroup is auxiliary, as in RFC 2307bis, so it can sit beside
	// groupOfNames on one entry.
	defClass("posixGroup", "top", false, "cn", "gidNumber")
	defClass("organizationalRole", "top", true, "cn")
	defClass("account", "top", true, "uid")
	defClass("device", "top", true, "cn")
	defClass("country", "top", true, "c")
	defClass("extensibleObject", "top", false)
}

// ErrObjectClassViolation is returned when an entry breaks the schema.
var ErrObjectClassViolation = errors.New("store: object class violation")

// checkSchema verifies that every attribute a known object class requires
// is present, and that single-valued attributes have one value.
func checkSchema(e *Entry) error {
	classes := e.Get("objectClass")
	if len(classes) == 0 {
		return fmt.Errorf("%w: no objectClass attribute", ErrObjectClassViolation)
	}
	for _, c := range classes {
		for oc := objectClasses[strings.ToLower(c)]; oc != nil; oc = objectClasses[strings.ToLower(oc.sup)] {
			for _, m := range oc.must {
				if len(e.Get(m)) == 0 {
					return fmt.Errorf("%w: object class '%s' requires attribute '%s'", ErrObjectClassViolation, oc.name, m)
				}
			}
			if oc.sup == "" {
				break
			}
		}
	}
	for i := range e.Attrs {
		at := LookupAttr(e.Attrs[i].Type)
		if at.SingleValue && len(e.Attrs[i].Values) > 1 {
			return fmt.Errorf("%w: attribute '%s' cannot have multiple values", ErrConstraintViolation, at.Name)
		}
	}
	return nil
}

// withSuperclasses adds the superclasses of every known class, so that
// (objectClass=person) matches an inetOrgPerson as it does in OpenLDAP.
func withSuperclasses(classes []string) []string {
	out := append([]string(nil), classes...)
	seen := map[string]bool{}
	for _, c := range classes {
		seen[strings.ToLower(c)] = true
	}
	for _, c := range classes {
		for oc := objectClasses[strings.ToLower(c)]; oc != nil && oc.sup != ""; oc = objectClasses[strings.ToLower(oc.sup)] {
			if !seen[strings.ToLower(oc.sup)] {
				seen[strings.ToLower(oc.sup)] = true
				out = append(out, oc.sup)
			}
		}
	}
	return out
}
