package repotest

import (
	"bytes"
	"errors"
	"fmt"
	"go/build"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/dird/dird/config"
)

// Each check below is a function over a directory or a text, run once on
// the repository and once on a small input made to fail, so a check that
// silently stopped looking (CoreDNS test/presubmit_test.go) is caught.

// repoRoot is the module root: two levels above this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s has no go.mod: %v", root, err)
	}
	return root
}

// skipDir reports directories no check looks into: VCS data, testdata
// (deliberately odd inputs), hidden and underscore directories (ignored by
// the go tool too), and the build output and local store.
func skipDir(root, path string, d fs.DirEntry) bool {
	if path == root {
		return false
	}
	name := d.Name()
	if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return true
	}
	rel, _ := filepath.Rel(root, path)
	return rel == "bin" || rel == "data"
}

// writeFiles creates files (path relative to dir: content) for the cases
// that prove a check can fail.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// packageDocProblems checks that every package under root has exactly one
// package comment, of the form "Package x ..." ("Command x ..." for a
// command). Only the files of the default build count: test files and
// files excluded by build constraints (go:build ignore generators) do not.
func packageDocProblems(root string) ([]string, error) {
	var problems []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if skipDir(root, path, d) {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil // no Go files, or only tests
		}
		if err != nil {
			return fmt.Errorf("reading package in %s: %w", path, err)
		}
		if len(pkg.GoFiles)+len(pkg.CgoFiles) == 0 {
			return nil // only tests, or only files for other platforms
		}
		rel, _ := filepath.Rel(root, path)
		var docs []string
		for _, name := range slices.Concat(pkg.GoFiles, pkg.CgoFiles) {
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(path, name), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				return err
			}
			if f.Doc != nil {
				docs = append(docs, name)
				text := f.Doc.Text()
				prefix := "Package " + pkg.Name + " "
				if pkg.Name == "main" {
					prefix = "Command " + filepath.Base(path) + " "
				}
				if !strings.HasPrefix(text, prefix) {
					problems = append(problems, fmt.Sprintf("%s: package comment in %s should start %q", rel, name, prefix))
				}
			}
		}
		switch len(docs) {
		case 0:
			problems = append(problems, fmt.Sprintf("%s: package %s has no package comment (put it in doc.go)", rel, pkg.Name))
		case 1:
		default:
			problems = append(problems, fmt.Sprintf("%s: package %s has %d package comments (%s); keep one", rel, pkg.Name, len(docs), strings.Join(docs, ", ")))
		}
		return nil
	})
	return problems, err
}

func TestPackageDocs(t *testing.T) {
	t.Run("the repository", func(t *testing.T) {
		problems, err := packageDocProblems(repoRoot(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Error(p)
		}
	})
	t.Run("the check can fail", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"good/doc.go":         "// Package good does one thing.\npackage good\n",
			"good/x.go":           "package good\n",
			"good/x_test.go":      "// Package good is tested.\npackage good\n",
			"nodoc/a.go":          "package nodoc\n",
			"twodocs/a.go":        "// Package twodocs is one.\npackage twodocs\n",
			"twodocs/b.go":        "// Package twodocs is two.\npackage twodocs\n",
			"wrongdoc/a.go":       "// This package is wrong.\npackage wrongdoc\n",
			"cmd/tool/main.go":    "// Command tool works.\npackage main\n",
			"gen/gen.go":          "//go:build ignore\n\n// Generator is ignored.\npackage main\n",
			"gen/doc.go":          "// Package gen is generated.\npackage gen\n",
			"testsonly/a_test.go": "package testsonly\n",
			"testdata/bad/a.go":   "package bad\n",
		})
		problems, err := packageDocProblems(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range problems {
			got = append(got, strings.SplitN(p, ":", 2)[0])
		}
		slices.Sort(got)
		if want := []string{"nodoc", "twodocs", "wrongdoc"}; !slices.Equal(got, want) {
			t.Errorf("problems in %v, want %v:\n%s", got, want, strings.Join(problems, "\n"))
		}
	})
}

// unformatted lists the .go files under root that gofmt would change.
// go/format is gofmt's own printer, so no gofmt binary is needed.
func unformatted(root string) ([]string, error) {
	var bad []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDir(root, path, d) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out, err := format.Source(src)
		if err != nil || !bytes.Equal(src, out) {
			rel, _ := filepath.Rel(root, path)
			bad = append(bad, rel)
		}
		return nil
	})
	return bad, err
}

func TestGofmt(t *testing.T) {
	t.Run("the repository", func(t *testing.T) {
		bad, err := unformatted(repoRoot(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) > 0 {
			t.Errorf("gofmt -l reports (run gofmt -w):\n%s", strings.Join(bad, "\n"))
		}
	})
	t.Run("the check can fail", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"ok.go":         "package p\n\nfunc f() {}\n",
			"spacing.go":    "package p\nfunc  g( ) {  }\n",
			"syntax.go":     "package p\nfunc {\n",
			"testdata/x.go": "package  x\n",
			"notgo.txt":     "package  x\n",
		})
		bad, err := unformatted(dir)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(bad)
		if want := []string{"spacing.go", "syntax.go"}; !slices.Equal(bad, want) {
			t.Errorf("unformatted = %v, want %v", bad, want)
		}
	})
}

// yamlBlocks returns the ```yaml fenced blocks of a Markdown text that
// hold a configuration (they set base_dn).
func yamlBlocks(markdown string) []string {
	var blocks []string
	var cur []string
	in := false
	for line := range strings.Lines(markdown) {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && (trimmed == "```yaml" || trimmed == "```yml"):
			in, cur = true, nil
		case in && trimmed == "```":
			in = false
			if block := strings.Join(cur, ""); strings.Contains(block, "base_dn:") {
				blocks = append(blocks, block)
			}
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}

// clearEnv unsets every DIRD_* variable, so only the file decides.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, config.EnvPrefix+"_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

// loadBlock writes a configuration to a file and loads it as
// `dird check-config` would.
func loadBlock(t *testing.T, block string) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dird.yaml")
	if err := os.WriteFile(path, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	return err
}

// TestConfigExamplesValid: every configuration a user may copy from the
// docs must pass check-config (CoreDNS test/readme_test.go).
func TestConfigExamplesValid(t *testing.T) {
	root := repoRoot(t)
	t.Run("config.example.yaml", func(t *testing.T) {
		clearEnv(t)
		if _, err := config.Load(filepath.Join(root, "config.example.yaml")); err != nil {
			t.Error(err)
		}
	})
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlocks(string(readme))
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```yaml block with base_dn; the check would prove nothing")
	}
	for i, block := range blocks {
		t.Run(fmt.Sprintf("README.md block %d", i+1), func(t *testing.T) {
			clearEnv(t)
			if err := loadBlock(t, block); err != nil {
				t.Errorf("%v\nblock:\n%s", err, block)
			}
		})
	}
	t.Run("the check can fail", func(t *testing.T) {
		clearEnv(t)
		md := "# Doc\n\n```yaml\nbase_dn: dc=example,dc=com\nadmin:\n  dn: cn=admin,dc=example,dc=com\n  password: pw\nldap:\n  lisen: 127.0.0.1:3389\n```\n\n" +
			"```yaml\nnot: a configuration\n```\n\n```sh\nbase_dn: not yaml\n```\n"
		blocks := yamlBlocks(md)
		if len(blocks) != 1 {
			t.Fatalf("found %d configuration blocks, want 1: %q", len(blocks), blocks)
		}
		if err := loadBlock(t, blocks[0]); err == nil || !strings.Contains(err.Error(), "ldap.lisen") {
			t.Errorf("a block with a misspelt key loaded: err = %v", err)
		}
	})
}

// viperImporters reads `go list` lines (a package, then everything it and
// its tests import) and returns the packages other than config that import
// viper.
func viperImporters(list string) []string {
	var bad []string
	for line := range strings.Lines(list) {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] == "github.com/dird/dird/config" {
			continue
		}
		for _, imp := range fields[1:] {
			if imp == "github.com/spf13/viper" || strings.HasPrefix(imp, "github.com/spf13/viper/") {
				bad = append(bad, fields[0])
				break
			}
		}
	}
	return bad
}

// TestViperOnlyInConfig: configuration has one way in. A package that read
// viper itself would see keys that Load never validated.
func TestViperOnlyInConfig(t *testing.T) {
	t.Run("the repository", func(t *testing.T) {
		cmd := exec.Command("go", "list", "-e", "-f",
			`{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, "./...")
		cmd.Dir = repoRoot(t)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		if !strings.Contains(string(out), "github.com/dird/dird/config ") {
			t.Fatalf("go list did not list package config; the check would prove nothing:\n%s", out)
		}
		for _, pkg := range viperImporters(string(out)) {
			t.Errorf("%s imports viper; only package config may (take a Config section instead)", pkg)
		}
	})
	t.Run("the check can fail", func(t *testing.T) {
		list := "github.com/dird/dird/config github.com/spf13/viper strings\n" +
			"github.com/dird/dird/ldapd net github.com/spf13/viper\n" +
			"github.com/dird/dird/portal github.com/spf13/viper/remote\n" +
			"github.com/dird/dird/store errors\n"
		got := viperImporters(list)
		if want := []string{"github.com/dird/dird/ldapd", "github.com/dird/dird/portal"}; !slices.Equal(got, want) {
			t.Errorf("viperImporters = %v, want %v", got, want)
		}
	})
}
