package oip

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/rampart-ai/rampart"
)

// Operations, as they appear in Inference.Operation and in policies.
const (
	OpServerMetadata = "server_metadata"
	OpServerLive     = "server_live"
	OpServerReady    = "server_ready"
	OpModelMetadata  = "model_metadata"
	OpModelReady     = "model_ready"
	OpInfer          = "infer"
	// Triton extensions that change or reveal server state.
	OpModelConfig     = "model_config"
	OpModelStats      = "model_statistics"
	OpRepositoryIndex = "repository_index"
	OpRepositoryLoad  = "repository_load"
	OpRepoUnload      = "repository_unload"
)

// MaxNameLen is the longest model name or version accepted in a path.
const MaxNameLen = 256

// Match is what a request path says about a request.
type Match struct {
	Operation string
	Action    rampart.Action
	// Model and Version are empty for server-level operations; Version is
	// empty when the path names no version.
	Model   string
	Version string
}

// Route classifies an OIP v2 REST request. Pass the escaped path
// (r.URL.EscapedPath()): each segment is percent-decoded exactly once, as
// the model server will, so the model name that policies see is the one
// the server serves.
//
// ok is false for a path that is not part of the protocol. err is a
// *rampart.Error for a protocol path that is refused: CodeMethod for the
// wrong method, CodeInvalid for an unsafe model name or version.
//
// HEAD is accepted wherever GET is. Triton's repository, configuration and
// statistics extensions are recognised so that policies can govern them:
// load and unload are ActionAdmin.
func Route(method, path string) (m Match, ok bool, err error) {
	if path != "/v2" && !strings.HasPrefix(path, "/v2/") {
		return Match{}, false, nil
	}
	segs := strings.Split(strings.TrimPrefix(path, "/v2"), "/")[1:]
	get := method == "GET" || method == "HEAD"
	post := method == "POST"
	wantGet := func(m Match) (Match, bool, error) {
		if !get {
			return Match{}, true, methodErr(method, "GET")
		}
		return m, true, nil
	}
	wantPost := func(m Match) (Match, bool, error) {
		if !post {
			return Match{}, true, methodErr(method, "POST")
		}
		return m, true, nil
	}
	switch {
	case len(segs) == 0:
		return wantGet(Match{Operation: OpServerMetadata, Action: rampart.ActionReadMetadata})
	case len(segs) == 2 && segs[0] == "health" && segs[1] == "live":
		return wantGet(Match{Operation: OpServerLive, Action: rampart.ActionHealth})
	case len(segs) == 2 && segs[0] == "health" && segs[1] == "ready":
		return wantGet(Match{Operation: OpServerReady, Action: rampart.ActionHealth})
	case len(segs) == 2 && segs[0] == "repository" && segs[1] == "index":
		return wantPost(Match{Operation: OpRepositoryIndex, Action: rampart.ActionAdmin})
	case len(segs) == 4 && segs[0] == "repository" && segs[1] == "models" && (segs[3] == "load" || segs[3] == "unload"):
		name, err := segment(segs[2], "model name")
		if err != nil {
			return Match{}, true, err
		}
		op := OpRepositoryLoad
		if segs[3] == "unload" {
			op = OpRepoUnload
		}
		return wantPost(Match{Operation: op, Action: rampart.ActionAdmin, Model: name})
	case len(segs) >= 2 && segs[0] == "models":
		return modelRoute(method, segs[1:], wantGet, wantPost)
	}
	return Match{}, false, nil
}

func modelRoute(method string, segs []string, wantGet, wantPost func(Match) (Match, bool, error)) (Match, bool, error) {
	name, err := segment(segs[0], "model name")
	if err != nil {
		return Match{}, true, err
	}
	m := Match{Model: name}
	rest := segs[1:]
	if len(rest) >= 2 && rest[0] == "versions" {
		v, err := segment(rest[1], "model version")
		if err != nil {
			return Match{}, true, err
		}
		m.Version = v
		rest = rest[2:]
	}
	switch {
	case len(rest) == 0:
		m.Operation, m.Action = OpModelMetadata, rampart.ActionReadMetadata
		return wantGet(m)
	case len(rest) == 1 && rest[0] == "ready":
		m.Operation, m.Action = OpModelReady, rampart.ActionReadMetadata
		return wantGet(m)
	case len(rest) == 1 && rest[0] == "infer":
		m.Operation, m.Action = OpInfer, rampart.ActionInfer
		return wantPost(m)
	case len(rest) == 1 && rest[0] == "config":
		m.Operation, m.Action = OpModelConfig, rampart.ActionReadMetadata
		return wantGet(m)
	case len(rest) == 1 && rest[0] == "stats":
		m.Operation, m.Action = OpModelStats, rampart.ActionReadMetadata
		return wantGet(m)
	}
	return Match{}, false, nil
}

func methodErr(got, want string) error {
	return rampart.Errorf(rampart.CodeMethod, "method %s is not allowed here, use %s", safeMethod(got), want)
}

func safeMethod(m string) string {
	if len(m) > 16 {
		m = m[:16]
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return "(unsupported)"
		}
	}
	return m
}

// segment percent-decodes one path segment and checks it is a sane name.
func segment(raw, what string) (string, error) {
	s := raw
	if strings.IndexByte(raw, '%') >= 0 {
		var err error
		if s, err = url.PathUnescape(raw); err != nil {
			return "", rampart.Errorf(rampart.CodeInvalid, "%s is not validly percent-encoded", what)
		}
	}
	if err := CheckName(s); err != nil {
		return "", rampart.Errorf(rampart.CodeInvalid, "%s %s", what, err.Error())
	}
	return s, nil
}

// nameError is why a name was refused; its text follows the name's label.
type nameError string

func (e nameError) Error() string { return string(e) }

// CheckName reports whether s is usable as a model name or version: 1 to
// MaxNameLen bytes of valid UTF-8 without control characters, slashes,
// backslashes or "..", so a name can never steer a server's file lookups.
func CheckName(s string) error {
	switch {
	case s == "":
		return nameError("is empty")
	case len(s) > MaxNameLen:
		return nameError("is longer than 256 bytes")
	case !utf8.ValidString(s):
		return nameError("is not valid UTF-8")
	case strings.Contains(s, ".."):
		return nameError("contains \"..\"")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '/' || r == '\\' {
			return nameError("contains a control character, '/' or '\\'")
		}
	}
	return nil
}
