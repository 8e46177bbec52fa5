package radiusd

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps holds radiusd to the layering rule: of dird's packages it may
// import only policy and store, never another front (and
// internal/workpool, a leaf that imports nothing of dird's).
func TestDeps(t *testing.T) { deptest.AllowOnly(t, "internal/workpool", "policy", "store") }

// layehType matches a layeh.com/radius package qualifier in go doc output
// (radius.Packet, rfc2865.X, microsoft.Y), not radiusd itself.
var layehType = regexp.MustCompile(`\b(radius|rfc\d+|microsoft)\.[A-Z]`)

// TestNoWireTypesInAPI keeps layeh.com/radius out of the exported API
// (STYLE.md rule 6), so the codec can be replaced without touching
// server or config.
func TestNoWireTypesInAPI(t *testing.T) {
	out, err := exec.Command("go", "doc", "-all", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go doc: %v\n%s", err, out)
	}
	var code []string
	for line := range strings.Lines(string(out)) {
		// Declarations are indented by at most one tab; doc text by four spaces.
		if !strings.HasPrefix(line, "    ") {
			code = append(code, line)
		}
	}
	if len(code) < 5 {
		t.Fatalf("go doc gave only %d declaration lines: is the check reading the right output?", len(code))
	}
	for _, line := range code {
		if layehType.MatchString(line) {
			t.Errorf("exported API mentions a layeh.com/radius type: %s", strings.TrimSpace(line))
		}
	}
	if !layehType.MatchString("func F(p *radius.Packet)") || layehType.MatchString("func New(cfg Config) *radiusd.Server") {
		t.Error("layehType no longer tells layeh types from radiusd's")
	}
}
