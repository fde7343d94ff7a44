package formats

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchGiB writes a 1 GiB BF16 checkpoint of 64 tensors [4096, 2048] with
// arbitrary finite values into dir.
func benchGiB(b *testing.B, dir string) string {
	b.Helper()
	var specs []TensorSpec
	for i := range 64 {
		specs = append(specs, TensorSpec{Name: fmt.Sprintf("model.layers.%02d.weight", i), DType: BF16, Shape: []int64{4096, 2048}})
	}
	p := filepath.Join(dir, "bench.safetensors")
	w, err := Create(p, specs, WriteOptions{})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, specs[0].Size())
	for i := range buf {
		buf[i] = byte(i * 7)
		if i%2 == 1 {
			buf[i] &= 0x3f // keep exponents small: finite values
		}
	}
	for _, s := range specs {
		if err := w.WriteAt(s.Name, buf, 0); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	return p
}

// readAll reads path with a plain 8 MiB read loop and returns the bytes read.
func readAll(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 8<<20)
	var n int64
	for {
		k, err := f.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// plainCopy reads src with an 8 MiB read loop and writes outBytes/inBytes
// times as much to a new file dst (each chunk written twice for a ratio of
// 2, every other chunk for ½): the I/O of a conversion without the
// conversion.
func plainCopy(src, dst string, twice, half bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer os.Remove(dst)
	defer out.Close()
	buf := make([]byte, 8<<20)
	for i := 0; ; i++ {
		k, err := in.Read(buf)
		if k > 0 && !(half && i%2 == 1) {
			if _, err := out.Write(buf[:k]); err != nil {
				return err
			}
			if twice {
				if _, err := out.Write(buf[:k]); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// BenchmarkConvertRoundTrip converts a generated 1 GiB BF16 checkpoint to
// F32 and back and reports the time as a ratio to a plain read loop over
// the same files in the same run: "convert/read" compares the two converts
// with reading the 1 GiB input once each (2 GiB), "convert/read-all" with
// reading every byte the converts read (1 GiB + 2 GiB), and
// "convert/copy-loop" with plain loops that read and write the same numbers
// of bytes without converting. The inputs are in the page cache, so the
// writes dominate. It runs only under -bench (generation takes a few
// seconds).
func BenchmarkConvertRoundTrip(b *testing.B) {
	dir := b.TempDir()
	src := benchGiB(b, dir)
	mid := filepath.Join(dir, "f32.safetensors")
	back := filepath.Join(dir, "back.safetensors")
	ctx := context.Background()
	m, err := Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	st, _ := os.Stat(src)
	// Warm the cache and create the intermediate file once.
	readAll(src)
	if err := Convert(ctx, m, mid, ConvertOptions{DType: F32}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	var conv, read, readMid, copyLoop time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := Convert(ctx, m, mid, ConvertOptions{DType: F32}); err != nil {
			b.Fatal(err)
		}
		mm, err := Open(mid)
		if err != nil {
			b.Fatal(err)
		}
		if err := Convert(ctx, mm, back, ConvertOptions{DType: BF16}); err != nil {
			b.Fatal(err)
		}
		mm.Close()
		t1 := time.Now()
		b.StopTimer() // ns/op and MB/s cover the round trip only
		if _, err := readAll(src); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := readAll(mid); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if err := plainCopy(src, filepath.Join(dir, "copy1"), true, false); err != nil {
			b.Fatal(err)
		}
		if err := plainCopy(mid, filepath.Join(dir, "copy2"), false, true); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		b.StartTimer()
		conv += t1.Sub(t0)
		read += t2.Sub(t1)
		readMid += t3.Sub(t2)
		copyLoop += t4.Sub(t3)
	}
	b.ReportMetric(float64(conv)/float64(2*read), "convert/read")
	b.ReportMetric(float64(conv)/float64(read+readMid), "convert/read-all")
	b.ReportMetric(float64(conv)/float64(copyLoop), "convert/copy-loop")
	// The result must equal the input: BF16 → F32 → BF16 is lossless.
	x, _ := os.ReadFile(src)
	y, _ := os.ReadFile(back)
	if string(x) != string(y) {
		b.Fatal("round trip changed the checkpoint")
	}
}

// BenchmarkDecodeFloat32 widens 1M elements of each float dtype to float32.
func BenchmarkDecodeFloat32(b *testing.B) {
	const n = 1 << 20
	dst := make([]float32, n)
	for _, dt := range []DType{BF16, F16, F32, F64, F8E4M3, F8E5M2} {
		src := make([]byte, n*dt.Size())
		for i := range src {
			src[i] = byte(i * 13)
		}
		b.Run(string(dt), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if err := DecodeFloat32(dst, src, dt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeFloat32 narrows 1M float32 elements to each writable dtype.
func BenchmarkEncodeFloat32(b *testing.B) {
	const n = 1 << 20
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(i%2000-1000) * 0.00123
	}
	for _, dt := range []DType{BF16, F16, F32, F64} {
		dst := make([]byte, n*dt.Size())
		b.Run(string(dt), func(b *testing.B) {
			b.SetBytes(4 * n)
			for b.Loop() {
				if err := EncodeFloat32(dst, src, dt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
