package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/authz"
)

// newPolicyCmd validates and tests Cedar authorization policies.
func newPolicyCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check and test authorization policies",
	}
	check := &cobra.Command{
		Use:   "check FILE|DIR...",
		Short: "Parse policies and report errors with file:line:col",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := authz.Load(args...)
			if err != nil {
				return Usage("%v", err)
			}
			fmt.Fprintf(env.Stdout, "ok: %d policies\n", e.Len())
			return nil
		},
	}
	var policies []string
	test := &cobra.Command{
		Use:   "test CASES.yaml",
		Short: "Run decision test cases against policies",
		Long: `Run decision test cases from a YAML file against policies:

  cases:
    - name: analyst infers in own tenant
      principal: {id: "jwt:alice", roles: [analyst], tenant: acme, method: jwt, attrs: {team: fraud}}
      action: infer            # infer, read_metadata, list_models, health, admin
      model: fraud-detector
      version: "3"
      model_attrs: {tenant: acme, classification: internal}
      context: {client_ip: 10.1.2.3, time: "2026-03-02T10:00:00Z", route: /v2/models/x/infer, protocol: oip}
      expect: allow            # or deny

Exit status 1 when any case does not get its expected decision.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(policies) == 0 {
				return Usage("--policies is required")
			}
			e, err := authz.Load(policies...)
			if err != nil {
				return Usage("%v", err)
			}
			cases, err := readPolicyCases(args[0])
			if err != nil {
				return Usage("%v", err)
			}
			failed := runPolicyCases(env.Stdout, e, cases)
			if failed > 0 {
				return Findings("%d of %d cases failed", failed, len(cases))
			}
			return nil
		},
	}
	test.Flags().StringArrayVar(&policies, "policies", nil, "policy file or directory (repeatable)")
	cmd.AddCommand(check, test)
	return cmd
}

type policyCaseFile struct {
	Cases []policyCase `yaml:"cases"`
}

type policyCase struct {
	Name      string `yaml:"name"`
	Principal *struct {
		ID     string            `yaml:"id"`
		Roles  []string          `yaml:"roles"`
		Tenant string            `yaml:"tenant"`
		Method string            `yaml:"method"`
		Attrs  map[string]string `yaml:"attrs"`
	} `yaml:"principal"`
	Action     string            `yaml:"action"`
	Model      string            `yaml:"model"`
	Version    string            `yaml:"version"`
	ModelAttrs map[string]string `yaml:"model_attrs"`
	Context    struct {
		ClientIP string `yaml:"client_ip"`
		Time     string `yaml:"time"`
		Route    string `yaml:"route"`
		Protocol string `yaml:"protocol"`
	} `yaml:"context"`
	Expect string `yaml:"expect"`

	req authz.Request
}

var policyActions = []rampart.Action{rampart.ActionInfer, rampart.ActionReadMetadata, rampart.ActionListModels, rampart.ActionHealth, rampart.ActionAdmin}

var policyMethods = []rampart.AuthMethod{rampart.AuthAnonymous, rampart.AuthAPIKey, rampart.AuthJWT, rampart.AuthMTLS}

// readPolicyCases decodes a cases file strictly: a misspelt key would
// otherwise silently test something else.
func readPolicyCases(path string) ([]policyCase, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f policyCaseFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: no cases", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Cases) == 0 {
		return nil, fmt.Errorf("%s: no cases", path)
	}
	for i := range f.Cases {
		c := &f.Cases[i]
		if err := c.build(); err != nil {
			name := c.Name
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			return nil, fmt.Errorf("%s: case %s: %w", path, name, err)
		}
	}
	return f.Cases, nil
}

func (c *policyCase) build() error {
	if c.Expect != "allow" && c.Expect != "deny" {
		return fmt.Errorf("expect must be allow or deny, not %q", c.Expect)
	}
	act := rampart.Action(c.Action)
	if !containsValue(policyActions, act) {
		return fmt.Errorf("unknown action %q", c.Action)
	}
	c.req = authz.Request{Action: act, Model: c.Model, Version: c.Version, ModelAttrs: c.ModelAttrs,
		Route: c.Context.Route, Protocol: rampart.Protocol(c.Context.Protocol)}
	if p := c.Principal; p != nil {
		m := rampart.AuthMethod(p.Method)
		if m == "" {
			m = rampart.AuthAPIKey
		}
		if !containsValue(policyMethods, m) {
			return fmt.Errorf("unknown principal method %q", p.Method)
		}
		if p.ID == "" {
			return errors.New("principal id is required")
		}
		c.req.Principal = &rampart.Principal{ID: p.ID, Method: m, Roles: p.Roles, Tenant: p.Tenant, Attrs: p.Attrs}
	}
	if s := c.Context.ClientIP; s != "" {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("context.client_ip: %w", err)
		}
		c.req.ClientIP = ip
	}
	// A fixed default time keeps cases reproducible.
	c.req.Time = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	if s := c.Context.Time; s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("context.time: %w", err)
		}
		c.req.Time = t
	}
	return nil
}

func containsValue[T comparable](s []T, v T) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

// runPolicyCases prints one row per case and returns the number that failed.
func runPolicyCases(w io.Writer, e *authz.Engine, cases []policyCase) int {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tCASE\tEXPECT\tGOT\tBY")
	failed := 0
	var errs []string
	for _, c := range cases {
		d := e.Authorize(c.req)
		got := "deny"
		if d.Allowed {
			got = "allow"
		}
		res := "PASS"
		if got != c.Expect {
			res = "FAIL"
			failed++
		}
		by := strings.Join(d.Reasons, ", ")
		if by == "" {
			by = "default deny"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", res, c.Name, c.Expect, got, by)
		for _, m := range d.Errors {
			errs = append(errs, c.Name+": "+m)
		}
	}
	tw.Flush()
	for _, m := range errs {
		fmt.Fprintln(w, "policy error:", m)
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", len(cases)-failed, failed)
	return failed
}
