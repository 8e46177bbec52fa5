package radiusd_test

import (
	"context"
	"net"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/dird/dird/internal/dirdtest"
	"github.com/dird/dird/store"
)

// BenchmarkMSCHAPv2Access measures MS-CHAPv2 Access-Requests answered
// with Access-Accept per second by one in-process dird (memkv, nt_hash
// on), with 8 clients in parallel, each on its own socket waiting for
// each answer: the sealed NT hash is opened, the response checked and
// the MPPE keys encrypted per request. make bench runs it.
func BenchmarkMSCHAPv2Access(b *testing.B) {
	cfg := dirdtest.Config(b)
	cfg.Policy.NTHash = true
	d := dirdtest.Start(b, cfg, dirdtest.Options{})
	alice, _ := store.ParseDN(userDN("alice"))
	admin, _ := store.ParseDN(dirdtest.AdminDN)
	ctx := context.Background()
	if err := d.Door().Add(ctx, admin, &store.Entry{DN: alice.Parent(), Attrs: []store.Attr{
		{Type: "objectClass", Values: []string{"organizationalUnit"}}, {Type: "ou", Values: []string{"people"}}}}); err != nil {
		b.Fatal(err)
	}
	if err := d.Door().Add(ctx, admin, &store.Entry{DN: alice, Attrs: []store.Attr{
		{Type: "objectClass", Values: []string{"inetOrgPerson"}}, {Type: "uid", Values: []string{"alice"}},
		{Type: "cn", Values: []string{"Alice Example"}}, {Type: "sn", Values: []string{"Example"}},
		{Type: "userPassword", Values: []string{alicePW}}}}); err != nil {
		b.Fatal(err)
	}
	ra, err := net.ResolveUDPAddr("udp", d.RadiusAddr)
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4) // 4 × GOMAXPROCS clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.DialUDP("udp", nil, ra)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		for pb.Next() {
			a := newAttempt(b, "alice", alicePW)
			req := sign(b, a.request(b), secret)
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			c.SetReadDeadline(time.Now().Add(replyWait))
			n, err := c.Read(buf)
			if err != nil {
				b.Errorf("no reply: %v", err)
				return
			}
			if radius.Code(buf[0]) != radius.CodeAccessAccept || n < 20 {
				b.Errorf("reply code %d, want Access-Accept", buf[0])
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "requests/s")
}
