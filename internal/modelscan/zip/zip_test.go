package zip

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ai/rampart/internal/modelscan"
	"github.com/rampart-ai/rampart/internal/modelscan/pickle"
)

func engine(limits modelscan.Limits) *modelscan.Engine {
	return modelscan.New(limits, nil, New(), pickle.New())
}

func scan(t *testing.T, e *modelscan.Engine, path string) modelscan.Result {
	t.Helper()
	res, err := e.ScanFile(context.Background(), path)
	if err != nil {
		t.Fatalf("scan %s: %v", path, err)
	}
	return res
}

func has(fs []modelscan.Finding, rule, member string, off int64) bool {
	for _, f := range fs {
		if f.Rule == rule && (member == "*" || f.Member == member) && (off < -1 || f.Offset == off) {
			return true
		}
	}
	return false
}

func TestCorpus(t *testing.T) {
	const any = -2
	tests := []struct {
		file   string
		want   modelscan.Verdict
		rule   string
		member string
		off    int64
	}{
		{"torch_state.pt", modelscan.Clean, "zip.tensor-storage", "", -1},
		{"benign.zip", modelscan.Clean, "", "", any},
		{"zip64.zip", modelscan.Clean, "", "", any},
		{"torchscript.pt", modelscan.Unsafe, "torchscript.code", "archive/code/__torch__.py", any},
		{"deflate_evil.zip", modelscan.Unsafe, "pickle.unsafe-callable", "payload.bin", any},
		{"bzip2_evil.zip", modelscan.Unsafe, "pickle.unsafe-callable", "payload.bin", any},
		{"lzma_member.zip", modelscan.Unscannable, "zip.unsupported-compression", "payload.bin", 0},
		{"bad_crc.zip", modelscan.Suspicious, "zip.crc-mismatch", "payload.bin", 41},
		{"encrypted.zip", modelscan.Unsafe, "zip.encrypted", "payload.bin", 0},
		{"traversal_dotdot.zip", modelscan.Unsafe, "zip.path-traversal", "../../evil.pkl", 0},
		{"traversal_abs.zip", modelscan.Unsafe, "zip.path-traversal", "/tc/cron.d/x", 0},
		{"traversal_drive.zip", modelscan.Unsafe, "zip.path-traversal", "C:/Windows/x.pkl", 0},
		{"traversal_backslash.zip", modelscan.Unsafe, "zip.path-traversal", `..\..\evil.pkl`, 0},
		{"symlink.zip", modelscan.Unsafe, "zip.symlink", "model/weights.bin", 0},
		{"duplicate.zip", modelscan.Unsafe, "zip.duplicate-name", "archive/data.pkl", any},
		{"duplicate_case.zip", modelscan.Suspicious, "zip.duplicate-name-case", "model.pkl", any},
		{"name_mismatch.zip", modelscan.Unsafe, "zip.name-mismatch", "safe.pkl", 0},
		{"size_mismatch.zip", modelscan.Unscannable, "zip.header-mismatch", "payload.bin", 0},
		{"prepended.zip", modelscan.Unsafe, "zip.unlisted-member", "", 0},
		{"hidden_between.zip", modelscan.Unsafe, "zip.hidden-data", "", any},
		{"trailing.zip", modelscan.Unsafe, "zip.trailing-data", "", any},
		{"overlap.zip", modelscan.Unsafe, "zip.overlapping-members", "*", 0},
		{"nested.zip", modelscan.Unsafe, "pickle.unsafe-callable", "inner.zip!evil.pkl", any},
	}
	e := engine(modelscan.DefaultLimits())
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			res := scan(t, e, filepath.Join("testdata", tc.file))
			if res.Verdict != tc.want {
				t.Errorf("verdict %s, want %s; findings %+v", res.Verdict, tc.want, res.Findings)
			}
			if tc.rule != "" && !has(res.Findings, tc.rule, tc.member, tc.off) {
				t.Errorf("no %s finding for member %q at %d; findings %+v", tc.rule, tc.member, tc.off, res.Findings)
			}
			if res.Format != "zip" {
				t.Errorf("format %q", res.Format)
			}
		})
	}
}

// TestPayloadBehindTricks checks that each trick still leads to the payload
// itself being judged, not only to a structural finding.
func TestPayloadBehindTricks(t *testing.T) {
	e := engine(modelscan.DefaultLimits())
	for file, member := range map[string]string{
		"encrypted.zip":      "payload.bin",
		"duplicate.zip":      "archive/data.pkl",
		"prepended.zip":      "<unlisted:hidden.pkl>",
		"hidden_between.zip": "*",
		"trailing.zip":       "<trailing-data>",
		"overlap.zip":        "*",
		"name_mismatch.zip":  "safe.pkl",
	} {
		t.Run(file, func(t *testing.T) {
			res := scan(t, e, filepath.Join("testdata", file))
			if !has(res.Findings, "pickle.unsafe-callable", member, -2) {
				t.Errorf("payload in %q not judged: %+v", member, res.Findings)
			}
		})
	}
}

// writeZip builds an archive with Go's writer for cases the corpus
// does not need to pin.
func writeZip(t *testing.T, files map[string][]byte, method uint16) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, data := range files {
		f, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestBombBounded: a member that inflates far beyond the byte budget is
// stopped by Charge and reported, in bounded time.
func TestBombBounded(t *testing.T) {
	big := make([]byte, 64<<20)
	copy(big, "\x80\x02")
	z := writeZip(t, map[string][]byte{"bomb.pkl": big}, zip.Deflate)
	if len(z) > 1<<20 {
		t.Fatalf("bomb is %d bytes", len(z))
	}
	lim := modelscan.DefaultLimits()
	lim.MaxBytes = 8 << 20
	start := time.Now()
	res, err := engine(lim).Scan(context.Background(), "bomb.zip", bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != modelscan.Unscannable || !has(res.Findings, "scan.budget", "*", -2) {
		t.Errorf("verdict %s findings %+v", res.Verdict, res.Findings)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestLargeMemberSpools: a deflated member above the in-memory limit goes
// through a temp file and is still judged.
func TestLargeMemberSpools(t *testing.T) {
	// A real pickle of one large bytes object (protocol 4 BINBYTES8).
	n := modelscan.SpoolMemLimit + 1<<20
	big := make([]byte, 0, n+12)
	big = append(big, 0x80, 0x04, 0x8e)
	big = binary.LittleEndian.AppendUint64(big, uint64(n))
	big = append(big, make([]byte, n)...)
	big = append(big, '.')
	z := writeZip(t, map[string][]byte{"big.pkl": big}, zip.Deflate)
	res, err := engine(modelscan.DefaultLimits()).Scan(context.Background(), "big.zip", bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	// CLEAN, with no corruption findings: the spooled stream decompressed
	// and the pickle analyzer read it to its STOP.
	if res.Verdict != modelscan.Clean {
		t.Errorf("verdict %s findings %+v", res.Verdict, res.Findings)
	}
}

func TestUnknownMemberIsUnscannable(t *testing.T) {
	z := writeZip(t, map[string][]byte{"blob.bin": []byte("opaque bytes")}, zip.Store)
	res, err := engine(modelscan.DefaultLimits()).Scan(context.Background(), "x.zip", bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != modelscan.Unscannable || !has(res.Findings, "scan.unknown-format", "blob.bin", 0) {
		t.Errorf("verdict %s findings %+v", res.Verdict, res.Findings)
	}
}

// TestTorchLayoutNeedsDataPkl: data/<n> members are skipped as tensor
// storage only beside a data.pkl; elsewhere they are ordinary members.
func TestTorchLayoutNeedsDataPkl(t *testing.T) {
	z := writeZip(t, map[string][]byte{"archive/data/0": []byte("\x80\x02cos\nsystem\n.")}, zip.Store)
	res, err := engine(modelscan.DefaultLimits()).Scan(context.Background(), "x.zip", bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != modelscan.Unsafe {
		t.Errorf("verdict %s findings %+v", res.Verdict, res.Findings)
	}
}

func TestTruncated(t *testing.T) {
	full, err := os.ReadFile("testdata/torch_state.pt")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{4, 30, 100, len(full) / 2, len(full) - 10} {
		res, err := engine(modelscan.DefaultLimits()).Scan(context.Background(), "t.pt", bytes.NewReader(full[:n]), int64(n))
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict == modelscan.Clean {
			t.Errorf("truncated to %d: CLEAN", n)
		}
	}
}

func FuzzZip(f *testing.F) {
	ents, _ := os.ReadDir("testdata")
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".py") {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("testdata", e.Name())); err == nil {
			f.Add(b)
		}
	}
	lim := modelscan.Limits{MaxBytes: 16 << 20, MaxDepth: 4, MaxMembers: 1000, Timeout: 5 * time.Second}
	e := engine(lim)
	f.Fuzz(func(t *testing.T, b []byte) {
		start := time.Now()
		if _, err := e.Scan(context.Background(), "f.zip", bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 6*time.Second {
			t.Fatalf("took %s", d)
		}
	})
}
