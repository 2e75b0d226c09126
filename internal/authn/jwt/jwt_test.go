package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
	"go.yaml.in/yaml/v3"

	"github.com/rampart-ai/rampart"
)

const (
	issuer   = "https://idp.example.com"
	audience = "rampart"
)

type signer struct {
	kid string
	alg string
	key any // *rsa.PrivateKey or *ecdsa.PrivateKey
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (s signer) jwk() map[string]string {
	switch k := s.key.(type) {
	case *rsa.PrivateKey:
		return map[string]string{"kty": "RSA", "kid": s.kid, "alg": s.alg, "use": "sig",
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PrivateKey:
		pub, err := k.PublicKey.ECDH()
		if err != nil {
			panic(err)
		}
		pt := pub.Bytes()[1:]
		return map[string]string{"kty": "EC", "kid": s.kid, "alg": s.alg, "use": "sig", "crv": "P-256",
			"x": b64(pt[:32]), "y": b64(pt[32:])}
	}
	panic("unknown key type")
}

func (s signer) sign(t testing.TB, claims gojwt.MapClaims) string {
	t.Helper()
	tok := gojwt.NewWithClaims(gojwt.GetSigningMethod(s.alg), claims)
	tok.Header["kid"] = s.kid
	raw, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newRSA(t testing.TB, kid string) signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid: kid, alg: "RS256", key: k}
}

func newEC(t testing.TB, kid string) signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid: kid, alg: "ES256", key: k}
}

// jwksServer is a real TLS server publishing a key set that tests can swap.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	keys []signer
	hits int
}

func newJWKSServer(t testing.TB, keys ...signer) *jwksServer {
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.hits++
		set := struct {
			Keys []map[string]string `json:"keys"`
		}{Keys: []map[string]string{}}
		for _, k := range s.keys {
			set.Keys = append(set.Keys, k.jwk())
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(keys ...signer) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

func newAuth(t testing.TB, srv *jwksServer, mod func(*Config)) *Authenticator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := Config{
		Issuer: issuer, Audience: []string{audience, "other"}, JWKSURL: srv.URL + "/jwks.json",
		Algorithms: []string{"RS256", "ES256"}, AttributeClaims: []string{"email", "level", "admin", "groups"},
		HTTPClient: srv.Client(),
	}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func claims(mod func(gojwt.MapClaims)) gojwt.MapClaims {
	now := time.Now()
	c := gojwt.MapClaims{
		"iss": issuer, "aud": audience, "sub": "alice", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"roles": []string{"analyst", "metadata-reader"}, "tenant": "acme",
		"email": "alice@example.com", "level": 3, "admin": false, "groups": []string{"x"},
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func TestAuthenticate(t *testing.T) {
	rs, ec := newRSA(t, "rsa-1"), newEC(t, "ec-1")
	srv := newJWKSServer(t, rs, ec)
	a := newAuth(t, srv, nil)
	outsider := newRSA(t, "rsa-1") // same kid, key the issuer never published
	rs384 := signer{kid: "rsa-1", alg: "RS384", key: rs.key}

	tests := []struct {
		name    string
		token   string
		absent  bool
		wantMsg string // empty: valid
	}{
		{name: "rsa", token: rs.sign(t, claims(nil))},
		{name: "ec", token: ec.sign(t, claims(nil))},
		{name: "second audience", token: rs.sign(t, claims(func(c gojwt.MapClaims) { c["aud"] = []string{"x", "other"} }))},
		{name: "api key left to apikey", token: "rk_aaaaaaaaaaaaaaaa_bbbb", absent: true},
		{name: "expired", token: rs.sign(t, claims(func(c gojwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), wantMsg: "token expired"},
		{name: "no exp", token: rs.sign(t, claims(func(c gojwt.MapClaims) { delete(c, "exp") })), wantMsg: "invalid token"},
		{name: "issued in the future", token: rs.sign(t, claims(func(c gojwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() })), wantMsg: "invalid token"},
		{name: "wrong issuer", token: rs.sign(t, claims(func(c gojwt.MapClaims) { c["iss"] = "https://evil.example.com" })), wantMsg: "invalid token"},
		{name: "wrong audience", token: rs.sign(t, claims(func(c gojwt.MapClaims) { c["aud"] = "someone-else" })), wantMsg: "invalid token"},
		{name: "no audience", token: rs.sign(t, claims(func(c gojwt.MapClaims) { delete(c, "aud") })), wantMsg: "invalid token"},
		{name: "no subject", token: rs.sign(t, claims(func(c gojwt.MapClaims) { delete(c, "sub") })), wantMsg: "token has no subject"},
		{name: "unknown kid", token: newRSA(t, "rsa-unknown").sign(t, claims(nil)), wantMsg: "invalid token"},
		{name: "forged signature, known kid", token: outsider.sign(t, claims(nil)), wantMsg: "invalid token"},
		{name: "algorithm not on allowlist", token: rs384.sign(t, claims(nil)), wantMsg: "invalid token"},
		{name: "tampered payload", token: tamper(rs.sign(t, claims(nil))), wantMsg: "invalid token"},
		{name: "garbage", token: "not-a-jwt", wantMsg: "invalid token"},
		{name: "empty segments", token: "..", wantMsg: "invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.Authenticate(bearer(tt.token))
			switch {
			case tt.absent:
				if p != nil || err != nil {
					t.Fatalf("got %v, %v; want nil, nil", p, err)
				}
			case tt.wantMsg == "":
				if err != nil {
					t.Fatal(err)
				}
				want := rampart.Principal{ID: "jwt:alice", Method: rampart.AuthJWT, Tenant: "acme", Roles: []string{"analyst", "metadata-reader"},
					Attrs: map[string]string{"email": "alice@example.com", "level": "3", "admin": "false"}}
				if p.ID != want.ID || p.Method != want.Method || p.Tenant != want.Tenant || !slices.Equal(p.Roles, want.Roles) || len(p.Attrs) != 3 ||
					p.Attrs["email"] != want.Attrs["email"] || p.Attrs["level"] != "3" || p.Attrs["admin"] != "false" {
					t.Fatalf("principal = %+v, want %+v", p, want)
				}
			default:
				var re *rampart.Error
				if p != nil || !errors.As(err, &re) || re.Code != rampart.CodeUnauthenticated || re.Message != tt.wantMsg {
					t.Fatalf("got %v, %v; want unauthenticated %q", p, err, tt.wantMsg)
				}
			}
		})
	}
	// No Authorization header at all.
	if p, err := a.Authenticate(httptest.NewRequest("GET", "/", nil)); p != nil || err != nil {
		t.Fatalf("no header: %v, %v", p, err)
	}
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"alice"`, `"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestClaimMapping(t *testing.T) {
	rs := newRSA(t, "k")
	srv := newJWKSServer(t, rs)
	a := newAuth(t, srv, func(c *Config) { c.RolesClaim = "scope"; c.TenantClaim = "org"; c.SubjectClaim = "oid" })
	tests := []struct {
		name      string
		mod       func(gojwt.MapClaims)
		id        string
		roles     []string
		tenant    string
		wantError bool
	}{
		{"space separated roles", func(c gojwt.MapClaims) { c["scope"] = "infer  read"; c["org"] = "o1"; c["oid"] = "u1" }, "jwt:u1", []string{"infer", "read"}, "o1", false},
		{"array roles drop non-strings", func(c gojwt.MapClaims) { c["scope"] = []any{"a", 1, "", "b"}; c["oid"] = "u2" }, "jwt:u2", []string{"a", "b"}, "", false},
		{"non-string tenant ignored", func(c gojwt.MapClaims) { c["org"] = 7; c["oid"] = "u3" }, "jwt:u3", nil, "", false},
		{"subject claim must be a string", func(c gojwt.MapClaims) { c["oid"] = 5 }, "", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := claims(tt.mod)
			delete(c, "roles")
			p, err := a.Verify(rs.sign(t, c))
			if tt.wantError {
				if rampart.ErrorCode(err) != rampart.CodeUnauthenticated {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != tt.id || !slices.Equal(p.Roles, tt.roles) || p.Tenant != tt.tenant {
				t.Fatalf("principal = %+v", p)
			}
		})
	}
}

// TestRegressionAlgNone guards against accepting unsigned tokens. The
// attack: the client sends a token whose header says "alg": "none" and
// whose signature is empty, hoping the verifier trusts the header and skips
// verification. The allowlist must refuse it even with valid claims, and
// the configuration must refuse to list "none".
func TestRegressionAlgNone(t *testing.T) {
	rs := newRSA(t, "k")
	a := newAuth(t, newJWKSServer(t, rs), nil)
	for _, tt := range []struct {
		name string
		alg  string
	}{{"none", "none"}, {"None", "None"}, {"NONE", "NONE"}} {
		t.Run(tt.name, func(t *testing.T) {
			header := b64([]byte(`{"alg":"` + tt.alg + `","typ":"JWT","kid":"k"}`))
			body, _ := json.Marshal(claims(nil))
			for _, tok := range []string{header + "." + b64(body) + ".", header + "." + b64(body)} {
				if p, err := a.Verify(tok); p != nil || rampart.ErrorCode(err) != rampart.CodeUnauthenticated {
					t.Fatalf("alg %s token accepted: %v, %v", tt.alg, p, err)
				}
			}
			// The library's explicit "unsafe" none method must fail too.
			tok, err := gojwt.NewWithClaims(gojwt.SigningMethodNone, claims(nil)).SignedString(gojwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			if p, err := a.Verify(tok); p != nil || err == nil {
				t.Fatalf("none token accepted: %v", p)
			}
		})
	}
	cfg := Config{Issuer: issuer, Audience: []string{audience}, JWKSURL: "https://x/jwks", Algorithms: []string{"RS256", "none"}}
	if err := cfg.Validate(); err == nil {
		t.Fatal(`config allowed algorithm "none"`)
	}
}

// TestRegressionAlgConfusion guards against the RS256→HS256 algorithm
// confusion attack. The attack: the issuer's RSA public key is public, so
// the attacker signs a token with HMAC-SHA256 using the public key (PEM or
// DER bytes) as the HMAC secret and sets "alg": "HS256". A verifier that
// picks the algorithm from the token header and feeds it the key it found
// would verify the forgery. The allowlist excludes every HS* algorithm, the
// configuration refuses them, and keys come only from the JWKS as public
// key objects, never as byte strings.
func TestRegressionAlgConfusion(t *testing.T) {
	rs := newRSA(t, "rsa-1")
	a := newAuth(t, newJWKSServer(t, rs), nil)
	pub := &rs.key.(*rsa.PrivateKey).PublicKey
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	for _, tt := range []struct {
		name   string
		alg    *gojwt.SigningMethodHMAC
		secret []byte
	}{
		{"HS256 with PEM public key", gojwt.SigningMethodHS256, pemBytes},
		{"HS256 with DER public key", gojwt.SigningMethodHS256, der},
		{"HS384 with PEM public key", gojwt.SigningMethodHS384, pemBytes},
		{"HS512 with modulus", gojwt.SigningMethodHS512, pub.N.Bytes()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok := gojwt.NewWithClaims(tt.alg, claims(func(c gojwt.MapClaims) { c["roles"] = []string{"admin"} }))
			tok.Header["kid"] = "rsa-1"
			raw, err := tok.SignedString(tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			if p, err := a.Verify(raw); p != nil || rampart.ErrorCode(err) != rampart.CodeUnauthenticated {
				t.Fatalf("forged %s token accepted: %v, %v", tt.alg.Alg(), p, err)
			}
		})
	}
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		cfg := Config{Issuer: issuer, Audience: []string{audience}, JWKSURL: "https://x/jwks", Algorithms: []string{alg}}
		if err := cfg.Validate(); err == nil {
			t.Fatalf("config allowed %s", alg)
		}
	}
}

func TestConfigYAML(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		aud  []string
		ok   bool
	}{
		{"audience string", "issuer: i\naudience: api\njwks_url: https://x\nalgorithms: [RS256]\nroles_claim: groups\n", []string{"api"}, true},
		{"audience list", "issuer: i\naudience: [a, b]\njwks_url: https://x\nalgorithms: [RS256]\n", []string{"a", "b"}, true},
		{"audience map", "audience: {a: b}\n", nil, false},
		{"unknown key", "issuer: i\nissuer_url: x\n", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			dec := yaml.NewDecoder(strings.NewReader(tt.doc))
			dec.KnownFields(true)
			err := dec.Decode(&c)
			if (err == nil) != tt.ok {
				t.Fatalf("decode: %v", err)
			}
			if tt.ok && (!slices.Equal(c.Audience, tt.aud) || c.Validate() != nil) {
				t.Fatalf("config = %+v, %v", c, c.Validate())
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		return Config{Issuer: issuer, Audience: []string{audience}, JWKSURL: "https://idp/jwks", Algorithms: []string{"ES256"}}
	}
	tests := []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"valid", func(*Config) {}, true},
		{"no issuer", func(c *Config) { c.Issuer = "" }, false},
		{"no audience", func(c *Config) { c.Audience = nil }, false},
		{"empty audience", func(c *Config) { c.Audience = []string{""} }, false},
		{"http jwks", func(c *Config) { c.JWKSURL = "http://idp/jwks" }, false},
		{"no algorithms", func(c *Config) { c.Algorithms = nil }, false},
		{"unknown algorithm", func(c *Config) { c.Algorithms = []string{"RS1"} }, false},
		{"huge leeway", func(c *Config) { c.Leeway = time.Hour }, false},
		{"negative refresh", func(c *Config) { c.RefreshInterval = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mod(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (c.RolesClaim != "roles" || c.TenantClaim != "tenant" || c.SubjectClaim != "sub" || c.RefreshInterval != time.Hour) {
				t.Fatalf("defaults not applied: %+v", c)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	old, next := newRSA(t, "2026-01"), newEC(t, "2026-02")
	srv := newJWKSServer(t, old)
	a := newAuth(t, srv, func(c *Config) { c.RefreshInterval = 100 * time.Millisecond })
	oldTok := old.sign(t, claims(nil))
	if _, err := a.Verify(oldTok); err != nil {
		t.Fatal(err)
	}
	// The issuer publishes the next key, then retires the old one.
	srv.setKeys(old, next)
	waitFor(t, func() bool { _, err := a.Verify(next.sign(t, claims(nil))); return err == nil })
	srv.setKeys(next)
	waitFor(t, func() bool { _, err := a.Verify(oldTok); return err != nil })
	if _, err := a.Verify(oldTok); rampart.ErrorCode(err) != rampart.CodeUnauthenticated {
		t.Fatalf("retired key: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An unreachable issuer is a technical failure, not the caller's fault:
// the error must not be an unauthenticated *rampart.Error.
func TestJWKSUnavailable(t *testing.T) {
	rs := newRSA(t, "k")
	srv := newJWKSServer(t, rs)
	srv.Close()
	a := newAuth(t, srv, nil)
	p, err := a.Verify(rs.sign(t, claims(nil)))
	var re *rampart.Error
	if p != nil || err == nil || errors.As(err, &re) {
		t.Fatalf("got %v, %v; want a plain technical error", p, err)
	}
}

// FuzzAuthenticate throws arbitrary bearer tokens at a live authenticator:
// it must never panic or accept anything.
func FuzzAuthenticate(f *testing.F) {
	rs := newRSA(f, "k")
	a := newAuth(f, newJWKSServer(f, rs), nil)
	good := rs.sign(f, claims(nil))
	f.Add(good[:len(good)-2])
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add("rk_x")
	f.Fuzz(func(t *testing.T, tok string) {
		if p, err := a.Verify(tok); err == nil || p != nil {
			t.Fatalf("accepted %q", tok)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{"Bearer " + tok}
		if p, _ := a.Authenticate(r); p != nil {
			t.Fatalf("accepted %q", tok)
		}
	})
}
