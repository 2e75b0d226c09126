package data

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// The fuzz targets feed arbitrary bytes to the binary readers: any input
// must give batches that keep the Source contract, or an error, and never
// a panic. Small BatchRows and MaxColumns keep each input's memory small:
// a reader may allocate one batch of at most BatchRows × MaxColumns cells.

var binFuzzOpt = Options{BatchRows: 64, MaxColumns: 4096}

// binFuzzDrain reads src to the end and checks what it got.
func binFuzzDrain(t *testing.T, src Source, err error) {
	if err != nil {
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Fatalf("open error is not an *InputError: %v (%T)", err, err)
		}
		return
	}
	if n := len(src.Schema().Fields); n > binFuzzOpt.MaxColumns {
		t.Fatalf("%d columns, more than MaxColumns", n)
	}
	tb, err := binReadAll(t, src, binFuzzOpt.BatchRows)
	if err != nil {
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Fatalf("read error is not an *InputError: %v (%T)", err, err)
		}
		return
	}
	if rows := src.Rows(); rows >= 0 && int64(tb.rows) != rows {
		t.Fatalf("read %d rows, Rows() = %d", tb.rows, rows)
	}
}

func binSeedDir(f *testing.F, ext string) {
	paths, _ := filepath.Glob(filepath.Join("testdata/binary", "*"+ext))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

func FuzzNPY(f *testing.F) {
	binSeedDir(f, ".npy")
	f.Add(binNPY("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2, 2), }", make([]byte, 64)))
	f.Add(binNPY("{'descr': '>u2', 'fortran_order': False, 'shape': (3, 1), }", []byte{1, 2, 3, 4, 5}))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := openNPY("f.npy", bytes.NewReader(data), binFuzzOpt)
		binFuzzDrain(t, src, err)
	})
}

func FuzzIDX(f *testing.F) {
	f.Add(binIDX(0x08, []uint32{3, 2, 2}, make([]byte, 12)))
	f.Add(binIDX(0x0D, []uint32{2}, make([]byte, 8)))
	f.Add(binIDX(0x0E, []uint32{2, 1}, make([]byte, 9)))
	f.Add(binIDX(0x0B, []uint32{1, 1, 1, 1}, make([]byte, 2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := openIDX("f.idx", bytes.NewReader(data), binFuzzOpt)
		binFuzzDrain(t, src, err)
	})
}

func FuzzNPZ(f *testing.F) {
	binSeedDir(f, ".npz")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("a.npy")
	w.Write(binNPY("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", make([]byte, 16)))
	w, _ = zw.Create("b.npy")
	w.Write(binNPY("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", []byte{0, 1}))
	zw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := openNPZ("f.npz", bytes.NewReader(data), int64(len(data)), Options{BatchRows: 64, MaxColumns: 4096, Label: "b"})
		binFuzzDrain(t, src, err)
		src, err = openNPZ("f.npz", bytes.NewReader(data), int64(len(data)), binFuzzOpt)
		binFuzzDrain(t, src, err)
	})
}

func FuzzParquet(f *testing.F) {
	type small struct {
		A float64  `parquet:"a"`
		B *int32   `parquet:"b,optional"`
		S string   `parquet:"s,dict"`
		O *string  `parquet:"o,optional"`
		T bool     `parquet:"t"`
		F *float32 `parquet:"f,optional"`
	}
	rows := make([]small, 20)
	for i := range rows {
		rows[i].A = float64(i) / 3
		if i%2 == 0 {
			v := int32(i)
			rows[i].B = &v
			s := "x"
			rows[i].O = &s
		}
		rows[i].S = []string{"p", "q"}[i%2]
		rows[i].T = i%3 == 0
	}
	for _, opts := range [][]parquet.WriterOption{
		nil,
		{parquet.MaxRowsPerRowGroup(6), parquet.PageBufferSize(16)},
		{parquet.DataPageVersion(1), parquet.Compression(&parquet.Snappy)},
	} {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[small](&buf, opts...)
		w.Write(rows)
		w.Close()
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := openParquet("f.parquet", bytes.NewReader(data), int64(len(data)), binFuzzOpt)
		binFuzzDrain(t, src, err)
	})
}
