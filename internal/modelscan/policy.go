package modelscan

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Policy extends the built-in allowlists for a team's own classes. It can
// only add callables: the built-in list of known-dangerous callables always
// wins, so a policy cannot make "os.system" acceptable.
type Policy struct {
	// Allow lists callables as "module.qualname" or "module.*".
	Allow []string `yaml:"allow"`
}

// LoadPolicy reads a policy file strictly: unknown keys are errors.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	for i, a := range p.Allow {
		if a == "" || strings.ContainsAny(a, " \t") || !strings.Contains(a, ".") || strings.HasPrefix(a, ".") {
			return nil, fmt.Errorf("%s: allow[%d] %q: want module.name or module.*", path, i, a)
		}
	}
	return &p, nil
}

// Allows reports whether the policy allowlists module.name.
func (p *Policy) Allows(module, name string) bool {
	if p == nil {
		return false
	}
	full := module + "." + name
	for _, a := range p.Allow {
		if a == full || (strings.HasSuffix(a, ".*") && module == strings.TrimSuffix(a, ".*")) {
			return true
		}
	}
	return false
}
