package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dird/dird/internal/dirdproc"
)

// unit is a systemd unit file: section -> key -> values, in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, text string) unit {
	t.Helper()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("unit line %q is not key=value in a section", line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUnitHardening: the unit runs dird unprivileged, with the usual
// sandboxing, allowed only to bind low ports, and reloads on SIGHUP.
func TestUnitHardening(t *testing.T) {
	u := parseUnit(t, readFile(t, "dird.service"))
	svc := u["Service"]
	if svc == nil {
		t.Fatal("no [Service] section")
	}
	for _, tc := range []struct {
		key, want string
	}{
		{"User", "dird"},
		{"StateDirectory", "dird"},
		{"StateDirectoryMode", "0700"},
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"PrivateDevices", "yes"},
		{"NoNewPrivileges", "yes"},
		{"CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"},
		{"AmbientCapabilities", "CAP_NET_BIND_SERVICE"},
		{"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"SystemCallFilter", "@system-service"},
		{"SystemCallArchitectures", "native"},
		{"MemoryDenyWriteExecute", "yes"},
		{"ExecReload", "/bin/kill -HUP $MAINPID"},
		{"RestartPreventExitStatus", "2"},
	} {
		if !slices.Contains(svc[tc.key], tc.want) {
			t.Errorf("[Service] %s=%s missing (have %q)", tc.key, tc.want, svc[tc.key])
		}
	}
	if got := svc["ExecStart"]; len(got) != 1 || !strings.HasPrefix(got[0], "/usr/local/bin/dird serve --config ") {
		t.Errorf("ExecStart = %q, want dird serve --config FILE", got)
	}
	if slices.Contains(svc["User"], "root") || svc["User"] == nil {
		t.Errorf("User = %q: dird must not run as root", svc["User"])
	}
	if !slices.Contains(u["Install"]["WantedBy"], "multi-user.target") {
		t.Error("[Install] WantedBy=multi-user.target missing")
	}
}

// TestUnitVerifies runs systemd-analyze verify on the unit, with
// ExecStart pointing at a freshly built dird (verify checks that the
// command exists). Any complaint about the unit fails the test, since
// verify exits 0 on unknown keys; a misspelt copy proves the check can
// fail.
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is not installed (package systemd): run make test-deps")
	}
	bin, cleanup, err := dirdproc.Build(false)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	text := strings.ReplaceAll(readFile(t, "dird.service"), "/usr/local/bin/dird", bin)
	verify := func(name, text string) (string, error) {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
		var about []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, name) {
				about = append(about, l)
			}
		}
		return strings.Join(about, "\n"), err
	}
	t.Run("the unit", func(t *testing.T) {
		if out, err := verify("dird.service", text); err != nil || out != "" {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
	t.Run("the check can fail", func(t *testing.T) {
		bad := strings.Replace(text, "NoNewPrivileges=yes", "NoNewPrivilege=yes", 1)
		if out, err := verify("dird.service", bad); err == nil && out == "" {
			t.Error("a misspelt key passed verification")
		}
	})
}

// dockerfile is a Dockerfile's instructions by stage; continuation lines
// are joined.
type stage struct {
	from         string
	instructions [][2]string // instruction (upper case), arguments
}

func parseDockerfile(t *testing.T, text string) []stage {
	t.Helper()
	var stages []stage
	var logical []string
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		logical = append(logical, cur+trimmed)
		cur = ""
	}
	for _, l := range logical {
		inst, args, _ := strings.Cut(l, " ")
		inst = strings.ToUpper(inst)
		if inst == "FROM" {
			stages = append(stages, stage{from: args})
			continue
		}
		if len(stages) == 0 {
			if inst == "ARG" {
				continue
			}
			t.Fatalf("%s before the first FROM", inst)
		}
		s := &stages[len(stages)-1]
		s.instructions = append(s.instructions, [2]string{inst, strings.TrimSpace(args)})
	}
	return stages
}

func (s stage) all(inst string) []string {
	var out []string
	for _, i := range s.instructions {
		if i[0] == inst {
			out = append(out, i[1])
		}
	}
	return out
}

// TestDockerfile: docker cannot run here, so the Dockerfile is checked
// for what README promises: multi-stage, a static (CGO_ENABLED=0) build
// with the Go version go.mod asks for, a distroless or scratch runtime
// running as a non-root user, the ports and the store volume.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, readFile(t, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	gomod := readFile(t, "../go.mod")
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	if !strings.HasPrefix(build.from, "golang:"+m[1]) || !strings.HasSuffix(build.from, " AS build") {
		t.Errorf("build stage FROM %q, want golang:%s... AS build (go.mod says go %s)", build.from, m[1], m[1])
	}
	static := false
	for _, run := range build.all("RUN") {
		static = static || strings.Contains(run, "CGO_ENABLED=0 go build") && strings.Contains(run, "./cmd/dird")
	}
	if !static {
		t.Error("no RUN CGO_ENABLED=0 go build ... ./cmd/dird in the build stage")
	}

	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
		t.Errorf("runtime FROM %q, want distroless/static or scratch", final.from)
	}
	users := final.all("USER")
	if len(users) == 0 {
		t.Error("the runtime stage has no USER: it would run as root")
	}
	for _, u := range users {
		name, _, _ := strings.Cut(u, ":")
		if name == "root" || name == "0" {
			t.Errorf("USER %s is root", u)
		}
	}
	copied := false
	for _, c := range final.all("COPY") {
		copied = copied || strings.HasPrefix(c, "--from=build ") && strings.Contains(c, "/usr/local/bin/dird")
	}
	if !copied {
		t.Error("the runtime stage does not COPY --from=build the binary")
	}
	exposed := strings.Fields(strings.Join(final.all("EXPOSE"), " "))
	for _, port := range []string{"389/tcp", "636/tcp", "1812/udp"} {
		if !slices.Contains(exposed, port) {
			t.Errorf("EXPOSE lacks %s (have %v)", port, exposed)
		}
	}
	if !slices.Contains(final.all("VOLUME"), "/var/lib/dird") {
		t.Error("no VOLUME /var/lib/dird")
	}
	if ep := final.all("ENTRYPOINT"); len(ep) != 1 || ep[0] != `["/usr/local/bin/dird"]` {
		t.Errorf("ENTRYPOINT = %q, want the binary in exec form", ep)
	}
	if cmd := final.all("CMD"); len(cmd) != 1 || !strings.Contains(cmd[0], `"serve"`) {
		t.Errorf("CMD = %q, want serve", cmd)
	}
}
