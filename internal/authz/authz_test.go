package authz

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-ai/rampart"
)

const testPolicies = `
@id("admins")
permit (principal in Rampart::Role::"admin", action, resource);

@id("analysts")
permit (principal in Rampart::Role::"analyst", action == Rampart::Action::"infer", resource)
when { principal.tenant != "" && resource.tenant == principal.tenant && resource.classification != "restricted" };

@id("business-hours")
permit (principal in Rampart::Role::"contractor", action == Rampart::Action::"infer", resource)
when { context.hour >= 9 && context.hour < 17 && context.weekday != "saturday" && context.weekday != "sunday" };

@id("office-net")
permit (principal in Rampart::Role::"kiosk", action == Rampart::Action::"infer", resource)
when { context has client_ip && context.client_ip.isInRange(ip("192.168.0.0/16")) };

@id("team-attr")
permit (principal, action == Rampart::Action::"read_metadata", resource)
when { principal.attrs has team && resource has team && principal.attrs.team == resource.team };

@id("no-banned")
forbid (principal, action, resource) when { principal.attrs has banned && principal.attrs.banned == "true" };

@id("restricted-jwt-only")
forbid (principal, action, resource) when { resource.classification == "restricted" && context.auth_method != "jwt" };
`

func mustParse(t testing.TB, text string) *Engine {
	t.Helper()
	e, err := Parse(Source{Name: "test.cedar", Text: []byte(text)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestAuthorize(t *testing.T) {
	e := mustParse(t, testPolicies)
	admin := &rampart.Principal{ID: "key:a", Method: rampart.AuthAPIKey, Roles: []string{"admin"}}
	alice := &rampart.Principal{ID: "jwt:alice", Method: rampart.AuthJWT, Roles: []string{"analyst"}, Tenant: "acme"}
	noTenant := &rampart.Principal{ID: "jwt:bob", Method: rampart.AuthJWT, Roles: []string{"analyst"}}
	contractor := &rampart.Principal{ID: "jwt:c", Method: rampart.AuthJWT, Roles: []string{"contractor"}}
	kiosk := &rampart.Principal{ID: "mtls:kiosk", Method: rampart.AuthMTLS, Roles: []string{"kiosk"}}
	banned := &rampart.Principal{ID: "key:b", Method: rampart.AuthAPIKey, Roles: []string{"admin"}, Attrs: map[string]string{"banned": "true"}}
	fraudTeam := &rampart.Principal{ID: "key:t", Method: rampart.AuthAPIKey, Attrs: map[string]string{"team": "fraud"}}
	acme := map[string]string{"tenant": "acme", "classification": "internal"}
	monday10 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	saturday10 := time.Date(2026, 3, 7, 10, 0, 0, 0, time.UTC)
	monday20 := time.Date(2026, 3, 2, 20, 0, 0, 0, time.UTC)

	tests := []struct {
		name    string
		req     Request
		allowed bool
		reasons []string
	}{
		{"admin may do anything", Request{Principal: admin, Action: rampart.ActionAdmin, Model: "m"}, true, []string{"admins"}},
		{"default deny: no role", Request{Principal: &rampart.Principal{ID: "key:x", Method: rampart.AuthAPIKey}, Action: rampart.ActionInfer, Model: "m", ModelAttrs: acme}, false, nil},
		{"default deny: anonymous", Request{Action: rampart.ActionInfer, Model: "m", ModelAttrs: acme}, false, nil},
		{"rbac: analyst infers in tenant", Request{Principal: alice, Action: rampart.ActionInfer, Model: "m", ModelAttrs: acme}, true, []string{"analysts"}},
		{"rbac: analyst may not admin", Request{Principal: alice, Action: rampart.ActionAdmin, Model: "m", ModelAttrs: acme}, false, nil},
		{"abac: tenant isolation", Request{Principal: alice, Action: rampart.ActionInfer, Model: "m", ModelAttrs: map[string]string{"tenant": "globex"}}, false, nil},
		{"abac: empty tenants do not match", Request{Principal: noTenant, Action: rampart.ActionInfer, Model: "m"}, false, nil},
		{"abac: restricted classification", Request{Principal: alice, Action: rampart.ActionInfer, Model: "m", ModelAttrs: map[string]string{"tenant": "acme", "classification": "restricted"}}, false, nil},
		{"abac: custom model attribute", Request{Principal: fraudTeam, Action: rampart.ActionReadMetadata, Model: "m", ModelAttrs: map[string]string{"team": "fraud"}}, true, []string{"team-attr"}},
		{"abac: custom attribute mismatch", Request{Principal: fraudTeam, Action: rampart.ActionReadMetadata, Model: "m", ModelAttrs: map[string]string{"team": "risk"}}, false, nil},
		{"context: business hours", Request{Principal: contractor, Action: rampart.ActionInfer, Model: "m", Time: monday10}, true, []string{"business-hours"}},
		{"context: after hours", Request{Principal: contractor, Action: rampart.ActionInfer, Model: "m", Time: monday20}, false, nil},
		{"context: weekend", Request{Principal: contractor, Action: rampart.ActionInfer, Model: "m", Time: saturday10}, false, nil},
		{"context: hour is UTC", Request{Principal: contractor, Action: rampart.ActionInfer, Model: "m", Time: monday20.In(time.FixedZone("x", -10*3600))}, false, nil},
		{"context: ip in range", Request{Principal: kiosk, Action: rampart.ActionInfer, Model: "m", ClientIP: netip.MustParseAddr("192.168.4.2")}, true, []string{"office-net"}},
		{"context: v4-mapped v6 ip in range", Request{Principal: kiosk, Action: rampart.ActionInfer, Model: "m", ClientIP: netip.MustParseAddr("::ffff:192.168.4.2")}, true, []string{"office-net"}},
		{"context: ip out of range", Request{Principal: kiosk, Action: rampart.ActionInfer, Model: "m", ClientIP: netip.MustParseAddr("10.0.0.1")}, false, nil},
		{"context: ip unknown", Request{Principal: kiosk, Action: rampart.ActionInfer, Model: "m"}, false, nil},
		{"forbid overrides permit", Request{Principal: banned, Action: rampart.ActionInfer, Model: "m"}, false, []string{"no-banned"}},
		{"forbid on classification and method", Request{Principal: admin, Action: rampart.ActionInfer, Model: "m", ModelAttrs: map[string]string{"classification": "restricted"}}, false, []string{"restricted-jwt-only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Authorize(tt.req)
			if d.Allowed != tt.allowed {
				t.Fatalf("Allowed = %v, want %v (reasons %v, errors %v)", d.Allowed, tt.allowed, d.Reasons, d.Errors)
			}
			if !slices.Equal(d.Reasons, tt.reasons) {
				t.Fatalf("Reasons = %v, want %v", d.Reasons, tt.reasons)
			}
		})
	}
}

// TestErroringForbidDenies: Cedar skips a policy whose evaluation fails. A
// forbid that fails on a missing attribute must not thereby let a request
// through.
func TestErroringForbidDenies(t *testing.T) {
	e := mustParse(t, `
permit (principal, action, resource);
@id("needs-region")
forbid (principal, action, resource) when { resource.region != "eu" };
`)
	tests := []struct {
		name    string
		attrs   map[string]string
		allowed bool
		errors  int
	}{
		{"attribute present, forbid false", map[string]string{"region": "eu"}, true, 0},
		{"attribute present, forbid true", map[string]string{"region": "us"}, false, 0},
		{"attribute missing, forbid errors", nil, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Authorize(Request{Action: rampart.ActionInfer, Model: "m", ModelAttrs: tt.attrs})
			if d.Allowed != tt.allowed || len(d.Errors) != tt.errors {
				t.Fatalf("got %+v", d)
			}
			if !tt.allowed && !slices.Equal(d.Reasons, []string{"needs-region"}) {
				t.Fatalf("Reasons = %v", d.Reasons)
			}
		})
	}
}

func TestPolicyIDsCarryLocation(t *testing.T) {
	e := mustParse(t, "permit (principal, action, resource);\n\n\nforbid (principal, action == Rampart::Action::\"admin\", resource);\n")
	if got := e.PolicyIDs(); !slices.Equal(got, []string{"test.cedar:1", "test.cedar:4"}) {
		t.Fatalf("PolicyIDs = %v", got)
	}
	d := e.Authorize(Request{Action: rampart.ActionAdmin, Model: "m"})
	if d.Allowed || !slices.Equal(d.Reasons, []string{"test.cedar:4"}) {
		t.Fatalf("decision = %+v", d)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good/a.cedar", "permit (principal, action, resource);")
	write("good/sub/b.cedar", "forbid (principal, action, resource) when { false };")
	write("good/notes.txt", "not a policy")
	bad := write("bad.cedar", "permit (principal, action, resource);\n\npermit (principal action, resource);")
	dup := write("dup.cedar", "@id(\"x\")\npermit (principal, action, resource);\n@id(\"x\")\nforbid (principal, action, resource);")
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)

	tests := []struct {
		name    string
		paths   []string
		n       int
		wantErr string
	}{
		{"directory, recursive, only .cedar", []string{filepath.Join(dir, "good")}, 2, ""},
		{"file", []string{good}, 1, ""},
		{"examples", []string{"../../examples/policies"}, 6, ""},
		{"syntax error names file:line:col", []string{bad}, 0, bad + ":3:25: expected \",\", found \"action\""},
		{"duplicate id", []string{dup}, 0, dup + ":3:1: policy id \"x\" already used at " + dup + ":1"},
		{"missing file", []string{filepath.Join(dir, "nope.cedar")}, 0, "no such file"},
		{"empty directory", []string{empty}, 0, "no *.cedar files"},
		{"nothing", nil, 0, "no policy files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Load(tt.paths...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Len() != tt.n {
				t.Fatalf("Len = %d, want %d", e.Len(), tt.n)
			}
		})
	}
	var pe *ParseError
	if _, err := Load(bad); !errors.As(err, &pe) || pe.Line != 3 {
		t.Fatalf("want *ParseError at line 3, got %v", err)
	}
}

// FuzzLoadPolicy feeds arbitrary policy text to the loader and, when it
// parses, evaluates it: neither may panic, and parse errors must name the
// file.
func FuzzLoadPolicy(f *testing.F) {
	f.Add([]byte(testPolicies))
	f.Add([]byte(`permit (principal == Rampart::Principal::"a", action in [Rampart::Action::"infer"], resource is Rampart::Model) when { context.time > 0 && context.client_ip.isIpv4() };`))
	f.Add([]byte(`forbid (principal, action, resource) unless { resource.name like "*-prod" };`))
	f.Add([]byte(`@id("x") @id("y") permit (principal, action, resource);`))
	f.Add([]byte("permit (principal, action, resource) when { \"\\u{0}\" };"))
	f.Fuzz(func(t *testing.T, text []byte) {
		e, err := Parse(Source{Name: "fuzz.cedar", Text: text})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.cedar:") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		d := e.Authorize(Request{
			Principal: &rampart.Principal{ID: "key:a", Method: rampart.AuthAPIKey, Roles: []string{"admin"}, Attrs: map[string]string{"k": "v"}},
			Action:    rampart.ActionInfer, Model: "m-prod", ModelAttrs: map[string]string{"tenant": "t"},
			ClientIP: netip.MustParseAddr("10.0.0.1"), Time: time.Unix(1700000000, 0),
		})
		if d.Allowed && len(d.Reasons) == 0 {
			t.Fatal("allowed without a reason")
		}
	})
}

func BenchmarkAuthorize(b *testing.B) {
	e, err := Load("../../examples/policies")
	if err != nil {
		b.Fatal(err)
	}
	req := Request{
		Principal:  &rampart.Principal{ID: "jwt:alice", Method: rampart.AuthJWT, Roles: []string{"analyst"}, Tenant: "acme", Attrs: map[string]string{"team": "fraud"}},
		Action:     rampart.ActionInfer,
		Model:      "fraud-detector",
		Version:    "3",
		ModelAttrs: map[string]string{"tenant": "acme", "classification": "internal", "owner": "risk"},
		ClientIP:   netip.MustParseAddr("10.1.2.3"),
		Route:      "/v2/models/fraud-detector/infer",
		Protocol:   rampart.ProtocolOIP,
		Time:       time.Now(),
	}
	b.ReportAllocs()
	for b.Loop() {
		if d := e.Authorize(req); !d.Allowed {
			b.Fatalf("denied: %+v", d)
		}
	}
}

// The entity cache is keyed by principal ID and model name, but a caller's
// roles or a model's attributes can change under the same key (a key's
// roles edited, a JWT with new claims); decisions must follow the content,
// also under concurrency.
func TestEntityCacheFollowsContent(t *testing.T) {
	e := mustParse(t, testPolicies)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				admin := (i+g)%2 == 0
				roles := []string{"viewer"}
				if admin {
					roles = []string{"admin"}
				}
				tenant := "acme"
				if i%3 == 0 {
					tenant = "globex"
				}
				p := &rampart.Principal{ID: "jwt:same", Method: rampart.AuthJWT, Roles: roles, Tenant: "acme"}
				d := e.Authorize(Request{Principal: p, Action: rampart.ActionAdmin, Model: "m", ModelAttrs: map[string]string{"tenant": tenant}})
				if d.Allowed != admin {
					t.Errorf("roles %v: allowed = %v", roles, d.Allowed)
					return
				}
				p.Roles = []string{"analyst"}
				d = e.Authorize(Request{Principal: p, Action: rampart.ActionInfer, Model: "m", ModelAttrs: map[string]string{"tenant": tenant}})
				if d.Allowed != (tenant == "acme") {
					t.Errorf("model tenant %s: allowed = %v", tenant, d.Allowed)
					return
				}
			}
		}()
	}
	wg.Wait()
}
