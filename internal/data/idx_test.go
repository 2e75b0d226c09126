package data

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"testing"
)

// binIDX builds an IDX file of element type typ with the given dims and
// raw big-endian element bytes.
func binIDX(typ byte, dims []uint32, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, typ, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(data)
	return b.Bytes()
}

func TestIDXTypes(t *testing.T) {
	be := binary.BigEndian
	for _, tc := range []struct {
		name string
		typ  byte
		data []byte
		want []float64
		kind Kind
	}{
		{"ubyte", 0x08, []byte{0, 255, 7, 128}, []float64{0, 255, 7, 128}, KindInt},
		{"sbyte", 0x09, []byte{0, 255, 7, 128}, []float64{0, -1, 7, -128}, KindInt},
		{"int16", 0x0B, be.AppendUint16(be.AppendUint16(be.AppendUint16(be.AppendUint16(nil, 1), 0xffff), 0x8000), 300), []float64{1, -1, -32768, 300}, KindInt},
		{"int32", 0x0C, be.AppendUint32(be.AppendUint32(be.AppendUint32(be.AppendUint32(nil, 1), 0xffffffff), 0x80000000), 70000), []float64{1, -1, -2147483648, 70000}, KindInt},
		{"float32", 0x0D, be.AppendUint32(be.AppendUint32(be.AppendUint32(be.AppendUint32(nil, math.Float32bits(1.5)), math.Float32bits(-2)), math.Float32bits(float32(math.Inf(1)))), math.Float32bits(0.25)), []float64{1.5, -2, math.Inf(1), 0.25}, KindFloat},
		{"float64", 0x0E, be.AppendUint64(be.AppendUint64(be.AppendUint64(be.AppendUint64(nil, math.Float64bits(1.5)), math.Float64bits(-2)), math.Float64bits(1e300)), math.Float64bits(0.1)), []float64{1.5, -2, 1e300, 0.1}, KindFloat},
	} {
		t.Run(tc.name+"/1-D", func(t *testing.T) {
			src, err := openIDX("l.idx", bytes.NewReader(binIDX(tc.typ, []uint32{4}, tc.data)), Options{BatchRows: 3})
			if err != nil {
				t.Fatal(err)
			}
			s := src.Schema()
			if len(s.Fields) != 1 || s.Fields[0] != (Field{Name: "x", Kind: tc.kind}) || s.Shape != nil || src.Rows() != 4 {
				t.Fatalf("schema %+v rows %d", s, src.Rows())
			}
			tb, err := binReadAll(t, src, 3)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				if tb.cols[0].Num[i] != w {
					t.Errorf("row %d = %v, want %v", i, tb.cols[0].Num[i], w)
				}
			}
		})
		t.Run(tc.name+"/3-D", func(t *testing.T) {
			src, err := openIDX("i.idx", bytes.NewReader(binIDX(tc.typ, []uint32{1, 2, 2}, tc.data)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := src.Schema()
			if fmt.Sprint(s.Shape) != "[2 2]" || len(s.Fields) != 4 || s.Fields[2].Name != "x[1,0]" {
				t.Fatalf("schema %+v", s)
			}
			tb, err := binReadAll(t, src, DefaultBatchRows)
			if err != nil {
				t.Fatal(err)
			}
			for j, w := range tc.want {
				if tb.cols[j].Num[0] != w {
					t.Errorf("element %d = %v, want %v", j, tb.cols[j].Num[0], w)
				}
			}
		})
	}
}

func TestIDXMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"short magic", []byte{0, 0, 8}, "truncated magic"},
		{"bad magic", []byte{1, 0, 8, 1, 0, 0, 0, 0}, "bad magic"},
		{"bad type", []byte{0, 0, 7, 1, 0, 0, 0, 0}, "element type"},
		{"no dims", []byte{0, 0, 8, 0}, "dimensions"},
		{"short dims", []byte{0, 0, 8, 2, 0, 0, 0, 1, 0}, "truncated dimensions"},
		{"huge rows", binIDX(0x08, []uint32{1, 65536, 65536}, nil), "elements"},
		{"too many columns", binIDX(0x0E, []uint32{1, 1000, 1000}, nil), "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openIDX("m.idx", bytes.NewReader(tc.file), Options{})
			binWantInputError(t, err, tc.want, "m.idx")
		})
	}
	t.Run("truncated", func(t *testing.T) {
		file := binIDX(0x08, []uint32{3, 2, 2}, []byte{1, 2, 3, 4, 5, 6})
		src, err := openIDX("m.idx", bytes.NewReader(file), Options{BatchRows: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = binReadAll(t, src, 1)
		ie := binWantInputError(t, err, "row 1", "ends")
		if ie.Row != 1 || ie.Offset != 16+6 {
			t.Errorf("row %d offset %d, want 1 and 22", ie.Row, ie.Offset)
		}
	})
}

const (
	fashionImages = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
	fashionLabels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
)

// TestFashionMNIST reads Debian's Fashion-MNIST test set, gzipped IDX
// images with a separate label file.
func TestFashionMNIST(t *testing.T) {
	for _, p := range []string{fashionImages, fashionLabels} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("dataset-fashion-mnist is not installed: %v", err)
		}
	}
	src, err := Open(fashionImages, Options{LabelFile: fashionLabels, BatchRows: 3000})
	if err != nil {
		t.Fatal(err)
	}
	s := src.Schema()
	if src.Rows() != 10000 || len(s.Fields) != 785 || fmt.Sprint(s.Shape) != "[28 28]" {
		t.Fatalf("rows %d, %d fields, shape %v", src.Rows(), len(s.Fields), s.Shape)
	}
	if s.Fields[784] != (Field{Name: "label", Kind: KindInt}) || s.Fields[783].Name != "x[27,27]" || s.Fields[28].Name != "x[1,0]" {
		t.Fatalf("fields %v … %v", s.Fields[:2], s.Fields[783:])
	}
	tb, err := binReadAll(t, src, 3000)
	if err != nil {
		t.Fatal(err)
	}
	if tb.rows != 10000 {
		t.Fatalf("%d rows", tb.rows)
	}
	var classes [10]int
	var sum float64
	for i := range tb.rows {
		l := tb.cols[784].Num[i]
		if l < 0 || l > 9 || l != math.Trunc(l) {
			t.Fatalf("row %d: label %v", i, l)
		}
		classes[int(l)]++
		for j := range 784 {
			v := tb.cols[j].Num[i]
			if v < 0 || v > 255 {
				t.Fatalf("row %d pixel %d = %v", i, j, v)
			}
			sum += v
		}
	}
	// The test set is balanced: 1000 images per class.
	for c, n := range classes {
		if n != 1000 {
			t.Errorf("class %d has %d images, want 1000", c, n)
		}
	}
	if mean := sum / (10000 * 784); mean < 50 || mean > 100 {
		t.Errorf("mean pixel %v, want about 73", mean)
	}
}
