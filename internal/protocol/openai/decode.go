package openai

import (
	"fmt"
	"math"
	"strconv"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
	"github.com/rampart-ai/rampart/internal/protocol/jsonstrict"
)

// Roles a chat message may have.
var roles = [...]string{"system", "user", "assistant", "tool", "developer"}

// paramKind is the JSON type a well-known parameter must have.
type paramKind uint8

const (
	kNumber paramKind = iota
	kInteger
	kBool
	kString
	kBoolOrInteger // logprobs: a bool in chat, an integer in completions
)

type paramRule struct {
	name     string
	kind     paramKind
	min, max float64
}

// params are the well-known scalar parameters, checked for type and range
// because budgets and detectors read them (max_tokens, n) and because a
// server given a wild value may misbehave. Ranges follow the OpenAI API.
// Each rule repeats its name so that Parameters keys need no allocation.
var params = map[string]paramRule{
	"temperature":           {"temperature", kNumber, 0, 2},
	"top_p":                 {"top_p", kNumber, 0, 1},
	"n":                     {"n", kInteger, 1, 128},
	"max_tokens":            {"max_tokens", kInteger, 0, 1 << 24},
	"max_completion_tokens": {"max_completion_tokens", kInteger, 0, 1 << 24},
	"presence_penalty":      {"presence_penalty", kNumber, -2, 2},
	"frequency_penalty":     {"frequency_penalty", kNumber, -2, 2},
	"seed":                  {"seed", kInteger, math.MinInt64, math.MaxInt64},
	"logprobs":              {"logprobs", kBoolOrInteger, 0, 20},
	"top_logprobs":          {"top_logprobs", kInteger, 0, 20},
	"best_of":               {"best_of", kInteger, 1, 128},
	"echo":                  {"echo", kBool, 0, 0},
	"dimensions":            {"dimensions", kInteger, 1, 1 << 16},
	"user":                  {"user", kString, 0, 0},
	"encoding_format":       {"encoding_format", kString, 0, 0},
	"stop":                  {"stop", kString, 0, 0}, // or an array of strings, checked apart
	"top_k":                 {"top_k", kInteger, -1, 1 << 20},
	"min_p":                 {"min_p", kNumber, 0, 1},
	"repetition_penalty":    {"repetition_penalty", kNumber, 0, 10},
}

func invalid(format string, args ...any) error {
	return rampart.Errorf(rampart.CodeInvalid, format, args...)
}

// Decode decodes the body of an inference operation (OpChat,
// OpCompletions or OpEmbeddings) into inf: Model, Texts (each message's
// text with its role; prompts as role "prompt", embedding inputs as role
// "input"), Stream, Parameters (scalar request fields), and Protocol,
// Operation, Action and BodyBytes. Operations without a body accept only an
// empty one.
//
// Errors are *rampart.Error: CodeTooLarge for a breached limit, otherwise
// CodeInvalid with a message naming the field.
func Decode(operation string, body []byte, lim protocol.Limits, inf *rampart.Inference) error {
	lim = lim.Normalize()
	inf.Protocol = rampart.ProtocolOpenAI
	inf.Operation = operation
	inf.BodyBytes = len(body)
	switch operation {
	case OpChat, OpCompletions, OpEmbeddings:
		inf.Action = rampart.ActionInfer
	case OpListModels, OpRetrieveModel:
		if len(body) != 0 {
			return invalid("%s takes no request body", operation)
		}
		return nil
	default:
		return &rampart.Error{Code: rampart.CodeInternal, Message: "internal error",
			Err: fmt.Errorf("openai: no decoder for operation %q", operation)}
	}
	if int64(len(body)) > lim.MaxBodyBytes {
		return rampart.Errorf(rampart.CodeTooLarge, "request body is %d bytes, the limit is %d", len(body), lim.MaxBodyBytes)
	}
	p := parser{d: jsonstrict.Get(body, lim), lim: lim, inf: inf, op: operation}
	defer jsonstrict.Put(p.d)
	if err := p.request(); err != nil {
		return err
	}
	return p.d.Finish()
}

type parser struct {
	d   *jsonstrict.Decoder
	lim protocol.Limits
	inf *rampart.Inference
	op  string
}

func (p *parser) kind() (jsonstrict.Kind, error) { return p.d.Peek() }

func (p *parser) request() error {
	d := p.d
	if k, err := p.kind(); err != nil {
		return err
	} else if k != jsonstrict.Object {
		return invalid("request body must be a JSON object, not %s", k)
	}
	if err := d.BeginObject(); err != nil {
		return err
	}
	// content is the field holding the text to check, required per
	// operation.
	content := "input"
	switch p.op {
	case OpChat:
		content = "messages"
	case OpCompletions:
		content = "prompt"
	}
	sawModel, sawContent := false, false
	for {
		key, ok, err := d.Key()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch k := key; {
		case string(k) == "model":
			if err := p.model(); err != nil {
				return err
			}
			sawModel = true
		case string(k) == "stream":
			v, err := p.boolField("stream")
			if err != nil {
				return err
			}
			p.inf.Stream = v
		case string(k) == content:
			sawContent = true
			var err error
			switch p.op {
			case OpChat:
				err = p.messages()
			case OpCompletions:
				err = p.prompts("prompt", "prompt")
			default:
				err = p.prompts("input", "input")
			}
			if err != nil {
				return err
			}
		case string(k) == "suffix" && p.op == OpCompletions:
			if err := p.want(jsonstrict.String, "suffix", "a string", true); err != nil {
				return err
			}
			if isNull, _ := p.isNull(); isNull {
				continue
			}
			s, err := d.Text()
			if err != nil {
				return err
			}
			p.inf.Texts = append(p.inf.Texts, rampart.TextPart{Role: "prompt", Text: s})
		default:
			if err := p.param(k); err != nil {
				return err
			}
		}
	}
	if !sawModel {
		return invalid("request has no \"model\"")
	}
	if !sawContent {
		return invalid("request has no %q", content)
	}
	return nil
}

func (p *parser) isNull() (bool, error) {
	k, err := p.kind()
	if err != nil || k != jsonstrict.Null {
		return false, err
	}
	return true, p.d.Null()
}

// want checks the kind of the next value; nullOK also admits null.
func (p *parser) want(k jsonstrict.Kind, field, what string, nullOK bool) error {
	got, err := p.kind()
	if err != nil {
		return err
	}
	if got != k && !(nullOK && got == jsonstrict.Null) {
		return invalid("%s must be %s, not %s", field, what, got)
	}
	return nil
}

func (p *parser) model() error {
	if err := p.want(jsonstrict.String, "model", "a string", false); err != nil {
		return err
	}
	b, err := p.d.String()
	if err != nil {
		return err
	}
	if why := CheckModel(string(b)); why != "" {
		return invalid("model %s", why)
	}
	p.inf.Model = string(b)
	return nil
}

func (p *parser) boolField(field string) (bool, error) {
	if err := p.want(jsonstrict.Bool, field, "a boolean", true); err != nil {
		return false, err
	}
	if isNull, err := p.isNull(); isNull || err != nil {
		return false, err
	}
	return p.d.Bool()
}

func (p *parser) setParam(name string, v any) {
	if p.inf.Parameters == nil {
		p.inf.Parameters = make(map[string]any, 4)
	}
	p.inf.Parameters[name] = v
}

// param reads a field that is neither the model nor the content. Scalars
// are kept in Parameters; well-known ones are checked first. Other values
// pass through, read but not kept.
func (p *parser) param(key []byte) error {
	d := p.d
	rule, known := params[string(key)]
	name := rule.name
	k, err := p.kind()
	if err != nil {
		return err
	}
	if k == jsonstrict.Null {
		return d.Null()
	}
	if name == "stop" && k == jsonstrict.Array {
		return p.stop()
	}
	if !known {
		name = string(key)
		v, scalar, err := d.Scalar()
		if err != nil {
			return err
		}
		if !scalar {
			return d.Skip()
		}
		p.setParam(name, v)
		return nil
	}
	switch rule.kind {
	case kString:
		if k != jsonstrict.String {
			return invalid("%s must be a string, not %s", name, k)
		}
		s, err := d.Text()
		if err != nil {
			return err
		}
		p.setParam(name, s)
		return nil
	case kBool:
		if k != jsonstrict.Bool {
			return invalid("%s must be a boolean, not %s", name, k)
		}
		v, err := d.Bool()
		if err != nil {
			return err
		}
		p.setParam(name, v)
		return nil
	case kBoolOrInteger:
		if k == jsonstrict.Bool {
			v, err := d.Bool()
			if err != nil {
				return err
			}
			p.setParam(name, v)
			return nil
		}
	}
	if k != jsonstrict.Number {
		what := "a number"
		if rule.kind != kNumber {
			what = "an integer"
		}
		return invalid("%s must be %s, not %s", name, what, k)
	}
	v, err := d.Float()
	if err != nil {
		return err
	}
	if rule.kind != kNumber && v != math.Trunc(v) {
		return invalid("%s must be an integer", name)
	}
	if v < rule.min || v > rule.max {
		return invalid("%s must be between %s and %s", name, fmtNum(rule.min), fmtNum(rule.max))
	}
	p.setParam(name, v)
	return nil
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// stop reads an array of stop strings; it is kept as a []string.
func (p *parser) stop() error {
	d := p.d
	if err := d.BeginArray(); err != nil {
		return err
	}
	var out []string
	for {
		more, err := d.More()
		if err != nil {
			return err
		}
		if !more {
			p.setParam("stop", out)
			return nil
		}
		if err := p.want(jsonstrict.String, "stop", "a string or an array of strings", false); err != nil {
			return err
		}
		s, err := d.Text()
		if err != nil {
			return err
		}
		out = append(out, s)
	}
}

func (p *parser) messages() error {
	d := p.d
	if err := p.want(jsonstrict.Array, "messages", "an array", false); err != nil {
		return err
	}
	if err := d.BeginArray(); err != nil {
		return err
	}
	if p.inf.Texts == nil {
		p.inf.Texts = make([]rampart.TextPart, 0, 4)
	}
	for i := 0; ; i++ {
		more, err := d.More()
		if err != nil {
			return err
		}
		if !more {
			if i == 0 {
				return invalid("messages is empty")
			}
			return nil
		}
		if err := p.message(i); err != nil {
			return err
		}
	}
}

type msgAt int

func (i msgAt) String() string { return "messages[" + strconv.Itoa(int(i)) + "]" }

// message reads one chat message. Its role may follow its content in the
// object, so the texts are collected first and given the role at the end.
func (p *parser) message(i int) error {
	d := p.d
	at := msgAt(i)
	if err := p.want(jsonstrict.Object, at.String(), "an object", false); err != nil {
		return err
	}
	if err := d.BeginObject(); err != nil {
		return err
	}
	first := len(p.inf.Texts)
	role := ""
	sawContent, nullContent, toolCalls := false, false, false
	for {
		key, ok, err := d.Key()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(key) {
		case "role":
			if err := p.want(jsonstrict.String, at.String()+" role", "a string", false); err != nil {
				return err
			}
			b, err := d.String()
			if err != nil {
				return err
			}
			for _, r := range roles {
				if string(b) == r {
					role = r
				}
			}
			if role == "" {
				return invalid("%s: role %s is not one of system, user, assistant, tool, developer", at, strconv.Quote(clip(string(b))))
			}
		case "content":
			sawContent = true
			k, err := p.kind()
			if err != nil {
				return err
			}
			switch k {
			case jsonstrict.String:
				s, err := d.Text()
				if err != nil {
					return err
				}
				p.inf.Texts = append(p.inf.Texts, rampart.TextPart{Text: s})
			case jsonstrict.Array:
				if err := p.parts(at); err != nil {
					return err
				}
			case jsonstrict.Null:
				nullContent = true
				if err := d.Null(); err != nil {
					return err
				}
			default:
				return invalid("%s: content must be a string or an array of parts, not %s", at, k)
			}
		case "name", "tool_call_id":
			if err := p.want(jsonstrict.String, at.String()+" "+string(key), "a string", true); err != nil {
				return err
			}
			if err := d.Skip(); err != nil {
				return err
			}
		case "tool_calls":
			toolCalls = true
			if err := p.want(jsonstrict.Array, at.String()+" tool_calls", "an array", true); err != nil {
				return err
			}
			if err := d.Skip(); err != nil {
				return err
			}
		default:
			if err := d.Skip(); err != nil {
				return err
			}
		}
	}
	switch {
	case role == "":
		return invalid("%s has no role", at)
	case role != "assistant" && (!sawContent || nullContent):
		return invalid("%s: a %s message needs content", at, role)
	case role == "assistant" && !sawContent && !toolCalls:
		return invalid("%s: an assistant message needs content or tool_calls", at)
	}
	for j := first; j < len(p.inf.Texts); j++ {
		p.inf.Texts[j].Role = role
	}
	return nil
}

// parts reads an array of content parts, keeping the text ones.
func (p *parser) parts(at msgAt) error {
	d := p.d
	if err := d.BeginArray(); err != nil {
		return err
	}
	for j := 0; ; j++ {
		more, err := d.More()
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		if err := p.part(at, j); err != nil {
			return err
		}
	}
}

func (p *parser) part(at msgAt, j int) error {
	d := p.d
	where := func() string { return at.String() + ".content[" + strconv.Itoa(j) + "]" }
	k, err := p.kind()
	if err != nil {
		return err
	}
	if k != jsonstrict.Object {
		return invalid("%s must be an object, not %s", where(), k)
	}
	if err := d.BeginObject(); err != nil {
		return err
	}
	var typ, text string
	var sawText, sawImage, sawAudio, sawFile, sawRefusal bool
	for {
		key, ok, err := d.Key()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(key) {
		case "type":
			if err := p.want(jsonstrict.String, where()+" type", "a string", false); err != nil {
				return err
			}
			if typ, err = d.Text(); err != nil {
				return err
			}
		case "text", "refusal":
			if err := p.want(jsonstrict.String, where()+" "+string(key), "a string", false); err != nil {
				return err
			}
			if string(key) == "text" {
				sawText = true
			} else {
				sawRefusal = true
			}
			if text, err = d.Text(); err != nil {
				return err
			}
		case "image_url":
			sawImage = true
			if err := p.imageURL(where); err != nil {
				return err
			}
		case "input_audio", "file":
			if string(key) == "file" {
				sawFile = true
			} else {
				sawAudio = true
			}
			if err := p.want(jsonstrict.Object, where()+" "+string(key), "an object", false); err != nil {
				return err
			}
			if err := d.Skip(); err != nil {
				return err
			}
		default:
			if err := d.Skip(); err != nil {
				return err
			}
		}
	}
	var ok bool
	switch typ {
	case "text":
		ok = sawText
	case "refusal":
		ok = sawRefusal
	case "image_url":
		ok = sawImage
	case "input_audio":
		ok = sawAudio
	case "file":
		ok = sawFile
	case "":
		return invalid("%s has no type", where())
	default:
		return invalid("%s: unknown part type %s", where(), strconv.Quote(clip(typ)))
	}
	if !ok {
		return invalid("%s: a %s part needs a %q field", where(), typ, typ)
	}
	if typ == "text" || typ == "refusal" {
		p.inf.Texts = append(p.inf.Texts, rampart.TextPart{Text: text})
	}
	return nil
}

// imageURL checks {"url": "...", "detail": "..."}; the URL itself is the
// upstream's to fetch or refuse.
func (p *parser) imageURL(where func() string) error {
	d := p.d
	if err := p.want(jsonstrict.Object, where()+" image_url", "an object", false); err != nil {
		return err
	}
	if err := d.BeginObject(); err != nil {
		return err
	}
	sawURL := false
	for {
		key, ok, err := d.Key()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if string(key) == "url" {
			sawURL = true
			if err := p.want(jsonstrict.String, where()+" image_url.url", "a string", false); err != nil {
				return err
			}
		}
		if err := d.Skip(); err != nil {
			return err
		}
	}
	if !sawURL {
		return invalid("%s: image_url has no url", where())
	}
	return nil
}

// prompts reads a completions prompt or an embeddings input: a string, an
// array of strings, an array of token IDs, or an array of token arrays.
func (p *parser) prompts(field, role string) error {
	d := p.d
	k, err := p.kind()
	if err != nil {
		return err
	}
	switch k {
	case jsonstrict.String:
		s, err := d.Text()
		if err != nil {
			return err
		}
		p.inf.Texts = append(p.inf.Texts, rampart.TextPart{Role: role, Text: s})
		return nil
	case jsonstrict.Array:
	default:
		return invalid("%s must be a string or an array, not %s", field, k)
	}
	if err := d.BeginArray(); err != nil {
		return err
	}
	var elem jsonstrict.Kind
	for i := 0; ; i++ {
		more, err := d.More()
		if err != nil {
			return err
		}
		if !more {
			if i == 0 {
				return invalid("%s is empty", field)
			}
			return nil
		}
		k, err := p.kind()
		if err != nil {
			return err
		}
		if i == 0 {
			elem = k
		}
		if k != elem {
			return invalid("%s mixes %ss and %ss", field, elem, k)
		}
		switch k {
		case jsonstrict.String:
			s, err := d.Text()
			if err != nil {
				return err
			}
			p.inf.Texts = append(p.inf.Texts, rampart.TextPart{Role: role, Text: s})
		case jsonstrict.Number:
			if err := p.token(field); err != nil {
				return err
			}
		case jsonstrict.Array:
			if err := p.tokens(field); err != nil {
				return err
			}
		default:
			return invalid("%s must hold strings, token IDs or arrays of token IDs, not %s", field, k)
		}
	}
}

func (p *parser) token(field string) error {
	lit, err := p.d.Number()
	if err != nil {
		return err
	}
	if len(lit) > 10 {
		return invalid("%s: token ID %s is out of range", field, clip(string(lit)))
	}
	for _, c := range lit {
		if c < '0' || c > '9' {
			return invalid("%s: token ID %s is not a non-negative integer", field, clip(string(lit)))
		}
	}
	if v, _ := strconv.ParseUint(string(lit), 10, 64); v > math.MaxUint32 {
		return invalid("%s: token ID %s is out of range", field, string(lit))
	}
	return nil
}

func (p *parser) tokens(field string) error {
	d := p.d
	if err := d.BeginArray(); err != nil {
		return err
	}
	for i := 0; ; i++ {
		more, err := d.More()
		if err != nil {
			return err
		}
		if !more {
			if i == 0 {
				return invalid("%s holds an empty token array", field)
			}
			return nil
		}
		if err := p.want(jsonstrict.Number, field, "token IDs", false); err != nil {
			return err
		}
		if err := p.token(field); err != nil {
			return err
		}
	}
}

// clip shortens client text quoted in a message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
