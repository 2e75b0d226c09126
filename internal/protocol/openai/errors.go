package openai

import (
	"encoding/json"
	"net/http"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
)

// ErrorType is the "type" OpenAI clients switch on for a code.
func ErrorType(code rampart.Code) string {
	switch code {
	case rampart.CodeInvalid, rampart.CodeTooLarge, rampart.CodeHeaderTooLarge,
		rampart.CodeUnsupported, rampart.CodeMethod:
		return "invalid_request_error"
	case rampart.CodeNotFound:
		return "not_found_error"
	case rampart.CodeUnauthenticated:
		return "authentication_error"
	case rampart.CodeForbidden:
		return "permission_error"
	case rampart.CodeRateLimited:
		return "rate_limit_error"
	default:
		return "server_error"
	}
}

// WriteError writes the OpenAI error body
// {"error":{"message":…,"type":…,"code":…,"param":null}} with status (or
// code's own status when status is 0) and the X-Request-Id header, which is
// where OpenAI clients look for a request ID.
func WriteError(w http.ResponseWriter, status int, code rampart.Code, msg, requestID string) {
	if status == 0 {
		status = code.Status()
	}
	type errBody struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    string  `json:"code"`
		Param   *string `json:"param"`
	}
	body, _ := json.Marshal(struct {
		Error errBody `json:"error"`
	}{errBody{Message: msg, Type: ErrorType(code), Code: string(code)}})
	protocol.WriteJSON(w, status, requestID, body)
}
