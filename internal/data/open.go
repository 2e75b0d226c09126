package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Open opens the dataset at path. The file is closed by Source.Close.
func Open(path string, opt Options) (Source, error) {
	opt = opt.WithDefaults()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	src, err := open(path, f, opt)
	if err != nil {
		f.Close()
		return nil, err
	}
	if opt.LabelFile != "" {
		lsrc, err := withLabelFile(src, opt)
		if err != nil {
			src.Close()
			return nil, err
		}
		src = lsrc
	}
	return src, nil
}

// Detect names the format of the file at path as Open would read it.
func Detect(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	format, _, err := detect(path, bufio.NewReaderSize(f, 1<<16))
	return format, err
}

// detect looks at the first bytes and the name. gz reports whether the
// bytes are gzip (the format is then the inner one, guessed from the name
// without .gz or from the decompressed bytes by the caller).
func detect(path string, br *bufio.Reader) (format string, gz bool, err error) {
	head, err := br.Peek(8)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return "", false, err
	}
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return "", true, nil
	case bytes.HasPrefix(head, []byte("PAR1")):
		return "parquet", false, nil
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return "npy", false, nil
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return "npz", false, nil
	case isIDXMagic(head):
		return "idx", false, nil
	}
	return textFormat(path, head), false, nil
}

// isIDXMagic: two zero bytes, a known element type and 1 to 4 dimensions.
func isIDXMagic(h []byte) bool {
	if len(h) < 4 || h[0] != 0 || h[1] != 0 || h[3] < 1 || h[3] > 4 {
		return false
	}
	switch h[2] {
	case 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E:
		return true
	}
	return false
}

func textFormat(path string, head []byte) string {
	name := strings.ToLower(strings.TrimSuffix(strings.ToLower(path), ".gz"))
	switch filepath.Ext(name) {
	case ".csv":
		return "csv"
	case ".tsv", ".tab":
		return "tsv"
	case ".jsonl", ".ndjson", ".json":
		return "jsonl"
	case ".npy":
		return "npy"
	case ".idx", ".idx1-ubyte", ".idx3-ubyte":
		return "idx"
	}
	if strings.HasSuffix(name, "-ubyte") {
		return "idx"
	}
	if t := bytes.TrimLeft(head, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
		return "jsonl"
	}
	return "csv"
}

func open(path string, f *os.File, opt Options) (Source, error) {
	br := bufio.NewReaderSize(f, 1<<16)
	format, gz, err := detect(path, br)
	if err != nil {
		return nil, &InputError{File: path, Row: -1, Offset: 0, Err: err}
	}
	var r io.Reader = br
	if gz {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, malformed(path, 0, -1, "", 0, "gzip header: %v", err)
		}
		zbr := bufio.NewReaderSize(&gzipErrors{path: path, r: zr}, 1<<16)
		inner, innerGz, err := detect(strings.TrimSuffix(path, ".gz"), zbr)
		if err != nil {
			return nil, err
		}
		if innerGz || inner == "parquet" || inner == "npz" {
			return nil, &InputError{File: path, Row: -1, Offset: -1, Err: fmt.Errorf("%s inside gzip is not supported: decompress it first", orDefault(inner, "gzip"))}
		}
		format, r = inner, zbr
	}
	if opt.Format != "" {
		format = opt.Format
	}
	var src Source
	switch format {
	case "csv":
		src, err = openCSV(path, r, ',', opt)
	case "tsv":
		src, err = openCSV(path, r, '\t', opt)
	case "jsonl":
		src, err = openJSONL(path, r, opt)
	case "npy":
		src, err = openNPY(path, r, opt)
	case "idx":
		src, err = openIDX(path, r, opt)
	case "parquet", "npz":
		if gz {
			return nil, &InputError{File: path, Row: -1, Offset: -1, Err: fmt.Errorf("%s inside gzip is not supported: decompress it first", format)}
		}
		st, serr := f.Stat()
		if serr != nil {
			return nil, serr
		}
		if format == "parquet" {
			src, err = openParquet(path, f, st.Size(), opt)
		} else {
			src, err = openNPZ(path, f, st.Size(), opt)
		}
	default:
		return nil, fmt.Errorf("%s: unknown format %q (want csv, tsv, jsonl, parquet, npy, npz or idx)", path, format)
	}
	if err != nil {
		return nil, err
	}
	return &closing{Source: src, f: f}, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// closing closes the file after the reader.
type closing struct {
	Source
	f *os.File
}

func (c *closing) Close() error {
	err := c.Source.Close()
	if ferr := c.f.Close(); err == nil {
		err = ferr
	}
	return err
}

// Extra lets the names of unrequested columns through Open's file-closing
// wrapper (it embeds only the Source interface).
func (c *closing) Extra() []string {
	if e, ok := c.Source.(interface{ Extra() []string }); ok {
		return e.Extra()
	}
	return nil
}

// gzipErrors names the file in decompression errors (a truncated .gz).
type gzipErrors struct {
	path string
	r    io.Reader
	n    int64
}

func (g *gzipErrors) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.n += int64(n)
	if err != nil && err != io.EOF {
		return n, malformed(g.path, 0, -1, "", -1, "gzip stream after %d decompressed bytes: %v", g.n, err)
	}
	return n, err
}
