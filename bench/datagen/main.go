// Command datagen writes a deterministic table of float64 values to a CSV
// file and a Parquet file with identical contents, for the profiling
// benchmark that compares rampart with pandas.
//
//	go run ./bench/datagen -rows N -cols C -seed S -csv out.csv -parquet out.parquet
//
// The CSV has the header c0..c{C-1} and prints each value with
// strconv.FormatFloat(v, 'g', -1, 64), so it parses back to the same bits.
// The Parquet file has one required DOUBLE column per CSV column, in the
// same order, row groups of -rowgroup rows (default 131072), and Snappy
// compression unless -compression none. Both files are written in one
// streaming pass: memory is one row group, whatever -rows is.
//
// Column j draws from one of four distributions by j mod 4: a normal with
// mean j, a uniform on [0, 100), a two-component normal mixture, and a
// log-normal. Values depend only on -seed, -rows and -cols.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

func main() {
	rows := flag.Int64("rows", 100000, "number of data rows")
	cols := flag.Int("cols", 20, "number of columns")
	seed := flag.Uint64("seed", 1, "random seed")
	csvPath := flag.String("csv", "", "CSV output file (optional)")
	pqPath := flag.String("parquet", "", "Parquet output file (optional)")
	rowGroup := flag.Int64("rowgroup", 128<<10, "rows per Parquet row group")
	comp := flag.String("compression", "snappy", "Parquet compression: snappy or none")
	flag.Parse()
	if err := run(*rows, *cols, *seed, *csvPath, *pqPath, *rowGroup, *comp); err != nil {
		fmt.Fprintln(os.Stderr, "datagen:", err)
		os.Exit(1)
	}
}

func run(rows int64, cols int, seed uint64, csvPath, pqPath string, rowGroup int64, comp string) error {
	if rows < 0 || cols < 1 || rowGroup < 1 {
		return errors.New("need -rows >= 0, -cols >= 1 and -rowgroup >= 1")
	}
	if csvPath == "" && pqPath == "" {
		return errors.New("give -csv, -parquet or both")
	}
	var codec parquet.WriterOption
	switch comp {
	case "snappy":
		codec = parquet.Compression(&parquet.Snappy)
	case "none":
		codec = parquet.Compression(&parquet.Uncompressed)
	default:
		return fmt.Errorf("unknown -compression %q (want snappy or none)", comp)
	}
	names := make([]string, cols)
	for j := range names {
		names[j] = "c" + strconv.Itoa(j)
	}

	var csvW *bufio.Writer
	var csvF *os.File
	if csvPath != "" {
		f, err := os.Create(csvPath)
		if err != nil {
			return err
		}
		defer f.Close()
		csvF, csvW = f, bufio.NewWriterSize(f, 1<<20)
		for j, n := range names {
			if j > 0 {
				csvW.WriteByte(',')
			}
			csvW.WriteString(n)
		}
		csvW.WriteByte('\n')
	}

	var pw *parquet.Writer
	var pqF *os.File
	var pqB *bufio.Writer
	if pqPath != "" {
		f, err := os.Create(pqPath)
		if err != nil {
			return err
		}
		defer f.Close()
		pqF, pqB = f, bufio.NewWriterSize(f, 1<<20)
		group := ordered{Group: parquet.Group{}, order: names}
		for _, n := range names {
			group.Group[n] = parquet.Leaf(parquet.DoubleType)
		}
		pw = parquet.NewWriter(pqB, parquet.NewSchema("datagen", group),
			parquet.MaxRowsPerRowGroup(rowGroup), codec)
	}

	rng := rand.New(rand.NewPCG(seed, uint64(cols)))
	const chunk = 1024
	batch := make([]parquet.Row, 0, chunk)
	vals := make([]parquet.Value, chunk*cols)
	buf := make([]byte, 0, 32)
	for r := int64(0); r < rows; r++ {
		row := vals[len(batch)*cols : (len(batch)+1)*cols : (len(batch)+1)*cols]
		for j := range cols {
			v := draw(rng, j)
			row[j] = parquet.DoubleValue(v).Level(0, 0, j)
			if csvW != nil {
				if j > 0 {
					csvW.WriteByte(',')
				}
				buf = strconv.AppendFloat(buf[:0], v, 'g', -1, 64)
				csvW.Write(buf)
			}
		}
		if csvW != nil {
			csvW.WriteByte('\n')
		}
		batch = append(batch, row)
		if len(batch) == chunk || r == rows-1 {
			if pw != nil {
				if _, err := pw.WriteRows(batch); err != nil {
					return err
				}
			}
			batch = batch[:0]
		}
	}
	if csvW != nil {
		if err := csvW.Flush(); err != nil {
			return err
		}
		if err := csvF.Close(); err != nil {
			return err
		}
	}
	if pw != nil {
		if err := pw.Close(); err != nil {
			return err
		}
		if err := pqB.Flush(); err != nil {
			return err
		}
		if err := pqF.Close(); err != nil {
			return err
		}
	}
	return nil
}

// draw returns the next value of column j.
func draw(rng *rand.Rand, j int) float64 {
	switch j % 4 {
	case 0:
		return float64(j) + (1+float64(j%3))*rng.NormFloat64()
	case 1:
		return 100 * rng.Float64()
	case 2:
		if rng.Float64() < 0.5 {
			return -2 + rng.NormFloat64()
		}
		return 3 + 0.5*rng.NormFloat64()
	default:
		return math.Exp(0.5 * rng.NormFloat64())
	}
}

// ordered is a group whose columns keep the given order; parquet.Group
// alone sorts them by name, which would put c10 before c2.
type ordered struct {
	parquet.Group
	order []string
}

func (g ordered) Fields() []parquet.Field {
	out := make([]parquet.Field, len(g.order))
	for i, n := range g.order {
		out[i] = field{Node: g.Group[n], name: n}
	}
	return out
}

type field struct {
	parquet.Node
	name string
}

func (f field) Name() string { return f.name }

// Value is only used when writing Go values; datagen writes rows.
func (f field) Value(base reflect.Value) reflect.Value {
	return base.MapIndex(reflect.ValueOf(f.name))
}
