package authn

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		token   string
		present bool
		wantErr bool
	}{
		{name: "none"},
		{name: "basic scheme is not ours", headers: []string{"Basic dXNlcjpwYXNz"}},
		{name: "bearer", headers: []string{"Bearer abc.def.ghi"}, token: "abc.def.ghi", present: true},
		{name: "scheme is case-insensitive", headers: []string{"bEaReR rk_a_b"}, token: "rk_a_b", present: true},
		{name: "extra spaces", headers: []string{"Bearer   tok=="}, token: "tok==", present: true},
		{name: "empty token", headers: []string{"Bearer "}, present: true, wantErr: true},
		{name: "bare scheme", headers: []string{"Bearer"}, present: true, wantErr: true},
		{name: "space inside token", headers: []string{"Bearer a b"}, present: true, wantErr: true},
		{name: "padding in middle", headers: []string{"Bearer a=b"}, present: true, wantErr: true},
		{name: "control char", headers: []string{"Bearer a\x00b"}, present: true, wantErr: true},
		{name: "scheme prefix only", headers: []string{"Bearerx abc"}},
		{name: "two headers", headers: []string{"Bearer a", "Bearer b"}, present: true, wantErr: true},
		{name: "bearer plus basic", headers: []string{"Basic x", "Bearer b"}, present: true, wantErr: true},
		{name: "oversized", headers: []string{"Bearer " + strings.Repeat("a", maxTokenLen+1)}, present: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.headers {
				h.Add("Authorization", v)
			}
			tok, present, err := BearerToken(h)
			if (err != nil) != tt.wantErr || present != tt.present || tok != tt.token {
				t.Fatalf("BearerToken = %q, %v, %v; want %q, %v, err=%v", tok, present, err, tt.token, tt.present, tt.wantErr)
			}
			if err != nil && rampart.ErrorCode(err) != rampart.CodeUnauthenticated {
				t.Fatalf("error code = %s, want unauthenticated", rampart.ErrorCode(err))
			}
		})
	}
}

func TestChain(t *testing.T) {
	none := AuthenticatorFunc(func(*http.Request) (*rampart.Principal, error) { return nil, nil })
	bad := AuthenticatorFunc(func(*http.Request) (*rampart.Principal, error) {
		return nil, rampart.Errorf(rampart.CodeUnauthenticated, "invalid API key")
	})
	broken := AuthenticatorFunc(func(*http.Request) (*rampart.Principal, error) { return nil, errors.New("store down") })
	alice := AuthenticatorFunc(func(*http.Request) (*rampart.Principal, error) {
		return &rampart.Principal{ID: "key:alice", Method: rampart.AuthAPIKey}, nil
	})
	tests := []struct {
		name     string
		chain    Chain
		wantID   string
		wantCode rampart.Code
	}{
		{name: "first present decides", chain: Chain{Authenticators: []Authenticator{none, alice, bad}}, wantID: "key:alice"},
		{name: "invalid credential does not fall through", chain: Chain{Authenticators: []Authenticator{bad, alice}, AllowAnonymous: true}, wantCode: rampart.CodeUnauthenticated},
		{name: "technical failure fails closed", chain: Chain{Authenticators: []Authenticator{broken, alice}, AllowAnonymous: true}, wantCode: rampart.CodeInternal},
		{name: "no credential, anonymous allowed", chain: Chain{Authenticators: []Authenticator{none}, AllowAnonymous: true}, wantID: "anonymous"},
		{name: "no credential, anonymous refused", chain: Chain{Authenticators: []Authenticator{none}}, wantCode: rampart.CodeUnauthenticated},
		{name: "empty chain", chain: Chain{}, wantCode: rampart.CodeUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.chain.Authenticate(httptest.NewRequest("GET", "/", nil))
			if tt.wantCode != "" {
				if err == nil || rampart.ErrorCode(err) != tt.wantCode || p != nil {
					t.Fatalf("got %v, %v; want code %s", p, err, tt.wantCode)
				}
				return
			}
			if err != nil || p == nil || p.ID != tt.wantID {
				t.Fatalf("got %v, %v; want %s", p, err, tt.wantID)
			}
		})
	}
}

// FuzzBearerToken feeds arbitrary Authorization headers to the parser: it
// must never panic, and whatever it accepts must be a valid token68.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer rk_x_y", "Bearer ", "Basic x", "Bearer a==", "Bearer =", "Bearer\ta"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{"Authorization": []string{v}}
		tok, present, err := BearerToken(h)
		if err == nil && present && !ValidToken(tok) {
			t.Fatalf("accepted invalid token %q", tok)
		}
		if !present && (tok != "" || err != nil) {
			t.Fatalf("absent credential returned %q, %v", tok, err)
		}
	})
}
