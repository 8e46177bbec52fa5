package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Search scopes (RFC 4511 §4.5.1.2, plus subordinate).
const (
	ScopeBase     = 0
	ScopeOne      = 1
	ScopeSubtree  = 2
	ScopeChildren = 3
)

// SearchRequest asks for the entries under Base in Scope that match
// Filter.
type SearchRequest struct {
	Base   DN
	Scope  int
	Filter Filter
	// SizeLimit stops the search with ErrSizeLimitExceeded once more than
	// this many entries match; 0: no limit.
	SizeLimit int
	// After resumes a search after the entry with this key (Entry.Key),
	// for paged results. Results come in key order.
	After string
	// Admin lets filters match ppolicy state attributes. Secret
	// attributes never match, whoever asks.
	Admin bool
	// Plan, when set, is called once before the first entry with how the
	// search is answered (for the front's debug log): "base" (one entry
	// read), "index uid" or "index memberUid,uid" (the equality indexes
	// whose candidates are read), or "scan" (every entry in scope).
	Plan func(plan string)
}

// Search calls fn for each matching entry, in key order. The entry passed
// is fn's to keep.
func (d *Directory) Search(ctx context.Context, req SearchRequest, fn func(*Entry) error) error {
	baseKey := treeKey(req.Base)
	if len(req.Base) > 0 {
		if _, err := d.kv.Get(ctx, entryKey(baseKey)); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrNoSuchObject, req.Base)
		} else if err != nil {
			return fmt.Errorf("searching %s: %w", req.Base, err)
		}
	}
	s := &searcher{d: d, ctx: ctx, req: req, baseKey: baseKey, fn: fn}
	if req.Scope == ScopeBase {
		rec, err := d.kv.Get(ctx, entryKey(baseKey))
		if err != nil {
			return fmt.Errorf("searching %s: %w", req.Base, err)
		}
		s.plan("base")
		return s.consider(baseKey, rec)
	}
	if keys, ok, err := s.candidates(req.Filter); err != nil {
		return err
	} else if ok {
		s.plan("index " + strings.Join(compactStrings(sortedCopy(s.indexes)), ","))
		sort.Strings(keys)
		keys = compactStrings(keys)
		for _, k := range keys {
			if !s.inScope(k) || (req.After != "" && k <= req.After) {
				continue
			}
			rec, err := d.kv.Get(ctx, entryKey(k))
			if errors.Is(err, ErrNotFound) {
				continue // deleted since the index was read
			}
			if err != nil {
				return err
			}
			if err := s.consider(k, rec); err != nil {
				return err
			}
		}
		return nil
	}
	s.plan("scan")
	prefix := entryKey(baseKey)
	if len(req.Base) > 0 {
		prefix = append(prefix, 0)
	}
	if len(req.Base) > 0 && req.Scope == ScopeSubtree && req.After == "" {
		rec, err := d.kv.Get(ctx, entryKey(baseKey))
		if err != nil {
			return err
		}
		if err := s.consider(baseKey, rec); err != nil {
			return err
		}
	}
	after := []byte(nil)
	if req.After != "" {
		after = entryKey(req.After)
	}
	err := d.kv.Scan(ctx, prefix, func(k, v []byte) error {
		if after != nil && bytes.Compare(k, after) <= 0 {
			return nil
		}
		tk := string(k[1:])
		if !s.inScope(tk) {
			return nil
		}
		return s.consider(tk, v)
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

var errStop = errors.New("stop")

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

type searcher struct {
	d       *Directory
	ctx     context.Context
	req     SearchRequest
	baseKey string
	fn      func(*Entry) error
	sent    int
	indexes []string // the indexes candidates read, for the plan
}

func (s *searcher) plan(p string) {
	if s.req.Plan != nil {
		s.req.Plan(p)
	}
}

func sortedCopy(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

func depth(tk string) int {
	if tk == "" {
		return 0
	}
	return strings.Count(tk, "\x00") + 1
}

func (s *searcher) inScope(tk string) bool {
	if len(s.req.Base) > 0 && tk != s.baseKey && !strings.HasPrefix(tk, s.baseKey+"\x00") {
		return false
	}
	switch s.req.Scope {
	case ScopeBase:
		return tk == s.baseKey
	case ScopeOne:
		return depth(tk) == len(s.req.Base)+1
	case ScopeChildren:
		return tk != s.baseKey
	}
	return true
}

func (s *searcher) consider(tk string, rec []byte) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	e, err := decodeEntry(tk, rec)
	if err != nil {
		return err
	}
	ok, err := s.d.match(s.ctx, e, &s.req.Filter, s.req.Admin)
	if err != nil || !ok {
		return err
	}
	if s.req.SizeLimit > 0 && s.sent >= s.req.SizeLimit {
		return ErrSizeLimitExceeded
	}
	s.sent++
	return s.fn(e)
}

// candidates returns the tree keys an index says may match f, or ok=false
// when no index can answer and the scope must be scanned.
func (s *searcher) candidates(f Filter) (keys []string, ok bool, err error) {
	switch f.Kind {
	case FilterEquality:
		at := LookupAttr(f.Attr)
		if at.lower == "memberof" {
			s.indexes = append(s.indexes, "memberOf")
			return s.membersOf(f.Value)
		}
		if !indexedSet[at.lower] || at.Class != Public {
			return nil, false, nil
		}
		s.indexes = append(s.indexes, at.Name)
		nv, err := at.normalize(f.Value)
		if err != nil {
			return nil, true, nil // nothing can equal an invalid value
		}
		prefix := indexPrefix(at.lower, nv)
		err = s.d.kv.Scan(s.ctx, prefix, func(k, _ []byte) error {
			keys = append(keys, string(k[len(prefix):]))
			return nil
		})
		return keys, true, err
	case FilterAnd:
		best, bestRank := -1, len(Indexed)+1
		for i, c := range f.Children {
			if r := indexRank(c); r < bestRank {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			return nil, false, nil
		}
		return s.candidates(f.Children[best])
	case FilterOr:
		if len(f.Children) == 0 {
			return nil, true, nil
		}
		for _, c := range f.Children {
			ck, ok, err := s.candidates(c)
			if err != nil || !ok {
				return nil, false, err
			}
			keys = append(keys, ck...)
		}
		return keys, true, nil
	}
	return nil, false, nil
}

// indexRank orders usable filters by expected selectivity; len(Indexed)+1
// means unusable.
func indexRank(f Filter) int {
	switch f.Kind {
	case FilterEquality:
		lower := strings.ToLower(f.Attr)
		if lower == "memberof" {
			return len(Indexed) - 2
		}
		for i, a := range Indexed {
			if strings.EqualFold(a, LookupAttr(f.Attr).Name) {
				return i
			}
		}
	case FilterAnd:
		best := len(Indexed) + 1
		for _, c := range f.Children {
			best = min(best, indexRank(c))
		}
		return best
	case FilterOr:
		worst := -1
		for _, c := range f.Children {
			worst = max(worst, indexRank(c))
		}
		if worst >= 0 {
			return worst
		}
	}
	return len(Indexed) + 1
}

// membersOf lists the entries a group names in member or uniqueMember.
func (s *searcher) membersOf(groupDN string) ([]string, bool, error) {
	dn, err := ParseDN(groupDN)
	if err != nil {
		return nil, true, nil
	}
	g, err := s.d.Get(s.ctx, dn)
	if errors.Is(err, ErrNoSuchObject) {
		return nil, true, nil
	} else if err != nil {
		return nil, false, err
	}
	var keys []string
	for _, attr := range []string{"member", "uniqueMember"} {
		for _, m := range g.Get(attr) {
			if mdn, err := ParseDN(m); err == nil {
				keys = append(keys, treeKey(mdn))
			}
		}
	}
	return keys, true, nil
}

// MemberOf returns the DNs of the groups that list e in member or
// uniqueMember (the computed memberOf attribute).
func (d *Directory) MemberOf(ctx context.Context, e *Entry) ([]string, error) {
	norm := e.DN.Norm()
	var out []string
	for _, attr := range []string{"member", "uniquemember"} {
		prefix := indexPrefix(attr, norm)
		err := d.kv.Scan(ctx, prefix, func(_, v []byte) error {
			out = append(out, string(v))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("computing memberOf of %s: %w", e.DN, err)
		}
	}
	return out, nil
}

// values returns the attribute's values for matching, including computed
// ones, and hiding what the viewer may not match on.
func (d *Directory) values(ctx context.Context, e *Entry, at *AttrType, admin bool) ([]string, error) {
	switch {
	case at.Class == Secret:
		return nil, nil
	case at.Class == PolicyState && !admin:
		return nil, nil
	}
	switch at.lower {
	case "objectclass":
		return withSuperclasses(e.Get(at.Name)), nil
	case "memberof":
		return d.MemberOf(ctx, e)
	case "hassubordinates":
		if e.children > 0 {
			return []string{"TRUE"}, nil
		}
		return []string{"FALSE"}, nil
	case "numsubordinates":
		return []string{fmt.Sprint(e.children)}, nil
	case "entrydn":
		return []string{e.DN.String()}, nil
	case "subschemasubentry":
		return []string{"cn=Subschema"}, nil
	}
	return e.Get(at.Name), nil
}

// Match reports whether e matches f, as Search would decide it.
func (d *Directory) Match(ctx context.Context, e *Entry, f Filter, admin bool) (bool, error) {
	return d.match(ctx, e, &f, admin)
}

func (d *Directory) match(ctx context.Context, e *Entry, f *Filter, admin bool) (bool, error) {
	switch f.Kind {
	case FilterAnd:
		for i := range f.Children {
			ok, err := d.match(ctx, e, &f.Children[i], admin)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case FilterOr:
		for i := range f.Children {
			ok, err := d.match(ctx, e, &f.Children[i], admin)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case FilterNot:
		if len(f.Children) != 1 {
			return false, nil
		}
		ok, err := d.match(ctx, e, &f.Children[0], admin)
		return !ok && err == nil, err
	}
	at := LookupAttr(f.Attr)
	if f.Kind == FilterExtensible {
		return d.matchExtensible(ctx, e, f, admin)
	}
	vals, err := d.values(ctx, e, at, admin)
	if err != nil || len(vals) == 0 {
		return false, err
	}
	switch f.Kind {
	case FilterPresent:
		return true, nil
	case FilterEquality, FilterApprox:
		nv, err := at.normalize(f.Value)
		if err != nil {
			return false, nil
		}
		for _, v := range vals {
			if x, err := at.normalize(v); err == nil && x == nv {
				return true, nil
			}
		}
	case FilterGreaterOrEqual, FilterLessOrEqual:
		nv, err := at.normalize(f.Value)
		if err != nil {
			return false, nil
		}
		for _, v := range vals {
			x, err := at.normalize(v)
			if err != nil {
				continue
			}
			var c int
			if at.Ordered() {
				c = at.compare(x, nv)
			} else {
				c = strings.Compare(x, nv)
			}
			if (f.Kind == FilterGreaterOrEqual && c >= 0) || (f.Kind == FilterLessOrEqual && c <= 0) {
				return true, nil
			}
		}
	case FilterSubstrings:
		for _, v := range vals {
			if matchSubstrings(at, v, f) {
				return true, nil
			}
		}
	}
	return false, nil
}

func matchSubstrings(at *AttrType, v string, f *Filter) bool {
	norm := func(s string) string {
		if at.match == caseIgnore {
			return strings.ToLower(s)
		}
		return s
	}
	s := norm(foldSpaces(v))
	if f.Initial != "" {
		p := norm(f.Initial)
		if !strings.HasPrefix(s, p) {
			return false
		}
		s = s[len(p):]
	}
	for _, a := range f.Any {
		a = norm(a)
		i := strings.Index(s, a)
		if i < 0 {
			return false
		}
		s = s[i+len(a):]
	}
	if f.Final != "" {
		return strings.HasSuffix(s, norm(f.Final))
	}
	return true
}

// matchExtensible supports the common forms: attr:=value and
// attr:dn:=value with the attribute's own equality rule, and the
// caseIgnoreMatch/caseExactMatch/ octetStringMatch rules by name or OID.
func (d *Directory) matchExtensible(ctx context.Context, e *Entry, f *Filter, admin bool) (bool, error) {
	if f.Attr == "" {
		return false, nil
	}
	at := LookupAttr(f.Attr)
	vals, err := d.values(ctx, e, at, admin)
	if err != nil {
		return false, err
	}
	if f.DNAttributes {
		for _, rdn := range e.DN {
			for _, ava := range rdn {
				if LookupAttr(ava.Type).lower == at.lower {
					vals = append(vals, ava.Value)
				}
			}
		}
	}
	eq := func(x, y string) bool {
		a, err1 := at.normalize(x)
		b, err2 := at.normalize(y)
		return err1 == nil && err2 == nil && a == b
	}
	switch strings.ToLower(f.MatchingRule) {
	case "", "2.5.13.2", "caseignorematch", "2.5.13.1", "distinguishednamematch", "2.5.13.14", "integermatch":
	case "2.5.13.5", "caseexactmatch", "2.5.13.17", "octetstringmatch":
		eq = func(x, y string) bool { return x == y }
	default:
		return false, nil
	}
	for _, v := range vals {
		if eq(v, f.Value) {
			return true, nil
		}
	}
	return false, nil
}
