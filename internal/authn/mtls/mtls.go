// Package mtls maps verified client certificates to principals.
//
// The TLS stack has already verified the chain against the configured
// client CA; this package only names the caller. It reads the leaf of the
// first verified chain, never r.TLS.PeerCertificates alone, so an
// unverified certificate can never become a principal.
//
// Rules are tried in order and the first match wins. A rule matches one of
// the subject common name, a URI SAN (a SPIFFE ID such as
// spiffe://corp/ns/prod/sa/api) or a DNS SAN, exactly or with a glob in
// which * matches within one path segment or label (path.Match syntax). A
// verified certificate that no rule matches is refused: holding a cert from
// the CA is not by itself a grant.
package mtls

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/authn"
)

// Config is the ordered list of mapping rules.
type Config struct {
	Rules []Rule `yaml:"rules"`
}

// Rule maps certificates to a principal. Exactly one of CommonName, URI and
// DNS is set.
type Rule struct {
	CommonName string `yaml:"common_name"`
	URI        string `yaml:"uri"`
	DNS        string `yaml:"dns"`
	// Principal is the principal ID template (without the "mtls:" prefix).
	// {cn}, {uri}, {dns} and {serial} expand to the certificate's values,
	// {match} to the value the rule matched. Default "{match}".
	Principal string   `yaml:"principal"`
	Roles     []string `yaml:"roles"`
	Tenant    string   `yaml:"tenant"`
}

// Validate checks the rules.
func (c *Config) Validate() error {
	if len(c.Rules) == 0 {
		return errors.New("mtls: at least one rule is required")
	}
	for i, r := range c.Rules {
		n := 0
		for _, p := range []string{r.CommonName, r.URI, r.DNS} {
			if p != "" {
				n++
				if _, err := path.Match(p, ""); err != nil {
					return fmt.Errorf("mtls: rule %d: bad pattern %q: %w", i+1, p, err)
				}
			}
		}
		if n != 1 {
			return fmt.Errorf("mtls: rule %d: set exactly one of common_name, uri, dns", i+1)
		}
		if strings.Count(r.Principal, "{")-strings.Count(r.Principal, "}") != 0 {
			return fmt.Errorf("mtls: rule %d: unbalanced braces in principal %q", i+1, r.Principal)
		}
	}
	return nil
}

// Authenticator maps client certificates by rules.
type Authenticator struct {
	rules []Rule
}

var _ authn.Authenticator = (*Authenticator)(nil)

// New validates cfg and returns an authenticator.
func New(cfg Config) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Authenticator{rules: append([]Rule(nil), cfg.Rules...)}, nil
}

var (
	errUnverified = rampart.Errorf(rampart.CodeUnauthenticated, "client certificate not verified")
	errNoRule     = rampart.Errorf(rampart.CodeUnauthenticated, "client certificate not authorized")
)

// Authenticate implements [authn.Authenticator].
func (a *Authenticator) Authenticate(r *http.Request) (*rampart.Principal, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, nil
	}
	if len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, errUnverified
	}
	return a.Map(r.TLS.VerifiedChains[0][0])
}

// Map names the holder of a verified leaf certificate.
func (a *Authenticator) Map(cert *x509.Certificate) (*rampart.Principal, error) {
	for _, rule := range a.rules {
		match, ok := rule.match(cert)
		if !ok {
			continue
		}
		tmpl := rule.Principal
		if tmpl == "" {
			tmpl = "{match}"
		}
		id := strings.NewReplacer(
			"{match}", match,
			"{cn}", cert.Subject.CommonName,
			"{uri}", firstURI(cert),
			"{dns}", first(cert.DNSNames),
			"{serial}", cert.SerialNumber.Text(16),
		).Replace(tmpl)
		if id == "" {
			return nil, errNoRule
		}
		return &rampart.Principal{
			ID:     "mtls:" + id,
			Method: rampart.AuthMTLS,
			Tenant: rule.Tenant,
			Roles:  append([]string(nil), rule.Roles...),
		}, nil
	}
	return nil, errNoRule
}

func (r *Rule) match(cert *x509.Certificate) (string, bool) {
	switch {
	case r.CommonName != "":
		if cn := cert.Subject.CommonName; cn != "" && glob(r.CommonName, cn) {
			return cn, true
		}
	case r.URI != "":
		for _, u := range cert.URIs {
			if s := u.String(); glob(r.URI, s) {
				return s, true
			}
		}
	case r.DNS != "":
		for _, d := range cert.DNSNames {
			if glob(r.DNS, d) {
				return d, true
			}
		}
	}
	return "", false
}

// glob matches exactly, or by path.Match when the pattern has wildcards;
// patterns were checked at load, so a match error cannot occur here.
func glob(pattern, s string) bool {
	if !strings.ContainsAny(pattern, `*?[\`) {
		return pattern == s
	}
	if strings.Contains(pattern, "://") || strings.Contains(s, "://") {
		ok, _ := path.Match(pattern, s)
		return ok
	}
	// DNS names and common names: a * stays within one label.
	ok, _ := path.Match(strings.ReplaceAll(pattern, ".", "/"), strings.ReplaceAll(s, ".", "/"))
	return ok
}

func firstURI(c *x509.Certificate) string {
	if len(c.URIs) == 0 {
		return ""
	}
	return c.URIs[0].String()
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
