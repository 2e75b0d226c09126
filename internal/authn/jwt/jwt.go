// Package jwt authenticates bearer JWTs issued by an OIDC provider.
//
// Every token must be signed with an algorithm on the configured allowlist
// by a key from the issuer's JWKS, carry the configured issuer and one of
// the configured audiences, and carry an expiry that has not passed. The
// allowlist admits only asymmetric algorithms: "none" and the HMAC family
// are refused when the configuration is validated, which rules out the
// classic algorithm-confusion attack of signing with HS256 and the issuer's
// public key as the secret.
//
// The JWKS is fetched in the background and refreshed every
// RefreshInterval, and also on demand (rate limited) when a token names an
// unknown key id, so issuer key rotation needs no restart.
//
// Bearer tokens with the rk_ prefix are Rampart API keys, not JWTs: this
// authenticator leaves them to the apikey authenticator.
package jwt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	gojwt "github.com/golang-jwt/jwt/v5"
	"go.yaml.in/yaml/v3"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/authn"
)

// Config configures one issuer.
type Config struct {
	Issuer string `yaml:"issuer"`
	// Audience lists accepted audiences; a token must name at least one.
	// In YAML it is one string or a list.
	Audience Audiences `yaml:"audience"`
	// JWKSURL is the issuer's key set; it must be https.
	JWKSURL string `yaml:"jwks_url"`
	// Algorithms is the allowlist, e.g. [RS256, ES256]. Required.
	Algorithms []string `yaml:"algorithms"`
	// RefreshInterval is how often the JWKS is refetched (default 1h).
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// Leeway tolerates clock skew on exp, nbf and iat (default 0, at most 5m).
	Leeway time.Duration `yaml:"leeway"`
	// RolesClaim names the claim holding roles, an array of strings or a
	// space-separated string (default "roles").
	RolesClaim string `yaml:"roles_claim"`
	// TenantClaim names the claim holding the tenant (default "tenant").
	TenantClaim string `yaml:"tenant_claim"`
	// SubjectClaim names the claim identifying the caller (default "sub").
	SubjectClaim string `yaml:"subject_claim"`
	// AttributeClaims are copied into Principal.Attrs when they are scalars.
	AttributeClaims []string `yaml:"attribute_claims"`

	// HTTPClient fetches the JWKS; nil means a client with a 10s timeout.
	// It is for custom CAs and tests, not for YAML.
	HTTPClient *http.Client `yaml:"-"`
}

// Audiences is a list of audiences that also decodes from a single YAML
// string, as OIDC configurations often write it.
type Audiences []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (a *Audiences) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*a = Audiences{s}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*a = l
	return nil
}

// allowedAlgorithms are the asymmetric JWS algorithms golang-jwt verifies.
var allowedAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Validate checks the configuration and applies defaults.
func (c *Config) Validate() error {
	if c.Issuer == "" {
		return errors.New("jwt: issuer is required")
	}
	if len(c.Audience) == 0 || slices.Contains(c.Audience, "") {
		return errors.New("jwt: at least one non-empty audience is required")
	}
	u, err := url.Parse(c.JWKSURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("jwt: jwks_url %q must be an https URL", c.JWKSURL)
	}
	if len(c.Algorithms) == 0 {
		return errors.New("jwt: algorithms allowlist is required")
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(allowedAlgorithms, a) {
			return fmt.Errorf("jwt: algorithm %q not allowed (use asymmetric ones: %s)", a, strings.Join(allowedAlgorithms, ", "))
		}
	}
	if c.Leeway < 0 || c.Leeway > 5*time.Minute {
		return errors.New("jwt: leeway must be between 0 and 5m")
	}
	if c.RefreshInterval < 0 {
		return errors.New("jwt: negative refresh_interval")
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = time.Hour
	}
	if c.RolesClaim == "" {
		c.RolesClaim = "roles"
	}
	if c.TenantClaim == "" {
		c.TenantClaim = "tenant"
	}
	if c.SubjectClaim == "" {
		c.SubjectClaim = "sub"
	}
	return nil
}

// Authenticator verifies JWTs for one issuer.
type Authenticator struct {
	cfg    Config
	kf     keyfunc.Keyfunc
	parser *gojwt.Parser
	ctx    context.Context
}

var _ authn.Authenticator = (*Authenticator)(nil)

var errInvalid = rampart.Errorf(rampart.CodeUnauthenticated, "invalid token")

// New validates cfg and starts fetching the JWKS in the background; the
// refresh goroutine stops when ctx ends. An issuer that is unreachable at
// start is not an error: requests fail closed until keys arrive.
func New(ctx context.Context, cfg Config) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
		Client:          client,
		HTTPTimeout:     10 * time.Second,
		RefreshInterval: cfg.RefreshInterval,
		// A token naming an unknown kid may trigger one refetch per five
		// minutes; other such requests must fail at once rather than queue
		// on the rate limiter (the library default waits up to a minute).
		RateLimitWaitMax: time.Millisecond,
		// Refresh failures surface as request errors (fail closed); the
		// library's own logging would only duplicate them.
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) { return func(context.Context, error) {} },
	})
	if err != nil {
		return nil, fmt.Errorf("jwt: jwks %s: %w", cfg.JWKSURL, err)
	}
	opts := []gojwt.ParserOption{
		gojwt.WithValidMethods(cfg.Algorithms),
		gojwt.WithIssuer(cfg.Issuer),
		gojwt.WithAudience(cfg.Audience...),
		gojwt.WithExpirationRequired(),
		gojwt.WithIssuedAt(),
		gojwt.WithLeeway(cfg.Leeway),
	}
	return &Authenticator{cfg: cfg, kf: kf, parser: gojwt.NewParser(opts...), ctx: ctx}, nil
}

// unavailable marks a key lookup that failed because no keys are loaded at
// all: the issuer is unreachable, which is not the caller's fault.
type unavailable struct{ err error }

func (u *unavailable) Error() string { return "jwks unavailable: " + u.err.Error() }
func (u *unavailable) Unwrap() error { return u.err }

func (a *Authenticator) keyfunc(t *gojwt.Token) (any, error) {
	k, err := a.kf.Keyfunc(t)
	if err != nil {
		if keys, rerr := a.kf.Storage().KeyReadAll(a.ctx); rerr != nil || len(keys) == 0 {
			return nil, &unavailable{err}
		}
		return nil, err
	}
	return k, nil
}

// Authenticate implements [authn.Authenticator].
func (a *Authenticator) Authenticate(r *http.Request) (*rampart.Principal, error) {
	tok, present, err := authn.BearerToken(r.Header)
	if err != nil || !present {
		return nil, err
	}
	if strings.HasPrefix(tok, "rk_") {
		return nil, nil
	}
	return a.Verify(tok)
}

// Verify checks a raw token and maps its claims to a principal.
func (a *Authenticator) Verify(raw string) (*rampart.Principal, error) {
	claims := gojwt.MapClaims{}
	_, err := a.parser.ParseWithClaims(raw, claims, a.keyfunc)
	if err != nil {
		var u *unavailable
		if errors.As(err, &u) {
			return nil, fmt.Errorf("jwt: %w", u)
		}
		if errors.Is(err, gojwt.ErrTokenExpired) {
			return nil, &rampart.Error{Code: rampart.CodeUnauthenticated, Message: "token expired", Err: err}
		}
		return nil, &rampart.Error{Code: rampart.CodeUnauthenticated, Message: errInvalid.Message, Err: err}
	}
	sub, ok := claims[a.cfg.SubjectClaim].(string)
	if !ok || sub == "" {
		return nil, rampart.Errorf(rampart.CodeUnauthenticated, "token has no subject")
	}
	p := &rampart.Principal{ID: "jwt:" + sub, Method: rampart.AuthJWT}
	p.Tenant, _ = claims[a.cfg.TenantClaim].(string)
	p.Roles = stringList(claims[a.cfg.RolesClaim])
	for _, c := range a.cfg.AttributeClaims {
		if v, ok := scalar(claims[c]); ok {
			if p.Attrs == nil {
				p.Attrs = make(map[string]string, len(a.cfg.AttributeClaims))
			}
			p.Attrs[c] = v
		}
	}
	return p, nil
}

// stringList reads a roles claim: an array of strings (non-strings are
// dropped) or a space-separated string, as OAuth scope claims are.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}
