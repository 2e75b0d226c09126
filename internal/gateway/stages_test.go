package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/authn"
	"github.com/rampart-ai/rampart/internal/authz"
	"github.com/rampart-ai/rampart/internal/config"
	"github.com/rampart-ai/rampart/internal/limit"
	"github.com/rampart-ai/rampart/internal/pipeline"
)

func request(inf *rampart.Inference, p *rampart.Principal) *pipeline.Request {
	r := httptest.NewRequest("POST", "/v2/models/m/infer", nil)
	return &pipeline.Request{ID: "t", Route: "r", Inf: inf, Principal: p, HTTP: r, Now: time.Unix(1700000000, 0),
		ClientIP: netip.MustParseAddr("10.1.2.3")}
}

func kinds(fs []rampart.Finding) string {
	s := ""
	for _, f := range fs {
		s += f.Kind + "/" + string(f.Verdict) + " "
	}
	return s
}

func TestAuthnStage(t *testing.T) {
	good := authn.AuthenticatorFunc(func(r *http.Request) (*rampart.Principal, error) {
		if r.Header.Get("X-Test") == "good" {
			return &rampart.Principal{ID: "alice"}, nil
		}
		if r.Header.Get("X-Test") == "bad" {
			return nil, rampart.Errorf(rampart.CodeUnauthenticated, "invalid credential")
		}
		if r.Header.Get("X-Test") == "down" {
			return nil, errors.New("store down")
		}
		return nil, nil
	})
	tests := []struct {
		name, hdr string
		anon      bool
		want      string
		principal string
		err       bool
	}{
		{"valid credential", "good", false, "", "alice", false},
		{"bad credential", "bad", false, "unauthenticated/block ", "anonymous", false},
		{"bad credential never becomes anonymous", "bad", true, "unauthenticated/block ", "anonymous", false},
		{"no credential", "", false, "unauthenticated/block ", "anonymous", false},
		{"no credential on anonymous route", "", true, "", "anonymous", false},
		{"store down fails closed", "down", false, "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := request(&rampart.Inference{}, nil)
			req.HTTP.Header.Set("X-Test", tc.hdr)
			fs, err := authnStage{chain: &authn.Chain{Authenticators: []authn.Authenticator{good}, AllowAnonymous: tc.anon}}.Check(context.Background(), req)
			if (err != nil) != tc.err {
				t.Fatalf("err %v", err)
			}
			if kinds(fs) != tc.want {
				t.Fatalf("findings %q, want %q", kinds(fs), tc.want)
			}
			if !tc.err && (req.Principal == nil || req.Principal.ID != tc.principal) {
				t.Fatalf("principal %+v, want %s", req.Principal, tc.principal)
			}
		})
	}
}

func TestModelsStage(t *testing.T) {
	s := modelsStage{models: map[string]config.Model{"iris": {}}}
	for _, tc := range []struct{ model, want string }{{"iris", ""}, {"", ""}, {"other", "unknown_model/block "}} {
		fs, _ := s.Check(context.Background(), request(&rampart.Inference{Model: tc.model}, nil))
		if kinds(fs) != tc.want {
			t.Errorf("%q: %q, want %q", tc.model, kinds(fs), tc.want)
		}
	}
}

func TestAuthzStage(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "p.cedar")
	if err := os.WriteFile(pol, []byte(`
@id("analysts") permit (principal in Rampart::Role::"analyst", action == Rampart::Action::"infer", resource)
when { resource.classification == "public" };
@id("block-net") forbid (principal, action, resource) when { context.client_ip.isInRange(ip("10.9.0.0/16")) };
`), 0o600); err != nil {
		t.Fatal(err)
	}
	eng, err := authz.Load(pol)
	if err != nil {
		t.Fatal(err)
	}
	s := authzStage{engine: func() *authz.Engine { return eng }, protocol: rampart.ProtocolOIP}
	analyst := &rampart.Principal{ID: "a", Roles: []string{"analyst"}}
	tests := []struct {
		name  string
		p     *rampart.Principal
		attrs map[string]string
		ip    string
		want  string
	}{
		{"permitted", analyst, map[string]string{"classification": "public"}, "10.1.2.3", ""},
		{"default deny: wrong classification", analyst, map[string]string{"classification": "secret"}, "10.1.2.3", "forbidden/block "},
		{"default deny: no role", &rampart.Principal{ID: "b"}, map[string]string{"classification": "public"}, "10.1.2.3", "forbidden/block "},
		{"forbid wins", analyst, map[string]string{"classification": "public"}, "10.9.1.1", "forbidden/block "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := request(&rampart.Inference{Model: "m", Action: rampart.ActionInfer}, tc.p)
			req.ModelAttrs = tc.attrs
			req.ClientIP = netip.MustParseAddr(tc.ip)
			fs, err := s.Check(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if kinds(fs) != tc.want {
				t.Fatalf("%q, want %q", kinds(fs), tc.want)
			}
		})
	}
	if _, err := (authzStage{engine: func() *authz.Engine { return nil }}).Check(context.Background(), request(&rampart.Inference{}, analyst)); err == nil {
		t.Fatal("missing engine must be an error (fail closed), not a pass")
	}
}

func TestRateStage(t *testing.T) {
	s := rateStage{route: "r", def: rampart.RateLimit{PerSecond: 1, Burst: 2}, store: limit.NewMemory()}
	alice := &rampart.Principal{ID: "alice"}
	vip := &rampart.Principal{ID: "vip", Rate: rampart.RateLimit{PerSecond: 100, Burst: 5}}
	check := func(p *rampart.Principal, ip string) string {
		req := request(&rampart.Inference{}, p)
		req.ClientIP = netip.MustParseAddr(ip)
		fs, _ := s.Check(context.Background(), req)
		if len(fs) == 1 && fs[0].RetryAfter <= 0 {
			t.Fatal("throttle without Retry-After")
		}
		return kinds(fs)
	}
	seq := []struct {
		name string
		p    *rampart.Principal
		ip   string
		want string
	}{
		{"alice 1", alice, "10.0.0.1", ""},
		{"alice 2", alice, "10.0.0.1", ""},
		{"alice 3 throttled", alice, "10.0.0.1", "rate_limited/throttle "},
		{"alice from elsewhere shares her bucket", alice, "10.0.0.2", "rate_limited/throttle "},
		{"vip has a key limit", vip, "10.0.0.1", ""},
		{"vip 2", vip, "10.0.0.1", ""},
		{"vip 3 beyond route burst", vip, "10.0.0.1", ""},
		{"anonymous by address", authn.Anonymous(), "10.0.0.7", ""},
		{"anonymous other address", authn.Anonymous(), "10.0.0.8", ""},
	}
	for _, tc := range seq {
		if got := check(tc.p, tc.ip); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSchemaStageFromUpstreamMetadata(t *testing.T) {
	calls := 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.URL.Path != "/v2/models/m" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"name":"m","versions":["1"],"platform":"pytorch","inputs":[{"name":"x","datatype":"FP32","shape":[-1,2]}],"outputs":[{"name":"y","datatype":"FP32","shape":[-1,1]}]}`))
	}))
	defer up.Close()
	s := schemaStage{models: map[string]config.Model{"m": {InputsFromUpstream: true, NaNPolicy: "reject"}, "gone": {InputsFromUpstream: true}},
		meta: newMetaCache(up.URL, time.Second)}
	ok := &rampart.Inference{Operation: "infer", Model: "m", Tensors: []rampart.Tensor{{Name: "x", Datatype: "FP32", Shape: []int64{3, 2}, Elements: 6, Numbers: make([]float64, 6)}}}
	bad := &rampart.Inference{Operation: "infer", Model: "m", Tensors: []rampart.Tensor{{Name: "x", Datatype: "FP32", Shape: []int64{3, 3}, Elements: 9, Numbers: make([]float64, 9)}}}
	if fs, err := s.Check(context.Background(), request(ok, nil)); err != nil || len(fs) != 0 {
		t.Fatalf("valid tensor: %v %v", fs, err)
	}
	if fs, err := s.Check(context.Background(), request(bad, nil)); err != nil || len(fs) == 0 || fs[0].Verdict != rampart.VerdictBlock {
		t.Fatalf("wrong shape: %v %v", fs, err)
	}
	if calls != 1 {
		t.Errorf("metadata fetched %d times, want once (cached)", calls)
	}
	if _, err := s.Check(context.Background(), request(&rampart.Inference{Operation: "infer", Model: "gone"}, nil)); err == nil {
		t.Fatal("unreadable upstream metadata must fail closed")
	}
}

// TestNaNPolicyWithoutDeclaredInputs: the default nan_policy (reject) holds
// even for a model that declares no inputs.
func TestNaNPolicyWithoutDeclaredInputs(t *testing.T) {
	s := schemaStage{models: map[string]config.Model{"m": {NaNPolicy: "reject"}, "lax": {NaNPolicy: "allow"}}}
	inf := func(model string) *rampart.Inference {
		return &rampart.Inference{Operation: "infer", Model: model, Tensors: []rampart.Tensor{{Name: "x", NaNs: 1}}}
	}
	if fs, _ := s.Check(context.Background(), request(inf("m"), nil)); kinds(fs) != "nan_inf/block " {
		t.Fatalf("NaN passed the default policy: %q", kinds(fs))
	}
	if fs, _ := s.Check(context.Background(), request(inf("lax"), nil)); len(fs) != 0 {
		t.Fatalf("nan_policy allow refused: %q", kinds(fs))
	}
}
