package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestParseCheckpoint(t *testing.T) {
	h := tlog.RecordHash([]byte("x"))
	good := string(formatCheckpoint("rampart.audit", tlog.Tree{N: 42, Hash: h}))
	tests := []struct {
		name, text string
		ok         bool
	}{
		{"good", good, true},
		{"no trailing newline", strings.TrimSuffix(good, "\n"), false},
		{"extra line", good + "x\n", false},
		{"leading zero size", strings.Replace(good, "\n42\n", "\n042\n", 1), false},
		{"plus size", strings.Replace(good, "\n42\n", "\n+42\n", 1), false},
		{"negative size", strings.Replace(good, "\n42\n", "\n-1\n", 1), false},
		{"short hash", "rampart.audit\n1\nAAAA\n", false},
		{"space in origin", strings.Replace(good, "rampart.audit", "rampart audit", 1), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCheckpoint([]byte(tt.text))
			if (err == nil) != tt.ok {
				t.Fatalf("parse %q: %v", tt.text, err)
			}
			if tt.ok && (c.N != 42 || c.Hash != h || c.Origin != "rampart.audit") {
				t.Fatalf("parsed %+v", c)
			}
		})
	}
}

// FuzzParseCheckpoint: any accepted text must re-format to itself (one tree,
// one spelling) and nothing may panic.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add(formatCheckpoint("rampart.audit", tlog.Tree{N: 3, Hash: tlog.RecordHash(nil)}))
	f.Add([]byte("a\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCheckpoint(b)
		if err != nil {
			return
		}
		if again := formatCheckpoint(c.Origin, c.Tree); !bytes.Equal(again, b) {
			t.Fatalf("accepted non-canonical checkpoint %q (canonical %q)", b, again)
		}
	})
}

// FuzzOpenCheckpoint feeds untrusted note bytes (a --checkpoint file) to the
// verifier: no panics, and nothing but what the key signed is accepted.
func FuzzOpenCheckpoint(f *testing.F) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "rampart.audit")
	if err != nil {
		f.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	signed, _ := signCheckpoint("rampart.audit", tlog.Tree{N: 9, Hash: tlog.RecordHash([]byte("r"))}, s)
	f.Add(signed)
	f.Add([]byte("rampart.audit\n9\nAAAA\n\n— rampart.audit AAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := openCheckpoint(b, v)
		if err != nil {
			return
		}
		if c.Origin != "rampart.audit" {
			t.Fatalf("accepted origin %q", c.Origin)
		}
		if !bytes.HasPrefix(b, formatCheckpoint(c.Origin, c.Tree)) {
			t.Fatalf("accepted note whose text is not its checkpoint: %q", b)
		}
	})
}

// FuzzDecodeSpool: spool files are read back after crashes, so any bytes
// must decode without panicking, and offsets must be monotone and in range.
func FuzzDecodeSpool(f *testing.F) {
	line, _ := json.Marshal(rec(1))
	f.Add(append(append([]byte{}, line...), '\n'))
	f.Add([]byte("garbage\n{\"seq\":1}\n{\"seq\":1,\"x\":2}\n"))
	f.Add(line[:10])
	f.Fuzz(func(t *testing.T, b []byte) {
		var last int64
		_, err := decodeSpool(bytes.NewReader(b), func(r Record, end int64) error {
			if end <= last || end > int64(len(b)) || b[end-1] != '\n' {
				t.Fatalf("bad offset %d after %d (len %d)", end, last, len(b))
			}
			last = end
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("decoded record does not re-encode: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("decodeSpool on a byte slice: %v", err)
		}
	})
}
