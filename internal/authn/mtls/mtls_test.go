package mtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/rampart-ai/rampart"
)

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &ca{cert: cert, key: key}
}

func (c *ca) issue(t *testing.T, cn string, uris []string, dns []string, serial int64, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

var testRules = Config{Rules: []Rule{
	{URI: "spiffe://corp/ns/prod/sa/*", Principal: "{match}", Roles: []string{"analyst"}, Tenant: "prod"},
	{CommonName: "ops-admin", Roles: []string{"admin"}},
	{DNS: "*.batch.corp.internal", Principal: "batch/{dns}#{serial}", Roles: []string{"batch"}, Tenant: "data"},
	{CommonName: "svc-?", Principal: "cn={cn}", Roles: []string{"svc"}},
}}

// serve runs a real mTLS server whose handler reports what the
// authenticator said.
func serve(t *testing.T, a *Authenticator, clientCA *ca, auth tls.ClientAuthType) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		out := map[string]any{"principal": p}
		if err != nil {
			out["code"] = rampart.ErrorCode(err)
			out["message"] = rampart.ErrorMessage(err)
		}
		json.NewEncoder(w).Encode(out)
	}))
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	srv.TLS = &tls.Config{ClientAuth: auth, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

type result struct {
	Principal *rampart.Principal `json:"principal"`
	Code      rampart.Code       `json:"code"`
	Message   string             `json:"message"`
}

func call(t *testing.T, srv *httptest.Server, cert *tls.Certificate) (result, error) {
	t.Helper()
	client := srv.Client()
	tr := client.Transport.(*http.Transport).Clone()
	if cert != nil {
		// Send the certificate even when its issuer is not among the CAs
		// the server asks for, as an attacker would.
		tr.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var res result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("bad response %q: %v", b, err)
	}
	return res, nil
}

func TestAuthenticate(t *testing.T) {
	root := newCA(t, "client-ca")
	a, err := New(testRules)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, a, root, tls.VerifyClientCertIfGiven)
	client := x509.ExtKeyUsageClientAuth
	tests := []struct {
		name   string
		cert   *tls.Certificate
		id     string
		roles  []string
		tenant string
		code   rampart.Code
	}{
		{name: "no certificate"},
		{name: "spiffe id glob", cert: ptr(root.issue(t, "x", []string{"spiffe://corp/ns/prod/sa/scorer"}, nil, 2, client)),
			id: "mtls:spiffe://corp/ns/prod/sa/scorer", roles: []string{"analyst"}, tenant: "prod"},
		{name: "spiffe glob stays in segment", cert: ptr(root.issue(t, "x", []string{"spiffe://corp/ns/prod/sa/a/b"}, nil, 3, client)),
			code: rampart.CodeUnauthenticated},
		{name: "other namespace", cert: ptr(root.issue(t, "x", []string{"spiffe://corp/ns/dev/sa/scorer"}, nil, 4, client)),
			code: rampart.CodeUnauthenticated},
		{name: "exact cn", cert: ptr(root.issue(t, "ops-admin", nil, nil, 5, client)), id: "mtls:ops-admin", roles: []string{"admin"}},
		{name: "cn is case-sensitive", cert: ptr(root.issue(t, "OPS-ADMIN", nil, nil, 6, client)), code: rampart.CodeUnauthenticated},
		{name: "dns glob with template", cert: ptr(root.issue(t, "", nil, []string{"nightly.batch.corp.internal"}, 255, client)),
			id: "mtls:batch/nightly.batch.corp.internal#ff", roles: []string{"batch"}, tenant: "data"},
		{name: "dns glob stays in label", cert: ptr(root.issue(t, "", nil, []string{"a.nightly.batch.corp.internal"}, 7, client)),
			code: rampart.CodeUnauthenticated},
		{name: "cn single-char glob", cert: ptr(root.issue(t, "svc-a", nil, nil, 8, client)), id: "mtls:cn=svc-a", roles: []string{"svc"}},
		{name: "first rule wins", cert: ptr(root.issue(t, "ops-admin", []string{"spiffe://corp/ns/prod/sa/x"}, nil, 9, client)),
			id: "mtls:spiffe://corp/ns/prod/sa/x", roles: []string{"analyst"}, tenant: "prod"},
		{name: "no rule matches", cert: ptr(root.issue(t, "stranger", nil, nil, 10, client)), code: rampart.CodeUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := call(t, srv, tt.cert)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.code != "":
				if res.Principal != nil || res.Code != tt.code {
					t.Fatalf("got %+v, want code %s", res, tt.code)
				}
			case tt.id == "":
				if res.Principal != nil || res.Code != "" {
					t.Fatalf("got %+v, want nil, nil", res)
				}
			default:
				p := res.Principal
				if p == nil || p.ID != tt.id || p.Method != rampart.AuthMTLS || !slices.Equal(p.Roles, tt.roles) || p.Tenant != tt.tenant {
					t.Fatalf("got %+v, want id %s roles %v tenant %s", res, tt.id, tt.roles, tt.tenant)
				}
			}
		})
	}
}

// A certificate from another CA must never be mapped: with
// RequestClientCert the TLS stack accepts it unverified, and the
// authenticator must refuse it rather than read PeerCertificates.
func TestUnverifiedCertificateRefused(t *testing.T) {
	root, rogue := newCA(t, "client-ca"), newCA(t, "rogue-ca")
	a, err := New(testRules)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, a, root, tls.RequestClientCert)
	cert := rogue.issue(t, "ops-admin", nil, nil, 2, x509.ExtKeyUsageClientAuth)
	res, err := call(t, srv, &cert)
	if err != nil {
		t.Fatal(err)
	}
	if res.Principal != nil || res.Code != rampart.CodeUnauthenticated || res.Message != "client certificate not verified" {
		t.Fatalf("rogue certificate: %+v", res)
	}
	// With verification on, the handshake itself fails.
	strict := serve(t, a, root, tls.RequireAndVerifyClientCert)
	if _, err := call(t, strict, &cert); err == nil {
		t.Fatal("handshake with rogue certificate succeeded")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"valid", testRules, true},
		{"no rules", Config{}, false},
		{"no matcher", Config{Rules: []Rule{{Roles: []string{"x"}}}}, false},
		{"two matchers", Config{Rules: []Rule{{CommonName: "a", DNS: "b"}}}, false},
		{"bad glob", Config{Rules: []Rule{{URI: "spiffe://corp/[x"}}}, false},
		{"unbalanced template", Config{Rules: []Rule{{CommonName: "a", Principal: "{cn"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); (err == nil) != tt.ok {
				t.Fatalf("New() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
