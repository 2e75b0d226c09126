package gateway

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
	"github.com/rampart-ai/rampart/internal/protocol/oip"
	"github.com/rampart-ai/rampart/internal/signing"
)

// TestCanonicalPath covers the path tricks used to slip past a route or a
// policy: a request matched on one spelling of a path and served by the
// upstream under another (percent-encoded letters, encoded slashes, dot
// segments, doubled slashes).
func TestCanonicalPath(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"/v2/models/iris/infer", "/v2/models/iris/infer", ""},
		{"/v2/models/secre%74/infer", "/v2/models/secret/infer", ""},
		{"/v1/models/internal%2Dx", "/v1/models/internal-x", ""},
		{"/v1/models/a%20b", "/v1/models/a%20b", ""},
		{"/v1/models/a%3fb", "/v1/models/a%3Fb", ""},
		{"/v2/models/model.v1/infer", "/v2/models/model.v1/infer", ""},
		{"/v2/", "/v2/", ""},
		{"/v2/models/a%2Fb/infer", "", "encoded slash"},
		{"/v2/models/a%5cb/infer", "", "encoded slash"},
		{"/v2/models/../admin", "", "dot segment"},
		{"/v2/models/%2e%2e/admin", "", "dot segment"},
		{"/v2/models/./x", "", "dot segment"},
		{"/v2//models", "", "empty path segment"},
		{"/v2/models/%zz", "", "malformed percent-escape"},
		{"/v2/models/%4", "", "malformed percent-escape"},
		{"/v2/models/%00", "", "control character"},
		{"/v2/models/a b", "", "invalid character"},
		{"/v2/models/a\\b", "", "invalid character"},
		{"v2/models", "", "must start with /"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := canonicalPath(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{"/v2/models/x/infer", "/a/%2e%2e/b", "/a%41/b/", "//", "/%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, err := canonicalPath(p)
		if err != nil {
			return
		}
		// The canonical form is a fixed point and decodes without error to
		// a path with no dot segments or encoded slashes.
		if c2, err := canonicalPath(c); err != nil || c2 != c {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", p, c, c2, err)
		}
		d, err := url.PathUnescape(c)
		if err != nil {
			t.Fatalf("canonical %q does not decode: %v", c, err)
		}
		for _, seg := range strings.Split(d, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("dot segment survives in %q", c)
			}
		}
		if strings.Count(d, "/") != strings.Count(c, "/") {
			t.Fatalf("encoded slash survives in %q", c)
		}
	})
}

func TestWithVerified(t *testing.T) {
	d := &signing.Deployed{RootDigest: "ab", Signer: "k", Files: 1, Method: "files"}
	tests := []struct{ in, want string }{
		{`{"name":"m"}`, `{"rampart_verified":{"root_digest":"ab","signer":"k","files":1,"method":"files"},"name":"m"}`},
		{` {}`, `{"rampart_verified":{"root_digest":"ab","signer":"k","files":1,"method":"files"}}`},
		{`[1]`, `[1]`},
		{`{"broken"`, `{"broken"`},
	}
	for _, tc := range tests {
		if got := string(withVerified([]byte(tc.in), d)); got != tc.want {
			t.Errorf("%s -> %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestInferenceHeaderLength: the Triton binary extension's JSON length
// header must be a plain non-negative decimal.
func TestInferenceHeaderLength(t *testing.T) {
	body := []byte(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]}`)
	for _, v := range []string{"+5", "-1", "abc", "9999999999999", " 5"} {
		r := httptest.NewRequest("POST", "/v2/models/m/infer", nil)
		r.Header.Set("Inference-Header-Content-Length", v)
		inf := rampart.Inference{Operation: oip.OpInfer}
		if err := (oipCodec{}).decode(r, body, protocol.DefaultLimits(), &inf); rampart.ErrorCode(err) != rampart.CodeInvalid {
			t.Errorf("%q: %v, want invalid_request", v, err)
		}
	}
}
