package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"
)

type pki struct {
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
}

func newPKI(t *testing.T) *pki {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rampart test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &pki{caCert: cert, caKey: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (p *pki) issue(t *testing.T, cn string, client bool, uris ...string) (certPEM, keyPEM []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	for _, u := range uris {
		pu, _ := url.Parse(u)
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// TestTLSMTLSAndJWT serves over TLS with HTTP/2 and HTTP/1.1, maps client
// certificates (a SPIFFE ID) to principals, and accepts JWTs from an OIDC
// issuer's JWKS, refusing the classic token forgeries.
func TestTLSMTLSAndJWT(t *testing.T) {
	up := startUpstream(t, "oip")
	dir := t.TempDir()
	p := newPKI(t)
	srvCert, srvKey := p.issue(t, "rampart", false)
	cliCert, cliKey := p.issue(t, "inference-client", true, "spiffe://corp.example/ns/ml/sa/scorer")
	strangerCert, strangerKey := p.issue(t, "stranger", true, "spiffe://corp.example/ns/other/sa/x")
	writeFile(t, dir, "ca.pem", string(p.caPEM))
	writeFile(t, dir, "server.pem", string(srvCert))
	writeFile(t, dir, "server.key", string(srvKey))

	// An OIDC issuer's JWKS endpoint with one RSA key.
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := base64.RawURLEncoding.EncodeToString(rsaKey.N.Bytes())
		e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(rsaKey.E)).Bytes())
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]string{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": n, "e": e}}})
	}))
	defer jwks.Close()
	writeFile(t, dir, "jwks-ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: jwks.Certificate().Raw})))

	writeFile(t, dir, "policies.cedar", `
@id("scorers") permit (principal in Rampart::Role::"scorer", action == Rampart::Action::"infer", resource);
@id("jwt-analysts") permit (principal in Rampart::Role::"analyst", action == Rampart::Action::"infer", resource) when { context.auth_method == "jwt" };
`)
	writeFile(t, dir, "rampart.yaml", fmt.Sprintf(`
listen:
  address: "127.0.0.1:0"
  tls: {cert_file: server.pem, key_file: server.key, client_ca_file: ca.pem, client_auth: request}
admin: {address: "127.0.0.1:0"}
audit: {dir: audit}
identity:
  jwt:
    issuer: https://issuer.example
    audience: [rampart]
    jwks_url: %q
    algorithms: [RS256]
    jwks_ca_file: jwks-ca.pem
  mtls:
    rules:
      - {uri: "spiffe://corp.example/ns/ml/sa/*", roles: [scorer], tenant: ml}
policies: [policies.cedar]
routes:
  - name: models
    prefix: /v2
    protocol: oip
    upstream: %q
    models:
      breast-cancer: {inputs: [{name: features, datatype: FP32, shape: [-1, 30]}]}
`, jwks.URL, up.URL))
	g := startGateway(t, dir)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	body := inferBody("features", []int{1, 30}, row)

	client := func(certPEM, keyPEM []byte, h2 bool) *http.Client {
		tc := &tls.Config{RootCAs: pool}
		if certPEM != nil {
			c, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{c}
		}
		tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		return &http.Client{Transport: tr, Timeout: 20 * time.Second}
	}
	send := func(c *http.Client, bearer string) (int, string) {
		req, _ := http.NewRequest("POST", g.URL+"/v2/models/breast-cancer/infer", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request: %v\n%s", err, g.Logs())
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Proto
	}

	sign := func(method jwtlib.SigningMethod, key any, claims jwtlib.MapClaims) string {
		tok := jwtlib.NewWithClaims(method, claims)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	good := jwtlib.MapClaims{"iss": "https://issuer.example", "aud": "rampart", "sub": "alice", "roles": []string{"analyst"}, "exp": now.Add(time.Hour).Unix()}
	with := func(k string, v any) jwtlib.MapClaims {
		c := jwtlib.MapClaims{}
		for a, b := range good {
			c[a] = b
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	tests := []struct {
		name   string
		cert   [2][]byte
		h2     bool
		bearer string
		status int
		proto  string
	}{
		{"mTLS SPIFFE identity over HTTP/2", [2][]byte{cliCert, cliKey}, true, "", 200, "HTTP/2.0"},
		{"mTLS SPIFFE identity over HTTP/1.1", [2][]byte{cliCert, cliKey}, false, "", 200, "HTTP/1.1"},
		{"certificate matching no rule", [2][]byte{strangerCert, strangerKey}, true, "", 401, ""},
		{"no credentials", [2][]byte{}, true, "", 401, ""},
		{"valid JWT", [2][]byte{}, true, sign(jwtlib.SigningMethodRS256, rsaKey, good), 200, ""},
		{"expired JWT", [2][]byte{}, true, sign(jwtlib.SigningMethodRS256, rsaKey, with("exp", now.Add(-time.Hour).Unix())), 401, ""},
		{"JWT without exp", [2][]byte{}, true, sign(jwtlib.SigningMethodRS256, rsaKey, with("exp", nil)), 401, ""},
		{"JWT for another audience", [2][]byte{}, true, sign(jwtlib.SigningMethodRS256, rsaKey, with("aud", "someone-else")), 401, ""},
		{"JWT from another issuer", [2][]byte{}, true, sign(jwtlib.SigningMethodRS256, rsaKey, with("iss", "https://evil.example")), 401, ""},
		{"JWT alg none", [2][]byte{}, true, sign(jwtlib.SigningMethodNone, jwtlib.UnsafeAllowNoneSignatureType, good), 401, ""},
		{"JWT HS256 signed with the public key (algorithm confusion)", [2][]byte{}, true, sign(jwtlib.SigningMethodHS256, pubPEM, good), 401, ""},
		{"JWT without the role", [2][]byte{}, true, sign(jwtlib.SigningMethodRS256, rsaKey, with("roles", []string{"viewer"})), 403, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, proto := send(client(tc.cert[0], tc.cert[1], tc.h2), tc.bearer)
			if st != tc.status {
				t.Fatalf("status %d, want %d", st, tc.status)
			}
			if tc.proto != "" && proto != tc.proto {
				t.Fatalf("protocol %s, want %s", proto, tc.proto)
			}
		})
	}
	g.stop()
	recs := auditRecords(t, filepath.Join(dir, "audit"))
	found := map[string]bool{}
	for _, r := range recs {
		found[fmt.Sprint(r["auth_method"], " ", r["principal"])] = true
	}
	if !found["mtls spiffe://corp.example/ns/ml/sa/scorer"] && !found["mtls mtls:spiffe://corp.example/ns/ml/sa/scorer"] {
		t.Errorf("no audit record for the SPIFFE principal: %v", found)
	}
}
