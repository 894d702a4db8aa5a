// Command genrepo writes a deterministic `git fast-import` stream for the clone benchmark: a
// history of several commits on main mixing incompressible random files with compressible text,
// where later commits also edit earlier text files (so the pack holds deltas). The same -seed
// always gives the same commits. About 4/5 of -size is random data and the rest text that packs
// to a bit over half its size, so the packed repository is about -size MiB.
//
//	git init --bare repo.git && genrepo -seed 1 -size 100 | git -C repo.git fast-import
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
)

const (
	binFile  = 2 << 20   // bytes per random file
	textFile = 256 << 10 // bytes per text file
	mib      = 1 << 20
)

func main() {
	seed := flag.Uint64("seed", 1, "seed of the generated content")
	size := flag.Int("size", 100, "approximate packed size of the repository, in MiB")
	commits := flag.Int("commits", 5, "number of commits")
	flag.Parse()
	if *size < 1 || *commits < 1 {
		fmt.Fprintln(os.Stderr, "genrepo: -size and -commits must be positive")
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	if err := generate(w, *seed, *size, *commits); err != nil {
		fmt.Fprintln(os.Stderr, "genrepo:", err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "genrepo:", err)
		os.Exit(1)
	}
}

type gen struct {
	rng   *rand.Rand
	src   *rand.ChaCha8
	words []string
}

func newGen(seed uint64) *gen {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	src := rand.NewChaCha8(s)
	g := &gen{rng: rand.New(src), src: src}
	const letters = "abcdefghijklmnopqrstuvwxyz"
	for range 2000 {
		n := 2 + g.rng.IntN(9)
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[g.rng.IntN(len(letters))]
		}
		g.words = append(g.words, string(b))
	}
	return g
}

// line returns one line of pseudo-English text.
func (g *gen) line(b *bytes.Buffer) {
	n := 6 + g.rng.IntN(10)
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(g.words[g.rng.IntN(len(g.words))])
	}
	b.WriteByte('\n')
}

func (g *gen) text(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 200)
	for b.Len() < size {
		g.line(&b)
	}
	return b.Bytes()
}

// edit rewrites about one line in fifty of old.
func (g *gen) edit(old []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(old) + 4096)
	for _, l := range bytes.SplitAfter(old, []byte("\n")) {
		if len(l) > 0 && g.rng.IntN(50) == 0 {
			g.line(&b)
			continue
		}
		b.Write(l)
	}
	return b.Bytes()
}

func generate(w *bufio.Writer, seed uint64, sizeMiB, commits int) error {
	g := newGen(seed)
	perCommit := sizeMiB * mib / commits
	binBytes := perCommit * 4 / 5
	textBytes := (perCommit - binBytes) * 9 / 5
	texts := map[string][]byte{}
	random := make([]byte, binFile)
	for c := range commits {
		fmt.Fprintf(w, "commit refs/heads/main\n")
		fmt.Fprintf(w, "committer Gatehouse Bench <bench@example.invalid> %d +0000\n", 1700000000+c*3600)
		msg := fmt.Sprintf("commit %d: random assets, text, and edits\n", c+1)
		fmt.Fprintf(w, "data %d\n%s\n", len(msg), msg)
		file := func(path string, data []byte) {
			fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n", path, len(data))
			w.Write(data)
			w.WriteByte('\n')
		}
		if c > 0 {
			// Edit a quarter of the text files written so far, in a stable order.
			paths := make([]string, 0, len(texts))
			for p := range texts {
				paths = append(paths, p)
			}
			sort.Strings(paths)
			for i, p := range paths {
				if i%4 == c%4 {
					texts[p] = g.edit(texts[p])
					file(p, texts[p])
				}
			}
		}
		for i := 0; i*binFile < binBytes; i++ {
			n := min(binFile, binBytes-i*binFile)
			_, _ = g.src.Read(random[:n])
			file(fmt.Sprintf("assets/c%02d/blob-%03d.bin", c+1, i), random[:n])
		}
		for i := 0; i*textFile < textBytes; i++ {
			p := fmt.Sprintf("docs/c%02d/chapter-%03d.txt", c+1, i)
			texts[p] = g.text(min(textFile, textBytes-i*textFile))
			file(p, texts[p])
		}
		w.WriteByte('\n')
	}
	_, err := w.WriteString("done\n")
	return err
}
