package openai

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
)

type decodeCase struct {
	name   string
	op     string
	body   string
	texts  []rampart.TextPart
	params map[string]any
	stream bool
	code   rampart.Code
	msg    string
}

func tp(role, text string) rampart.TextPart { return rampart.TextPart{Role: role, Text: text} }

var decodeCases = []decodeCase{
	{name: "chat minimal", op: OpChat, body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
		texts: []rampart.TextPart{tp("user", "hi")}},
	{name: "chat all roles", op: OpChat, body: `{"model":"m","messages":[
		{"role":"system","content":"sys"},{"role":"developer","content":"dev"},
		{"content":"question","role":"user","name":"bob"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"result"},
		{"role":"assistant","content":"answer"}]}`,
		texts: []rampart.TextPart{tp("system", "sys"), tp("developer", "dev"), tp("user", "question"), tp("tool", "result"), tp("assistant", "answer")}},
	{name: "chat parts", op: OpChat, body: `{"model":"m","messages":[{"role":"user","content":[
		{"type":"text","text":"look at"},{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}},
		{"text":"this","type":"text"},{"type":"input_audio","input_audio":{"data":"AAA=","format":"wav"}},{"type":"file","file":{"file_id":"f"}}]},
		{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]}]}`,
		texts: []rampart.TextPart{tp("user", "look at"), tp("user", "this"), tp("assistant", "no")}},
	{name: "chat params and stream", op: OpChat, body: `{"model":"org/model-7b","messages":[{"role":"user","content":"x"}],"stream":true,
		"stream_options":{"include_usage":true},"temperature":0.7,"top_p":1,"n":2,"max_tokens":64,"presence_penalty":-2,"seed":-5,
		"logprobs":true,"top_logprobs":3,"stop":["\n","END"],"user":"u1","tools":[{"type":"function"}],"response_format":{"type":"json_object"},
		"custom_flag":"x","logit_bias":{"50256":-100},"metadata":null}`,
		stream: true,
		texts:  []rampart.TextPart{tp("user", "x")},
		params: map[string]any{"temperature": 0.7, "top_p": 1.0, "n": 2.0, "max_tokens": 64.0, "presence_penalty": -2.0, "seed": -5.0,
			"logprobs": true, "top_logprobs": 3.0, "stop": []string{"\n", "END"}, "user": "u1", "custom_flag": "x"}},
	{name: "completions string", op: OpCompletions, body: `{"model":"m","prompt":"once upon","suffix":"end","logprobs":2,"echo":true,"stop":"\n"}`,
		texts: []rampart.TextPart{tp("prompt", "once upon"), tp("prompt", "end")}, params: map[string]any{"logprobs": 2.0, "echo": true, "stop": "\n"}},
	{name: "completions array", op: OpCompletions, body: `{"model":"m","prompt":["a","b"],"stream":false}`,
		texts: []rampart.TextPart{tp("prompt", "a"), tp("prompt", "b")}},
	{name: "completions tokens", op: OpCompletions, body: `{"model":"m","prompt":[1,2,3]}`},
	{name: "completions token arrays", op: OpCompletions, body: `{"model":"m","prompt":[[1,2],[3]]}`},
	{name: "embeddings string", op: OpEmbeddings, body: `{"model":"e","input":"text","encoding_format":"float","dimensions":256}`,
		texts: []rampart.TextPart{tp("input", "text")}, params: map[string]any{"encoding_format": "float", "dimensions": 256.0}},
	{name: "embeddings array", op: OpEmbeddings, body: `{"input":["a","b"],"model":"e"}`,
		texts: []rampart.TextPart{tp("input", "a"), tp("input", "b")}},
	{name: "embeddings tokens", op: OpEmbeddings, body: `{"input":[[1,2],[4294967295]],"model":"e"}`},

	{name: "not object", op: OpChat, body: `[]`, code: rampart.CodeInvalid, msg: "must be a JSON object, not array"},
	{name: "no model", op: OpChat, body: `{"messages":[{"role":"user","content":"x"}]}`, code: rampart.CodeInvalid, msg: `no "model"`},
	{name: "model not string", op: OpChat, body: `{"model":1}`, code: rampart.CodeInvalid, msg: "model must be a string, not number"},
	{name: "model empty", op: OpChat, body: `{"model":""}`, code: rampart.CodeInvalid, msg: "model is empty"},
	{name: "model traversal", op: OpChat, body: `{"model":"../etc"}`, code: rampart.CodeInvalid, msg: `model contains ".."`},
	{name: "model control", op: OpChat, body: `{"model":"a\u0000"}`, code: rampart.CodeInvalid, msg: "control character"},
	{name: "no messages", op: OpChat, body: `{"model":"m"}`, code: rampart.CodeInvalid, msg: `no "messages"`},
	{name: "empty messages", op: OpChat, body: `{"model":"m","messages":[]}`, code: rampart.CodeInvalid, msg: "messages is empty"},
	{name: "messages not array", op: OpChat, body: `{"model":"m","messages":"hi"}`, code: rampart.CodeInvalid, msg: "messages must be an array"},
	{name: "message not object", op: OpChat, body: `{"model":"m","messages":["hi"]}`, code: rampart.CodeInvalid, msg: "messages[0] must be an object"},
	{name: "bad role", op: OpChat, body: `{"model":"m","messages":[{"role":"root","content":"x"}]}`, code: rampart.CodeInvalid, msg: `role "root" is not one of`},
	{name: "no role", op: OpChat, body: `{"model":"m","messages":[{"content":"x"}]}`, code: rampart.CodeInvalid, msg: "messages[0] has no role"},
	{name: "role not string", op: OpChat, body: `{"model":"m","messages":[{"role":1}]}`, code: rampart.CodeInvalid, msg: "role must be a string"},
	{name: "user without content", op: OpChat, body: `{"model":"m","messages":[{"role":"user"}]}`, code: rampart.CodeInvalid, msg: "a user message needs content"},
	{name: "user null content", op: OpChat, body: `{"model":"m","messages":[{"role":"user","content":null}]}`, code: rampart.CodeInvalid, msg: "needs content"},
	{name: "assistant empty", op: OpChat, body: `{"model":"m","messages":[{"role":"assistant"}]}`, code: rampart.CodeInvalid, msg: "needs content or tool_calls"},
	{name: "content number", op: OpChat, body: `{"model":"m","messages":[{"role":"user","content":5}]}`, code: rampart.CodeInvalid, msg: "content must be a string or an array of parts"},
	{name: "part not object", op: OpChat, body: `{"model":"m","messages":[{"role":"user","content":["x"]}]}`, code: rampart.CodeInvalid, msg: "messages[0].content[0] must be an object"},
	{name: "part no type", op: OpChat, body: `{"model":"m","messages":[{"role":"user","content":[{"text":"x"}]}]}`, code: rampart.CodeInvalid, msg: "has no type"},
	{name: "part unknown type", op: OpChat, body: `{"model":"m","messages":[{"role":"user","content":[{"type":"video","video":{}}]}]}`, code: rampart.CodeInvalid, msg: `unknown part type "video"`},
	{name: "text part without text", op: OpChat, body: `{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}`, code: rampart.CodeInvalid, msg: `a text part needs a "text" field`},
	{name: "text part number", op: OpChat, body: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":1}]}]}`, code: rampart.CodeInvalid, msg: "text must be a string"},
	{name: "image part without url", op: OpChat, body: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`, code: rampart.CodeInvalid, msg: "image_url has no url"},
	{name: "image url not object", op: OpChat, body: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":"x"}]}]}`, code: rampart.CodeInvalid, msg: "image_url must be an object"},
	{name: "image part missing", op: OpChat, body: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, code: rampart.CodeInvalid, msg: `needs a "image_url" field`},
	{name: "tool_calls not array", op: OpChat, body: `{"model":"m","messages":[{"role":"assistant","tool_calls":{}}]}`, code: rampart.CodeInvalid, msg: "tool_calls must be an array"},
	{name: "stream not bool", op: OpChat, body: `{"model":"m","stream":"yes","messages":[{"role":"user","content":"x"}]}`, code: rampart.CodeInvalid, msg: "stream must be a boolean"},
	{name: "temperature high", op: OpChat, body: `{"model":"m","temperature":2.5,"messages":[{"role":"user","content":"x"}]}`, code: rampart.CodeInvalid, msg: "temperature must be between 0 and 2"},
	{name: "temperature string", op: OpChat, body: `{"model":"m","temperature":"1","messages":[{"role":"user","content":"x"}]}`, code: rampart.CodeInvalid, msg: "temperature must be a number, not string"},
	{name: "n zero", op: OpChat, body: `{"model":"m","n":0,"messages":[{"role":"user","content":"x"}]}`, code: rampart.CodeInvalid, msg: "n must be between 1 and 128"},
	{name: "max_tokens fraction", op: OpChat, body: `{"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"x"}]}`, code: rampart.CodeInvalid, msg: "max_tokens must be an integer"},
	{name: "max_tokens negative", op: OpChat, body: `{"model":"m","max_tokens":-1,"messages":[{"role":"user","content":"x"}]}`, code: rampart.CodeInvalid, msg: "max_tokens must be between"},
	{name: "echo string", op: OpCompletions, body: `{"model":"m","echo":"y","prompt":"x"}`, code: rampart.CodeInvalid, msg: "echo must be a boolean"},
	{name: "user number", op: OpChat, body: `{"model":"m","user":5}`, code: rampart.CodeInvalid, msg: "user must be a string"},
	{name: "stop array of numbers", op: OpChat, body: `{"model":"m","stop":[1]}`, code: rampart.CodeInvalid, msg: "stop must be a string or an array of strings"},
	{name: "no prompt", op: OpCompletions, body: `{"model":"m"}`, code: rampart.CodeInvalid, msg: `no "prompt"`},
	{name: "prompt number", op: OpCompletions, body: `{"model":"m","prompt":1}`, code: rampart.CodeInvalid, msg: "prompt must be a string or an array"},
	{name: "prompt empty array", op: OpCompletions, body: `{"model":"m","prompt":[]}`, code: rampart.CodeInvalid, msg: "prompt is empty"},
	{name: "prompt mixed", op: OpCompletions, body: `{"model":"m","prompt":["a",1]}`, code: rampart.CodeInvalid, msg: "prompt mixes strings and numbers"},
	{name: "prompt objects", op: OpCompletions, body: `{"model":"m","prompt":[{}]}`, code: rampart.CodeInvalid, msg: "must hold strings, token IDs"},
	{name: "token negative", op: OpCompletions, body: `{"model":"m","prompt":[-1]}`, code: rampart.CodeInvalid, msg: "not a non-negative integer"},
	{name: "token fraction", op: OpCompletions, body: `{"model":"m","prompt":[1.5]}`, code: rampart.CodeInvalid, msg: "not a non-negative integer"},
	{name: "token too big", op: OpEmbeddings, body: `{"model":"m","input":[4294967296]}`, code: rampart.CodeInvalid, msg: "out of range"},
	{name: "empty token array", op: OpEmbeddings, body: `{"model":"m","input":[[]]}`, code: rampart.CodeInvalid, msg: "empty token array"},
	{name: "token array strings", op: OpEmbeddings, body: `{"model":"m","input":[["a"]]}`, code: rampart.CodeInvalid, msg: "input must be token IDs"},
	{name: "suffix number", op: OpCompletions, body: `{"model":"m","prompt":"x","suffix":1}`, code: rampart.CodeInvalid, msg: "suffix must be a string"},
	{name: "no input", op: OpEmbeddings, body: `{"model":"m"}`, code: rampart.CodeInvalid, msg: `no "input"`},
	{name: "duplicate key", op: OpChat, body: `{"model":"a","model":"b","messages":[{"role":"user","content":"x"}]}`, code: rampart.CodeInvalid, msg: `duplicate object key "model"`},
	{name: "duplicate key in unknown field", op: OpChat, body: `{"model":"a","extra":{"k":1,"k":2},"messages":[{"role":"user","content":"x"}]}`, code: rampart.CodeInvalid, msg: "duplicate object key"},
	{name: "invalid utf8", op: OpChat, body: "{\"model\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", code: rampart.CodeInvalid, msg: "invalid UTF-8"},
	{name: "trailing", op: OpChat, body: `{"model":"a","messages":[{"role":"user","content":"x"}]}x`, code: rampart.CodeInvalid, msg: "trailing data"},
	{name: "body on models list", op: OpListModels, body: `{}`, code: rampart.CodeInvalid, msg: "takes no request body"},
	{name: "models list empty", op: OpListModels, body: ``},
	{name: "unknown operation", op: "images", body: `{}`, code: rampart.CodeInternal, msg: "internal error"},
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			var inf rampart.Inference
			err := Decode(tc.op, []byte(tc.body), protocol.DefaultLimits(), &inf)
			checkErr(t, err, tc.code, tc.msg)
			if err != nil {
				return
			}
			if inf.Protocol != rampart.ProtocolOpenAI || inf.Operation != tc.op || inf.BodyBytes != len(tc.body) {
				t.Errorf("inference %+v", inf)
			}
			if !reflect.DeepEqual(inf.Texts, tc.texts) {
				t.Errorf("texts %q, want %q", inf.Texts, tc.texts)
			}
			if !reflect.DeepEqual(inf.Parameters, tc.params) {
				t.Errorf("params %v, want %v", inf.Parameters, tc.params)
			}
			if inf.Stream != tc.stream {
				t.Errorf("stream %v", inf.Stream)
			}
		})
	}
}

func checkErr(t *testing.T, err error, code rampart.Code, msg string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %s %q", code, msg)
	}
	var re *rampart.Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v is %T", err, err)
	}
	if re.Code != code || !strings.Contains(re.Message, msg) {
		t.Errorf("error %s %q, want %s containing %q", re.Code, re.Message, code, msg)
	}
}

func TestDecodeModel(t *testing.T) {
	var inf rampart.Inference
	if err := Decode(OpChat, []byte(`{"model":"meta-llama/Llama-3-8B","messages":[{"role":"user","content":"x"}]}`), protocol.DefaultLimits(), &inf); err != nil {
		t.Fatal(err)
	}
	if inf.Model != "meta-llama/Llama-3-8B" || inf.Action != rampart.ActionInfer {
		t.Errorf("model %q action %q", inf.Model, inf.Action)
	}
}

func TestDecodeLimits(t *testing.T) {
	lim := protocol.Limits{MaxBodyBytes: 300, MaxDepth: 5, MaxElements: 30, MaxStringLen: 16}
	cases := []struct{ name, body, msg string }{
		{"body", `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("a", 300) + `"}]}`, "request body is"},
		{"string", `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("a", 17) + `"}]}`, "string length exceeds the limit of 16"},
		{"depth in unknown field", `{"model":"m","x":[[[[[1]]]]]}`, "nesting depth exceeds the limit of 5"},
		{"elements", `{"model":"m","prompt":[` + strings.TrimSuffix(strings.Repeat("1,", 40), ",") + `]}`, "number of array elements and object members exceeds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var inf rampart.Inference
			checkErr(t, Decode(OpCompletions, []byte(tc.body), lim, &inf), rampart.CodeTooLarge, tc.msg)
		})
	}
}

func TestRoute(t *testing.T) {
	cases := []struct {
		method, path, op string
		action           rampart.Action
		ok               bool
	}{
		{"POST", "/v1/chat/completions", OpChat, rampart.ActionInfer, true},
		{"POST", "/v1/completions", OpCompletions, rampart.ActionInfer, true},
		{"POST", "/v1/embeddings", OpEmbeddings, rampart.ActionInfer, true},
		{"GET", "/v1/models", OpListModels, rampart.ActionListModels, true},
		{"HEAD", "/v1/models", OpListModels, rampart.ActionListModels, true},
		{"GET", "/v1/models/org/model", OpRetrieveModel, rampart.ActionReadMetadata, true},
		{"GET", "/v1/chat/completions", "", "", false},
		{"POST", "/v1/models", "", "", false},
		{"GET", "/v1/models/", "", "", false},
		{"POST", "/v1/chat/completions/", "", "", false},
		{"POST", "/v2/models/m/infer", "", "", false},
		{"DELETE", "/v1/models/m", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			op, action, ok := Route(tc.method, tc.path)
			if op != tc.op || action != tc.action || ok != tc.ok {
				t.Errorf("Route = %q %q %v", op, action, ok)
			}
		})
	}
	if m, ok := PathModel("/v1/models/org/model"); !ok || m != "org/model" {
		t.Errorf("PathModel = %q %v", m, ok)
	}
	for _, p := range []string{"/v1/models/../x", "/v1/models/", "/v1/models/a\x00", "/v1/other"} {
		if _, ok := PathModel(p); ok {
			t.Errorf("PathModel(%q) accepted", p)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"model":"llama-3-8b","messages":[{"role":"system","content":"You are a helpful assistant."},` +
		`{"role":"user","content":"What is the capital of France? Answer in one word."}],"temperature":0.2,"max_tokens":16,"stream":true}`)
	lim := protocol.DefaultLimits()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var inf rampart.Inference
		if err := Decode(OpChat, body, lim, &inf); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzOpenAIDecode(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add(tc.op, []byte(tc.body))
	}
	lim := protocol.Limits{MaxBodyBytes: 1 << 16, MaxDepth: 8, MaxElements: 2048, MaxStringLen: 512}
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		var inf rampart.Inference
		err := Decode(op, body, lim, &inf)
		if err != nil {
			var re *rampart.Error
			if !errors.As(err, &re) || re.Message == "" {
				t.Fatalf("error %v is not a *rampart.Error with a message", err)
			}
			return
		}
		switch op {
		case OpChat, OpCompletions, OpEmbeddings:
			if CheckModel(inf.Model) != "" {
				t.Fatalf("accepted model %q", inf.Model)
			}
		}
		for _, tp := range inf.Texts {
			if tp.Role == "" {
				t.Fatalf("text without a role: %q", tp.Text)
			}
		}
	})
}
