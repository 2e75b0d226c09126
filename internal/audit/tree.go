package audit

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// frontier holds the roots of the maximal complete subtrees of a tree of a
// given size: exactly the hashes tlog.StoredHashes and tlog.TreeHash read
// when appending to, or hashing, that tree. Keeping only these makes
// appending and streaming verification O(log n) in memory.
type frontier struct {
	size int64
	idx  []int64
	hash []tlog.Hash
}

// ReadHashes implements tlog.HashReader.
func (f *frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		found := false
		for j, y := range f.idx {
			if x == y {
				out[i] = f.hash[j]
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("audit: hash %d not in frontier of tree size %d", x, f.size)
		}
	}
	return out, nil
}

// frontierIndexes lists the stored-hash indexes of the frontier of a tree of size n.
func frontierIndexes(n int64) []int64 {
	var out []int64
	for l := 0; l < 63; l++ {
		if n&(1<<l) != 0 {
			out = append(out, tlog.StoredHashIndex(l, (n>>l)-1))
		}
	}
	return out
}

// append computes the stored hashes for record f.size, advances the
// frontier and returns them (to be stored from tlog.StoredHashIndex(0, n)).
func (f *frontier) append(data []byte) ([]tlog.Hash, error) {
	n := f.size
	hs, err := tlog.StoredHashes(n, data, f)
	if err != nil {
		return nil, err
	}
	base := tlog.StoredHashIndex(0, n)
	for i, h := range hs {
		f.idx = append(f.idx, base+int64(i))
		f.hash = append(f.hash, h)
	}
	f.size = n + 1
	want := frontierIndexes(f.size)
	k := 0
	for i, x := range f.idx {
		for _, w := range want {
			if x == w {
				f.idx[k], f.hash[k] = x, f.hash[i]
				k++
				break
			}
		}
	}
	f.idx, f.hash = f.idx[:k], f.hash[:k]
	return hs, nil
}

// root is the RFC 6962 tree hash of the current size.
func (f *frontier) root() (tlog.Hash, error) {
	return tlog.TreeHash(f.size, f)
}

func (f *frontier) clone() *frontier {
	return &frontier{size: f.size, idx: append([]int64(nil), f.idx...), hash: append([]tlog.Hash(nil), f.hash...)}
}

// checkpoint is a parsed checkpoint body.
type checkpoint struct {
	Origin string
	tlog.Tree
}

// formatCheckpoint renders the note text: origin, size, base64 root hash.
func formatCheckpoint(origin string, t tlog.Tree) []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", origin, t.N, base64.StdEncoding.EncodeToString(t.Hash[:]))
}

// maxCheckpointText bounds what parseCheckpoint reads; real ones are < 300 bytes.
const maxCheckpointText = 4096

// parseCheckpoint reads checkpoint text strictly: exactly three lines, a
// canonical decimal size and a canonical base64 hash, so one tree has one
// text and signatures cannot be replayed over a different spelling.
func parseCheckpoint(text []byte) (checkpoint, error) {
	var c checkpoint
	if len(text) > maxCheckpointText {
		return c, errors.New("checkpoint too long")
	}
	if !bytes.HasSuffix(text, []byte("\n")) {
		return c, errors.New("checkpoint does not end in newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) != 3 {
		return c, fmt.Errorf("checkpoint has %d lines, want 3", len(lines))
	}
	if !validOriginSyntax(lines[0]) {
		return c, errors.New("checkpoint origin is malformed")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return c, errors.New("checkpoint size is malformed")
	}
	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize || base64.StdEncoding.EncodeToString(h) != lines[2] {
		return c, errors.New("checkpoint root hash is malformed")
	}
	c.Origin = lines[0]
	c.N = n
	copy(c.Hash[:], h)
	return c, nil
}

func validOriginSyntax(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '+' || r > '~' {
			return false
		}
	}
	return true
}

// maxNote bounds a signed checkpoint note read from untrusted input.
const maxNote = 16 << 10

// openCheckpoint verifies a signed checkpoint note with v and parses it.
// The origin must be the verifier's name, so a note signed by the right key
// for another log is rejected.
func openCheckpoint(msg []byte, v note.Verifier) (checkpoint, error) {
	if len(msg) > maxNote {
		return checkpoint{}, errors.New("checkpoint note too long")
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	c, err := parseCheckpoint([]byte(n.Text))
	if err != nil {
		return c, err
	}
	if c.Origin != v.Name() {
		return c, fmt.Errorf("checkpoint origin %q is not the key's name %q", c.Origin, v.Name())
	}
	return c, nil
}

func signCheckpoint(origin string, t tlog.Tree, s note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(formatCheckpoint(origin, t))}, s)
}
