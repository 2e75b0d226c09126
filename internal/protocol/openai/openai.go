// Package openai speaks the OpenAI-compatible REST API served by vLLM,
// Ollama, llama.cpp, TGI and OpenAI itself: it classifies request paths
// ([Route]), decodes request bodies once, strictly and within
// protocol.Limits, into a rampart.Inference ([Decode]), writes the API's
// error body ([WriteError]) and relays server-sent event streams event by
// event ([RelaySSE]).
//
// Decoding checks what the gateway relies on (the model, the roles and
// text of every message, prompts and embedding inputs, the types and
// ranges of well-known sampling parameters) and lets other fields through
// to the upstream unchanged, so new API fields keep working; those fields
// are still read by the strict reader, so duplicate keys, invalid UTF-8
// and oversized values are refused wherever they are.
package openai

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/rampart-ai/rampart"
)

// Operations, as they appear in Inference.Operation and in policies.
const (
	OpChat           = "chat.completions"
	OpCompletions    = "completions"
	OpEmbeddings     = "embeddings"
	OpListModels     = "models.list"
	OpRetrieveModel  = "models.retrieve"
	modelsPathPrefix = "/v1/models/"
)

// Route classifies a request. ok is false for any other path or method,
// HEAD counting as GET.
func Route(method, path string) (operation string, action rampart.Action, ok bool) {
	get := method == http.MethodGet || method == http.MethodHead
	post := method == http.MethodPost
	switch {
	case path == "/v1/chat/completions" && post:
		return OpChat, rampart.ActionInfer, true
	case path == "/v1/completions" && post:
		return OpCompletions, rampart.ActionInfer, true
	case path == "/v1/embeddings" && post:
		return OpEmbeddings, rampart.ActionInfer, true
	case path == "/v1/models" && get:
		return OpListModels, rampart.ActionListModels, true
	case strings.HasPrefix(path, modelsPathPrefix) && len(path) > len(modelsPathPrefix) && get:
		return OpRetrieveModel, rampart.ActionReadMetadata, true
	}
	return "", "", false
}

// PathModel returns the model ID of a GET /v1/models/{id} path. IDs may
// hold slashes ("org/model"); ok is false when the ID is not a sane model
// name (see [CheckModel]).
func PathModel(path string) (model string, ok bool) {
	if !strings.HasPrefix(path, modelsPathPrefix) {
		return "", false
	}
	id := path[len(modelsPathPrefix):]
	if CheckModel(id) != "" {
		return "", false
	}
	return id, true
}

// MaxModelLen is the longest model name accepted.
const MaxModelLen = 256

// CheckModel returns why s is not a usable model name, or "" when it is:
// 1 to MaxModelLen bytes of UTF-8 without control characters, backslashes
// or "..". Slashes are allowed because hub-style names use them.
func CheckModel(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > MaxModelLen:
		return "is longer than 256 bytes"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.Contains(s, ".."):
		return "contains \"..\""
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\\' {
			return "contains a control character or '\\'"
		}
	}
	return ""
}
