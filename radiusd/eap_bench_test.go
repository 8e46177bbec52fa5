package radiusd_test

import (
	"net"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/dird/dird/internal/dirdtest"
)

// BenchmarkPEAPConversations runs complete PEAP-MSCHAPv2 conversations
// (TLS 1.2, server certificate pinned, MPPE keys checked) with several
// eapol_test processes at once against a real dird serve, and reports
// conversations per second. eapol_test's own start-up and TLS work run
// on the same machine, so the figure understates what dird alone can
// do. Run: go test -run '^$' -bench PEAP -benchtime 20s ./radiusd
func BenchmarkPEAPConversations(b *testing.B) {
	d := serveDird(b, "")
	d.seed(map[string]string{"alice": "Wonderland-2026"})
	b.SetParallelism(2) // 2 × GOMAXPROCS eapol_test processes
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := d.eapolTest(supplicant{eap: "PEAP", phase2: "auth=MSCHAPV2", user: "alice", pw: "Wonderland-2026"}); r.exit != 0 {
				b.Errorf("eapol_test exit %d\n%s", r.exit, tailLines(r.out, 30))
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conversations/s")
}

// BenchmarkPAPAccess sends PAP Access-Requests with the right password
// from 4 × GOMAXPROCS clients to an in-process dird with the default
// argon2id parameters (19 MiB, t=2): each request is one password hash,
// so this is the hashing rate the machine allows.
func BenchmarkPAPAccess(b *testing.B) {
	cfg := dirdtest.Config(b)
	cfg.Policy.Argon2Memory, cfg.Policy.Argon2Time = 19456, 2
	d := dirdtest.Start(b, cfg, dirdtest.Options{})
	seed(b, d, map[string]string{"alice": alicePW})
	ra, err := net.ResolveUDPAddr("udp", d.RadiusAddr)
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4)
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
			req := sign(b, accessRequest(b, "alice", alicePW), secret)
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			c.SetReadDeadline(time.Now().Add(replyWait))
			if _, err := c.Read(buf); err != nil {
				b.Errorf("no reply: %v", err)
				return
			}
			if radius.Code(buf[0]) != radius.CodeAccessAccept {
				b.Errorf("reply code %d, want Access-Accept", buf[0])
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "requests/s")
}
