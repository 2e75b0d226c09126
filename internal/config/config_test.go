package config

import (
	"errors"
	"strings"
	"testing"
)

const minimal = `
identity:
  api_keys: {db: keys.db}
routes:
  - name: models
    prefix: /v2
    protocol: oip
    upstream: http://127.0.0.1:8001
    models:
      iris:
        attributes: {classification: public}
        inputs:
          - {name: x, datatype: FP32, shape: [-1, 4]}
`

func TestParseMinimal(t *testing.T) {
	c, err := Parse("/etc/rampart/rampart.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	if r.Mode != "enforce" || r.Limits.MaxBodyBytes != DefaultMaxBodyBytes || r.Models["iris"].NaNPolicy != "reject" {
		t.Fatalf("defaults not applied: %+v", r)
	}
	if c.Identity.APIKeys.DB != "/etc/rampart/keys.db" {
		t.Fatalf("relative path not resolved: %s", c.Identity.APIKeys.DB)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		line int
		want string
	}{
		{"unknown top key", "listen: {address: 127.0.0.1:1}\nroutess: []\n", 2, "field routess not found"},
		{"unknown route key", strings.Replace(minimal, "    prefix: /v2", "    prefix: /v2\n    upstreem: x", 1), 7, "field upstreem not found"},
		{"bad mode", strings.Replace(minimal, "    prefix: /v2", "    prefix: /v2\n    mode: block", 1), 7, "mode must be enforce or monitor"},
		{"bad upstream", strings.Replace(minimal, "http://127.0.0.1:8001", "ftp://x", 1), 8, "upstream must be an http(s) URL"},
		{"bad datatype", strings.Replace(minimal, "FP32", "FLOAT", 1), 13, "unknown datatype"},
		{"plaintext public", "listen: {address: 0.0.0.0:8080}\n" + minimal, 1, "not loopback"},
		{"no routes", "identity: {api_keys: {}}\n", 0, "no routes"},
		{"nobody can call", "routes:\n  - {prefix: /v1, protocol: openai, upstream: 'http://h:1'}\n", 2, "no authenticator"},
		{"bad yaml", "routes: [\n", 0, "did not find"},
		{"empty", "  \n", 0, "config is empty"},
		{"jwt hs256", "identity:\n  jwt: {issuer: i, audience: [a], jwks_url: 'https://i/jwks', algorithms: [HS256]}\n" + strings.TrimPrefix(minimal, "\nidentity:\n  api_keys: {db: keys.db}\n"), 2, "asymmetric"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tc.yaml))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *Error, got %v", err)
			}
			if !strings.Contains(ce.Reason, tc.want) {
				t.Errorf("reason %q does not contain %q", ce.Reason, tc.want)
			}
			if tc.line != 0 && ce.Line != tc.line {
				t.Errorf("line %d, want %d (%v)", ce.Line, tc.line, err)
			}
			if !strings.HasPrefix(err.Error(), "r.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("routes: [{prefix: /, protocol: generic, upstream: 'http://x:1', anonymous: true}]"))
	f.Add([]byte("listen: {tls: {cert_file: a}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("f.yaml", b)
		if err == nil && len(c.Routes) == 0 {
			t.Fatal("accepted a config without routes")
		}
		var ce *Error
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error without location: %v", err)
		}
	})
}
