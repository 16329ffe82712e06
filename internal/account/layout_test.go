package account_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// README's Layout section names every package of the module, and names
// nothing that is not there: a package is an entry of its own, or named
// (as "argon2/" or "metricstest") in its parent's entry.
func TestReadmeLayout(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	root := strings.TrimSpace(string(out))
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no Layout section")
	}
	_, block, _ := strings.Cut(section, "```\n")
	block, _, _ = strings.Cut(block, "```")
	entries := map[string]string{} // path → what the line says of it
	for line := range strings.Lines(block) {
		path, what, _ := strings.Cut(strings.TrimSpace(line), " ")
		path = strings.TrimSuffix(path, "/")
		entries[path] = what
		if _, err := os.Stat(filepath.Join(root, path)); err != nil {
			t.Errorf("Layout lists %s, which is not in the tree", path)
		}
	}
	if len(entries) < 10 {
		t.Fatalf("Layout has %d entries; is the section still a code block?", len(entries))
	}

	out, err = exec.Command("go", "list", "-f", "{{.ImportPath}}", "tgauth/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for pkg := range strings.FieldsSeq(string(out)) {
		path := strings.TrimPrefix(pkg, "tgauth/")
		if _, ok := entries[path]; ok {
			continue
		}
		parent, name := filepath.Split(path)
		if what, ok := entries[strings.TrimSuffix(parent, "/")]; ok && strings.Contains(what, name) {
			continue
		}
		t.Errorf("Layout does not name %s", path)
	}
}
