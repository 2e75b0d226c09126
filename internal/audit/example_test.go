package audit_test

import (
	"context"
	"fmt"
	"os"

	"github.com/rampart-ai/rampart/internal/audit"
)

// Open a log, record decisions, and verify it; a gateway keeps the log
// open for its lifetime and calls Append (or AppendDurable on must-log
// routes) once per request.
func Example() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	l, err := audit.Open(ctx, audit.Config{Dir: dir}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	body := []byte(`{"inputs":[...]}`)
	l.Append(audit.Record{RequestID: "r1", Principal: "key:alice", Route: "iris", Decision: audit.DecisionAllow, PayloadHash: l.HashPayload(body)})
	if err := l.AppendDurable(ctx, audit.Record{RequestID: "r2", Principal: "key:bob", Route: "iris", Decision: audit.DecisionBlock}); err != nil {
		fmt.Println("fail closed:", err)
	}
	l.Close()

	rep, err := audit.Verify(ctx, dir, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Size, rep.OK())
	// Output: 2 true
}
