package testsvc

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModuleRoot returns the directory of the datasync module (where go.mod is).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// Build compiles binaries for tests that drive the real datasync binary and
// real plugins: each key is the binary's name in dir, each value a package
// path relative to the module root (e.g. "./plugins/sqlite"). It returns the
// binaries' paths by name.
func Build(dir string, binaries map[string]string) (map[string]string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	paths := make(map[string]string, len(binaries))
	for name, pkg := range binaries {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w\n%s", pkg, err, b)
		}
		paths[name] = out
	}
	return paths, nil
}
