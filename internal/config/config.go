// Package config loads rampart.yaml strictly: unknown keys, bad values and
// inconsistent settings are refused at load time with the file, the line and
// the reason, so a gateway never starts (or reloads) on a config it does not
// understand. A loaded *Config is an immutable snapshot: reload builds a new
// one and swaps it whole.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/audit"
	"github.com/rampart-ai/rampart/internal/authn/jwt"
	"github.com/rampart-ai/rampart/internal/authn/mtls"
)

// Config is the whole of rampart.yaml.
type Config struct {
	// Path is the file the config was read from (not a YAML key).
	Path string `yaml:"-"`
	// Dir is the directory relative paths are resolved against.
	Dir string `yaml:"-"`

	Listen   Listener     `yaml:"listen"`
	Admin    Admin        `yaml:"admin"`
	Log      Log          `yaml:"log"`
	Audit    audit.Config `yaml:"audit"`
	Identity Identity     `yaml:"identity"`
	Policies []string     `yaml:"policies"`
	Limits   Limits       `yaml:"limits"`
	Routes   []Route      `yaml:"routes"`
	Reload   ReloadCfg    `yaml:"reload"`

	root *yaml.Node
}

// Listener is the client-facing listener.
type Listener struct {
	Address           string        `yaml:"address"`
	TLS               *TLS          `yaml:"tls"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	// AllowPlaintextNonLoopback must be set to serve plain HTTP on an address
	// other than loopback; without TLS, credentials would cross the network
	// in clear.
	AllowPlaintextNonLoopback bool `yaml:"allow_plaintext_non_loopback"`
}

// TLS configures server certificates and optional client certificates.
type TLS struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuth is none, request (verify if given) or require.
	ClientAuth string `yaml:"client_auth"`
	MinVersion string `yaml:"min_version"` // "1.2" or "1.3"
}

// Admin is the operator listener: /metrics, /healthz, /readyz.
type Admin struct {
	Address string `yaml:"address"`
	// Pprof serves Go's profiler under /debug/pprof/ on the admin listener
	// (off by default: profiles reveal internals).
	Pprof bool `yaml:"pprof"`
}

// Log configures the JSON logs.
type Log struct {
	Level string `yaml:"level"` // debug, info, warn, error
	// Requests logs one line per request (at info); otherwise only refused
	// and failed requests are logged.
	Requests bool `yaml:"requests"`
}

// Identity configures authenticators; each is off unless configured.
type Identity struct {
	APIKeys *APIKeys     `yaml:"api_keys"`
	JWT     *JWT         `yaml:"jwt"`
	MTLS    *mtls.Config `yaml:"mtls"`
}

// APIKeys points at the key store managed by `rampart keys`.
type APIKeys struct {
	DB string `yaml:"db"`
}

// JWT configures bearer tokens from an OIDC issuer.
type JWT struct {
	jwt.Config `yaml:",inline"`
	// JWKSCAFile holds the CA certificates that sign the JWKS endpoint's
	// TLS certificate, for issuers behind a private CA.
	JWKSCAFile string `yaml:"jwks_ca_file"`
}

// Limits bound what a request may contain. Zero values take defaults.
type Limits struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	MaxDepth     int   `yaml:"max_depth"`
	MaxTensors   int   `yaml:"max_tensors"`
	MaxElements  int   `yaml:"max_elements"`
	MaxStringLen int   `yaml:"max_string_len"`
}

// ReloadCfg controls config reload on file change.
type ReloadCfg struct {
	// Watch polls the config file (and policy files) for changes.
	Watch    bool          `yaml:"watch"`
	Interval time.Duration `yaml:"interval"`
}

// Route binds a path prefix to one upstream model server.
type Route struct {
	Name     string           `yaml:"name"`
	Prefix   string           `yaml:"prefix"`
	Protocol rampart.Protocol `yaml:"protocol"`
	Upstream string           `yaml:"upstream"`
	// StripPrefix removes Prefix before forwarding (for OIP and OpenAI
	// routes whose upstream paths start at /v2 or /v1).
	StripPrefix     bool              `yaml:"strip_prefix"`
	UpstreamTimeout time.Duration     `yaml:"upstream_timeout"`
	Mode            rampart.Mode      `yaml:"mode"`
	Anonymous       bool              `yaml:"anonymous"`
	Auth            []string          `yaml:"auth"` // subset of apikey, jwt, mtls; default: all configured
	MustLog         bool              `yaml:"must_log"`
	LogPayload      bool              `yaml:"log_payload"`
	MaxConcurrency  int               `yaml:"max_concurrency"`
	RateLimit       rampart.RateLimit `yaml:"rate_limit"`
	Limits          Limits            `yaml:"limits"`
	// Models declares the models this route serves. When set, requests for
	// any other model are refused (deny by default).
	Models map[string]Model `yaml:"models"`
	// Schema is a JSON Schema file for generic routes.
	Schema string `yaml:"schema"`
	// Stages adds detectors by configuration.
	Stages []StageSpec `yaml:"stages"`
	// OnError says what a stage's technical failure does for stages that
	// may degrade (detectors): "closed" (refuse, the default) or "open".
	// Authentication, authorization and validation always fail closed.
	OnError string `yaml:"on_error"`
}

// Model is one model's declared attributes and inputs.
type Model struct {
	// Attributes are visible to policies as resource attributes
	// (classification, owner, tenant, …).
	Attributes map[string]string `yaml:"attributes"`
	Inputs     []TensorSpec      `yaml:"inputs"`
	// InputsFromUpstream reads the declared inputs from the upstream's OIP
	// model metadata instead of config.
	InputsFromUpstream bool `yaml:"inputs_from_upstream"`
	// NaNPolicy is reject (default) or allow.
	NaNPolicy string `yaml:"nan_policy"`
	// Signed makes the gateway verify the model's files against their
	// signature (`rampart sign`) whenever the config is loaded, and refuse
	// the config when they do not verify: it serves only what verifies.
	// Model metadata answers then show what was verified.
	Signed *SignedModel `yaml:"signed"`
}

// SignedModel points at the model files as signed and the key to check them.
type SignedModel struct {
	// Path is the model file or directory that was signed; its signature
	// is model.sig inside it (or beside a single file).
	Path string `yaml:"path"`
	// Key is the signer's ECDSA public key (PEM).
	Key string `yaml:"key"`
	// RequireCleanScan also requires the signed scan attestation
	// (`rampart sign --scan`) with a CLEAN verdict.
	RequireCleanScan bool `yaml:"require_clean_scan"`
}

// TensorSpec declares one input; -1 in Shape is a variable dimension.
type TensorSpec struct {
	Name     string  `yaml:"name"`
	Datatype string  `yaml:"datatype"`
	Shape    []int64 `yaml:"shape"`
}

// StageSpec adds one configurable stage to a route.
type StageSpec struct {
	Type string `yaml:"type"`
	// Name labels its findings; defaults to Type.
	Name string    `yaml:"name"`
	With yaml.Node `yaml:"with"`
}

// Error is a config error located in a file.
type Error struct {
	File   string
	Line   int
	Reason string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

// Load reads and validates path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, b)
}

// Parse decodes and validates config bytes; path names the file in errors
// and anchors relative paths.
func Parse(path string, b []byte) (*Config, error) {
	c := &Config{Path: path, Dir: filepath.Dir(path)}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, &Error{File: path, Reason: "config is empty"}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, yamlError(path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, yamlError(path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: path, Line: extra.Line, Reason: "more than one YAML document"}
	}
	c.root = &root
	c.setDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// yamlError turns a yaml error ("yaml: line 3: …") into a located *Error.
func yamlError(path string, err error) error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if strings.HasPrefix(msg, "line ") {
		rest := msg[len("line "):]
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	msg = strings.ReplaceAll(msg, "in type config.", "in ")
	return &Error{File: path, Line: line, Reason: msg}
}

// Defaults.
const (
	DefaultMaxBodyBytes = 4 << 20
	DefaultMaxDepth     = 32
	DefaultMaxTensors   = 64
	DefaultMaxElements  = 1 << 20
	DefaultMaxStringLen = 64 << 10
)

func (c *Config) setDefaults() {
	l := &c.Listen
	if l.Address == "" {
		l.Address = "127.0.0.1:8080"
	}
	if l.ReadHeaderTimeout == 0 {
		l.ReadHeaderTimeout = 5 * time.Second
	}
	if l.ReadTimeout == 0 {
		l.ReadTimeout = 60 * time.Second
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = 90 * time.Second
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = 16 << 10
	}
	if l.ShutdownTimeout == 0 {
		l.ShutdownTimeout = 30 * time.Second
	}
	if c.Admin.Address == "" {
		c.Admin.Address = "127.0.0.1:9090"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Audit.Dir == "" {
		c.Audit.Dir = "rampart-audit"
	}
	c.Audit.Dir = c.resolve(c.Audit.Dir)
	if c.Identity.APIKeys != nil {
		if c.Identity.APIKeys.DB == "" {
			c.Identity.APIKeys.DB = "rampart-keys.db"
		}
		c.Identity.APIKeys.DB = c.resolve(c.Identity.APIKeys.DB)
	}
	for i, p := range c.Policies {
		c.Policies[i] = c.resolve(p)
	}
	if c.Reload.Interval == 0 {
		c.Reload.Interval = 2 * time.Second
	}
	c.Limits = c.Limits.orDefaults(Limits{
		MaxBodyBytes: DefaultMaxBodyBytes, MaxDepth: DefaultMaxDepth, MaxTensors: DefaultMaxTensors,
		MaxElements: DefaultMaxElements, MaxStringLen: DefaultMaxStringLen,
	})
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Mode == "" {
			r.Mode = rampart.ModeEnforce
		}
		if r.UpstreamTimeout == 0 {
			r.UpstreamTimeout = 60 * time.Second
		}
		if r.OnError == "" {
			r.OnError = "closed"
		}
		r.Limits = r.Limits.orDefaults(c.Limits)
		if r.Schema != "" {
			r.Schema = c.resolve(r.Schema)
		}
		for name, m := range r.Models {
			if m.NaNPolicy == "" {
				m.NaNPolicy = "reject"
			}
			r.Models[name] = m
		}
	}
}

func (l Limits) orDefaults(d Limits) Limits {
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxTensors == 0 {
		l.MaxTensors = d.MaxTensors
	}
	if l.MaxElements == 0 {
		l.MaxElements = d.MaxElements
	}
	if l.MaxStringLen == 0 {
		l.MaxStringLen = d.MaxStringLen
	}
	return l
}

// resolve makes p relative to the config file's directory.
func (c *Config) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// errAt builds an error located at the YAML node addressed by path, a
// sequence of map keys (string) and sequence indexes (int).
func (c *Config) errAt(path []any, format string, args ...any) error {
	return &Error{File: c.Path, Line: c.lineOf(path), Reason: fmt.Sprintf(format, args...)}
}

func (c *Config) lineOf(path []any) int {
	n := c.root
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						next = n.Content[i+1]
						line = n.Content[i].Line
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

func (c *Config) validate() error {
	if err := validateAddr(c.Listen.Address); err != nil {
		return c.errAt([]any{"listen", "address"}, "listen.address: %v", err)
	}
	if c.Listen.TLS == nil && !c.Listen.AllowPlaintextNonLoopback && !isLoopback(c.Listen.Address) {
		return c.errAt([]any{"listen", "address"}, "listen.address %q is not loopback: configure listen.tls, or set allow_plaintext_non_loopback: true to accept credentials in clear", c.Listen.Address)
	}
	if t := c.Listen.TLS; t != nil {
		p := []any{"listen", "tls"}
		if t.CertFile == "" || t.KeyFile == "" {
			return c.errAt(p, "listen.tls needs cert_file and key_file")
		}
		t.CertFile, t.KeyFile = c.resolve(t.CertFile), c.resolve(t.KeyFile)
		if t.ClientCAFile != "" {
			t.ClientCAFile = c.resolve(t.ClientCAFile)
		}
		switch t.ClientAuth {
		case "":
			t.ClientAuth = "none"
			if t.ClientCAFile != "" {
				t.ClientAuth = "request"
			}
		case "none":
		case "request", "require":
			if t.ClientCAFile == "" {
				return c.errAt(append(p, "client_auth"), "listen.tls.client_auth %q needs client_ca_file", t.ClientAuth)
			}
		default:
			return c.errAt(append(p, "client_auth"), "listen.tls.client_auth must be none, request or require, not %q", t.ClientAuth)
		}
		switch t.MinVersion {
		case "", "1.2", "1.3":
		default:
			return c.errAt(append(p, "min_version"), "listen.tls.min_version must be 1.2 or 1.3")
		}
	}
	if c.Listen.MaxHeaderBytes < 1024 {
		return c.errAt([]any{"listen", "max_header_bytes"}, "listen.max_header_bytes must be at least 1024")
	}
	if err := validateAddr(c.Admin.Address); err != nil {
		return c.errAt([]any{"admin", "address"}, "admin.address: %v", err)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return c.errAt([]any{"log", "level"}, "log.level must be debug, info, warn or error, not %q", c.Log.Level)
	}
	if err := c.validateLimits([]any{"limits"}, c.Limits); err != nil {
		return err
	}
	if j := c.Identity.JWT; j != nil {
		if j.JWKSCAFile != "" {
			j.JWKSCAFile = c.resolve(j.JWKSCAFile)
		}
		if err := j.Config.Validate(); err != nil {
			return c.errAt([]any{"identity", "jwt"}, "identity.%v", err)
		}
	}
	if m := c.Identity.MTLS; m != nil {
		if c.Listen.TLS == nil || c.Listen.TLS.ClientCAFile == "" {
			return c.errAt([]any{"identity", "mtls"}, "identity.mtls needs listen.tls.client_ca_file")
		}
		if err := m.Validate(); err != nil {
			return c.errAt([]any{"identity", "mtls"}, "identity.%v", err)
		}
	}
	c.Audit.SetDefaults()
	if err := c.Audit.Validate(); err != nil {
		return c.errAt([]any{"audit"}, "%v", err)
	}
	if len(c.Routes) == 0 {
		return c.errAt([]any{"routes"}, "no routes: declare at least one route")
	}
	seen := map[string]int{}
	for i := range c.Routes {
		if err := c.validateRoute(i); err != nil {
			return err
		}
		r := &c.Routes[i]
		if j, dup := seen[r.Name]; dup {
			return c.errAt([]any{"routes", i, "name"}, "route name %q is also used by route %d", r.Name, j)
		}
		seen[r.Name] = i
	}
	return nil
}

func (c *Config) validateLimits(p []any, l Limits) error {
	switch {
	case l.MaxBodyBytes < 0 || l.MaxBodyBytes > 1<<30:
		return c.errAt(append(p, "max_body_bytes"), "max_body_bytes must be between 1 and 1 GiB")
	case l.MaxDepth < 0 || l.MaxDepth > 256:
		return c.errAt(append(p, "max_depth"), "max_depth must be between 1 and 256")
	case l.MaxTensors < 0, l.MaxElements < 0, l.MaxStringLen < 0:
		return c.errAt(p, "limits must not be negative")
	}
	return nil
}

func (c *Config) validateRoute(i int) error {
	r := &c.Routes[i]
	p := []any{"routes", i}
	if r.Name == "" {
		r.Name = fmt.Sprintf("route%d", i)
	}
	if !strings.HasPrefix(r.Prefix, "/") {
		return c.errAt(append(p, "prefix"), "route %q: prefix must start with /", r.Name)
	}
	switch r.Protocol {
	case rampart.ProtocolOIP, rampart.ProtocolOpenAI:
	case rampart.ProtocolGeneric:
		if r.Schema == "" {
			return c.errAt(p, "route %q: generic routes need a schema", r.Name)
		}
	case "":
		return c.errAt(p, "route %q: protocol is required (oip, openai or generic)", r.Name)
	default:
		return c.errAt(append(p, "protocol"), "route %q: unknown protocol %q (want oip, openai or generic)", r.Name, r.Protocol)
	}
	u, err := url.Parse(r.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c.errAt(append(p, "upstream"), "route %q: upstream must be an http(s) URL, not %q", r.Name, r.Upstream)
	}
	switch r.Mode {
	case rampart.ModeEnforce, rampart.ModeMonitor:
	default:
		return c.errAt(append(p, "mode"), "route %q: mode must be enforce or monitor, not %q", r.Name, r.Mode)
	}
	switch r.OnError {
	case "closed", "open":
	default:
		return c.errAt(append(p, "on_error"), "route %q: on_error must be closed or open", r.Name)
	}
	for _, a := range r.Auth {
		switch a {
		case "apikey":
			if c.Identity.APIKeys == nil {
				return c.errAt(append(p, "auth"), "route %q: auth apikey needs identity.api_keys", r.Name)
			}
		case "jwt":
			if c.Identity.JWT == nil {
				return c.errAt(append(p, "auth"), "route %q: auth jwt needs identity.jwt", r.Name)
			}
		case "mtls":
			if c.Identity.MTLS == nil {
				return c.errAt(append(p, "auth"), "route %q: auth mtls needs identity.mtls", r.Name)
			}
		default:
			return c.errAt(append(p, "auth"), "route %q: unknown auth method %q (want apikey, jwt or mtls)", r.Name, a)
		}
	}
	if !r.Anonymous && c.Identity.APIKeys == nil && c.Identity.JWT == nil && c.Identity.MTLS == nil {
		return c.errAt(p, "route %q: no authenticator is configured and the route is not anonymous: nobody could call it", r.Name)
	}
	if r.MaxConcurrency < 0 {
		return c.errAt(append(p, "max_concurrency"), "route %q: max_concurrency must not be negative", r.Name)
	}
	if r.RateLimit.PerSecond < 0 || r.RateLimit.Burst < 0 {
		return c.errAt(append(p, "rate_limit"), "route %q: rate_limit must not be negative", r.Name)
	}
	if r.RateLimit.PerSecond > 0 && r.RateLimit.Burst == 0 {
		r.RateLimit.Burst = max(1, int(r.RateLimit.PerSecond))
	}
	if err := c.validateLimits(append(p, "limits"), r.Limits); err != nil {
		return err
	}
	for name, m := range r.Models {
		mp := append(append([]any{}, p...), "models", name)
		if name == "" || strings.ContainsAny(name, "\\ \t\n") || strings.Contains(name, "..") {
			return c.errAt(mp, "route %q: invalid model name %q", r.Name, name)
		}
		if r.Protocol != rampart.ProtocolOIP && (len(m.Inputs) > 0 || m.InputsFromUpstream) {
			return c.errAt(mp, "route %q model %q: inputs are only checked on oip routes", r.Name, name)
		}
		if len(m.Inputs) > 0 && m.InputsFromUpstream {
			return c.errAt(mp, "route %q model %q: set inputs or inputs_from_upstream, not both", r.Name, name)
		}
		switch m.NaNPolicy {
		case "reject", "allow":
		default:
			return c.errAt(append(mp, "nan_policy"), "route %q model %q: nan_policy must be reject or allow", r.Name, name)
		}
		if sm := m.Signed; sm != nil {
			if sm.Path == "" || sm.Key == "" {
				return c.errAt(append(mp, "signed"), "route %q model %q: signed needs path and key", r.Name, name)
			}
			sm.Path, sm.Key = c.resolve(sm.Path), c.resolve(sm.Key)
		}
		for k, in := range m.Inputs {
			ip := append(append([]any{}, mp...), "inputs", k)
			if in.Name == "" {
				return c.errAt(ip, "route %q model %q: input %d has no name", r.Name, name, k)
			}
			if !validDatatype(in.Datatype) {
				return c.errAt(append(ip, "datatype"), "route %q model %q input %q: unknown datatype %q", r.Name, name, in.Name, in.Datatype)
			}
			for _, d := range in.Shape {
				if d < -1 {
					return c.errAt(append(ip, "shape"), "route %q model %q input %q: dimensions are sizes or -1 (variable)", r.Name, name, in.Name)
				}
			}
		}
	}
	for k, s := range r.Stages {
		if s.Type == "" {
			return c.errAt(append(p, "stages", k), "route %q: stage %d has no type", r.Name, k)
		}
		if s.Name == "" {
			r.Stages[k].Name = s.Type
		}
	}
	return nil
}

// StageError locates an error in a stage's `with` block.
func (c *Config) StageError(route, stage int, err error) error {
	return c.errAt([]any{"routes", route, "stages", stage}, "route %q stage %q: %v", c.Routes[route].Name, c.Routes[route].Stages[stage].Type, err)
}

// RouteError locates an error found while compiling a route.
func (c *Config) RouteError(route int, key string, err error) error {
	p := []any{"routes", route}
	if key != "" {
		p = append(p, key)
	}
	return c.errAt(p, "route %q: %v", c.Routes[route].Name, err)
}

// DecodeStrict decodes a stage's `with` node into v, refusing unknown keys.
func DecodeStrict(n *yaml.Node, v any) error {
	if n == nil || n.Kind == 0 {
		return nil
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

var datatypes = map[string]bool{
	"BOOL": true, "INT8": true, "INT16": true, "INT32": true, "INT64": true,
	"UINT8": true, "UINT16": true, "UINT32": true, "UINT64": true,
	"FP16": true, "FP32": true, "FP64": true, "BYTES": true, "BF16": true,
}

func validDatatype(s string) bool { return datatypes[s] }

func validateAddr(a string) error {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

func isLoopback(a string) bool {
	host, _, err := net.SplitHostPort(a)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
