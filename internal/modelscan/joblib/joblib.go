// Package joblib unwraps the compression joblib (and anyone else) puts
// around a pickle: zlib, joblib's legacy "ZF" zlib files, gzip and bzip2.
// The decompressed stream goes back to the engine, which routes it by
// content (usually to the pickle analyzer), so a compressed payload is
// judged exactly like a plain one.
//
// Decompression is charged byte for byte to the scan budget and spooled
// to an unlinked temp file past [modelscan.SpoolMemLimit], so bombs end
// as "scan.budget" and large models never sit in memory. A stream that
// turns corrupt midway is UNSCANNABLE, and the bytes before the damage are
// still judged: a loader unpickles as it decompresses, so a payload in
// front of a deliberate error runs anyway.
//
// xz and raw lzma (what joblib's "xz" and "lzma" compressors write) are
// decoded with github.com/ulikunitz/xz; lz4 is recognised and reported
// UNSCANNABLE, never CLEAN.
package joblib

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

type codec int

const (
	none codec = iota
	cZlib
	cZFile
	cGzip
	cBzip2
	cXz
	cLzma
	cLz4
)

var codecNames = [...]string{"", "zlib", "joblib-zfile", "gzip", "bzip2", "xz", "lzma", "lz4"}

type analyzer struct{}

// New returns the compressed-stream analyzer.
func New() modelscan.Analyzer { return analyzer{} }

func (analyzer) Name() string { return "compressed" }

func (analyzer) Match(head []byte) bool { return detect(head) != none }

func detect(h []byte) codec {
	switch {
	case bytes.HasPrefix(h, []byte("ZF0x")):
		return cZFile
	case len(h) >= 3 && h[0] == 0x1f && h[1] == 0x8b && h[2] == 8:
		return cGzip
	case len(h) >= 10 && string(h[:3]) == "BZh" && h[3] >= '1' && h[3] <= '9' &&
		(string(h[4:10]) == "\x31\x41\x59\x26\x53\x59" || string(h[4:10]) == "\x17\x72\x45\x38\x50\x90"):
		return cBzip2
	case bytes.HasPrefix(h, []byte("\xfd7zXZ\x00")):
		return cXz
	case bytes.HasPrefix(h, []byte("\x04\x22\x4d\x18")):
		return cLz4
	case len(h) >= 13 && h[0] == 0x5d && lzmaDict(binary.LittleEndian.Uint32(h[1:])):
		return cLzma
	case isZlib(h):
		return cZlib
	}
	return none
}

// lzmaDict accepts the dictionary sizes encoders write: 2^n or 3·2^(n-1).
func lzmaDict(d uint32) bool {
	if d < 1<<12 {
		return false
	}
	low := d & -d
	rest := d - low
	return rest == 0 || rest == low<<1
}

// isZlib needs a valid zlib header (CM 8, window ≤ 32K, no preset
// dictionary, FCHECK) and deflate data that starts decoding: 0x78 alone
// would claim too much.
func isZlib(h []byte) bool {
	if len(h) < 3 || h[0]&0x0f != 8 || h[0]>>4 > 7 || (uint16(h[0])<<8|uint16(h[1]))%31 != 0 || h[1]&0x20 != 0 {
		return false
	}
	fr := flate.NewReader(bytes.NewReader(h[2:]))
	n, err := fr.Read(make([]byte, 1024))
	return n > 0 || err == io.EOF
}

func (analyzer) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	head := make([]byte, 512)
	n, err := in.R.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read compressed header: %w", err)
	}
	head = head[:n]
	c := detect(head)
	name := codecNames[c]
	var fs []modelscan.Finding
	add := func(v modelscan.Verdict, rule string, off int64, format string, args ...any) {
		fs = append(fs, modelscan.Finding{Verdict: v, Severity: rampart.SeverityMedium, Rule: rule, Message: fmt.Sprintf(format, args...), Offset: off})
	}
	src := bufio.NewReaderSize(io.NewSectionReader(in.R, 0, in.Size), 64<<10)
	var r io.Reader
	declared := int64(-1)
	switch c {
	case cLz4:
		add(modelscan.Unscannable, "compressed.unsupported", 0, "%s compression is not supported: its content cannot be judged", name)
		return fs, nil
	case cXz:
		xr, err := xz.NewReader(src)
		if err != nil {
			add(modelscan.Unscannable, "compressed.corrupt", 0, "bad xz header: %v", err)
			return fs, nil
		}
		r = xr
	case cLzma:
		lr, err := lzma.NewReader(src)
		if err != nil {
			add(modelscan.Unscannable, "compressed.corrupt", 0, "bad lzma header: %v", err)
			return fs, nil
		}
		r = lr
	case cGzip:
		zr, err := gzip.NewReader(src)
		if err != nil {
			add(modelscan.Unscannable, "compressed.corrupt", 0, "bad gzip header: %v", err)
			return fs, nil
		}
		r = zr
	case cBzip2:
		r = bzip2.NewReader(src)
	case cZlib:
		r = &zlibStreams{src: src}
	case cZFile:
		// "ZF" + hex length padded to 19 bytes (+ an optional space).
		lenField := strings.TrimRight(string(head[2:min(len(head), 21)]), " ")
		v, err := strconv.ParseUint(strings.TrimPrefix(lenField, "0x"), 16, 63)
		if err != nil || len(head) < 22 {
			add(modelscan.Unscannable, "compressed.corrupt", 2, "bad joblib ZF length field %q", lenField)
			return fs, nil
		}
		declared = int64(v)
		skip := 21
		if head[21] == ' ' {
			skip = 22
		}
		src.Discard(skip)
		zr, err := zlib.NewReader(src)
		if err != nil {
			add(modelscan.Unscannable, "compressed.corrupt", int64(skip), "bad zlib header: %v", err)
			return fs, nil
		}
		r = zr
	}
	if r == nil {
		add(modelscan.Unscannable, "compressed.corrupt", 0, "no known compression header")
		return fs, nil
	}
	sp, derr := modelscan.Spool(ctx, in, r, modelscan.SpoolMemLimit, -1)
	defer sp.Close()
	if derr != nil {
		if errors.Is(derr, modelscan.ErrBudget) || ctx.Err() != nil {
			return fs, derr
		}
		add(modelscan.Unscannable, "compressed.corrupt", -1,
			"%s stream is corrupt after %d decompressed bytes (%v); judging those bytes", name, sp.Size, derr)
	} else if declared >= 0 && declared != sp.Size {
		add(modelscan.Suspicious, "compressed.size-mismatch", 2, "ZF header declares %d bytes, stream holds %d", declared, sp.Size)
	}
	if sp.Size == 0 {
		add(modelscan.Unscannable, "compressed.empty", 0, "%s stream decompresses to nothing", name)
		return fs, nil
	}
	sub, err := in.Scan(ctx, "<"+name+">", sp.R, sp.Size)
	return append(fs, sub...), err
}

// zlibStreams reads concatenated zlib streams the way joblib's
// BinaryZlibFile does: when one ends and bytes remain, a new one starts.
type zlibStreams struct {
	src     *bufio.Reader
	cur     io.ReadCloser
	streams int
}

// maxStreams bounds back-to-back tiny streams (each costs a header parse).
const maxStreams = 1 << 16

func (z *zlibStreams) Read(p []byte) (int, error) {
	for {
		if z.cur == nil {
			if _, err := z.src.Peek(1); err != nil {
				return 0, io.EOF
			}
			if z.streams++; z.streams > maxStreams {
				return 0, fmt.Errorf("more than %d zlib streams", maxStreams)
			}
			zr, err := zlib.NewReader(z.src)
			if err != nil {
				return 0, fmt.Errorf("zlib stream %d: %w", z.streams, err)
			}
			z.cur = zr
		}
		n, err := z.cur.Read(p)
		if err == io.EOF {
			z.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}
