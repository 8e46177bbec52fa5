package radiusd

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func TestParseEAP(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    eapPacket
		wantErr string
	}{
		{"identity response", []byte{2, 5, 0, 8, 1, 'b', 'o', 'b'}, eapPacket{code: 2, id: 5, typ: 1, data: []byte("bob")}, ""},
		{"success", []byte{3, 9, 0, 4}, eapPacket{code: 3, id: 9}, ""},
		{"shorter than a header", []byte{2, 1, 0}, eapPacket{}, "shorter than its 4-byte header"},
		{"length beyond the bytes", []byte{2, 1, 0, 9, 1}, eapPacket{}, "Length field says 9"},
		{"length short of the bytes", []byte{2, 1, 0, 5, 1, 'x'}, eapPacket{}, "Length field says 5"},
		{"response without a type", []byte{2, 1, 0, 4}, eapPacket{}, "without a Type"},
		{"unknown code", []byte{7, 1, 0, 4}, eapPacket{}, "unknown EAP code 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEAP(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.code != tt.want.code || got.id != tt.want.id || got.typ != tt.want.typ || !bytes.Equal(got.data, tt.want.data) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if !bytes.Equal(got.encode(), tt.in) {
				t.Errorf("encode gives % x, want % x", got.encode(), tt.in)
			}
		})
	}
}

func TestEAPAttributesSplitAt253(t *testing.T) {
	msg := bytes.Repeat([]byte{0xab}, 600)
	attrs := eapAttributes(msg)
	var lens []int
	var joined []byte
	for _, a := range attrs {
		lens = append(lens, len(a.Attribute))
		joined = append(joined, a.Attribute...)
	}
	if len(lens) != 3 || lens[0] != 253 || lens[1] != 253 || lens[2] != 94 {
		t.Errorf("attribute lengths %v, want [253 253 94]", lens)
	}
	if !bytes.Equal(joined, msg) {
		t.Error("the attributes do not join back into the message")
	}
}

// closeCount is an eapMethod that counts close calls.
type closeCount struct{ n int }

func (c *closeCount) respond(context.Context, []byte) eapStep { return eapStep{done: true} }
func (c *closeCount) close()                                  { c.n++ }

func TestConversationsAreBounded(t *testing.T) {
	logs := &syncBuffer{}
	cs := newConversations(slog.New(slog.NewTextHandler(logs, nil)))
	cs.max = 3
	cl := &client{name: "ap"}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []*conversation
	var methods []*closeCount
	for i := range 5 {
		c := &conversation{client: cl, outer: "user" + string(rune('a'+i))}
		m := &closeCount{}
		c.setMethod(m)
		if err := cs.add(c, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		all, methods = append(all, c), append(methods, m)
	}
	if cs.len() != 3 {
		t.Errorf("%d conversations open, want the bound 3", cs.len())
	}
	for i, c := range all {
		got := cs.get(c.state, now.Add(5*time.Second))
		if evicted := i < 2; evicted != (got == nil) {
			t.Errorf("conversation %d: found %v, want evicted %v", i, got != nil, evicted)
		}
		if want := map[bool]int{true: 1, false: 0}[i < 2]; methods[i].n != want {
			t.Errorf("conversation %d: method closed %d times, want %d", i, methods[i].n, want)
		}
	}
	if c := strings.Count(logs.String(), "radius EAP conversation evicted: too many open conversations"); c != 2 {
		t.Errorf("%d eviction log lines, want 2:\n%s", c, logs.String())
	}
	if len(all[2].state) < 16 || all[2].state == all[3].state {
		t.Error("States are not distinct random values of 16 bytes or more")
	}
}

func TestConversationsTimeOut(t *testing.T) {
	logs := &syncBuffer{}
	cs := newConversations(slog.New(slog.NewTextHandler(logs, nil)))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	old, fresh := &conversation{client: &client{name: "ap"}, outer: "old"}, &conversation{client: &client{name: "ap"}, outer: "fresh"}
	cs.add(old, now)
	cs.add(fresh, now.Add(30*time.Second))
	if cs.get(old.state, now.Add(59*time.Second)) == nil {
		t.Fatal("conversation gone before its timeout")
	}
	// Used at 59s, so it lives until 119s; fresh (30s) until 90s.
	if cs.get(fresh.state, now.Add(91*time.Second)) != nil {
		t.Error("a conversation idle for more than 60s is still found")
	}
	if cs.get(old.state, now.Add(91*time.Second)) == nil {
		t.Error("a conversation used 32s ago timed out")
	}
	if !strings.Contains(logs.String(), "radius EAP conversation timed out") {
		t.Errorf("no time-out log line:\n%s", logs.String())
	}
}

func TestParseAVPs(t *testing.T) {
	pap := appendAVP(appendAVP(nil, avpUserName, 0, []byte("alice")), avpUserPassword, 0, []byte("secret\x00\x00"))
	vendor := appendAVP(nil, avpMSCHAP2Success, microsoftVendorID, []byte{7, 'S', '='})
	tests := []struct {
		name    string
		in      []byte
		want    []avp
		wantErr string
	}{
		{"PAP, padded", pap, []avp{{code: 1, flags: 0x40, data: []byte("alice")}, {code: 2, flags: 0x40, data: []byte("secret\x00\x00")}}, ""},
		{"vendor AVP", vendor, []avp{{code: 26, vendor: 311, flags: 0xc0, data: []byte{7, 'S', '='}}}, ""},
		{"truncated header", pap[:5], nil, "truncated AVP header"},
		{"length past the end", pap[:10], nil, "out of bounds"},
		{"length shorter than the header", []byte{0, 0, 0, 1, 0x40, 0, 0, 4}, nil, "out of bounds"},
		{"vendor flag without Vendor-ID", []byte{0, 0, 0, 1, 0xc0, 0, 0, 8}, nil, "truncated AVP Vendor-ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAVPs(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d AVPs, want %d", len(got), len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.code != w.code || g.vendor != w.vendor || g.flags != w.flags || !bytes.Equal(g.data, w.data) {
					t.Errorf("AVP %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// clientHello returns the first flight of a Go TLS client.
func clientHello(t *testing.T) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go tls.Client(a, &tls.Config{InsecureSkipVerify: true}).Handshake()
	buf := make([]byte, 4096)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	return buf[:n]
}

// TestTLSFragments checks the EAP-TLS framing of the tunnel: the server
// splits its flight into fragments no longer than the Framed-MTU allows,
// the L flag on the first, M on all but the last; it acknowledges the
// peer's fragments; and data from the peer while the server still sends
// fragments is out of order and ends the conversation with a log line.
func TestTLSFragments(t *testing.T) {
	logs := &syncBuffer{}
	s := newTestServer(t, logs)
	hello := clientHello(t)
	newMethod := func(mtu int) *tlsMethod {
		c := &conversation{client: &(*s.clients.Load())[0], typ: eapTypeTTLS, mtu: mtu, log: s.log}
		m := s.newTLSMethod(c)
		t.Cleanup(m.close)
		return m
	}
	ctx := context.Background()

	t.Run("the server's flight is fragmented to the Framed-MTU and reassembled by ACKs", func(t *testing.T) {
		m := newMethod(200)
		// The peer's ClientHello in two fragments: L and M, then the rest.
		half := len(hello) / 2
		first := append([]byte{tlsFlagLength | tlsFlagMore, 0, 0, 0, 0}, hello[:half]...)
		binary.BigEndian.PutUint32(first[1:], uint32(len(hello)))
		if st := m.respond(ctx, first); st.done || !bytes.Equal(st.request, []byte{0}) {
			t.Fatalf("first fragment answered with %+v, want an acknowledgement", st)
		}
		st := m.respond(ctx, append([]byte{0}, hello[half:]...))
		var flight []byte
		total := -1
		for i := 0; ; i++ {
			if st.done {
				t.Fatalf("conversation ended while sending fragments: %s", logs.String())
			}
			r := st.request
			if len(r)+5 > 200 { // EAP header and Type before the type data
				t.Fatalf("fragment %d is %d bytes of EAP, more than the Framed-MTU 200", i, len(r)+5)
			}
			flags, body := r[0], r[1:]
			if (i == 0) != (flags&tlsFlagLength != 0) {
				t.Fatalf("fragment %d: L flag %v, want it on the first only", i, flags&tlsFlagLength != 0)
			}
			if flags&tlsFlagLength != 0 {
				total, body = int(binary.BigEndian.Uint32(body)), body[4:]
			}
			flight = append(flight, body...)
			if flags&tlsFlagMore == 0 {
				break
			}
			st = m.respond(ctx, []byte{0}) // acknowledge
		}
		if total != len(flight) || len(flight) < 300 {
			t.Errorf("flight of %d bytes, TLS Message Length %d", len(flight), total)
		}
		if flight[0] != 0x16 {
			t.Errorf("flight does not start with a TLS handshake record: % x", flight[:5])
		}
	})
	t.Run("peer data while the server sends fragments is out of order", func(t *testing.T) {
		m := newMethod(200)
		st := m.respond(ctx, append([]byte{0}, hello...))
		if st.done || st.request[0]&tlsFlagMore == 0 {
			t.Fatalf("want a first fragment with M, got %+v", st)
		}
		if st := m.respond(ctx, []byte{0, 0x16, 3, 3}); !st.done || st.ok {
			t.Fatalf("out-of-order data answered with %+v, want the end (failure)", st)
		}
		if !strings.Contains(logs.String(), "the peer sent data while the server was sending fragments") {
			t.Errorf("no log line for the out-of-order fragment:\n%s", logs.String())
		}
	})
	t.Run("a fragment train longer than the TLS Message Length is refused", func(t *testing.T) {
		m := newMethod(0)
		first := append([]byte{tlsFlagLength | tlsFlagMore, 0, 0, 0, 10}, make([]byte, 8)...)
		if st := m.respond(ctx, first); st.done {
			t.Fatal("first fragment refused")
		}
		if st := m.respond(ctx, append([]byte{0}, make([]byte, 8)...)); !st.done {
			t.Fatal("16 bytes announced as 10 accepted")
		}
	})
}

func TestAccountingAddr(t *testing.T) {
	tests := []struct {
		name, listen, acct, want, wantErr string
	}{
		{"auto is the next port", "127.0.0.1:1812", "auto", "127.0.0.1:1813", ""},
		{"auto on any free port stays any free port", "127.0.0.1:0", "auto", "127.0.0.1:0", ""},
		{"auto on IPv6", "[::1]:1812", "auto", "[::1]:1813", ""},
		{"auto without RADIUS is off", "", "auto", "", ""},
		{"empty is off", "127.0.0.1:1812", "", "", ""},
		{"an address is taken as it is", "127.0.0.1:1812", "0.0.0.0:1646", "0.0.0.0:1646", ""},
		{"not host:port", "127.0.0.1:1812", "1813", "", "is not host:port"},
		{"the authentication address itself", "127.0.0.1:1812", "127.0.0.1:1812", "", "the same address as radius.listen"},
		{"set while RADIUS is off", "", "127.0.0.1:1813", "", "radius.listen is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Listen: tt.listen, AccountingListen: tt.acct, Clients: []Client{{Name: "l", Address: "127.0.0.1", Secret: "s"}}}
			err := c.Validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "radius.accounting_listen") {
					t.Fatalf("Validate: %v, want an error naming radius.accounting_listen and saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.AccountingAddr(); got != tt.want {
				t.Errorf("AccountingAddr %q, want %q", got, tt.want)
			}
		})
	}
}
