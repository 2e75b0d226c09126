package data

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Regression tests for resource and output attacks on the binary readers
// found in review. Each names the attack it stops.

type binSecRow struct {
	X float64 `parquet:"x"`
}

// binSecLyingPage writes a one-column Parquet file whose single data page
// holds 4096 zero doubles (32768 bytes) compressed with codec, and returns
// its bytes with the page header's uncompressed size rewritten to 8192.
// The varints of 32768 and 8192 (zigzag 65536 and 16384) are both three
// bytes long, so no offset in the file moves.
func binSecLyingPage(t *testing.T, codec compress.Codec) (honest, lying []byte) {
	t.Helper()
	rows := make([]binSecRow, 4096)
	p := binWritePQ(t, rows, parquet.Compression(codec), parquet.PageBufferSize(1<<20), parquet.DataPageVersion(1))
	honest, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(honest), int64(len(honest)))
	if err != nil {
		t.Fatal(err)
	}
	off := f.Metadata().RowGroups[0].Columns[0].MetaData.DataPageOffset
	// Field 2 (i32, delta 1 from field 1): header byte 0x15, then the
	// zigzag varint.
	want := append([]byte{0x15}, binary.AppendUvarint(nil, 32768<<1)...)
	i := bytes.Index(honest[off:], want)
	if i < 0 || i > 16 {
		t.Fatalf("page header size field not found at offset %d", off)
	}
	lying = bytes.Clone(honest)
	copy(lying[off+int64(i)+1:], binary.AppendUvarint(nil, 8192<<1))
	return honest, lying
}

// TestParquetPageInflatesPastDeclaredSize: a page header declares a small
// uncompressed size, which passes the per-page limit, while the compressed
// data inflates to far more. parquet-go's gzip, zstd and brotli decoders
// inflate until the data ends and its snappy decoder allocates what the
// block says, so a kilobyte-sized page could take gigabytes. The reader
// must refuse the page before parquet-go decodes it, naming the column.
func TestParquetPageInflatesPastDeclaredSize(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codec compress.Codec
	}{
		{"zstd", &parquet.Zstd},
		{"gzip", &parquet.Gzip},
		{"snappy", &parquet.Snappy},
		{"brotli", &parquet.Brotli},
	} {
		t.Run(tc.name, func(t *testing.T) {
			honest, lying := binSecLyingPage(t, tc.codec)
			src, err := openParquet("h.parquet", bytes.NewReader(honest), int64(len(honest)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			tb, err := binReadAll(t, src, DefaultBatchRows)
			if err != nil || tb.rows != 4096 {
				t.Fatalf("honest file: %d rows, %v", tb.rows, err)
			}
			src, err = openParquet("l.parquet", bytes.NewReader(lying), int64(len(lying)), Options{})
			if err == nil {
				_, err = binReadAll(t, src, DefaultBatchRows)
			}
			ie := binWantInputError(t, err, "declaring 8192 uncompressed bytes")
			if ie.Column != "x" || !errors.Is(err, ErrMalformed) {
				t.Errorf("column %q, malformed %v", ie.Column, errors.Is(err, ErrMalformed))
			}
		})
	}
}

type binSecWide struct {
	A float64 `parquet:"a"`
	B float64 `parquet:"b"`
	C float64 `parquet:"c"`
	D float64 `parquet:"d"`
}

// TestParquetResidentPagesBound: the reader holds one decoded page per
// column at once, and each page may be up to pqMaxPage. A tiny file with
// many columns of large, highly compressible pages (zeros compress a
// thousandfold) adds up to any amount of memory, so the sum over the
// columns read in a row group is bounded and the file refused past it.
func TestParquetResidentPagesBound(t *testing.T) {
	rows := make([]binSecWide, 20000) // one 160 KB page per column
	p := binWritePQ(t, rows, parquet.Compression(&parquet.Zstd), parquet.PageBufferSize(1<<20))
	if st, err := os.Stat(p); err != nil || st.Size() > 8<<10 {
		t.Fatalf("fixture of %v bytes (%v), want a small file", st.Size(), err)
	}
	read := func() error {
		src, err := Open(p, Options{})
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = binReadAll(t, src, DefaultBatchRows)
		return err
	}
	if err := read(); err != nil {
		t.Fatalf("default limit: %v", err)
	}
	saved := pqMaxResident
	defer func() { pqMaxResident = saved }()
	// 4 columns × (160000 + 8×20000) bytes is 1.28 MB.
	pqMaxResident = 1 << 20
	err := read()
	ie := binWantInputError(t, err, "decoded pages at once", "row group 0")
	if ie.Row != 0 || ie.Column == "" {
		t.Errorf("row %d column %q", ie.Row, ie.Column)
	}
	pqMaxResident = 2 << 20
	if err := read(); err != nil {
		t.Fatalf("under the limit: %v", err)
	}
}

// TestTensorWideBatchBound: a tensor source allocates each batch whole,
// rows × width cells of 9 bytes, before it reads the rows, and several
// batches are in flight. An npy of 4096 rows of 100,000 elements would
// ask for 3.7 GB per batch, so wide sources get fewer rows per batch.
func TestTensorWideBatchBound(t *testing.T) {
	const rows, width = 100, 100000
	data := make([]byte, rows*width)
	for r := range rows {
		data[r*width+r] = byte(r)
	}
	raw := binNPY("{'descr': '|u1', 'fortran_order': False, 'shape': (100, 100000), }", data)
	src, err := openNPY("w.npy", bytes.NewReader(raw), Options{MaxColumns: width})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for {
		b, err := src.Next()
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		if b.Len*len(b.Cols) > binMaxBatchCells {
			t.Fatalf("batch of %d rows × %d columns", b.Len, len(b.Cols))
		}
		for i := range b.Len {
			r := int(b.Start) + i
			if got := b.Cols[r].Num[i]; got != float64(r) {
				t.Fatalf("row %d: x[%d] = %v", r, r, got)
			}
		}
		seen += b.Len
	}
	if seen != rows {
		t.Fatalf("%d rows, want %d", seen, rows)
	}
	if n := binBatchRows(Options{BatchRows: 4096}, 3); n != 4096 {
		t.Errorf("narrow source: %d rows per batch, want 4096", n)
	}
	if n := binBatchRows(Options{BatchRows: 4096}, 1<<30); n != 1 {
		t.Errorf("absurdly wide source: %d rows per batch, want 1", n)
	}
}

// TestInputErrorEscapesControls: error messages carry file names and
// text from untrusted files (a Parquet column name, a third-party
// decoder's message) and are printed to a terminal. An escape sequence
// there could clear the screen, retitle the window or hide text, so
// Error escapes every non-printing character and invalid byte.
func TestInputErrorEscapesControls(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    *InputError
		want string
	}{
		{"clean", &InputError{File: "a.csv", Line: 3, Row: 1, Column: "é", Offset: -1, Err: errors.New("bad ✓")},
			`a.csv:3: row 1, column "é": bad ✓`},
		{"osc in file name", &InputError{File: "x\x1b]0;pwned\a.parquet", Row: -1, Offset: -1, Err: errors.New("e")},
			`x\x1b]0;pwned\a.parquet: e`},
		{"csi in message", &InputError{File: "f", Row: -1, Offset: 5, Err: errors.New("parquet: column \x1b[2Jg")},
			`f: byte offset 5: parquet: column \x1b[2Jg`},
		{"bidi override and bad byte", &InputError{File: "f", Row: -1, Offset: -1, Err: errors.New("a\u202eb\xffc")},
			`f: a\u202eb\xffc`},
		{"real replacement character", &InputError{File: "f", Row: -1, Offset: -1, Err: errors.New("a\uFFFD\x00")},
			"f: a\uFFFD\\x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.e.Error()
			if got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
			if strings.ContainsAny(got, "\x1b\a\x00\u202e") {
				t.Errorf("control character left in %q", got)
			}
		})
	}
}

// TestParquetNestedColumnNameQuoted: a nested column's name, which the
// file chooses, is reported only quoted.
func TestParquetNestedColumnNameQuoted(t *testing.T) {
	type sub struct {
		X int32 `parquet:"x"`
	}
	type row struct {
		G sub `parquet:"g\x1b[2J"`
	}
	p := binWritePQ(t, []row{{sub{1}}})
	_, err := Open(p, Options{})
	binWantInputError(t, err, `column "g\x1b[2J"`, "nested columns are not supported")
	if strings.Contains(err.Error(), "\x1b") {
		t.Errorf("raw escape in %q", err)
	}
}

// TestNPZFortranMembersShareLimit: Fortran-ordered arrays are transposed
// in memory, each up to npyFortranLimit. An npz of many such members
// (zeros deflate about a thousandfold, so 2 MB of archive held 8 of
// 256 MiB and took 4.4 GB) made the reader hold their sum, so the limit
// is shared by all the members of one archive.
func TestNPZFortranMembersShareLimit(t *testing.T) {
	saved := npyFortranLimit
	defer func() { npyFortranLimit = saved }()
	npyFortranLimit = 1000 // bytes
	// Each member is 60 rows × 16 columns of uint8: 960 bytes.
	member := func(v byte) []byte {
		data := make([]byte, 960)
		for i := range 60 {
			data[i] = v // in Fortran order the first 60 bytes are x[i,0]
		}
		return binNPY("{'descr': '|u1', 'fortran_order': True, 'shape': (60, 16), }", data)
	}
	one := binZip(t, func(zw *zip.Writer) {
		w, _ := zw.Create("a.npy")
		w.Write(member(1))
	})
	src, err := openNPZ("one.npz", bytes.NewReader(one), int64(len(one)), Options{})
	if err != nil {
		t.Fatalf("one member under the limit: %v", err)
	}
	tb, err := binReadAll(t, src, DefaultBatchRows)
	if err != nil || tb.rows != 60 {
		t.Fatalf("one member: %d rows, %v", tb.rows, err)
	}
	two := binZip(t, func(zw *zip.Writer) {
		for _, name := range []string{"a.npy", "b.npy"} {
			w, _ := zw.Create(name)
			w.Write(member(2))
		}
	})
	_, err = openNPZ("two.npz", bytes.NewReader(two), int64(len(two)), Options{})
	ie := binWantInputError(t, err, `array "b" is Fortran-ordered`, "up to 1000 bytes per file")
	if ie.Offset <= 0 {
		t.Errorf("offset %d, want the member's data offset", ie.Offset)
	}
}

// binSecZstdWindowPage writes 4096 random doubles as one zstd page and
// replaces the page's compressed bytes with a frame of the same length
// that declares a window of 2^(10+exp) bytes and holds one raw block.
func binSecZstdWindowPage(t *testing.T, exp byte) []byte {
	t.Helper()
	rows := make([]binSecRow, 4096)
	for i := range rows {
		rows[i].X = float64(i)*1.000001 + 1/float64(i+3)
	}
	p := binWritePQ(t, rows, parquet.Compression(&parquet.Zstd), parquet.PageBufferSize(1<<20), parquet.DataPageVersion(1))
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	off := f.Metadata().RowGroups[0].Columns[0].MetaData.DataPageOffset
	var proto thrift.CompactProtocol
	pr := proto.NewReaderFromBytes(raw[off:])
	var h format.PageHeader
	if err := thrift.NewDecoder(pr).Decode(&h); err != nil {
		t.Fatal(err)
	}
	data := off + int64(pr.BytesRead())
	size := int(h.CompressedPageSize)
	if size < 1000 || size > 100000 {
		t.Fatalf("compressed page of %d bytes", size)
	}
	// Frame: magic, descriptor (no single segment, no content size),
	// window descriptor, one last raw block of 1000 zero bytes; then a
	// skippable frame fills the rest of the page.
	n := 1000
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, exp << 3, byte(1 | n<<3), byte(n >> 5), byte(n >> 13)}
	frame = append(frame, make([]byte, n)...)
	frame = append(frame, 0x50, 0x2a, 0x4d, 0x18)
	frame = binary.LittleEndian.AppendUint32(frame, uint32(size-len(frame)-4))
	frame = append(frame, make([]byte, size-len(frame))...)
	out := bytes.Clone(raw)
	copy(out[data:], frame)
	return out
}

// TestParquetZstdWindowBomb: a streaming zstd decoder allocates the
// window a frame declares, up to 512 MiB by default, before it has
// decoded a byte, so a 30 KB page declaring the largest window would cost
// half a gigabyte in the check that guards against inflation. The check
// refuses windows above the larger of 128 MiB and the page size, and
// accepts ordinary ones.
func TestParquetZstdWindowBomb(t *testing.T) {
	open := func(b []byte) error {
		src, err := openParquet("w.parquet", bytes.NewReader(b), int64(len(b)), Options{})
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = binReadAll(t, src, DefaultBatchRows)
		return err
	}
	// 2^(10+19) = 512 MiB.
	err := open(binSecZstdWindowPage(t, 19))
	binWantInputError(t, err, "page declaring", "window")
	// 2^(10+13) = 8 MiB passes the check; the page then holds 125
	// doubles for 4096 rows, which the reader refuses in its own words.
	err = open(binSecZstdWindowPage(t, 13))
	if err != nil && strings.Contains(err.Error(), "page declaring") {
		t.Fatalf("an 8 MiB window was refused: %v", err)
	}
}
