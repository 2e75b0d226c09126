// Package authn establishes who is calling.
//
// An [Authenticator] checks one kind of credential and has exactly three
// outcomes, which the gateway must keep apart:
//
//   - (nil, nil): the request carries no credential of this kind;
//   - (principal, nil): the credential is present and valid;
//   - (nil, *rampart.Error with rampart.CodeUnauthenticated): a credential
//     of this kind is present but bad. Its message is safe for clients.
//
// Any other error is a technical failure (key store down, JWKS endpoint
// unreachable); the gateway fails closed on it and never reports it as the
// caller's fault.
//
// [Chain] tries authenticators in order. The first one that finds its kind
// of credential decides, so a present-but-invalid credential can never be
// downgraded to a weaker method or to the anonymous principal.
package authn

import (
	"net/http"
	"strings"

	"github.com/rampart-ai/rampart"
)

// Authenticator checks one kind of credential. It returns (nil, nil) when
// the request carries no credential of its kind, a principal when valid, and
// a *rampart.Error with rampart.CodeUnauthenticated (safe message, e.g.
// "invalid API key") when a credential is present but bad. Technical
// failures (store down, JWKS unreachable) are plain errors (the gateway
// fails closed).
type Authenticator interface {
	Authenticate(r *http.Request) (*rampart.Principal, error)
}

// AuthenticatorFunc adapts a function to [Authenticator].
type AuthenticatorFunc func(r *http.Request) (*rampart.Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*rampart.Principal, error) { return f(r) }

// Anonymous is the principal of a caller that presented no credential, on
// routes that allow that.
func Anonymous() *rampart.Principal {
	return &rampart.Principal{ID: "anonymous", Method: rampart.AuthAnonymous}
}

// Chain tries each authenticator in order; the first that finds its kind of
// credential decides.
type Chain struct {
	Authenticators []Authenticator
	// AllowAnonymous admits requests that carry no credential at all as
	// [Anonymous]. It never admits a request whose credential was rejected.
	AllowAnonymous bool
}

// Authenticate implements [Authenticator]. Unlike a single authenticator,
// a chain never returns (nil, nil): a request without any credential is
// either anonymous (when allowed) or unauthenticated.
func (c *Chain) Authenticate(r *http.Request) (*rampart.Principal, error) {
	for _, a := range c.Authenticators {
		p, err := a.Authenticate(r)
		if err != nil {
			return nil, err
		}
		if p != nil {
			return p, nil
		}
	}
	if c.AllowAnonymous {
		return Anonymous(), nil
	}
	return nil, rampart.Errorf(rampart.CodeUnauthenticated, "authentication required")
}

// ErrMalformedAuthorization is returned (as the client-facing error) when an
// Authorization header claims the Bearer scheme but is not well formed.
var ErrMalformedAuthorization = rampart.Errorf(rampart.CodeUnauthenticated, "malformed Authorization header")

// maxTokenLen bounds bearer tokens so that a hostile header cannot make any
// authenticator do unbounded work; real JWTs from OIDC issuers stay far below.
const maxTokenLen = 16 << 10

// BearerToken extracts the token of an "Authorization: Bearer <token>"
// header (RFC 6750). present is false when there is no Authorization header
// or it uses another scheme. err is set when the header claims Bearer but is
// malformed, or when several Authorization headers are sent: a credential is
// then present and must be refused rather than ignored.
func BearerToken(h http.Header) (token string, present bool, err error) {
	vals := h.Values("Authorization")
	if len(vals) == 0 {
		return "", false, nil
	}
	bearer := 0
	for _, v := range vals {
		if hasScheme(v, "bearer") {
			bearer++
			token = v
		}
	}
	if bearer == 0 {
		return "", false, nil
	}
	if len(vals) > 1 {
		// Two credentials of which we would pick one is an ambiguity an
		// attacker could exploit across proxies that pick differently.
		return "", true, ErrMalformedAuthorization
	}
	token = strings.TrimLeft(token[len("bearer"):], " ")
	if !ValidToken(token) {
		return "", true, ErrMalformedAuthorization
	}
	return token, true, nil
}

func hasScheme(v, scheme string) bool {
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return false
	}
	return len(v) == len(scheme) || v[len(scheme)] == ' '
}

// ValidToken reports whether s is a non-empty RFC 7235 token68 of bounded
// length: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" followed by
// optional "=" padding.
func ValidToken(s string) bool {
	if s == "" || len(s) > maxTokenLen {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
