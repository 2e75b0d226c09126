// Package authz decides whether a principal may perform an action on a
// model, with Cedar policies, and denies unless a policy permits.
//
// Policies see these entities:
//
//	principal  Rampart::Principal::"<principal ID>"
//	           attrs: roles Set<String>, tenant String, method String, attrs Record<String>
//	           parents: Rampart::Role::"<role>" for each role, so that a policy
//	           can write `principal in Rampart::Role::"analyst"`
//	action     Rampart::Action::"infer" | "read_metadata" | "list_models" | "health" | "admin"
//	resource   Rampart::Model::"<model name>"
//	           attrs: name, version, tenant, owner, classification (always
//	           present, "" when unknown) and any other configured string attributes
//	context    time Long (unix seconds), hour Long (0-23, UTC), weekday String
//	           ("monday"…, UTC), client_ip ipaddr (absent when unknown),
//	           auth_method String, route String, protocol String
//
// Cedar ignores a policy whose evaluation errors (a missing attribute, a
// type mismatch). For a permit that only means no permission; for a forbid
// it would silently lift a prohibition, so an erroring forbid denies here:
// authorization fails closed.
//
// Each policy's ID is its @id("…") annotation when present, otherwise
// file:line, so that decision reasons point at the text that decided.
package authz

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"

	"github.com/rampart-ai/rampart"
)

// Entity types, exported so that callers and tests spell them once.
const (
	TypePrincipal types.EntityType = "Rampart::Principal"
	TypeRole      types.EntityType = "Rampart::Role"
	TypeAction    types.EntityType = "Rampart::Action"
	TypeModel     types.EntityType = "Rampart::Model"
)

// Request is one authorization question.
type Request struct {
	// Principal is the authenticated caller; nil means anonymous.
	Principal *rampart.Principal
	Action    rampart.Action
	Model     string
	Version   string
	// ModelAttrs are the model's configured attributes (tenant, owner,
	// classification, …).
	ModelAttrs map[string]string
	ClientIP   netip.Addr
	Route      string
	Protocol   rampart.Protocol
	// Time is when the request arrived; zero means now.
	Time time.Time
}

// Decision is the answer to a [Request].
type Decision struct {
	Allowed bool
	// Reasons are the IDs of the policies that determined the decision:
	// the forbids that denied, or the permits that allowed. Empty for a
	// default deny.
	Reasons []string
	// Errors are policies that failed to evaluate, as "id: message".
	Errors []string
}

// Engine holds a validated, immutable policy set; it is safe for concurrent use.
type Engine struct {
	principals entityCache[principalKey]
	models     entityCache[modelKey]

	ps    *cedar.PolicySet
	ids   []string
	forbs map[cedar.PolicyID]bool
}

// Load reads policies from files or directories (every *.cedar file below
// them, in lexical order). Errors name file:line:col and the reason.
func Load(paths ...string) (*Engine, error) {
	if len(paths) == 0 {
		return nil, errors.New("load policies: no policy files given")
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("load policies: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".cedar") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("load policies: %w", err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("load policies: no *.cedar files in %s", p)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	srcs := make([]Source, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("load policies: %w", err)
		}
		srcs = append(srcs, Source{Name: f, Text: b})
	}
	return Parse(srcs...)
}

// Source is one named policy document.
type Source struct {
	Name string
	Text []byte
}

var (
	posRE   = regexp.MustCompile(`<input>:(\d+):(\d+)`)
	tokRE   = regexp.MustCompile(`^("(?:[^"\\]|\\.)*"): (.*)$`)
	exactRE = regexp.MustCompile(`^exact got (.*) want (.*)$`)
)

// ParseError locates a policy syntax error.
type ParseError struct {
	File         string
	Line, Column int
	Reason       string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

func parseError(file string, err error) *ParseError {
	msg := err.Error()
	pe := &ParseError{File: file}
	if m := posRE.FindStringSubmatchIndex(msg); m != nil {
		fmt.Sscanf(msg[m[2]:m[3]], "%d", &pe.Line)
		fmt.Sscanf(msg[m[4]:m[5]], "%d", &pe.Column)
		msg = strings.TrimSpace(msg[m[1]:])
	}
	msg = strings.TrimPrefix(msg, "parser error: ")
	tok := ""
	if m := tokRE.FindStringSubmatch(msg); m != nil {
		tok, msg = m[1], m[2]
	}
	msg = strings.TrimPrefix(msg, ": ")
	if m := exactRE.FindStringSubmatch(msg); m != nil {
		got := strconv.Quote(m[1])
		if m[1] == "" {
			got = "end of input"
		}
		msg = fmt.Sprintf("expected %q, found %s", m[2], got)
	} else if tok != "" && tok != `""` {
		msg += " at " + tok
	}
	pe.Reason = msg
	return pe
}

// Parse builds an engine from policy documents held in memory.
func Parse(srcs ...Source) (*Engine, error) {
	e := &Engine{ps: cedar.NewPolicySet(), forbs: map[cedar.PolicyID]bool{}}
	where := map[cedar.PolicyID]string{}
	for _, src := range srcs {
		list, err := cedar.NewPolicyListFromBytes(src.Name, src.Text)
		if err != nil {
			return nil, parseError(src.Name, err)
		}
		for _, p := range list {
			pos := p.Position()
			loc := fmt.Sprintf("%s:%d", src.Name, pos.Line)
			id := cedar.PolicyID(loc)
			if v, ok := p.Annotations()["id"]; ok {
				id = cedar.PolicyID(v)
			}
			if prev, dup := where[id]; dup {
				return nil, &ParseError{File: src.Name, Line: pos.Line, Column: pos.Column,
					Reason: fmt.Sprintf("policy id %q already used at %s", id, prev)}
			}
			where[id] = loc
			e.ps.Add(id, p)
			e.ids = append(e.ids, string(id))
			if p.Effect() == cedar.Forbid {
				e.forbs[id] = true
			}
		}
	}
	return e, nil
}

// Len is the number of policies.
func (e *Engine) Len() int { return len(e.ids) }

// PolicyIDs lists the policies in load order.
func (e *Engine) PolicyIDs() []string { return append([]string(nil), e.ids...) }

var weekdays = [...]types.String{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// Authorize decides req. It never panics on odd input and denies unless a
// policy permits and no forbid applies or errors.
func (e *Engine) Authorize(req Request) Decision {
	p := req.Principal
	if p == nil {
		p = &rampart.Principal{ID: "anonymous", Method: rampart.AuthAnonymous}
	}
	t := req.Time
	if t.IsZero() {
		t = time.Now()
	}
	t = t.UTC()

	ents := &requestEntities{
		principal: e.principals.get(principalKey{p.ID, p.Method}, func(c *cachedEntity) bool {
			return c.tenant == p.Tenant && slices.Equal(c.roles, p.Roles) && maps.Equal(c.attrs, p.Attrs)
		}, func() *cachedEntity { return principalEntity(p) }),
		resource: e.models.get(modelKey{req.Model, req.Version}, func(c *cachedEntity) bool {
			return maps.Equal(c.attrs, req.ModelAttrs)
		}, func() *cachedEntity { return modelEntity(req.Model, req.Version, req.ModelAttrs) }),
	}

	ctx := types.RecordMap{
		"time":        types.Long(t.Unix()),
		"hour":        types.Long(t.Hour()),
		"weekday":     weekdays[t.Weekday()],
		"auth_method": types.String(p.Method),
		"route":       types.String(req.Route),
		"protocol":    types.String(req.Protocol),
	}
	if req.ClientIP.IsValid() {
		ip := req.ClientIP.Unmap()
		ctx["client_ip"] = types.IPAddr(netip.PrefixFrom(ip, ip.BitLen()))
	}

	cd, diag := cedar.Authorize(e.ps, ents, cedar.Request{
		Principal: ents.principal.UID,
		Action:    types.NewEntityUID(TypeAction, types.String(req.Action)),
		Resource:  ents.resource.UID,
		Context:   types.NewRecord(ctx),
	})
	d := Decision{Allowed: cd == cedar.Allow}
	var failedForbids []string
	for _, de := range diag.Errors {
		d.Errors = append(d.Errors, string(de.PolicyID)+": "+de.Message)
		if e.forbs[de.PolicyID] {
			failedForbids = append(failedForbids, string(de.PolicyID))
		}
	}
	if len(failedForbids) > 0 {
		d.Allowed = false
		d.Reasons = failedForbids
		return d
	}
	for _, r := range diag.Reasons {
		d.Reasons = append(d.Reasons, string(r.PolicyID))
	}
	sort.Strings(d.Reasons)
	return d
}

func principalEntity(p *rampart.Principal) *cachedEntity {
	roles := make([]types.Value, len(p.Roles))
	parents := make([]types.EntityUID, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = types.String(r)
		parents[i] = types.NewEntityUID(TypeRole, types.String(r))
	}
	pattrs := make(types.RecordMap, len(p.Attrs))
	for k, v := range p.Attrs {
		pattrs[types.String(k)] = types.String(v)
	}
	return &cachedEntity{
		tenant: p.Tenant,
		roles:  slices.Clone(p.Roles),
		attrs:  maps.Clone(p.Attrs),
		entity: types.Entity{
			UID:     types.NewEntityUID(TypePrincipal, types.String(p.ID)),
			Parents: types.NewEntityUIDSet(parents...),
			Attributes: types.NewRecord(types.RecordMap{
				"roles":  types.NewSet(roles...),
				"tenant": types.String(p.Tenant),
				"method": types.String(p.Method),
				"attrs":  types.NewRecord(pattrs),
			}),
		},
	}
}

func modelEntity(name, version string, attrs map[string]string) *cachedEntity {
	m := make(types.RecordMap, len(attrs)+5)
	for k, v := range attrs {
		m[types.String(k)] = types.String(v)
	}
	for _, k := range [...]types.String{"tenant", "owner", "classification"} {
		if _, ok := m[k]; !ok {
			m[k] = types.String("")
		}
	}
	m["name"] = types.String(name)
	m["version"] = types.String(version)
	return &cachedEntity{
		attrs:  maps.Clone(attrs),
		entity: types.Entity{UID: types.NewEntityUID(TypeModel, types.String(name)), Attributes: types.NewRecord(m)},
	}
}

type (
	principalKey struct {
		id     string
		method rampart.AuthMethod
	}
	modelKey struct{ name, version string }
)

// cachedEntity is a built entity with a private copy of what it was built
// from, so a hit is confirmed by comparing contents, never by identity.
type cachedEntity struct {
	tenant string
	roles  []string
	attrs  map[string]string
	entity types.Entity
}

// maxCached bounds each entity cache; past it the cache starts over, which
// costs only rebuilding.
const maxCached = 8192

// entityCache saves rebuilding Cedar records (which clone, sort and hash)
// for the same caller or model on every request.
type entityCache[K comparable] struct {
	mu sync.RWMutex
	m  map[K]*cachedEntity
}

func (c *entityCache[K]) get(k K, same func(*cachedEntity) bool, build func() *cachedEntity) types.Entity {
	c.mu.RLock()
	ce := c.m[k]
	c.mu.RUnlock()
	if ce != nil && same(ce) {
		return ce.entity
	}
	ce = build()
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[K]*cachedEntity)
	}
	c.m[k] = ce
	c.mu.Unlock()
	return ce.entity
}

// requestEntities is the whole entity store of one request: the principal
// and the model. Role entities need not exist; membership is read from the
// principal's parents.
type requestEntities struct {
	principal, resource types.Entity
}

func (r *requestEntities) Get(uid types.EntityUID) (types.Entity, bool) {
	switch uid {
	case r.principal.UID:
		return r.principal, true
	case r.resource.UID:
		return r.resource, true
	}
	return types.Entity{}, false
}
