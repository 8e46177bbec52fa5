// Package dirdproc builds the dird binary for tests that run it as a real
// process (internal/e2e, internal/opstest), so those suites drive exactly
// what an administrator runs. It imports nothing of dird's and is imported
// only by tests.
package dirdproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build compiles ./cmd/dird into a new temporary directory (with -race
// when race is set, so a data race in the server fails the test that
// stops it) and returns the binary's path and a cleanup that removes it.
func Build(race bool) (bin string, cleanup func(), err error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", nil, fmt.Errorf("finding the module: go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	tmp, err := os.MkdirTemp("", "dird-bin-")
	if err != nil {
		return "", nil, fmt.Errorf("making a build directory: %w", err)
	}
	cleanup = func() { os.RemoveAll(tmp) }
	bin = filepath.Join(tmp, "dird")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./cmd/dird")...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("building dird: %w\n%s", err, out)
	}
	return bin, cleanup, nil
}

// Env is the environment for a dird child: ours without DIRD_*
// variables, which would override the configuration file under test.
func Env() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DIRD_") {
			out = append(out, kv)
		}
	}
	return out
}
