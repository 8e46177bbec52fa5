package ldapd

import (
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// TestPanicInOneRequestIsRecovered drives a server whose directory is
// missing, so a search panics inside its handler: the client must get
// "other" (80) for that request and the connection must keep working.
func TestPanicInOneRequestIsRecovered(t *testing.T) {
	s := New(Config{AnonymousRead: true, MaxConnections: 10}, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	client, server := net.Pipe()
	c := newConn(s, server, false)
	done := make(chan struct{})
	go func() { c.serve(); close(done) }()
	lc := ldap.NewConn(client, false)
	lc.Start()
	defer func() { lc.Close(); <-done }()

	_, err := lc.Search(ldap.NewSearchRequest("dc=example,dc=com", ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=x)", nil, nil))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultOther) {
		t.Fatalf("panicking search: got %v, want result 80", err)
	}
	res, err := lc.WhoAmI(nil)
	if err != nil || res.AuthzID != "" {
		t.Fatalf("connection unusable after a recovered panic: %+v %v", res, err)
	}
}
