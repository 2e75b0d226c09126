package data

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestNPZFixtures(t *testing.T) {
	exp := binLoadExpected(t)
	for _, name := range []string{"savez.npz", "savez_compressed.npz"} {
		var want map[string]binExpected
		if err := json.Unmarshal(exp[name], &want); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata/binary", name)
		t.Run(name, func(t *testing.T) {
			src, err := Open(path, Options{BatchRows: 4})
			if err != nil {
				t.Fatal(err)
			}
			s := src.Schema()
			// np.savez writes keyword arrays in argument order: X, y, w.
			if len(s.Fields) != 8 || s.Fields[0].Name != "X[0,0]" || s.Fields[5].Name != "X[1,2]" ||
				s.Fields[6] != (Field{Name: "y", Kind: KindInt}) || s.Fields[7].Name != "w" || fmt.Sprint(s.Shape) != "[2 3]" {
				t.Fatalf("schema %+v", s)
			}
			if src.Rows() != 6 {
				t.Fatalf("Rows = %d", src.Rows())
			}
			tb, err := binReadAll(t, src, 4)
			if err != nil {
				t.Fatal(err)
			}
			binCheckArray(t, tb, "X", 0, want["X"])
			binCheckArray(t, tb, "y", 6, want["y"])
			binCheckArray(t, tb, "w", 7, want["w"])
		})
		t.Run(name+"/label", func(t *testing.T) {
			src, err := Open(path, Options{Label: "y"})
			if err != nil {
				t.Fatal(err)
			}
			s := src.Schema()
			if s.Fields[6].Name != "w" || s.Fields[7].Name != "y" {
				t.Fatalf("label not last: %v", s.Fields[6:])
			}
			tb, err := binReadAll(t, src, DefaultBatchRows)
			if err != nil {
				t.Fatal(err)
			}
			binCheckArray(t, tb, "y", 7, want["y"])
		})
	}
	t.Run("label not 1-D", func(t *testing.T) {
		_, err := Open("testdata/binary/savez.npz", Options{Label: "X"})
		binWantInputError(t, err, "1-D")
	})
	t.Run("label missing", func(t *testing.T) {
		_, err := Open("testdata/binary/savez.npz", Options{Label: "z"})
		binWantInputError(t, err, `"z"`)
	})
	t.Run("rows differ", func(t *testing.T) {
		_, err := Open("testdata/binary/rows_differ.npz", Options{})
		binWantInputError(t, err, `"a"`, `"b"`, "first dimension")
	})
}

// binZip builds a zip archive from members written by add.
func binZip(t *testing.T, add func(zw *zip.Writer)) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add(zw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestNPZBounds(t *testing.T) {
	member := binNPY("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", []byte{1, 2})
	for _, tc := range []struct {
		name string
		zip  []byte
		want string
	}{
		{"empty", binZip(t, func(*zip.Writer) {}), "no arrays"},
		{"not npy", binZip(t, func(zw *zip.Writer) {
			w, _ := zw.Create("notes.txt")
			w.Write([]byte("hi"))
		}), "notes.txt"},
		{"too many members", binZip(t, func(zw *zip.Writer) {
			for i := range npzMaxMembers + 1 {
				w, _ := zw.Create(fmt.Sprintf("a%d.npy", i))
				w.Write(member)
			}
		}), "members"},
		{"declared too big", binZip(t, func(zw *zip.Writer) {
			w, err := zw.CreateRaw(&zip.FileHeader{Name: "big.npy", Method: zip.Store,
				CompressedSize64: uint64(len(member)), UncompressedSize64: npzMaxBytes + 1})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(member)
		}), "declare more than"},
		{"shape beyond member", binZip(t, func(zw *zip.Writer) {
			m := binNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 100), }", nil)
			w, _ := zw.Create("a.npy")
			w.Write(m)
		}), "member holds"},
		{"truncated archive", binZip(t, func(zw *zip.Writer) {
			w, _ := zw.Create("a.npy")
			w.Write(member)
		})[:30], "npz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openNPZ("b.npz", bytes.NewReader(tc.zip), int64(len(tc.zip)), Options{})
			binWantInputError(t, err, tc.want, "b.npz")
		})
	}
	t.Run("stored member", func(t *testing.T) {
		// The byte counting must let an honest stored member through.
		data := make([]byte, 4000)
		m := binNPY("{'descr': '|u1', 'fortran_order': False, 'shape': (4000,), }", data)
		z := binZip(t, func(zw *zip.Writer) {
			w, _ := zw.CreateRaw(&zip.FileHeader{Name: "a.npy", Method: zip.Store,
				CompressedSize64: uint64(len(m)), UncompressedSize64: uint64(len(m))})
			w.Write(m)
		})
		src, err := openNPZ("b.npz", bytes.NewReader(z), int64(len(z)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := binReadAll(t, src, DefaultBatchRows); err != nil {
			t.Fatalf("honest member: %v", err)
		}
	})
}

func TestNPZWrite(t *testing.T) {
	// Members of different dtypes and one 3-D array, written here.
	a := binNPY("{'descr': '<i2', 'fortran_order': False, 'shape': (2, 1, 2), }", []byte{1, 0, 2, 0, 0xff, 0xff, 4, 0})
	b := binNPY("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", []byte{1, 0})
	z := binZip(t, func(zw *zip.Writer) {
		w, _ := zw.Create("img.npy")
		w.Write(a)
		w, _ = zw.Create("flag.npy")
		w.Write(b)
	})
	path := filepath.Join(t.TempDir(), "w.npz")
	if err := os.WriteFile(path, z, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := src.Schema()
	if fmt.Sprint(s.Fields) != "[{img[0,0] int} {img[0,1] int} {flag bool}]" || fmt.Sprint(s.Shape) != "[1 2]" {
		t.Fatalf("schema %+v", s)
	}
	tb, err := binReadAll(t, src, DefaultBatchRows)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(tb.cols[0].Num, tb.cols[1].Num, tb.cols[2].Num)
	if got != "[1 -1] [2 4] [1 0]" {
		t.Fatalf("values %s", got)
	}
}
